/**
 * Issue 13 on a real node process: a request that reuses a cached id with other bytes is
 * executed as the new request it is (each of command, key, value); the same bytes again are a
 * retry, answered from the cache and not executed.
 */
import assert from "node:assert/strict";
import { KVClient } from "../lib/client/client.ts";
import { KeyNotFoundError } from "../lib/client/errors.ts";
import { toKey } from "../lib/client/keys.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { Command, ErrorCode } from "../lib/wire/client_protocol.ts";
import { counterOf, NodeStatsReader } from "./node_stats_reader.ts";
import { poll } from "./support/real_time.ts";

function request(id: number, command: number, key: string, value?: string): Uint8Array {
  const v = new TextEncoder().encode(value ?? "");
  const p = new Uint8Array(49 + (value === undefined ? 0 : 2 + v.length));
  new DataView(p.buffer).setUint32(0, id, true);
  p[16] = command;
  p.set(toKey(key), 17);
  if (value !== undefined) {
    p[49] = v.length & 0xff;
    p[50] = v.length >> 8;
    p.set(v, 51);
  }
  return p;
}

Deno.test("real node: a reused id with another command, key or value is executed; identical bytes are replayed, not executed", async () => {
  const [port] = freeUdpPorts(1);
  const node = await startNodeProcess(port);
  const client = await KVClient.connect(`127.0.0.1:${port}`, { timeoutMs: 200, retries: 5 });
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const reader = new NodeStatsReader();
  const target = { transport: "udp" as const, hostname: "127.0.0.1", port };
  // Replies by request id (the first byte is enough here), read as they come.
  const replies = new Map<number, number[]>();
  const listening = (async () => {
    try {
      for (;;) {
        const [d] = await socket.receive();
        replies.set(d[0], [...(replies.get(d[0]) ?? []), d[16]]);
      }
    } catch { /* closed */ }
  })();
  /** Sends one request and returns the code of the reply it gets (sent again if a datagram was lost). */
  const ask = async (p: Uint8Array): Promise<number> => {
    const seen = replies.get(p[0])?.length ?? 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      await socket.send(p, target);
      const reply = await poll(() => replies.get(p[0])?.[seen], {
        until: (code) => code !== undefined,
        timeoutMs: 300,
        intervalMs: 2,
      });
      if (reply.done) return reply.value!;
    }
    throw new Error("no reply");
  };
  const text = async (key: string) => new TextDecoder().decode(await client.get(key));
  try {
    const before = await reader.stats(port);
    // Different command: the harness's case (PUT then REMOVE under one id).
    assert.equal(await ask(request(1, Command.Put, "a", "1")), ErrorCode.Success);
    assert.equal(await ask(request(1, Command.Remove, "a")), ErrorCode.Success);
    await assert.rejects(client.get("a"), KeyNotFoundError, "the remove was executed");
    // Different key.
    assert.equal(await ask(request(2, Command.Put, "b1", "x")), ErrorCode.Success);
    assert.equal(await ask(request(2, Command.Put, "b2", "x")), ErrorCode.Success);
    assert.equal(await text("b2"), "x", "the put of another key was executed");
    // Different value.
    assert.equal(await ask(request(3, Command.Put, "c", "old")), ErrorCode.Success);
    assert.equal(await ask(request(3, Command.Put, "c", "new")), ErrorCode.Success);
    assert.equal(await text("c"), "new", "the put of another value was executed");
    const mid = await reader.stats(port);
    assert.equal(counterOf(mid, "id_reuse") - counterOf(before, "id_reuse"), 3, "each reuse counted");
    // Identical bytes: a retry, answered from the cache; the store shows it did not run again.
    assert.equal(await ask(request(4, Command.Put, "d", "first")), ErrorCode.Success);
    await client.put("d", "second"); // another client's newer write
    assert.equal(await ask(request(4, Command.Put, "d", "first")), ErrorCode.Success);
    assert.equal(await text("d"), "second", "the retried put was not executed again");
    assert.equal(await ask(request(5, Command.Remove, "d")), ErrorCode.Success);
    assert.equal(await ask(request(5, Command.Remove, "d")), ErrorCode.Success, "a retried remove answers 0x00 twice");
    const after = await reader.stats(port);
    assert.equal(counterOf(after, "id_reuse"), counterOf(mid, "id_reuse"), "retries are not reuses");
    assert.ok(counterOf(after, "replayed") - counterOf(mid, "replayed") >= 2, "the retries were replayed");
  } finally {
    client.close();
    socket.close();
    await listening;
    await reader.close();
    await node.stop();
  }
});
