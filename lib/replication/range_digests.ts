/**
 * Anti-entropy's digest tables, kept up to date on every change of the store instead of computed
 * by a scan of it each round.
 *
 * A table per replica peer: for each of the `digestBuckets` ranges of the ring, the XOR of the first
 * hashes and the sum of the second hashes (`digest.ts`) of the entries this node and the peer both own
 * in that range, then the same over the whole table (its total). Both combinations ignore order, so
 * the store's {@linkcode VersionObserver} hook keeps them exact: a write takes the old version's
 * hashes out and puts the new one's in (one key hash, a ring lookup and two entry hashes; nothing
 * for a key this node does not own). An idle round therefore reads totals and never the store.
 *
 * The tables hold for one ring. When the ring changes (a join, a leave, a death) they are rebuilt by
 * one scan of the store at their next use, at most once per `digestCacheMs` while the membership
 * churns (meanwhile the old ring's tables, still exact for that ring, are used; a peer that sees
 * another ring finds buckets that differ and walks them, as with a cached table before).
 *
 * Tombstones past the grace period leave the digests without a write. The tables count tombstones
 * per second of version time, so the expired ones are collected (deleting them updates the tables
 * through the hook) only when a second that old holds one, and the tables then equal
 * {@linkcode scanDigests}, the full computation.
 *
 * @module
 */
import type { Entry, StoreKey, VersionObserver } from "../storage/store.ts";
import { HLC_TICKS_PER_MS } from "../storage/hlc.ts";
import type { Address } from "../net/transport.ts";
import type { ReplicaDeps } from "./local_replica.ts";
import { bucketOf, keyPosition, keyPositionHex, type Ring } from "./ring.ts";
import { entryDigest } from "./digest.ts";

/** What the tables use of a node's {@linkcode ReplicaDeps}. */
export type RangeDigestDeps = Pick<
  ReplicaDeps,
  "self" | "store" | "replica" | "placement" | "config" | "clock" | "stats"
>;

/** Width of a tombstone-counting slot of version time at most (ms); narrower when the grace period is short. */
const TOMBSTONE_SLOT_MS = 1_000;

/**
 * Takes the hashes of `before` out of the tables of the other `owners` and puts those of `after`
 * in (either may be absent), for an entry at ring `position`. A table is `2 × buckets + 2` words:
 * (XOR, sum) per bucket, then the total.
 */
function mixInto(
  tables: Map<Address, Uint32Array>,
  self: Address,
  owners: readonly Address[],
  buckets: number,
  position: number,
  before: Entry | undefined,
  after: Entry | undefined,
): void {
  let x = 0, y = 0;
  if (before) {
    const [h1, h2] = entryDigest(position, before.version.t, before.version.n, before.tombstone);
    x = h1;
    y = -h2;
  }
  if (after) {
    const [h1, h2] = entryDigest(position, after.version.t, after.version.n, after.tombstone);
    x ^= h1;
    y += h2;
  }
  const b = 2 * bucketOf(position, buckets), total = 2 * buckets;
  for (const o of owners) {
    if (o === self) continue;
    let d = tables.get(o);
    if (!d) tables.set(o, d = new Uint32Array(2 * buckets + 2));
    d[b] ^= x;
    d[total] ^= x;
    d[b + 1] = (d[b + 1] + y) >>> 0;
    d[total + 1] = (d[total + 1] + y) >>> 0;
  }
}

/** Whether two rings place every key alike (the same members and tokens per member). */
function sameRing(a: Ring, b: Ring): boolean {
  return a.virtualNodes === b.virtualNodes && a.members.length === b.members.length &&
    a.members.every((m, i) => m === b.members[i]);
}

/** What {@linkcode scanDigests} reads. */
export interface DigestScope {
  /** This node. */
  self: Address;
  /** The ring the tables are for. */
  ring: Ring;
  /** Effective replicas per key on that ring. */
  n: number;
  /** Buckets per table. */
  buckets: number;
  /** Entries left out (tombstones past their grace period). */
  expired: (entry: Entry) => boolean;
}

/**
 * The digest tables computed from scratch by a scan of `entries` (what anti-entropy did every
 * round before the tables were kept up to date): the reference {@linkcode RangeDigests} equals.
 *
 * @example
 * ```ts
 * import { Ring } from "./ring.ts";
 * const ring = new Ring(["a:1", "b:1"], 8);
 * const entry = { value: new Uint8Array(1), version: { t: 1, n: "a:1" }, tombstone: false };
 * const tables = scanDigests([["00".repeat(32), entry]], { self: "a:1", ring, n: 2, buckets: 4, expired: () => false });
 * console.log(tables.get("b:1")?.length); // 10
 * ```
 */
export function scanDigests(entries: Iterable<[string, Entry]>, scope: DigestScope): Map<Address, Uint32Array> {
  const { self, ring, n, buckets, expired } = scope;
  const tables = new Map<Address, Uint32Array>();
  for (const [key, e] of entries) {
    if (expired(e)) continue;
    const position = keyPositionHex(key);
    const owners = ring.preferenceListAt(position, n);
    if (owners.includes(self)) mixInto(tables, self, owners, buckets, position, undefined, e);
  }
  return tables;
}

/**
 * The digest tables of a node's replica pairs, updated on every write through the store's
 * {@linkcode VersionObserver} hook (it attaches itself to `deps.store`).
 *
 * @example
 * ```ts ignore
 * const ranges = new RangeDigests(deps);
 * const table = ranges.tables().get(peer); // (XOR, sum) per bucket, then the total
 * ranges.close();
 * ```
 */
export class RangeDigests implements VersionObserver {
  #deps: RangeDigestDeps;
  #ring: Ring | undefined;
  #n = 0;
  #builtAt = 0;
  #tables = new Map<Address, Uint32Array>();
  // Tombstones held, by slot of version time (slot = floor(t / #slotTicks)).
  #slots = new Map<number, number>();
  #slotTicks: number;
  #oldestSlot: number | undefined; // undefined: to be recomputed
  /** Scans of the whole store: the first build, and one per ring change. */
  rebuilds = 0;

  /** Tables of the node `deps` describes; attaches to its store. */
  constructor(deps: RangeDigestDeps) {
    this.#deps = deps;
    const slotMs = Math.max(1, Math.min(TOMBSTONE_SLOT_MS, Math.floor(deps.config.tombstoneGraceMs / 64)));
    this.#slotTicks = slotMs * HLC_TICKS_PER_MS;
    deps.store.observer = this;
  }

  /** Detaches from the store. */
  close(): void {
    if (this.#deps.store.observer === this) this.#deps.store.observer = undefined;
  }

  /** The ring the tables are exact for (undefined before the first use). */
  get ring(): Ring | undefined {
    return this.#ring;
  }

  /** The effective replicas per key the tables were built with. */
  get n(): number {
    return this.#n;
  }

  /**
   * The {@linkcode Ring.fingerprint} of the placement the tables are exact for (0 before the first
   * use): two nodes' tables compare only when theirs match.
   */
  get placementFingerprint(): number {
    return this.#ring ? this.#ring.fingerprint(this.#n) : 0;
  }

  /** Takes `before`'s hashes out of the tables and puts `after`'s in. */
  versionChanged(key: StoreKey, before: Entry | undefined, after: Entry | undefined): void {
    const ring = this.#ring;
    if (!ring) return; // not built yet: the first build scans the store
    if (before?.tombstone) this.#countTombstone(before.version.t, -1);
    if (after?.tombstone) this.#countTombstone(after.version.t, 1);
    const position = typeof key === "string" ? keyPositionHex(key) : keyPosition(key);
    const owners = ring.preferenceListAt(position, this.#n);
    const { self, config } = this.#deps;
    if (!owners.includes(self)) return;
    mixInto(this.#tables, self, owners, config.digestBuckets, position, before, after);
  }

  /** The store was emptied: so are the tables. */
  cleared(): void {
    this.#tables = new Map();
    this.#slots.clear();
    this.#oldestSlot = undefined;
  }

  /**
   * The tables by peer, after expired tombstones were collected: current for the placement's ring,
   * or for the previous one within `digestCacheMs` of the last rebuild. Live: read them, do not keep
   * or modify them.
   */
  tables(): Map<Address, Uint32Array> {
    const { placement, clock, config } = this.#deps;
    const ring = placement.ring();
    if (ring !== this.#ring && this.#ring && sameRing(ring, this.#ring)) {
      this.#ring = ring; // the members came back to the same set: the same placement, nothing to rebuild
    } else if (ring !== this.#ring && (!this.#ring || clock.now() - this.#builtAt >= config.digestCacheMs)) {
      this.#rebuild(ring);
    }
    this.collectExpired();
    return this.#tables;
  }

  /**
   * Deletes the tombstones past their grace period when some may be held (no scan otherwise);
   * returns how many (also counted in `tombstonesCollected`).
   */
  collectExpired(): number {
    if (!this.#ring) this.#rebuild(this.#deps.placement.ring());
    const { replica, stats } = this.#deps;
    const oldest = this.#oldest();
    if (oldest === undefined || oldest * this.#slotTicks >= replica.graceBefore()) return 0;
    const collected = replica.collect();
    stats.tombstonesCollected += collected;
    return collected;
  }

  /** One scan of the store: the tables for `ring` and the tombstone counts. */
  #rebuild(ring: Ring): void {
    const { self, store, placement, config } = this.#deps;
    const n = Math.min(placement.replicas, ring.size);
    const tables = new Map<Address, Uint32Array>();
    this.#slots.clear();
    this.#oldestSlot = undefined;
    for (const [key, e] of store.entries()) {
      if (e.tombstone) this.#countTombstone(e.version.t, 1);
      const position = keyPositionHex(key);
      const owners = ring.preferenceListAt(position, n);
      if (owners.includes(self)) mixInto(tables, self, owners, config.digestBuckets, position, undefined, e);
    }
    this.#ring = ring;
    this.#n = n;
    this.#tables = tables;
    this.#builtAt = this.#deps.clock.now();
    this.rebuilds++;
  }

  #countTombstone(t: number, delta: number): void {
    const slot = Math.floor(t / this.#slotTicks);
    const count = (this.#slots.get(slot) ?? 0) + delta;
    if (count > 0) {
      this.#slots.set(slot, count);
      if (this.#oldestSlot !== undefined && slot < this.#oldestSlot) this.#oldestSlot = slot;
    } else {
      this.#slots.delete(slot);
      if (slot === this.#oldestSlot) this.#oldestSlot = undefined;
    }
  }

  /** The oldest slot holding a tombstone (undefined when none is held). */
  #oldest(): number | undefined {
    if (this.#oldestSlot === undefined && this.#slots.size > 0) {
      let oldest = Infinity;
      for (const s of this.#slots.keys()) if (s < oldest) oldest = s;
      this.#oldestSlot = oldest;
    }
    return this.#slots.size > 0 ? this.#oldestSlot : undefined;
  }
}
