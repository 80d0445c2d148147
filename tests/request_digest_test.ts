import assert from "node:assert/strict";
import { VirtualClock } from "../lib/base/clock.ts";
import { HybridLogicalClock } from "../lib/storage/hlc.ts";
import { LocalExecutor } from "../lib/node/executor.ts";
import { MemoryNetwork } from "../lib/net/memory_network.ts";
import { KVNode } from "../lib/node/kv_node.ts";
import { Command, decodeRequest, ErrorCode } from "../lib/wire/client_protocol.ts";
import { ReplyCache } from "../lib/node/reply_cache.ts";
import { MemoryStore } from "../lib/storage/store.ts";
import type { ExecResult, Executor } from "../lib/node/executor.ts";

/** A request datagram: id byte, command, key text, value (put). */
function request(id: number, command: number, key = "", value?: string, trailing = 0): Uint8Array {
  const v = value === undefined ? new Uint8Array(0) : new TextEncoder().encode(value);
  const p = new Uint8Array(17 + (command <= 3 ? 32 : 0) + (value === undefined ? 0 : 2 + v.length) + trailing);
  p[0] = id;
  p[16] = command;
  new TextEncoder().encodeInto(key, p.subarray(17, 49));
  if (value !== undefined) {
    p[49] = v.length & 0xff;
    p[50] = v.length >> 8;
    p.set(v, 51);
  }
  if (trailing) p.fill(0xee, p.length - trailing);
  return p;
}

function digest(p: Uint8Array): string {
  const { lo, hi } = decodeRequest(p).digest;
  return `${lo}:${hi}`;
}

Deno.test("request digest: covers command, key, value length and value; not the id, trailing bytes or a keyless command's key", () => {
  const base = digest(request(1, Command.Put, "k", "v1"));
  assert.equal(digest(request(2, Command.Put, "k", "v1")), base, "the id is not part of it");
  assert.equal(digest(request(1, Command.Put, "k", "v1", 7)), base, "bytes after the value are not read");
  assert.notEqual(digest(request(1, Command.Remove, "k")), base, "command");
  assert.notEqual(digest(request(1, Command.Put, "k2", "v1")), base, "key");
  assert.notEqual(digest(request(1, Command.Put, "k", "v2")), base, "value");
  assert.notEqual(digest(request(1, Command.Put, "k", "v1 ")), base, "value length");
  const alive = request(1, Command.IsAlive);
  const aliveWithKey = new Uint8Array(49);
  aliveWithKey[16] = Command.IsAlive;
  aliveWithKey.fill(3, 17);
  assert.equal(digest(aliveWithKey), digest(alive), "keyless commands may carry key bytes or not");
  // Malformed requests have a digest too (the cache is looked up before the error is known), and
  // each call returns its own value: an earlier result is not overwritten by a later call.
  const first = decodeRequest(request(1, 0x1f, "", undefined, 3)).digest;
  assert.equal(digest(request(2, 0x1f, "", undefined, 3)), `${first.lo}:${first.hi}`);
  assert.notEqual(
    digest(request(1, 0x1f, "", undefined, 4)),
    `${first.lo}:${first.hi}`,
    "an unknown command: all bytes",
  );
  const truncated = request(1, Command.Put, "k", "v1").subarray(0, 51);
  assert.notEqual(
    digest(truncated),
    digest(request(1, Command.Put, "k", "")),
    "a value cut short is not the empty value",
  );
  // Many distinct requests, no collision among them.
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) seen.add(digest(request(0, Command.Put, `key-${i}`, `value-${i % 7}`)));
  assert.equal(seen.size, 20_000);
});

Deno.test("reply cache: a digest mismatch misses and is counted, a match hits, the new reply replaces the old", () => {
  const cache = new ReplyCache({ ttlMs: 5_000, maxBytes: 1 << 20 });
  cache.put("id", Uint8Array.of(1), 0, true, 11, 12);
  assert.deepEqual(cache.get("id", 1, 11, 12), Uint8Array.of(1));
  assert.equal(cache.idReuses, 0);
  assert.equal(cache.get("id", 2, 11, 13), undefined, "same id, other request");
  assert.equal(cache.get("id", 2, 10, 12), undefined);
  assert.equal(cache.idReuses, 2);
  cache.put("id", Uint8Array.of(2), 3, true, 11, 13);
  assert.deepEqual(cache.get("id", 4, 11, 13), Uint8Array.of(2));
  assert.equal(cache.get("id", 4, 11, 12), undefined, "the first request's reply is gone");
  assert.equal(cache.size, 1);
});

/** An executor whose puts and removes wait until released (a replicated write in flight). */
class SlowExecutor implements Executor {
  waiting: (() => void)[] = [];
  executed: string[] = [];
  #finish(what: string): Promise<ExecResult> {
    this.executed.push(what);
    return new Promise((resolve) => this.waiting.push(() => resolve({ code: ErrorCode.Success })));
  }
  put(): Promise<ExecResult> {
    return this.#finish("put");
  }
  get(): ExecResult {
    return { code: ErrorCode.NonExistentKey };
  }
  remove(): Promise<ExecResult> {
    return this.#finish("remove");
  }
  membershipCount(): number {
    return 1;
  }
}

Deno.test("node: a reused id runs as a new request (counted); an identical retry is answered from the cache", () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const store = new MemoryStore(1 << 20);
  const transport = net.createTransport("10.0.0.1:4000");
  const node = new KVNode({
    transport,
    clock,
    store,
    executor: new LocalExecutor(store, new HybridLogicalClock(clock, "n")),
  });
  const client = net.createTransport("10.0.0.2:5000");
  const replies: number[] = [];
  client.onReceive((d) => replies.push(d[16]));
  const send = (p: Uint8Array) => {
    client.send(p, transport.address);
    clock.advance(20);
  };
  try {
    send(request(7, Command.Put, "k", "v"));
    send(request(7, Command.Remove, "k")); // the harness's case: same id, a remove
    assert.deepEqual(replies, [ErrorCode.Success, ErrorCode.Success]);
    assert.equal(store.liveKeys, 0, "the remove ran");
    assert.equal(node.counters.idReuse, 1);
    send(request(7, Command.Remove, "k")); // a true retry of the remove
    assert.deepEqual(replies.at(-1), ErrorCode.Success, "answered from the cache, not 0x01 from a second run");
    assert.equal(node.counters.replayed, 1);
    assert.equal(node.counters.idReuse, 1);
    assert.equal(node.counters.requests.remove, 1, "executed once");
  } finally {
    client.close();
    node.close();
  }
});

Deno.test("node: another request under the id of one still executing gets 0x03; a retry of it waits for its reply", async () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const executor = new SlowExecutor();
  const transport = net.createTransport("10.0.0.1:4000");
  const node = new KVNode({ transport, clock, store: new MemoryStore(1 << 20), executor });
  const client = net.createTransport("10.0.0.2:5000");
  const replies: number[] = [];
  client.onReceive((d) => replies.push(d[16]));
  try {
    client.send(request(9, Command.Put, "k", "v"), transport.address);
    clock.advance(20);
    client.send(request(9, Command.Put, "k", "v"), transport.address); // retry while running: dropped
    client.send(request(9, Command.Remove, "k"), transport.address); // another request, same id
    clock.advance(20);
    assert.deepEqual(replies, [ErrorCode.Overload]);
    assert.deepEqual(executor.executed, ["put"]);
    assert.equal(node.counters.idReuse, 1);
    executor.waiting.shift()!();
    await Promise.resolve();
    clock.advance(20);
    assert.deepEqual(replies, [ErrorCode.Overload, ErrorCode.Success]);
    client.send(request(9, Command.Remove, "k"), transport.address); // the client's retry after 0x03
    clock.advance(20);
    assert.deepEqual(executor.executed, ["put", "remove"], "then it runs as the new request it is");
  } finally {
    for (const w of executor.waiting) w();
    client.close();
    node.close();
  }
});
