import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { type Random, randomBytes, randomInt, seededRandom } from "../../lib/base/random.ts";
import { toHex } from "../../lib/base/bytes.ts";
import { HLC_TICKS_PER_MS, HybridLogicalClock } from "../../lib/storage/hlc.ts";
import { type Entry, MemoryStore, type StoreKey } from "../../lib/storage/store.ts";
import type { MemberView } from "../../lib/node/members.ts";
import { digestTotal } from "../../lib/replication/digest.ts";
import { LocalReplica, newReplicationStats } from "../../lib/replication/local_replica.ts";
import { Placement } from "../../lib/replication/placement.ts";
import { RangeDigests, scanDigests } from "../../lib/replication/range_digests.ts";
import { replicationConfig } from "../../lib/replication/replication_config.ts";

const BUCKETS = 32;
const GRACE_MS = 5_000;
const SELF = "10.0.0.1:4000";
const OTHERS = Array.from({ length: 7 }, (_, i) => `10.0.0.${i + 2}:4000`);
const NODE_IDS = [SELF, ...OTHERS.slice(0, 3)];

/** A membership the test changes by hand. */
class HandMembers implements MemberView {
  readonly self = SELF;
  alive_ = new Set<string>([SELF, ...OTHERS.slice(0, 4)]);
  #listeners = new Set<() => void>();
  alive(): string[] {
    return [...this.alive_].sort();
  }
  counts() {
    return { alive: this.alive_.size, suspect: 0, dead: 0 };
  }
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  toggle(member: string): void {
    if (!this.alive_.delete(member)) this.alive_.add(member);
    for (const l of this.#listeners) l();
  }
}

function setup() {
  const clock = new VirtualClock();
  const store = new MemoryStore(1 << 24, 4096);
  const members = new HandMembers();
  const config = replicationConfig({ digestBuckets: BUCKETS, tombstoneGraceMs: GRACE_MS, virtualNodes: 16 });
  const placement = new Placement(members, config.n, config.virtualNodes);
  const replica = new LocalReplica(store, new HybridLogicalClock(clock, SELF), clock, GRACE_MS);
  const stats = newReplicationStats();
  const ranges = new RangeDigests({ self: SELF, store, replica, placement, config, clock, stats });
  // Scans of the store by anyone but the reference computation below.
  const entries = store.entries.bind(store);
  const scans = { count: 0 };
  store.entries = () => (scans.count++, entries());
  const reference = () =>
    scanDigests(entries(), {
      self: SELF,
      ring: ranges.ring!,
      n: ranges.n,
      buckets: BUCKETS,
      expired: (e) => replica.expired(e),
    });
  return { clock, store, members, placement, replica, stats, ranges, scans, reference };
}

/** Tables without the all-zero ones (a table whose entries all left stays, zeroed). */
function nonZero(tables: Map<string, Uint32Array>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [peer, t] of [...tables].sort(([a], [b]) => a < b ? -1 : 1)) {
    if (t.some((w) => w !== 0)) out.set(peer, [...t]);
  }
  return out;
}

function assertEqualsScan(ctx: ReturnType<typeof setup>, step: string): void {
  const tables = ctx.ranges.tables();
  const expected = ctx.reference();
  assert.deepEqual(nonZero(tables), nonZero(expected), `tables differ from a full scan after ${step}`);
  for (const [peer, t] of tables) {
    const [x, y] = digestTotal(t.subarray(0, 2 * BUCKETS));
    assert.deepEqual([t[2 * BUCKETS], t[2 * BUCKETS + 1]], [x, y], `total of ${peer} after ${step}`);
  }
}

/** A random change of the store: the kinds of writes replication makes. */
function randomWrite(random: Random, ctx: ReturnType<typeof setup>, keys: Uint8Array[]): string {
  const { store, clock } = ctx;
  const bytes = keys[randomInt(random, keys.length)];
  const key: StoreKey = random() < 0.5 ? bytes : toHex(bytes);
  const held = store.getEntry(key);
  const t = clock.now() * HLC_TICKS_PER_MS + randomInt(random, 1000) - (random() < 0.1 ? GRACE_MS * 2048 : 0);
  const version = { t, n: NODE_IDS[randomInt(random, NODE_IDS.length)] };
  const r = random();
  const entry: Entry = r < 0.3
    ? { value: new Uint8Array(0), version, tombstone: true }
    : { value: randomBytes(random, 1 + randomInt(random, 40)), version, tombstone: false };
  if (r < 0.1 && held) {
    store.delete(key);
    return "delete";
  }
  if (r > 0.9) {
    store.force(key, entry); // may move the version back: the tables follow whatever is held
    return "force";
  }
  return `apply (${store.apply(key, entry)})`;
}

Deno.test("range digests: equal a full scan after every write, delete, expiry and ring change", () => {
  const random = seededRandom(2424);
  const ctx = setup();
  const keys = Array.from({ length: 300 }, () => randomBytes(random, 32));
  let ringChanges = 0, changesSinceRebuild = 0;
  try {
    for (let step = 0; step < 3_000; step++) {
      const r = random();
      let what: string;
      if (r < 0.02) {
        ctx.members.toggle(OTHERS[randomInt(random, OTHERS.length)]);
        ringChanges++;
        what = "ring change";
      } else if (r < 0.06) {
        ctx.clock.advance(randomInt(random, GRACE_MS));
        what = "time passing";
      } else if (r < 0.062) {
        ctx.store.clear();
        what = "clear";
      } else {
        what = randomWrite(random, ctx, keys);
        changesSinceRebuild++;
      }
      assertEqualsScan(ctx, `step ${step}: ${what}`);
    }
    assert.ok(ctx.stats.tombstonesCollected > 0, "some tombstones expired and were collected");
    assert.ok(
      ctx.ranges.rebuilds <= ringChanges + 1,
      `${ctx.ranges.rebuilds} rebuilds for ${ringChanges} ring changes`,
    );
    assert.ok(ctx.ranges.rebuilds >= 2, "a ring change rebuilds the tables");
    assert.equal(ctx.scans.count, ctx.ranges.rebuilds, "the store is scanned only to rebuild");
    assert.ok(changesSinceRebuild > 2_000);
  } finally {
    ctx.ranges.close();
    ctx.placement.close();
  }
});

Deno.test("range digests: the tables of an old ring serve until digestCacheMs, then one rebuild", () => {
  const random = seededRandom(7);
  const ctx = setup();
  try {
    for (let i = 0; i < 200; i++) randomWrite(random, ctx, [randomBytes(random, 32)]);
    assertEqualsScan(ctx, "writes");
    const first = ctx.ranges.ring;
    assert.equal(ctx.ranges.rebuilds, 1);
    ctx.clock.advance(1_000);
    ctx.members.toggle(OTHERS[5]);
    ctx.members.toggle(OTHERS[6]);
    assertEqualsScan(ctx, "two joins");
    assert.equal(ctx.ranges.rebuilds, 2, "one rebuild for the new ring");
    assert.notEqual(ctx.ranges.ring, first);
    ctx.members.toggle(OTHERS[5]);
    for (let i = 0; i < 50; i++) randomWrite(random, ctx, [randomBytes(random, 32)]);
    assertEqualsScan(ctx, "a leave within digestCacheMs");
    assert.equal(ctx.ranges.rebuilds, 2, "the old ring's tables, kept exact, serve meanwhile");
    ctx.clock.advance(1_000);
    assertEqualsScan(ctx, "digestCacheMs later");
    assert.equal(ctx.ranges.rebuilds, 3);
    assert.equal(ctx.ranges.ring, ctx.placement.ring());
    ctx.clock.advance(1_000);
    ctx.members.toggle(OTHERS[6]);
    ctx.members.toggle(OTHERS[6]); // back to the same members: a new ring object, the same placement
    assert.notEqual(ctx.placement.ring(), ctx.ranges.ring);
    assertEqualsScan(ctx, "a leave and a rejoin");
    assert.equal(ctx.ranges.rebuilds, 3, "the same members: no rebuild");
  } finally {
    ctx.ranges.close();
    ctx.placement.close();
  }
});

Deno.test("range digests: no scan to find that no tombstone expired", () => {
  const random = seededRandom(9);
  const ctx = setup();
  try {
    const keys = Array.from({ length: 50 }, () => randomBytes(random, 32));
    ctx.ranges.tables();
    for (const k of keys) {
      ctx.replica.apply(k, { value: new Uint8Array([1]), version: ctx.replica.hlc.next(), tombstone: false });
    }
    ctx.replica.remove(keys[0], { value: new Uint8Array(0), version: ctx.replica.hlc.next(), tombstone: true });
    let tableScans = 0;
    const collect = ctx.store.collectTombstones.bind(ctx.store);
    ctx.store.collectTombstones = (before) => (tableScans++, collect(before));
    for (let i = 0; i < 4; i++) {
      ctx.clock.advance(GRACE_MS / 8);
      assert.equal(ctx.ranges.collectExpired(), 0);
    }
    assert.equal(tableScans, 0, "the tombstone is within its grace period: nothing scanned");
    ctx.clock.advance(GRACE_MS);
    assert.equal(ctx.ranges.collectExpired(), 1);
    assert.equal(ctx.ranges.collectExpired(), 0);
    assert.equal(tableScans, 1, "one scan collected it; none after");
    assertEqualsScan(ctx, "collection");
    assert.equal(ctx.scans.count, 1, "only the first build scanned the store");
  } finally {
    ctx.ranges.close();
    ctx.placement.close();
  }
});
