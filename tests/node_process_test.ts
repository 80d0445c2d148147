import assert from "node:assert/strict";
import { KVClient } from "../lib/client.ts";
import { Command, ErrorCode, MAX_VALUE_LENGTH } from "../lib/protocol.ts";
import { freeUdpPorts, RoleProcess, startNodeProcess } from "../lib/process_launcher.ts";
import { toKey } from "../lib/keys.ts";
import { randomBytes, seededRandom } from "../lib/random.ts";

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
    const status = await node.exited();
    assert.equal(status.success, true);
  } finally {
    client.close();
    await node.stop("SIGKILL");
  }
});

/** Packets that are malformed by construction (each category can never be a valid request). */
function malformed(rnd: () => number): Uint8Array {
  const kind = Math.floor(rnd() * 5);
  const id = randomBytes(rnd, 16);
  switch (kind) {
    case 0: // shorter than the header
      return randomBytes(rnd, Math.floor(rnd() * 17));
    case 1: { // unknown client command
      const cmd = [0x00, 0x09, 0x0a, 0x1f][Math.floor(rnd() * 4)];
      return Uint8Array.from([...id, cmd, ...randomBytes(rnd, Math.floor(rnd() * 80))]);
    }
    case 2: { // put/get/remove with a short key
      const cmd = 1 + Math.floor(rnd() * 3);
      return Uint8Array.from([...id, cmd, ...randomBytes(rnd, Math.floor(rnd() * 32))]);
    }
    case 3: { // put whose length field exceeds the bytes sent or 15,000
      const len = rnd() < 0.5 ? 15_001 + Math.floor(rnd() * 50_000) : 10 + Math.floor(rnd() * 100);
      const body = randomBytes(rnd, Math.floor(rnd() * Math.min(len, 200)) % len);
      return Uint8Array.from([...id, 1, ...randomBytes(rnd, 32), len & 0xff, (len >> 8) & 0xff, ...body]);
    }
    default: // internal command space with garbage
      return Uint8Array.from([...id, 0x20 + Math.floor(rnd() * 0xe0), ...randomBytes(rnd, Math.floor(rnd() * 300))]);
  }
}

Deno.test("10,000 malformed datagrams: the node still answers and the store is unchanged", async () => {
  const [port] = freeUdpPorts(1);
  const node = await startNodeProcess(port);
  const client = await KVClient.connect(`127.0.0.1:${port}`, { timeoutMs: 200, retries: 5 });
  const raw = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const keys = Array.from({ length: 20 }, (_, i) => `stable-${i}`);
    for (const k of keys) await client.put(k, `value of ${k}`);
    const rnd = seededRandom(99);
    const target = { transport: "udp" as const, hostname: "127.0.0.1", port };
    const sentKinds = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const p = malformed(rnd);
      sentKinds.add(p.length < 17 ? -1 : p[16]);
      await raw.send(p, target);
      if (i % 500 === 499) assert.ok(await client.isAlive(), `alive after ${i + 1} datagrams`);
    }
    assert.ok(sentKinds.size > 10, "the fuzz covered many command bytes");
    assert.ok(await client.isAlive());
    for (const k of keys) assert.equal(new TextDecoder().decode(await client.get(k)), `value of ${k}`);
    assert.equal(node.output.filter((l) => /error|panic|uncaught/i.test(l)).length, 0, node.output.join("\n"));
  } finally {
    raw.close();
    client.close();
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

async function kvctl(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const p = new RoleProcess("kvctl", "kvctl", args);
  const status = await p.exited();
  const out = p.output.join("\n");
  return { code: status.code, stderr: out, stdout: out };
}

Deno.test("kvctl errors are one clear sentence, non-zero exit, no stack trace", async () => {
  const [deadPort] = freeUdpPorts(1);
  const cases: [string[], RegExp][] = [
    [["get", "k", "--node", `127.0.0.1:${deadPort}`, "--timeout", "20ms"], /cannot reach node 127\.0\.0\.1:\d+/],
    [["put", "x".repeat(40), "v"], /bad key: Key is 40 bytes; keys are at most 32 bytes/],
    [["get", "k", "--frobnicate"], /Unknown option '--frobnicate'.*--help/],
    [["teleport"], /unknown verb "teleport"/],
    [["get"], /missing KEY/],
    [["get", "k", "--node", "nowhere"], /expected host:port/],
    [["get", "zz", "--hex"], /Invalid hex/],
  ];
  for (const [args, pattern] of cases) {
    const r = await kvctl(args);
    assert.notEqual(r.code, 0, `kvctl ${args.join(" ")} must fail`);
    assert.match(r.stderr, pattern);
    assert.match(r.stderr, /^error: /m);
    assert.doesNotMatch(r.stderr, /^\s+at /m, `no stack trace for kvctl ${args.join(" ")}`);
  }
});

Deno.test("kvctl round trip against a real node, value from stdin-less argument and --file", async () => {
  const [port] = freeUdpPorts(1);
  const node = await startNodeProcess(port);
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeFile(file, new Uint8Array([0, 1, 2, 255]));
    const node_ = ["--node", `127.0.0.1:${port}`];
    assert.equal((await kvctl(["put", "greeting", "hello", ...node_])).code, 0);
    const got = await kvctl(["get", "greeting", ...node_]);
    assert.equal(got.code, 0);
    assert.match(got.stdout, /hello/);
    assert.equal((await kvctl(["put", "bin", "--file", file, ...node_])).code, 0);
    const client = await KVClient.connect(`127.0.0.1:${port}`);
    assert.deepEqual(await client.get("bin"), new Uint8Array([0, 1, 2, 255]));
    client.close();
    assert.equal((await kvctl(["members", ...node_])).stdout.trim(), "1");
    const missing = await kvctl(["get", "nothing-here", ...node_]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /key not found/);
  } finally {
    await Deno.remove(file);
    await node.stop("SIGKILL");
  }
});
