/**
 * Tunables of placement and replication (memberlist style: named defaults,
 * a WAN preset, per-field overrides from the fleet file and from tests).
 *
 * @module
 */
import type { ServiceContext } from "../node/context.ts";

/** Every tunable of replication. Times are milliseconds. */
export interface ReplicationConfig {
  /** Replicas per key (the preference-list length). Capped at the number of alive members. */
  n: number;
  /** Acks a write waits for before answering 0x00. Capped at the effective n. */
  w: number;
  /** Replies a read waits for before answering. Capped at the effective n. */
  r: number;
  /** Tokens per member on the hash ring (more = better balance, bigger ring). */
  virtualNodes: number;
  /** First timeout of a replica request; doubled on each retry. */
  replicaTimeoutMs: number;
  /** Retries of a replica request (same message id) before a stand-in is asked instead. */
  replicaRetries: number;
  /** Mean time between anti-entropy rounds (digest exchange with every replica peer). */
  antiEntropyIntervalMs: number;
  /** Mean time between hinted-handoff runs (hand keys this node does not own to their owners). */
  handoffIntervalMs: number;
  /** Delay after a membership change before handoff and anti-entropy run (lets views settle). */
  rebalanceDelayMs: number;
  /** Timers are jittered by ± this fraction so nodes do not synchronise. */
  jitter: number;
  /** Tombstones older than this are collected (and no longer exchanged). */
  tombstoneGraceMs: number;
  /** Digest buckets (ranges of the ring) compared per replica pair. */
  digestBuckets: number;
  /**
   * After a ring change, how long the digest tables of the previous ring (kept up to date on
   * each write) still serve before one scan of the store rebuilds them: at most one rebuild this
   * often while the membership churns.
   */
  digestCacheMs: number;
  /** Upper bound of one replication datagram; batches are split below it. */
  maxMessageBytes: number;
}

/**
 * LAN defaults: N=3, W=2, R=2, 256 virtual nodes, 100 ms replica timeout,
 * anti-entropy every 10 s, handoff every 2 s, tombstones kept 1 h.
 *
 * @example
 * ```ts
 * console.log(DEFAULT_REPLICATION_CONFIG.n); // 3
 * ```
 */
export const DEFAULT_REPLICATION_CONFIG: Readonly<ReplicationConfig> = Object.freeze({
  n: 3,
  w: 2,
  r: 2,
  virtualNodes: 256,
  replicaTimeoutMs: 100,
  replicaRetries: 1,
  antiEntropyIntervalMs: 10_000,
  handoffIntervalMs: 2_000,
  rebalanceDelayMs: 1_000,
  jitter: 0.25,
  tombstoneGraceMs: 3_600_000,
  digestBuckets: 1024,
  digestCacheMs: 1_000,
  maxMessageBytes: 60_000,
});

/**
 * WAN preset (PlanetLab-like paths: 100–300 ms RTT, loss): longer replica
 * timeouts and calmer background repair. Applied when nodes.yaml says `preset: wan`.
 *
 * @example
 * ```ts
 * console.log(WAN_REPLICATION_OVERRIDES.replicaTimeoutMs); // 500
 * ```
 */
export const WAN_REPLICATION_OVERRIDES: Readonly<Partial<ReplicationConfig>> = Object.freeze({
  replicaTimeoutMs: 500,
  replicaRetries: 1,
  antiEntropyIntervalMs: 30_000,
  handoffIntervalMs: 10_000,
  rebalanceDelayMs: 5_000,
});

/**
 * Merges `overrides` over the defaults and checks every field; throws
 * `TypeError` for an unknown field and `RangeError` naming the field when a value cannot work.
 *
 * @example
 * ```ts
 * console.log(replicationConfig({ n: 5, w: 3 }).w); // 3
 * ```
 */
export function replicationConfig(...overrides: (Partial<ReplicationConfig> | undefined)[]): ReplicationConfig {
  const c: ReplicationConfig = { ...DEFAULT_REPLICATION_CONFIG };
  for (const o of overrides) {
    if (!o) continue;
    for (const [k, v] of Object.entries(o)) {
      if (v === undefined) continue;
      if (!(k in DEFAULT_REPLICATION_CONFIG)) {
        throw new TypeError(
          `Unknown replication setting "${k}"; known: ${Object.keys(DEFAULT_REPLICATION_CONFIG).join(", ")}`,
        );
      }
      Object.assign(c, { [k]: v }); // a known field; every value is checked below
    }
  }
  for (const [k, v] of Object.entries(c)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`Replication setting ${k} must be a non-negative number, got ${v}`);
    }
  }
  for (const k of ["n", "w", "r", "virtualNodes", "digestBuckets"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new RangeError(`Replication setting ${k} must be an integer ≥ 1`);
  }
  if (c.w > c.n || c.r > c.n) throw new RangeError(`Replication w (${c.w}) and r (${c.r}) must not exceed n (${c.n})`);
  if (c.jitter >= 1) throw new RangeError(`Replication jitter must be below 1 (a fraction), got ${c.jitter}`);
  if (c.maxMessageBytes < 16_000 || c.maxMessageBytes > 65_000) {
    throw new RangeError(
      `Replication maxMessageBytes must be 16000-65000 (one value must fit), got ${c.maxMessageBytes}`,
    );
  }
  if (c.digestBuckets * 8 > c.maxMessageBytes - 200) {
    throw new RangeError(`Replication digestBuckets × 8 B must fit in one message (max ${c.maxMessageBytes} B)`);
  }
  return c;
}

/**
 * The configuration of a node: defaults, then the WAN preset if the fleet file
 * asks for it, then the fleet file's `replication` block, then `overrides`
 * (tests, embedding).
 *
 * @example
 * ```ts
 * console.log(replicationConfigFor({ fleet: undefined }, { w: 3 }).w); // 3
 * ```
 */
export function replicationConfigFor(
  ctx: Pick<ServiceContext, "fleet">,
  overrides?: Partial<ReplicationConfig>,
): ReplicationConfig {
  const fleet = ctx.fleet;
  return replicationConfig(
    fleet?.preset === "wan" ? WAN_REPLICATION_OVERRIDES : undefined,
    fleet?.replication as Partial<ReplicationConfig> | undefined,
    overrides,
  );
}

/**
 * `ms` jittered by ± `fraction` using `random`.
 *
 * @example
 * ```ts
 * console.log(jittered(1000, 0.25, () => 0.5)); // 1000
 * ```
 */
export function jittered(ms: number, fraction: number, random: () => number): number {
  return Math.max(1, Math.round(ms * (1 + fraction * (2 * random() - 1))));
}
