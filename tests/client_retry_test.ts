/**
 * PROTOCOL.md's client retry policy and the server's at-most-once replies, on the
 * in-memory network with virtual time:
 *
 * - timeout 100 ms doubled on each retry, 3 retries, always the same 16-byte id;
 * - an overload reply (0x03) is retried with the same id after the client's back-off
 *   (`overloadBackoffMs`, 50 ms by default, doubling);
 * - a repeated id gets the cached reply byte for byte and never executes again, also
 *   when the network delivers every datagram twice.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../lib/base/clock.ts";
import { DEFAULT_CLIENT_OPTIONS, KVClient } from "../lib/client/client.ts";
import { KVTimeoutError, OverloadError } from "../lib/client/errors.ts";
import { toHex } from "../lib/base/bytes.ts";
import { toKey } from "../lib/client/keys.ts";
import { MemoryNetwork, type MemoryTransport } from "../lib/net/memory_network.ts";
import {
  Command,
  decodeRequest,
  encodeReply,
  encodeRequest,
  ErrorCode,
  ID_LENGTH,
  KEY_LENGTH,
  VALUE_OFFSET,
} from "../lib/wire/client_protocol.ts";
import { type RunningNode, startNode } from "../lib/roles/start_node.ts";
import type { Address, DatagramHandler, Transport } from "../lib/net/transport.ts";
import { addr, SimCluster } from "./support/sim_cluster.ts";
import { advance, runUntil, settle as letPendingWorkRun } from "./support/virtual_time.ts";

const enc = new TextEncoder();
const NODE = "10.0.0.1:4000";
const CLIENT = "10.0.0.9:5000";

/** A transport that notes the virtual time and bytes of every datagram it sends. */
class RecordingTransport implements Transport {
  readonly sent: { at: number; data: Uint8Array; to: Address }[] = [];
  #inner: Transport;
  #clock: VirtualClock;
  #t0: number;

  constructor(inner: Transport, clock: VirtualClock) {
    this.#inner = inner;
    this.#clock = clock;
    this.#t0 = clock.now();
  }

  get address(): Address {
    return this.#inner.address;
  }

  send(data: Uint8Array, to: Address): void {
    this.sent.push({ at: this.#clock.now() - this.#t0, data: data.slice(), to });
    this.#inner.send(data, to);
  }

  onReceive(handler: DatagramHandler): void {
    this.#inner.onReceive(handler);
  }

  close(): void {
    this.#inner.close();
  }
}

/** A network whose datagrams all take exactly `delayMs`, and a recording client on it. */
function fixedDelayNetwork(delayMs: number) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1, minDelay: delayMs, maxDelay: delayMs });
  const transport = new RecordingTransport(net.createTransport(CLIENT), clock);
  const client = new KVClient(transport, NODE, {}, clock);
  return { clock, net, transport, client };
}

/**
 * Advances `clock` 1 ms at a time (running promise continuations in between) until `p`
 * settles; returns when it settled, in virtual ms from now, and how.
 */
async function settle<T>(
  clock: VirtualClock,
  p: Promise<T>,
  limitMs = 10_000,
): Promise<{ after: number; value?: T; error?: unknown }> {
  let outcome: { value?: T; error?: unknown } | undefined;
  p.then((value) => outcome = { value }, (error) => outcome = { error });
  const after = await runUntil(clock, () => outcome !== undefined, {
    tickMs: 1,
    settleFirst: true,
    limitMs,
    what: "the request to settle",
  });
  return { after, ...outcome };
}

/** The 16-byte request id of a request packet. */
function idOf(packet: Uint8Array): string {
  return toHex(packet.subarray(0, ID_LENGTH));
}

Deno.test("client: a silent node gets the request at 0, 100, 300 and 700 ms with one id, then KVTimeoutError at 1,500 ms", async () => {
  assert.deepEqual(
    { timeoutMs: DEFAULT_CLIENT_OPTIONS.timeoutMs, retries: DEFAULT_CLIENT_OPTIONS.retries },
    { timeoutMs: 100, retries: 3 },
    "PROTOCOL.md defaults",
  );
  const { clock, net, transport, client } = fixedDelayNetwork(1);
  // Something listens at the address and never answers.
  const arrived: number[] = [];
  const t0 = clock.now();
  const silent = net.createTransport(NODE);
  silent.onReceive(() => arrived.push(clock.now() - t0));
  try {
    const r = await settle(clock, client.get("some-key"));
    assert.ok(r.error instanceof KVTimeoutError, `expected KVTimeoutError, got ${r.error ?? "a reply"}`);
    assert.equal(r.error.address, NODE);
    assert.match(r.error.message, /after 4 attempts/);
    assert.equal(r.after, 1_500, "rejects when the last timeout (800 ms, sent at 700 ms) expires");
    assert.deepEqual(transport.sent.map((s) => s.at), [0, 100, 300, 700]);
    assert.deepEqual(arrived, [1, 101, 301, 701], "every attempt went out on the network");
    assert.equal(client.attempts, 4);
    const first = transport.sent[0].data;
    assert.equal(first.length, ID_LENGTH + 1 + KEY_LENGTH, "a get: 16-byte id, command, 32-byte key");
    const decoded = decodeRequest(first);
    assert.ok(decoded.ok && decoded.request.command === Command.Get);
    assert.deepEqual(decoded.request.key, toKey("some-key"));
    for (const s of transport.sent) {
      assert.equal(s.to, NODE);
      assert.deepEqual(s.data, first, "a retry is the same packet, same 16-byte id");
    }
    assert.notDeepEqual(first.subarray(0, ID_LENGTH), new Uint8Array(ID_LENGTH), "the id is random, not zeros");
    // Nothing more is sent after the rejection.
    clock.advance(5_000);
    await letPendingWorkRun();
    assert.equal(transport.sent.length, 4);
    // A new request has a new id.
    const next = client.get("some-key");
    next.catch(() => {});
    assert.notEqual(idOf(transport.sent[4].data), idOf(first));
    await settle(clock, next);
  } finally {
    client.close();
    silent.close();
  }
});

/**
 * A fake node at {@linkcode NODE} that answers the i-th request it receives with `codes[i]`
 * (the last code again once the list is used up) and notes when each request arrived.
 */
function fakeNode(net: MemoryNetwork, clock: VirtualClock, codes: number[]) {
  const t0 = clock.now();
  const received: { at: number; data: Uint8Array }[] = [];
  const t: MemoryTransport = net.createTransport(NODE);
  t.onReceive((data, from) => {
    received.push({ at: clock.now() - t0, data: data.slice() });
    const code = codes[Math.min(received.length, codes.length) - 1];
    t.send(encodeReply(data.subarray(0, ID_LENGTH), code), from);
  });
  return { received, close: () => t.close() };
}

Deno.test("client: an overload reply (0x03) is retried with the same id after a 50 ms back-off, then succeeds", async () => {
  assert.equal(DEFAULT_CLIENT_OPTIONS.overloadBackoffMs, 50);
  const { clock, net, transport, client } = fixedDelayNetwork(5);
  const node = fakeNode(net, clock, [ErrorCode.Overload, ErrorCode.Success]);
  try {
    const r = await settle(clock, client.put("k", "v"));
    assert.equal(r.error, undefined, `the put failed: ${r.error}`);
    // Sent at 0, arrives at 5; 0x03 back at 10; back-off 50 ms; resent at 60, arrives at 65; 0x00 back at 70.
    assert.deepEqual(transport.sent.map((s) => s.at), [0, 60]);
    assert.deepEqual(node.received.map((s) => s.at), [5, 65]);
    assert.equal(r.after, 70);
    assert.equal(node.received[1].at - 5 - node.received[0].at - 5, 50, "back-off after the 0x03 reply arrived");
    assert.deepEqual(node.received[1].data, node.received[0].data, "the retry is the same packet, same id");
    assert.equal(node.received[0].data.length, VALUE_OFFSET + 1);
    // The success cancelled every timer: nothing is sent later.
    clock.advance(5_000);
    await letPendingWorkRun();
    assert.equal(transport.sent.length, 2);
  } finally {
    client.close();
    node.close();
  }
});

Deno.test("client: overload back-off doubles (50, 100, 200 ms) within the 3 retries, then OverloadError", async () => {
  {
    const { clock, net, transport, client } = fixedDelayNetwork(5);
    const node = fakeNode(net, clock, [ErrorCode.Overload, ErrorCode.Overload, ErrorCode.Success]);
    try {
      const r = await settle(clock, client.put("k", "v"));
      assert.equal(r.error, undefined, `the put failed: ${r.error}`);
      // 0 → 0x03 at 10, +50 → 60 → 0x03 at 70, +100 → 170 → 0x00 at 180.
      assert.deepEqual(transport.sent.map((s) => s.at), [0, 60, 170]);
      assert.equal(r.after, 180);
      assert.equal(new Set(node.received.map((s) => idOf(s.data))).size, 1, "one id for every attempt");
    } finally {
      client.close();
      node.close();
    }
  }
  {
    const { clock, net, transport, client } = fixedDelayNetwork(5);
    const node = fakeNode(net, clock, [ErrorCode.Overload]);
    try {
      const r = await settle(clock, client.put("k", "v"));
      assert.ok(r.error instanceof OverloadError, `expected OverloadError, got ${r.error ?? "success"}`);
      // Overload retries share the budget of 3 retries: 0, 60, 170 (+100), 380 (+200); the 4th 0x03 is final.
      assert.deepEqual(transport.sent.map((s) => s.at), [0, 60, 170, 380]);
      assert.equal(r.after, 390);
      assert.equal(new Set(node.received.map((s) => idOf(s.data))).size, 1, "one id for every attempt");
      clock.advance(5_000);
      await letPendingWorkRun();
      assert.equal(transport.sent.length, 4);
    } finally {
      client.close();
      node.close();
    }
  }
});

/** A probe on the network that sends raw request packets and collects every reply datagram. */
function probe(net: MemoryNetwork, address: Address) {
  const replies: Uint8Array[] = [];
  const t = net.createTransport(address);
  t.onReceive((data) => replies.push(data.slice()));
  return { replies, send: (packet: Uint8Array, to: Address) => t.send(packet, to), close: () => t.close() };
}

/** Runs `clock` until every datagram in flight has arrived (network delays are at most 5 ms). */
async function quiesce(clock: VirtualClock, ms = 50): Promise<void> {
  await advance(clock, ms, { tickMs: 1 });
}

for (const size of [1, 3]) {
  Deno.test(`at-most-once: a get replayed after a put gets the first reply byte for byte (${size}-node simulation)`, async () => {
    const sim = new SimCluster({ seed: 9 });
    const raw = probe(sim.network, "10.9.0.1:5000");
    try {
      const nodes = await sim.addNodes(size);
      const target = nodes[0];
      // Checked every 10 ms, for the last time at 30,000 ms.
      await sim.waitForMembers(size, { stepMs: 10, tickMs: 10, limitMs: 29_999, what: "the nodes to see each other" });
      const client = sim.client(target.node.address, {}, "10.9.0.2:5000");
      const run = async <T>(p: Promise<T>) => {
        const r = await settle(sim.clock, p);
        if (r.error) throw r.error;
        return r.value as T;
      };
      await run(client.put("amo", "old value"));
      const id = new Uint8Array(ID_LENGTH).map((_, i) => 0xa0 + i);
      const get = encodeRequest(id, Command.Get, toKey("amo"));
      raw.send(get, target.node.address);
      await quiesce(sim.clock);
      assert.equal(raw.replies.length, 1);
      const first = raw.replies[0];
      assert.deepEqual(first.subarray(0, ID_LENGTH), id);
      assert.equal(first[16], ErrorCode.Success);
      assert.equal(new TextDecoder().decode(first.subarray(19)), "old value");
      const gets = target.node.counters.requests.get;
      // The value changes, and a fresh id sees it ...
      await run(client.put("amo", "new value!"));
      assert.equal(new TextDecoder().decode(await run(client.get("amo"))), "new value!");
      assert.equal(target.node.counters.requests.get, gets + 1);
      // ... but the same id gets the cached reply, byte for byte, and is not executed again.
      const replayed = target.node.counters.replayed;
      raw.send(get, target.node.address);
      await quiesce(sim.clock);
      assert.equal(raw.replies.length, 2);
      assert.deepEqual(raw.replies[1], first);
      assert.equal(target.node.counters.replayed, replayed + 1);
      assert.equal(target.node.counters.requests.get, gets + 1, "the replay did not execute");
    } finally {
      raw.close();
      sim.close();
    }
  });
}

/** Value and version time of `name` in the store of `n`. */
function entryOf(n: RunningNode, name: string) {
  const e = n.store.getEntry(toHex(toKey(name)));
  return e && { value: new TextDecoder().decode(e.value), t: e.version.t };
}

Deno.test("at-most-once with every datagram delivered twice (single node): a put executes once; its replay after a newer put changes nothing", async () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 4, duplicate: 1 });
  const running = await startNode({ transport: net.createTransport(NODE), clock });
  const raw = probe(net, CLIENT);
  const client = new KVClient(net.createTransport("10.0.0.8:5000"), NODE, {}, clock);
  try {
    const idA = new Uint8Array(ID_LENGTH).fill(0xaa);
    const putA = encodeRequest(idA, Command.Put, toKey("dup"), enc.encode("first"));
    raw.send(putA, NODE);
    await quiesce(clock);
    assert.equal(running.node.counters.requests.put, 1, "two copies of the put arrived, it executed once");
    assert.equal(running.node.counters.replayed, 1);
    assert.equal(raw.replies.length, 4, "the request arrived twice, and each of its two replies twice");
    for (const r of raw.replies) assert.deepEqual(r, encodeReply(idA, ErrorCode.Success));
    const afterA = entryOf(running, "dup")!;
    assert.equal(afterA.value, "first");
    // A newer put through the client (its datagrams are doubled too).
    const put = client.put("dup", "second");
    const r = await settle(clock, put);
    assert.equal(r.error, undefined);
    await quiesce(clock);
    assert.equal(running.node.counters.requests.put, 2);
    const afterB = entryOf(running, "dup")!;
    assert.equal(afterB.value, "second");
    // The old put replayed (twice, by the network) answers from the cache and does not write.
    raw.send(putA, NODE);
    await quiesce(clock);
    assert.equal(raw.replies.length, 8);
    for (const r of raw.replies.slice(4)) assert.deepEqual(r, encodeReply(idA, ErrorCode.Success));
    assert.deepEqual(entryOf(running, "dup"), afterB, "the replayed put overwrote a newer value");
    assert.equal(running.node.counters.requests.put, 2, "the replayed put executed");
    assert.equal(running.node.counters.replayed, 1 + 1 + 2);
  } finally {
    client.close();
    raw.close();
    running.close();
  }
});

Deno.test("at-most-once with every datagram delivered twice (3 replicas): one put, one version, one write", async () => {
  const c = new SimCluster({ seed: 12, conditions: { duplicate: 1 } });
  try {
    const nodes = c.startReplicas([0, 1, 2].map(addr));
    const coordinator = nodes[0];
    const raw = probe(c.network, "10.9.0.77:5000");
    try {
      const id = new Uint8Array(ID_LENGTH).fill(0x5c);
      const key = toKey("dup3");
      raw.send(encodeRequest(id, Command.Put, key, enc.encode("once")), coordinator.address);
      await c.advance(200, { tickMs: 1 });
      assert.ok(raw.replies.length >= 2, `${raw.replies.length} replies`);
      for (const r of raw.replies) assert.deepEqual(r, encodeReply(id, ErrorCode.Success));
      assert.equal(coordinator.node.counters.requests.put, 1, "the put executed once");
      assert.equal(coordinator.executor.stats.writesOk, 1, "the coordinator wrote once");
      assert.equal(coordinator.executor.stats.reissued, 0);
      // One version issued, and every replica holds exactly it.
      const k = toHex(key);
      const versions = new Set(nodes.map((n) => JSON.stringify(n.store.getEntry(k)?.version)));
      assert.equal(versions.size, 1, `replicas hold ${[...versions]}`);
      assert.equal(JSON.parse([...versions][0]).n, coordinator.address);
      // Sent again once done (and doubled again): answered from the reply cache, still one write.
      const before = raw.replies.length, replayed = coordinator.node.counters.replayed;
      raw.send(encodeRequest(id, Command.Put, key, enc.encode("once")), coordinator.address);
      await c.advance(200, { tickMs: 1 });
      assert.equal(raw.replies.length, before + 4);
      for (const r of raw.replies) assert.deepEqual(r, encodeReply(id, ErrorCode.Success));
      assert.equal(coordinator.node.counters.replayed, replayed + 2);
      assert.equal(coordinator.node.counters.requests.put, 1, "the replay executed");
      assert.equal(coordinator.executor.stats.writesOk, 1, "the replay wrote");
      assert.equal(new Set(nodes.map((n) => JSON.stringify(n.store.getEntry(k)?.version))).size, 1);
    } finally {
      raw.close();
    }
  } finally {
    c.close();
  }
});
