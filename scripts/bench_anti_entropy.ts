/**
 * `deno task bench:ae`: what an idle anti-entropy round and a write cost now that the per-range
 * digests are kept up to date on each write (`lib/replication/range_digests.ts`), against the
 * full scan anti-entropy made before (`scanDigests`, the same computation, kept as the reference),
 * measured in one run as CPU time of this process (user + system).
 *
 * - `full scan`: what the old code did to answer its own and its peers' digest calls whenever its
 *   table was stale: after any write since the last round, at least every 60 s on an idle node,
 *   and after each ring change (still done, once per ring change: `rebuild`).
 * - `idle round (tables)`: what the new code does instead: reads the live tables and every
 *   peer's total.
 * - `idle round (sim)`: one real round in a simulated 3-node cluster (N=3, so each node holds every
 *   key; peers' answers and the in-memory network included), whose nodes hold `--keys` keys each.
 * - `write`: `store.apply` of an overwrite with and without the digest hook.
 *
 * @module
 */
import process from "node:process";
import { parseFlags } from "../lib/base/cli_args.ts";
import { randomBytes, seededRandom } from "../lib/base/random.ts";
import { toHex } from "../lib/base/bytes.ts";
import { VirtualClock } from "../lib/base/clock.ts";
import { HLC_TICKS_PER_MS, HybridLogicalClock } from "../lib/storage/hlc.ts";
import { MemoryStore } from "../lib/storage/store.ts";
import { StaticMembers } from "../lib/node/members.ts";
import { LocalReplica, newReplicationStats } from "../lib/replication/local_replica.ts";
import { Placement } from "../lib/replication/placement.ts";
import { RangeDigests, scanDigests } from "../lib/replication/range_digests.ts";
import { DEFAULT_REPLICATION_CONFIG } from "../lib/replication/replication_config.ts";
import { keyPosition } from "../lib/replication/ring.ts";
import { addr, SimCluster } from "../tests/support/sim_cluster.ts";

const HELP = `deno task bench:ae [--keys N] [--members M]

CPU time of an idle anti-entropy round (incremental range digests) against the full store scan
it replaced, and the cost the digest hook adds to a write, in one run.

  --keys N      keys held by the measured node (default 100000)
  --members M   members on the ring of the table measures (default 100; 3 in the simulation)
  -h, --help    this text`;

/** Simulated rounds in one CPU measure (the kernel accounts CPU time in ticks of a few ms). */
const ROUNDS_A_MEASURE = 10;

/** CPU µs (user + system) of this process spent in `fn`. */
function cpuMicros(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const d = process.cpuUsage(before);
  return d.user + d.system;
}

/** Median of `runs` measures of `fn` (µs of CPU per call, `calls` calls a measure). */
function medianMicros(fn: () => void, runs: number, calls = 1): number {
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) {
    xs.push(
      cpuMicros(() => {
        for (let i = 0; i < calls; i++) fn();
      }) / calls,
    );
  }
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
}

/** A node's store holding `keys` keys it owns on a ring of `members`, with its range digests. */
function tableSetup(keys: number, members: number) {
  const random = seededRandom(24);
  const others = Array.from({ length: members - 1 }, (_, i) => `10.2.${i >> 8}.${i & 255}:4000`);
  const self = "10.1.0.1:4000";
  const clock = new VirtualClock();
  const config = DEFAULT_REPLICATION_CONFIG;
  const placement = new Placement(new StaticMembers(self, others), config.n, config.virtualNodes);
  const store = new MemoryStore(1 << 30);
  const replica = new LocalReplica(store, new HybridLogicalClock(clock, self), clock, config.tombstoneGraceMs);
  const ranges = new RangeDigests({
    self,
    store,
    replica,
    placement,
    config,
    clock,
    stats: newReplicationStats(),
  });
  const owned: Uint8Array[] = [];
  const value = new Uint8Array(100);
  while (owned.length < keys) {
    const k = randomBytes(random, 32);
    if (!placement.ownersAt(keyPosition(k)).includes(self)) continue;
    owned.push(k);
    store.apply(k, { value, version: { t: clock.now() * HLC_TICKS_PER_MS, n: self }, tombstone: false });
  }
  return { self, store, placement, replica, ranges, owned, config, clock, value };
}

function measureTables(keys: number, members: number): void {
  const s = tableSetup(keys, members);
  const B = s.config.digestBuckets;
  const scope = { self: s.self, ring: s.placement.ring(), n: s.placement.n(), buckets: B, expired: () => false };
  const full = medianMicros(
    () => scanDigests(s.store.entries(), { ...scope, expired: (e) => s.replica.expired(e) }),
    5,
  );
  const rebuild = cpuMicros(() => s.ranges.tables()); // the first use builds: one scan, as after a ring change
  const peers = s.ranges.tables().size;
  const idle = medianMicros(
    () => {
      const tables = s.ranges.tables();
      for (const t of tables.values()) if (t[2 * B] === 0xdeadbeef && t[2 * B + 1] === 1) console.log("!");
    },
    21,
    10_000,
  );
  // Writes: overwrites of held keys, alternating passes over this store (hooked) and a copy without the hook.
  const plain = new MemoryStore(1 << 30);
  for (const [k, e] of s.store.entries()) plain.apply(k, e);
  let t = s.clock.now() * HLC_TICKS_PER_MS;
  const pass = (store: MemoryStore) => () => {
    for (const k of s.owned) store.apply(k, { value: s.value, version: { t: ++t, n: s.self }, tombstone: false });
  };
  const hooked: number[] = [], bare: number[] = [];
  for (let r = 0; r < 5; r++) {
    hooked.push(cpuMicros(pass(s.store)) / keys);
    bare.push(cpuMicros(pass(plain)) / keys);
  }
  // One tombstone held, within its grace period: the old round scanned the table for expired ones.
  s.store.apply(s.owned[0], { value: new Uint8Array(0), version: { t: ++t, n: s.self }, tombstone: true });
  const tombScan = medianMicros(() => s.store.collectTombstones(0), 5);
  const tombCheck = medianMicros(() => s.ranges.collectExpired(), 21, 10_000);
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const check = JSON.stringify([...scanDigests(s.store.entries(), scope)].sort());
  const same = check === JSON.stringify([...s.ranges.tables()].sort());
  console.log(`\n${keys} keys on one node, ${members} members (N=3, ${B} buckets, ${peers} replica peers)`);
  console.log("| measure | CPU |");
  console.log("|---|---|");
  console.log(`| full scan (old: each round after a write, ≥ every 60 s idle) | ${(full / 1000).toFixed(1)} ms |`);
  console.log(`| rebuild (new: once per ring change) | ${(rebuild / 1000).toFixed(1)} ms |`);
  console.log(`| idle round, tables and ${peers} totals (new) | ${idle.toFixed(1)} µs |`);
  console.log(`| full scan ÷ idle round | ${(full / idle).toFixed(0)}× |`);
  console.log(
    `| expired-tombstone check, 1 tombstone held: scan (old, every round) | ${(tombScan / 1000).toFixed(1)} ms |`,
  );
  console.log(`| expired-tombstone check, 1 tombstone held: slot counts (new) | ${tombCheck.toFixed(2)} µs |`);
  console.log(`| store.apply overwrite, no hook | ${(med(bare) * 1000).toFixed(0)} ns |`);
  console.log(`| store.apply overwrite, with the digest hook | ${(med(hooked) * 1000).toFixed(0)} ns |`);
  console.log(`| tables after the writes equal a full scan | ${same ? "yes" : "NO"} |`);
  s.ranges.close();
  s.placement.close();
  if (!same) throw new Error("Range digests differ from the full scan");
}

async function measureSimRound(keys: number): Promise<void> {
  const c = new SimCluster({ seed: 24 });
  try {
    const nodes = c.startReplicas([0, 1, 2].map(addr));
    const random = seededRandom(25);
    const value = new Uint8Array(100);
    const t = c.clock.now() * HLC_TICKS_PER_MS;
    for (let i = 0; i < keys; i++) {
      const k = toHex(randomBytes(random, 32));
      for (const n of nodes) n.store.apply(k, { value, version: { t, n: addr(0) }, tombstone: false });
    }
    const ae = nodes[0].executor.antiEntropy;
    const first = await c.run(ae.run()); // builds every node's tables
    const rounds: number[] = [];
    let differing = 0;
    for (let r = 0; r < 9; r++) {
      const before = process.cpuUsage();
      for (let i = 0; i < ROUNDS_A_MEASURE; i++) differing += (await c.run(ae.run())).differingBuckets;
      const d = process.cpuUsage(before);
      rounds.push((d.user + d.system) / ROUNDS_A_MEASURE);
    }
    rounds.sort((a, b) => a - b);
    const full = medianMicros(() => {
      const r = nodes[0].executor.antiEntropy.ranges;
      scanDigests(nodes[0].store.entries(), {
        self: addr(0),
        ring: r.ring!,
        n: r.n,
        buckets: c.replicaConfig.digestBuckets,
        expired: () => false,
      });
    }, 5);
    console.log(`\nSimulated 3-node cluster, ${keys} keys on every node: one idle round of node 0`);
    console.log("| measure | CPU |");
    console.log("|---|---|");
    console.log(`| idle round, 2 peers, their answers included (new) | ${(rounds[4] / 1000).toFixed(2)} ms |`);
    console.log(
      `| the same round before: + 1 full scan here and 1 at each peer | ${
        ((rounds[4] + 3 * full) / 1000).toFixed(1)
      } ms |`,
    );
    console.log(`| differing buckets in the idle rounds (first round: ${first.differingBuckets}) | ${differing} |`);
    if (differing !== 0) throw new Error("An idle round found differing buckets");
  } finally {
    c.close();
  }
}

if (import.meta.main) {
  let values;
  try {
    values = parseFlags("bench:ae", Deno.args, {
      keys: { type: "string", default: "100000" },
      members: { type: "string", default: "100" },
    }).values;
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const keys = Number(values.keys), members = Number(values.members);
  if (!Number.isInteger(keys) || keys < 1 || keys > 5_000_000) {
    console.error(`bench:ae: --keys must be an integer 1-5000000, got ${values.keys}`);
    Deno.exit(2);
  }
  if (!Number.isInteger(members) || members < 2 || members > 1_000) {
    console.error(`bench:ae: --members must be an integer 2-1000, got ${values.members}`);
    Deno.exit(2);
  }
  const [load] = Deno.loadavg();
  console.log(`bench:ae on ${navigator.hardwareConcurrency} cores, load average ${load.toFixed(1)}`);
  measureTables(keys, members);
  await measureSimRound(keys);
}
