import assert from "node:assert/strict";
import { VirtualClock } from "../lib/base/clock.ts";
import { KVClient } from "../lib/client/client.ts";
import { MemoryNetwork } from "../lib/net/memory_network.ts";
import { Command, encodeRequest, ErrorCode } from "../lib/wire/client_protocol.ts";
import { startNode } from "../lib/roles/start_node.ts";
import { toKey } from "../lib/client/keys.ts";
import type { Executor } from "../lib/node/executor.ts";
import { KVNode } from "../lib/node/kv_node.ts";
import { MemoryStore } from "../lib/storage/store.ts";
import { toHex } from "../lib/base/bytes.ts";
import { runUntil } from "./support/virtual_time.ts";

async function setup(options: Parameters<typeof startNode>[0] = {}) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 3 });
  const running = await startNode({ ...options, transport: net.createTransport("10.0.0.1:4000"), clock });
  const client = new KVClient(net.createTransport("10.0.0.9:5000"), "10.0.0.1:4000", {}, clock);
  // 10 ms ticks, one microtask round after each, for at most 10 s.
  const run = <T>(p: Promise<T>): Promise<T> => runUntil(clock, p, { tickMs: 10, settle: 1, limitMs: 10_000 });
  const close = () => {
    client.close();
    running.close();
  };
  return { clock, net, running, client, run, close };
}

Deno.test("simulated node: put/get/remove/replace over the in-memory network", async () => {
  const s = await setup();
  try {
    await s.run(s.client.put("a", "1"));
    await s.run(s.client.put("a", "22"));
    assert.deepEqual(await s.run(s.client.get("a")), new TextEncoder().encode("22"));
    await s.run(s.client.remove("a"));
    await assert.rejects(s.run(s.client.get("a")), { name: "KeyNotFoundError" });
    await assert.rejects(s.run(s.client.remove("a")), { name: "KeyNotFoundError" });
    assert.equal(await s.run(s.client.membershipCount()), 1);
  } finally {
    s.close();
  }
});

Deno.test("at-most-once: a replayed put id answers from cache and does not write again", async () => {
  const s = await setup();
  try {
    const id = new Uint8Array(16).fill(7);
    const first = await s.run(s.client.request(Command.Put, toKey("k"), new Uint8Array([1]), id));
    assert.equal(first.code, 0);
    await s.run(s.client.put("k", new Uint8Array([2])));
    const replay = await s.run(s.client.request(Command.Put, toKey("k"), new Uint8Array([1]), id));
    assert.equal(replay.code, 0);
    assert.deepEqual(await s.run(s.client.get("k")), new Uint8Array([2]), "replay must not write the old value");
    assert.equal(s.running.node.counters.replayed, 1);
    // After the cache ttl (5 s) the id is forgotten and executes again.
    s.clock.advance(6_000);
    await s.run(s.client.request(Command.Put, toKey("k"), new Uint8Array([1]), id));
    assert.deepEqual(await s.run(s.client.get("k")), new Uint8Array([1]));
  } finally {
    s.close();
  }
});

Deno.test("at-most-once: the same remove id answers 0x00 twice, a new id 0x01", async () => {
  const s = await setup();
  try {
    await s.run(s.client.put("r", "x"));
    const id = new Uint8Array(16).fill(3);
    assert.equal((await s.run(s.client.request(Command.Remove, toKey("r"), undefined, id))).code, 0);
    assert.equal((await s.run(s.client.request(Command.Remove, toKey("r"), undefined, id))).code, 0);
    assert.equal((await s.run(s.client.request(Command.Remove, toKey("r")))).code, ErrorCode.NonExistentKey);
  } finally {
    s.close();
  }
});

Deno.test("capacity: a put over --max-bytes answers 0x02 and writes nothing", async () => {
  const s = await setup({ maxBytes: 32 + 100 });
  try {
    await s.run(s.client.put("a", new Uint8Array(100)));
    const r = await s.run(s.client.request(Command.Put, toKey("b"), new Uint8Array(1)));
    assert.equal(r.code, ErrorCode.OutOfSpace);
    assert.equal((await s.run(s.client.request(Command.Get, toKey("b")))).code, ErrorCode.NonExistentKey);
    assert.equal(s.running.store.bytes, 132);
  } finally {
    s.close();
  }
});

Deno.test("overload: beyond maxInFlight requests get 0x03 and are not cached", async () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const resolvers: (() => void)[] = [];
  const slow: Executor = {
    put: () => new Promise((r) => resolvers.push(() => r({ code: 0 }))),
    get: () => ({ code: 1 }),
    remove: () => ({ code: 1 }),
    membershipCount: () => 1,
  };
  const store = new MemoryStore(1 << 20);
  const node = new KVNode({
    transport: net.createTransport("n:1"),
    clock,
    store,
    executor: slow,
    config: { maxInFlight: 2 },
  });
  const running = { node, close: () => node.close() };
  const replies: number[] = [];
  const probe = net.createTransport("c:1");
  probe.onReceive((d) => replies.push(d[16]));
  try {
    for (let i = 0; i < 3; i++) {
      probe.send(encodeRequest(new Uint8Array(16).fill(i), Command.Put, toKey("x"), new Uint8Array(1)), "n:1");
    }
    clock.advance(20);
    assert.deepEqual([...replies], [ErrorCode.Overload]);
    assert.equal(running.node.inFlight, 2);
    for (const r of resolvers) r();
    await Promise.resolve();
    clock.advance(20);
    assert.deepEqual([...replies].sort(), [0, 0, ErrorCode.Overload]);
    // The overloaded id was not cached: retrying it executes now.
    probe.send(encodeRequest(new Uint8Array(16).fill(2), Command.Put, toKey("x"), new Uint8Array(1)), "n:1");
    clock.advance(20);
    for (const r of resolvers.splice(0)) r();
    await Promise.resolve();
    clock.advance(20);
    assert.equal(replies.filter((c) => c === 0).length, 3);
  } finally {
    probe.close();
    running.close();
  }
});

Deno.test("wipeout deletes every key; shutdown replies then stops", async () => {
  const s = await setup();
  try {
    await s.run(s.client.put("a", "1"));
    await s.run(s.client.put("b", "2"));
    await s.run(s.client.wipeout());
    assert.equal(s.running.store.size, 0);
    await s.run(s.client.shutdown());
    await Promise.resolve();
    assert.ok(s.running.node.closed, "node closed after replying to shutdown");
    assert.equal(await s.run(s.client.isAlive()), false);
  } finally {
    s.close();
  }
});

Deno.test("a full reply cache answers mutating requests 0x03 without executing them, until old replies expire", async () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 2, minDelay: 0, maxDelay: 0 });
  const ttl = 1_000;
  const running = await startNode({
    transport: net.createTransport("n:1"),
    clock,
    nodeConfig: { replyCacheMaxBytes: 4_000, replyCacheTtlMs: ttl },
  });
  const replies: number[] = [];
  const probe = net.createTransport("c:1");
  probe.onReceive((d) => replies.push(d[16]));
  const put = (i: number) => {
    const id = new Uint8Array(16);
    new DataView(id.buffer).setUint32(0, i, true);
    probe.send(encodeRequest(id, Command.Put, toKey(`k-${i}`), new Uint8Array(10)), "n:1");
    clock.advance(1);
    return replies.at(-1);
  };
  try {
    let i = 0;
    while (i < 1_000 && put(i) === ErrorCode.Success) i++;
    assert.ok(i > 10 && i < 100, `${i} puts fit in a 4,000-byte reply cache`);
    assert.equal(replies.at(-1), ErrorCode.Overload, "the first put that does not fit is refused");
    assert.equal(running.store.getEntry(toHex(toKey(`k-${i}`))), undefined, "the refused put was not executed");
    assert.equal(running.store.liveKeys, i);
    clock.advance(ttl);
    assert.equal(put(i), ErrorCode.Success, "once replies expire the same put executes");
    assert.ok(running.store.getEntry(toHex(toKey(`k-${i}`))));
  } finally {
    probe.close();
    running.close();
  }
});
