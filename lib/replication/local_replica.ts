/**
 * The replica side of replication: how this node applies writes it receives
 * (last writer wins, tombstones, grace period) and the shared dependencies of
 * the replication parts (coordinator, handoff, anti-entropy, debug).
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import { compareVersions, HLC_TICKS_PER_MS, type HybridLogicalClock } from "../storage/hlc.ts";
import type { Random } from "../base/random.ts";
import type { Rpc } from "../wire/rpc.ts";
import type { Entry, MemoryStore, StoreKey } from "../storage/store.ts";
import type { Address } from "../net/transport.ts";
import type { Placement } from "./placement.ts";
import type { PutStatus } from "./replica_protocol.ts";
import type { ReplicationConfig } from "./replication_config.ts";

/** Counters of the replication layer (debug query, monitoring). */
export interface ReplicationStats {
  /** Replica writes sent and not yet answered or given up (coordinator side). */
  pendingReplicaWrites: number;
  /** Writes answered 0x00 / failed (0x02 or 0x04). */
  writesOk: number;
  /** Writes answered 0x02 or 0x04. */
  writesFailed: number;
  /** Reads answered / failed with 0x04. */
  readsOk: number;
  /** Reads answered 0x04 (fewer than R replies). */
  readsFailed: number;
  /** Writes issued again with a newer version because an owner held a newer one (clock skew). */
  reissued: number;
  /** Replica requests that timed out and went to a stand-in instead. */
  standIns: number;
  /** Hints this node accepted as a stand-in. */
  hintsAccepted: number;
  /** Stale replicas repaired after a read. */
  readRepairs: number;
  /** Entries handed to their owners and dropped here. */
  handedOff: number;
  /** Anti-entropy rounds completed. */
  antiEntropyRounds: number;
  /** Entries sent to peers by anti-entropy. */
  antiEntropyPushed: number;
  /** Entries fetched from peers by anti-entropy. */
  antiEntropyFetched: number;
  /** Tombstones collected after the grace period. */
  tombstonesCollected: number;
  /** Entries applied from peers' pushes (hand-off and anti-entropy): a restarted node's catch-up. */
  entriesReceived: number;
  /**
   * Replica writes from coordinators accepted here (not stale). A node restarted within a coordinator's
   * retry of a write it missed receives that write this way, not as a push.
   */
  replicaWritesApplied: number;
  /** Replica messages (authenticated, so from a peer) whose payload did not decode. */
  rejectedReplicaMessages: number;
  /** Digest requests not compared: the asker's table was for another placement (ring or N) than this node's. */
  digestPlacementMismatches: number;
  /** Wall time of the last anti-entropy round that transferred nothing (ms since epoch; 0 = never). */
  lastQuietRound: number;
}

/**
 * Creates zeroed {@linkcode ReplicationStats}.
 *
 * @example
 * ```ts
 * console.log(newReplicationStats().writesOk); // 0
 * ```
 */
export function newReplicationStats(): ReplicationStats {
  return {
    pendingReplicaWrites: 0,
    writesOk: 0,
    writesFailed: 0,
    readsOk: 0,
    readsFailed: 0,
    reissued: 0,
    standIns: 0,
    hintsAccepted: 0,
    readRepairs: 0,
    handedOff: 0,
    antiEntropyRounds: 0,
    antiEntropyPushed: 0,
    antiEntropyFetched: 0,
    tombstonesCollected: 0,
    entriesReceived: 0,
    replicaWritesApplied: 0,
    rejectedReplicaMessages: 0,
    digestPlacementMismatches: 0,
    lastQuietRound: 0,
  };
}

/**
 * Applies replicated writes to the local store.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "../storage/store.ts";
 * import { HybridLogicalClock } from "../storage/hlc.ts";
 * import { realClock } from "../base/clock.ts";
 * const r = new LocalReplica(new MemoryStore(1 << 20), new HybridLogicalClock(realClock, "a"), realClock, 60_000);
 * const status = r.apply("00".repeat(32), { value: new Uint8Array([1]), version: { t: 1, n: "b" }, tombstone: false });
 * console.log(status); // "ok"
 * ```
 */
export class LocalReplica {
  /** The store the writes go to. */
  readonly store: MemoryStore;
  /** The version clock (observes versions it is sent). */
  readonly hlc: HybridLogicalClock;
  #clock: Clock;
  #graceMs: number;

  /** Applies to `store`, observing versions on `hlc`; tombstones older than `graceMs` are dropped. */
  constructor(store: MemoryStore, hlc: HybridLogicalClock, clock: Clock, graceMs: number) {
    this.store = store;
    this.hlc = hlc;
    this.#clock = clock;
    this.#graceMs = graceMs;
  }

  /** HLC time before which tombstones are expired (collectable, not exchanged). */
  graceBefore(): number {
    return (this.#clock.now() - this.#graceMs) * HLC_TICKS_PER_MS;
  }

  /** Whether `entry` is a tombstone past its grace period. */
  expired(entry: Entry): boolean {
    return entry.tombstone && entry.version.t < this.graceBefore();
  }

  /** Applies `entry` if newer (last writer wins). "stale" means an equal or newer version is held. */
  apply(key: StoreKey, entry: Entry): PutStatus {
    this.hlc.observe(entry.version);
    if (this.expired(entry) && !this.store.getEntry(key)) return "ok";
    const r = this.store.apply(key, entry);
    return r === "applied" ? "ok" : r;
  }

  /**
   * Applies a remove's tombstone only where the key is held (so removing an
   * absent key changes nothing); `existed` tells whether a live value was held.
   */
  remove(key: StoreKey, tombstone: Entry): { status: PutStatus; existed: boolean } {
    this.hlc.observe(tombstone.version);
    const cur = this.store.getEntry(key);
    if (!cur) return { status: "ok", existed: false };
    const existed = !cur.tombstone;
    if (compareVersions(tombstone.version, cur.version) <= 0) return { status: "stale", existed };
    const r = this.store.apply(key, tombstone);
    return { status: r === "applied" ? "ok" : r, existed };
  }

  /** The held entry (value or unexpired tombstone), if any. */
  read(key: StoreKey): Entry | undefined {
    const e = this.store.getEntry(key);
    return e && !this.expired(e) ? e : undefined;
  }

  /** Deletes expired tombstones; returns how many. */
  collect(): number {
    return this.store.collectTombstones(this.graceBefore());
  }
}

/** What the replication parts share. */
export interface ReplicaDeps {
  /** This node's address. */
  self: Address;
  /** Internal RPC endpoint of the node. */
  rpc: Rpc;
  /** Local store. */
  store: MemoryStore;
  /** Local write application. */
  replica: LocalReplica;
  /** Ring and effective N. */
  placement: Placement;
  /** Tunables. */
  config: ReplicationConfig;
  /** Time source. */
  clock: Clock;
  /** Random source (jitter). */
  random: Random;
  /** Counters. */
  stats: ReplicationStats;
  /** Called after a write from another node was applied (handoff checks whether it is owned here). */
  noteWrite: (key: StoreKey) => void;
}

/**
 * RPC options of replica requests under `config`.
 *
 * @example
 * ```ts
 * import { DEFAULT_REPLICATION_CONFIG } from "./replication_config.ts";
 * console.log(replicaCallOptions(DEFAULT_REPLICATION_CONFIG)); // { timeoutMs: 100, retries: 1 }
 * ```
 */
export function replicaCallOptions(config: ReplicationConfig): { timeoutMs: number; retries: number } {
  return { timeoutMs: config.replicaTimeoutMs, retries: config.replicaRetries };
}
