import assert from "node:assert/strict";
import { KVClient } from "../lib/client/client.ts";
import { Command, ErrorCode, MAX_VALUE_LENGTH } from "../lib/wire/client_protocol.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { toKey } from "../lib/client/keys.ts";
import { randomBytes, seededRandom } from "../lib/base/random.ts";
import { ClusterDebugClient } from "../lib/replication/debug_queries.ts";
import { toHex } from "../lib/base/bytes.ts";
import { exitsWithin } from "./support/child_processes.ts";
import { counterOf, NodeStatsReader } from "./node_stats_reader.ts";

Deno.test("real node process: put/get/remove, replace, limits, at-most-once, shutdown", async () => {
  const [port] = freeUdpPorts(1);
  const node = await startNodeProcess(port, ["--max-bytes", String(32 * 3 + 15_000 + 20)]);
  const client = await KVClient.connect(`127.0.0.1:${port}`);
  try {
    await client.put("k1", "v1");
    assert.equal(new TextDecoder().decode(await client.get("k1")), "v1");
    await client.put("k1", "v2");
    assert.equal(new TextDecoder().decode(await client.get("k1")), "v2");
    await client.remove("k1");
    await assert.rejects(client.get("k1"), { name: "KeyNotFoundError" });

    const big = randomBytes(seededRandom(1), MAX_VALUE_LENGTH);
    await client.put("big", big);
    assert.deepEqual(await client.get("big"), big);
    const tooBig = await client.request(Command.Put, toKey("big2"), new Uint8Array(MAX_VALUE_LENGTH + 1));
    assert.equal(tooBig.code, ErrorCode.InvalidValueLength);
    assert.equal((await client.request(Command.Get, toKey("big2"))).code, ErrorCode.NonExistentKey);

    // Capacity: 3 keys × 32 + 15,000 + 20 bytes. 15,032 used; a 100-byte put does not fit.
    const full = await client.request(Command.Put, toKey("c"), new Uint8Array(100));
    assert.equal(full.code, ErrorCode.OutOfSpace);
    assert.equal((await client.request(Command.Get, toKey("c"))).code, ErrorCode.NonExistentKey, "nothing written");

    // A replayed put id does not write twice.
    const id = crypto.getRandomValues(new Uint8Array(16));
    assert.equal((await client.request(Command.Put, toKey("r"), new Uint8Array([1]), id)).code, 0);
    await client.put("r", new Uint8Array([2]));
    assert.equal((await client.request(Command.Put, toKey("r"), new Uint8Array([1]), id)).code, 0);
    assert.deepEqual(await client.get("r"), new Uint8Array([2]));

    // A remove sent twice with the same id answers 0x00 twice.
    const rid = crypto.getRandomValues(new Uint8Array(16));
    assert.equal((await client.request(Command.Remove, toKey("r"), undefined, rid)).code, 0);
    assert.equal((await client.request(Command.Remove, toKey("r"), undefined, rid)).code, 0);

    assert.equal(await client.pid(), node.child.pid);
    assert.equal(await client.membershipCount(), 1);

    // Shutdown replies, then the process exits.
    await client.shutdown();
    const status = await exitsWithin(node);
    assert.equal(status.success, true);
  } finally {
    client.close();
    await node.stop("SIGKILL");
  }
});

/** The node counter (a stat of its monitoring report) that each kind of malformed packet must raise. */
type RejectCounter =
  | "dropped"
  | "errors.unrecognized_command"
  | "errors.invalid_key"
  | "errors.invalid_value_length"
  | "wire_rejected";
const REJECT_COUNTERS: RejectCounter[] = [
  "dropped",
  "errors.unrecognized_command",
  "errors.invalid_key",
  "errors.invalid_value_length",
  "wire_rejected",
];

/**
 * A packet that is malformed by construction (each category can never be a valid request), with
 * the counter the node must count it in.
 */
function malformed(rnd: () => number): { packet: Uint8Array; counter: RejectCounter } {
  const kind = Math.floor(rnd() * 5);
  const id = randomBytes(rnd, 16);
  switch (kind) {
    case 0: // shorter than the header: dropped without a reply
      return { packet: randomBytes(rnd, Math.floor(rnd() * 17)), counter: "dropped" };
    case 1: { // unknown client command: 0x05
      const cmd = [0x00, 0x09, 0x0a, 0x1f][Math.floor(rnd() * 4)];
      return {
        packet: Uint8Array.from([...id, cmd, ...randomBytes(rnd, Math.floor(rnd() * 80))]),
        counter: "errors.unrecognized_command",
      };
    }
    case 2: { // put/get/remove with a short key: 0x06
      const cmd = 1 + Math.floor(rnd() * 3);
      return {
        packet: Uint8Array.from([...id, cmd, ...randomBytes(rnd, Math.floor(rnd() * 32))]),
        counter: "errors.invalid_key",
      };
    }
    case 3: { // put whose length field exceeds the bytes sent or 15,000: 0x07
      const len = rnd() < 0.5 ? 15_001 + Math.floor(rnd() * 50_000) : 10 + Math.floor(rnd() * 100);
      const body = randomBytes(rnd, Math.floor(rnd() * Math.min(len, 200)) % len);
      return {
        packet: Uint8Array.from([...id, 1, ...randomBytes(rnd, 32), len & 0xff, (len >> 8) & 0xff, ...body]),
        counter: "errors.invalid_value_length",
      };
    }
    default: // internal command space with garbage (no frame marker, version or tag): rejected by the wire
      return {
        packet: Uint8Array.from([
          ...id,
          0x20 + Math.floor(rnd() * 0xe0),
          ...randomBytes(rnd, Math.floor(rnd() * 300)),
        ]),
        counter: "wire_rejected",
      };
  }
}

Deno.test("10,000 malformed datagrams: the node counts each as rejected, still answers, and the store is unchanged", async () => {
  const [port] = freeUdpPorts(1);
  const address = `127.0.0.1:${port}`;
  const node = await startNodeProcess(port);
  const client = await KVClient.connect(address, { timeoutMs: 200, retries: 5 });
  const dbg = await ClusterDebugClient.open();
  const statsReader = new NodeStatsReader();
  const raw = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const keys = Array.from({ length: 20 }, (_, i) => `stable-${i}`);
    for (const k of keys) await client.put(k, `value of ${k}`);
    // The node's full view before: every key with its version, and its key/entry/byte counts.
    const snapshot = async () => {
      const s = await dbg.stats(address);
      return {
        keys: await dbg.keys(address),
        keyCount: s.keys,
        entries: s.entries,
        tombstones: s.tombstones,
        bytes: s.bytes,
      };
    };
    const before = await snapshot();
    assert.equal(before.keys.length, 20);
    assert.deepEqual(before.keys.map((k) => k.key).sort(), keys.map((k) => toHex(toKey(k))).sort());
    const countersBefore = await statsReader.stats(port);

    const rnd = seededRandom(99);
    const target = { transport: "udp" as const, hostname: "127.0.0.1", port };
    const sentKinds = new Set<number>();
    const sent = new Map<RejectCounter, number>(REJECT_COUNTERS.map((c) => [c, 0]));
    const TOTAL = 10_000;
    for (let i = 0; i < TOTAL; i++) {
      const { packet, counter } = malformed(rnd);
      sentKinds.add(packet.length < 17 ? -1 : packet[16]);
      sent.set(counter, sent.get(counter)! + 1);
      await raw.send(packet, target);
      // An is-alive round trip every 100 datagrams paces the flood so the node's socket buffer
      // does not overflow (unpaced, loopback lost ~8% of 10,000 here).
      if (i % 100 === 99) assert.ok(await client.isAlive(), `alive after ${i + 1} datagrams`);
    }
    assert.ok(sentKinds.size > 10, "the fuzz covered many command bytes");
    assert.ok(await client.isAlive(), "alive after the flood");

    // The node received the flood: each category raised its own reject counter by about what was
    // sent (loopback may lose a few datagrams), never by more.
    const countersAfter = await statsReader.stats(port);
    let counted = 0;
    for (const name of REJECT_COUNTERS) {
      const delta = counterOf(countersAfter, name) - counterOf(countersBefore, name);
      const n = sent.get(name)!;
      assert.ok(n > 1_000, `the fuzz sent ${n} packets for ${name}`);
      assert.ok(delta >= 0.9 * n && delta <= n, `${name} grew by ${delta}, sent ${n}`);
      counted += delta;
    }
    assert.ok(counted >= 0.9 * TOTAL, `node counted ${counted} of ${TOTAL} malformed datagrams`);
    assert.equal(counterOf(countersAfter, "errors.internal_failure"), 0);

    // Nothing was written, replaced or removed: same keys, versions and counts.
    assert.deepEqual(await snapshot(), before);
    for (const k of keys) assert.equal(new TextDecoder().decode(await client.get(k)), `value of ${k}`);
    assert.ok(await client.isAlive(), "alive at the end");
    assert.equal(node.output.filter((l) => /error|panic|uncaught/i.test(l)).length, 0, node.output.join("\n"));
  } finally {
    raw.close();
    dbg.close();
    client.close();
    await statsReader.close();
    await node.stop("SIGKILL");
  }
});

Deno.test("--data-dir: 1,000 keys survive kill -9 and restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-data-" });
  const [port] = freeUdpPorts(1);
  let node = await startNodeProcess(port, ["--data-dir", dir]);
  const client = await KVClient.connect(`127.0.0.1:${port}`, { timeoutMs: 200, retries: 6 });
  try {
    const window = 50;
    for (let i = 0; i < 1_000; i += window) {
      await Promise.all(Array.from({ length: window }, (_, j) => client.put(`key-${i + j}`, `value-${i + j}`)));
    }
    await client.remove("key-7");
    await node.stop("SIGKILL");
    node = await startNodeProcess(port, ["--data-dir", dir]);
    assert.ok(node.output.some((l) => /1000 keys loaded|999 keys loaded/.test(l)), node.output.join("\n"));
    for (let i = 0; i < 1_000; i += window) {
      const values = await Promise.all(
        Array.from({ length: window }, (_, j) => i + j === 7 ? Promise.resolve(null) : client.get(`key-${i + j}`)),
      );
      values.forEach((v, j) => {
        if (v) assert.equal(new TextDecoder().decode(v), `value-${i + j}`);
      });
    }
    await assert.rejects(client.get("key-7"), { name: "KeyNotFoundError" });
  } finally {
    client.close();
    await node.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("real node process with --status-port: its status server (loaded only then) serves the fleet table", async () => {
  const [port] = freeUdpPorts(1);
  const dir = await Deno.makeTempDir({ prefix: "kvstore-status-" });
  await Deno.writeTextFile(`${dir}/nodes.yaml`, `nodes:\n  - 127.0.0.1:${port}\n`);
  const node = await startNodeProcess(port, ["--config", `${dir}/nodes.yaml`, "--status-port", "0"]);
  try {
    const line = await node.waitFor(/status page on http:\/\/\S+/);
    const url = /http:\/\/\S+/.exec(line)![0];
    const res = await fetch(`${url}/api/nodes`);
    const body = await res.json() as { answeredBy: string; nodes: unknown[] };
    assert.equal(res.status, 200);
    assert.equal(body.answeredBy, `127.0.0.1:${port}`);
    assert.ok(body.nodes.length >= 1);
  } finally {
    await node.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});
