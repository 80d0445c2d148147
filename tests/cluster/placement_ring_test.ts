import assert from "node:assert/strict";
import { bucketOf, keyPosition, keyPositionHex, murmur3, Ring } from "../../lib/replication/ring.ts";
import {
  DEFAULT_REPLICATION_CONFIG,
  replicationConfig,
  replicationConfigFor,
  WAN_REPLICATION_OVERRIDES,
} from "../../lib/replication/replication_config.ts";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { toHex } from "../../lib/base/bytes.ts";
import { randomBytes, seededRandom } from "../../lib/base/random.ts";

const enc = new TextEncoder();
const members = (count: number, base = 4000) => Array.from({ length: count }, (_, i) => `127.0.0.1:${base + i}`);
function randomKeys(count: number, seed: number): Uint8Array[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: count }, () => randomBytes(rnd, 32));
}

Deno.test("murmur3 matches the reference test vectors", () => {
  assert.equal(murmur3(new Uint8Array(0)), 0);
  assert.equal(murmur3(new Uint8Array(0), 1), 0x514e28b7);
  assert.equal(murmur3(enc.encode("hello")), 0x248bfa47);
  assert.equal(murmur3(enc.encode("The quick brown fox jumps over the lazy dog")), 0x2e4ff723);
});

Deno.test("key position from hex equals position from bytes", () => {
  for (const k of randomKeys(200, 5)) assert.equal(keyPositionHex(toHex(k)), keyPosition(k));
  assert.equal(bucketOf(0, 1024), 0);
  assert.equal(bucketOf(0xffffffff, 1024), 1023);
});

Deno.test("preference list: N distinct members, capped at the member count, independent of member order", () => {
  const m = members(7);
  const a = new Ring(m, 64), b = new Ring([...m].reverse(), 64);
  for (const k of randomKeys(2_000, 1)) {
    const p = a.preferenceList(k, 3);
    assert.equal(p.length, 3);
    assert.equal(new Set(p).size, 3);
    assert.deepEqual(b.preferenceList(k, 3), p);
    // The first N successors are the preference list; the rest are the stand-ins, all distinct.
    const succ = a.successorsAt(keyPosition(k));
    assert.deepEqual(succ.slice(0, 3), p);
    assert.equal(new Set(succ).size, 7);
  }
  const two = new Ring(members(2), 64);
  assert.equal(two.preferenceList(new Uint8Array(32), 3).length, 2);
  assert.deepEqual(new Ring([], 8).preferenceList(new Uint8Array(32), 3), []);
  assert.throws(() => new Ring(m, 0), RangeError);
});

Deno.test("stability: adding an 11th node moves about 1/11 of the keys, all to the new node", () => {
  const before = new Ring(members(10), DEFAULT_REPLICATION_CONFIG.virtualNodes);
  const added = "127.0.0.1:5000";
  const after = new Ring([...members(10), added], DEFAULT_REPLICATION_CONFIG.virtualNodes);
  const keys = randomKeys(20_000, 2);
  let primaryMoved = 0, replicaMoves = 0;
  for (const k of keys) {
    const p0 = before.preferenceList(k, 3), p1 = after.preferenceList(k, 3);
    if (p0[0] !== p1[0]) {
      primaryMoved++;
      assert.equal(p1[0], added, "a primary only ever moves to the new node");
    }
    const lost = p0.filter((x) => !p1.includes(x));
    const gained = p1.filter((x) => !p0.includes(x));
    assert.ok(lost.length <= 1 && gained.length === lost.length);
    if (gained.length === 1) assert.equal(gained[0], added, "only the new node gains replicas");
    replicaMoves += gained.length;
  }
  const primaryFraction = primaryMoved / keys.length;
  const replicaFraction = replicaMoves / (3 * keys.length);
  console.log(
    `adding 1 node to 10: ${(primaryFraction * 100).toFixed(1)}% primaries moved, ${
      (replicaFraction * 100).toFixed(1)
    }% replicas moved (ideal ${(100 / 11).toFixed(1)}%)`,
  );
  assert.ok(primaryFraction > 0.5 / 11 && primaryFraction < 1.5 / 11, `primaries moved: ${primaryFraction}`);
  assert.ok(replicaFraction > 0.5 / 11 && replicaFraction < 1.5 / 11, `replicas moved: ${replicaFraction}`);
});

Deno.test("stability: removing a node moves only the keys it held", () => {
  const m = members(8);
  const before = new Ring(m, 128), after = new Ring(m.filter((x) => x !== m[3]), 128);
  for (const k of randomKeys(5_000, 3)) {
    const p0 = before.preferenceList(k, 3), p1 = after.preferenceList(k, 3);
    if (!p0.includes(m[3])) assert.deepEqual(p1, p0);
    else assert.deepEqual(p1.filter((x) => p0.includes(x)), p0.filter((x) => x !== m[3]));
  }
});

Deno.test("load balance (acceptance 5): 20 nodes, 100,000 keys, N=3: max load ≤ 1.25 × mean", () => {
  const config = replicationConfig();
  const ring = new Ring(members(20), config.virtualNodes);
  const load = new Map<string, number>();
  const primary = new Map<string, number>();
  for (const k of randomKeys(100_000, 4)) {
    const p = ring.preferenceList(k, config.n);
    primary.set(p[0], (primary.get(p[0]) ?? 0) + 1);
    for (const x of p) load.set(x, (load.get(x) ?? 0) + 1);
  }
  assert.equal(load.size, 20);
  const values = [...load.values()];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  assert.equal(mean, 15_000);
  const max = Math.max(...values), min = Math.min(...values);
  const primaryMax = Math.max(...primary.values()) / 5_000;
  console.log(
    `load balance, ${config.virtualNodes} virtual nodes: max/mean ${(max / mean).toFixed(3)}, min/mean ${
      (min / mean).toFixed(3)
    } (primaries only: max/mean ${primaryMax.toFixed(3)})`,
  );
  assert.ok(max / mean <= 1.25, `most loaded node holds ${(max / mean).toFixed(3)} × the mean`);
});

Deno.test("neighbours equal the members found in a brute-force scan of every preference list", () => {
  const m = members(12);
  const ring = new Ring(m, 16);
  for (const n of [1, 2, 3, 5]) {
    for (const x of m) {
      const brute = new Set<string>();
      for (let pos = 0; pos < 2 ** 32; pos += 2 ** 32 / 20_000) {
        const p = ring.preferenceListAt(Math.floor(pos), n);
        if (p.includes(x)) { for (const y of p) if (y !== x) brute.add(y); }
      }
      assert.deepEqual([...ring.neighbours(x, n)].sort(), [...brute].sort(), `n=${n} member ${x}`);
    }
  }
});

Deno.test("neighbours: with 4 members and N=3 every member shares ranges with all others", () => {
  const ring = new Ring(members(4), 32);
  assert.deepEqual([...ring.neighbours(members(4)[0], 3)].sort(), members(4).slice(1));
  assert.equal(new Ring(members(1), 8).neighbours(members(1)[0], 3).size, 0);
});

Deno.test("replication config: defaults, overrides and clear errors", () => {
  const c = replicationConfig({ n: 5, w: 3, r: 3 });
  assert.equal(c.n, 5);
  assert.equal(c.virtualNodes, DEFAULT_REPLICATION_CONFIG.virtualNodes);
  assert.throws(() => replicationConfig({ w: 4 }), /must not exceed n/);
  assert.throws(() => replicationConfig({ n: 0 }), /integer ≥ 1/);
  assert.throws(() => replicationConfig({ bogus: 1 } as never), TypeError);
  assert.throws(() => replicationConfig({ digestBuckets: 100_000 }), /fit in one message/);
});

Deno.test("replication config from the fleet file: preset wan, then the file's fields, then options", () => {
  const fleet = parseFleet(
    "preset: wan\nreplication:\n  n: 5\n  w: 3\n  antiEntropyIntervalMs: 20000\nnodes:\n  - 127.0.0.1:4000\n",
    "nodes.yaml",
  );
  const c = replicationConfigFor({ fleet }, { r: 1 });
  assert.equal(c.n, 5);
  assert.equal(c.w, 3);
  assert.equal(c.r, 1);
  assert.equal(c.antiEntropyIntervalMs, 20_000);
  assert.equal(c.replicaTimeoutMs, WAN_REPLICATION_OVERRIDES.replicaTimeoutMs);
  assert.equal(replicationConfigFor({}).replicaTimeoutMs, DEFAULT_REPLICATION_CONFIG.replicaTimeoutMs);
  assert.throws(
    () => parseFleet("replication:\n  handoffIntervalMs: 5\nnodes:\n  - 127.0.0.1:4000\n", "nodes.yaml"),
    /line 2 \(at "replication.handoffIntervalMs"\)/,
  );
});

Deno.test("ring lookups through the slice index equal a linear search of the tokens", () => {
  const rnd = seededRandom(44);
  for (const [count, vnodes] of [[3, 1], [5, 2], [40, 64]]) {
    const names = members(count);
    const ring = new Ring(names, vnodes);
    const tokens = names.flatMap((m) =>
      Array.from({ length: vnodes }, (_, i) => ({ t: murmur3(enc.encode(`${m}#${i}`)), m }))
    ).sort((a, b) => a.t - b.t || (a.m < b.m ? -1 : 1));
    const first = (p: number) => tokens.find((x) => x.t >= p)?.m ?? tokens[0].m;
    const probes = [0, 0xffffffff, 2 ** 20, 2 ** 20 - 1, ...tokens.flatMap((x) => [x.t, x.t - 1, x.t + 1])];
    for (let i = 0; i < 2_000; i++) probes.push(Math.floor(rnd() * 2 ** 32));
    for (const p of probes.filter((p) => p >= 0 && p <= 0xffffffff)) {
      assert.equal(ring.preferenceListAt(p, 1)[0], first(p), `${count}×${vnodes}: position ${p}`);
    }
  }
});

Deno.test("ring fingerprint: equal for the same members, tokens and N; different when any of them differs", () => {
  const members = ["a:1", "b:1", "c:1", "d:1"];
  const ring = new Ring(members, 64);
  assert.equal(
    ring.fingerprint(3),
    new Ring([...members].reverse(), 64).fingerprint(3),
    "member order does not matter",
  );
  const others = [
    new Ring(members.slice(1), 64).fingerprint(3),
    new Ring([...members, "e:1"], 64).fingerprint(3),
    new Ring(members, 65).fingerprint(3),
    ring.fingerprint(2),
  ];
  for (const f of others) assert.notEqual(f, ring.fingerprint(3));
  assert.ok(Number.isInteger(ring.fingerprint(3)) && ring.fingerprint(3) >= 0 && ring.fingerprint(3) <= 0xffff_ffff);
});
