/**
 * Tunables of SWIM membership (memberlist style): every timing is a named
 * value with LAN and WAN presets; tests and flags may override single fields.
 *
 * @module
 */

/** Every tunable of the membership protocol. Times are milliseconds. */
export interface SwimConfig {
  /** Time between two failure-detection probes of this node (one member per probe), up to 10 members (`probeTiming`). */
  probeIntervalMs: number;
  /** How long to wait for the direct ack before asking others to probe indirectly, up to 10 members (`probeTiming`). */
  probeTimeoutMs: number;
  /** Members asked to probe indirectly (ping-req) when the direct ack is late. */
  indirectChecks: number;
  /** Suspicion timeout base: min timeout = suspicionMult × max(1, log10(n)) × the probe interval at n (`probeTiming`). */
  suspicionMult: number;
  /** Max suspicion timeout (no confirmations) = suspicionMaxTimeoutMult × min timeout. */
  suspicionMaxTimeoutMult: number;
  /** Each rumor is piggybacked retransmitMult × ceil(log10(n + 1)) times by each node. */
  retransmitMult: number;
  /** Time between gossip rounds that send pending rumors to a few members (0 disables). */
  gossipIntervalMs: number;
  /** Members a gossip round sends to. */
  gossipNodes: number;
  /** How long dead members still receive gossip (so a wrongly declared node hears of it and refutes). */
  gossipToTheDeadMs: number;
  /** Time between full state exchanges (push-pull) with one random alive member (0 disables). */
  pushPullIntervalMs: number;
  /** How long a push-pull waits for the answer's chunks. */
  pushPullTimeoutMs: number;
  /** Time between push-pulls to a dead member or an unreached seed (heals partitions, finds restarts). */
  reconnectIntervalMs: number;
  /** Same as reconnectIntervalMs while this node knows no other live member (joining, isolated). */
  joinRetryIntervalMs: number;
  /** Seeds contacted at once when joining. */
  joinFanout: number;
  /** After a join succeeds, one more push-pull with a random member this much later (catches up on members that joined at the same time; 0 disables). */
  joinSyncDelayMs: number;
  /** Dead members are forgotten after this long (no more reconnect attempts). */
  reconnectTimeoutMs: number;
  /**
   * A member dead for at least this long is accepted back by an alive message of any
   * incarnation (a restarted process starting again at 0). 0 disables: refutation handles restarts.
   */
  deadReclaimMs: number;
  /** Local health (Lifeguard): probe timeouts are scaled by up to this factor while this node looks unhealthy. */
  awarenessMaxMultiplier: number;
  /** Byte budget for rumors piggybacked on one probe, ack or gossip message. */
  gossipMaxBytes: number;
  /** Upper bound of one membership datagram; full state is split into chunks below it. */
  maxPacketBytes: number;
}

/** Presets known to the fleet file's `preset` field. */
export type SwimPreset = "lan" | "wan";

/**
 * LAN defaults (memberlist DefaultLANConfig timings): 1 s probes, 500 ms ack timeout.
 *
 * @example
 * ```ts
 * console.log(LAN_CONFIG.probeIntervalMs); // 1000
 * ```
 */
export const LAN_CONFIG: Readonly<SwimConfig> = Object.freeze({
  probeIntervalMs: 1_000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  pushPullTimeoutMs: 2_000,
  reconnectIntervalMs: 10_000,
  joinRetryIntervalMs: 1_000,
  joinFanout: 3,
  joinSyncDelayMs: 1_500,
  reconnectTimeoutMs: 24 * 3_600_000,
  deadReclaimMs: 0,
  awarenessMaxMultiplier: 8,
  gossipMaxBytes: 1_400,
  maxPacketBytes: 60_000,
});

/**
 * WAN defaults (PlanetLab-like: 100–300 ms RTTs, lossy, overloaded hosts; memberlist
 * DefaultWANConfig timings): 5 s probes, 3 s ack timeout, longer suspicion.
 *
 * @example
 * ```ts
 * console.log(WAN_CONFIG.probeTimeoutMs); // 3000
 * ```
 */
export const WAN_CONFIG: Readonly<SwimConfig> = Object.freeze({
  ...LAN_CONFIG,
  probeIntervalMs: 5_000,
  probeTimeoutMs: 3_000,
  suspicionMult: 6,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  gossipToTheDeadMs: 60_000,
  pushPullIntervalMs: 60_000,
  pushPullTimeoutMs: 10_000,
  reconnectIntervalMs: 30_000,
  joinRetryIntervalMs: 5_000,
  joinSyncDelayMs: 7_500,
});

/** The preset configs by name. */
export const SWIM_PRESETS: Readonly<Record<SwimPreset, Readonly<SwimConfig>>> = { lan: LAN_CONFIG, wan: WAN_CONFIG };

/** Fields that must be ≥ 1 (counts and the things that divide). Others must be ≥ 0. */
const AT_LEAST_ONE = new Set<keyof SwimConfig>([
  "probeIntervalMs",
  "probeTimeoutMs",
  "pushPullTimeoutMs",
  "suspicionMult",
  "suspicionMaxTimeoutMult",
  "retransmitMult",
  "gossipNodes",
  "reconnectIntervalMs",
  "joinRetryIntervalMs",
  "joinFanout",
  "awarenessMaxMultiplier",
]);

/**
 * The settings of `overrides` that are set (an undefined one keeps the preset's); throws a
 * TypeError for a field that no config has, or overrides that are not an object (callers in
 * JavaScript or from a parsed file).
 */
function definedSettings(base: Readonly<SwimConfig>, overrides: Partial<SwimConfig> | undefined): Partial<SwimConfig> {
  if (overrides === undefined || overrides === null) return {};
  if (typeof overrides !== "object" || Array.isArray(overrides)) {
    throw new TypeError("Membership overrides must be an object of SwimConfig fields");
  }
  const unknown = Object.keys(overrides).find((k) => !(k in base));
  if (unknown !== undefined) {
    throw new TypeError(`Unknown membership setting "${unknown}"; known: ${Object.keys(base).join(", ")}`);
  }
  return Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
}

/**
 * Returns the preset's config with `overrides` applied; validates every field.
 * Throws `TypeError` for an unknown preset or field, `RangeError` for a bad value.
 *
 * @example
 * ```ts
 * const c = resolveSwimConfig("wan", { probeIntervalMs: 4_000 });
 * console.log(c.probeIntervalMs, c.probeTimeoutMs); // 4000 3000
 * ```
 */
export function resolveSwimConfig(preset: string = "lan", overrides?: Partial<SwimConfig>): SwimConfig {
  const base = SWIM_PRESETS[preset as SwimPreset];
  if (!base) throw new TypeError(`Unknown membership preset "${preset}": use "lan" or "wan"`);
  const config: SwimConfig = { ...base, ...definedSettings(base, overrides) };
  for (const [k, v] of Object.entries(config) as [keyof SwimConfig, unknown][]) {
    const min = AT_LEAST_ONE.has(k) ? 1 : 0;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min) {
      throw new RangeError(`Membership setting ${k} must be a number ≥ ${min}, got ${String(v)}`);
    }
  }
  if (config.probeTimeoutMs > config.probeIntervalMs) {
    throw new RangeError(
      `Membership probeTimeoutMs (${config.probeTimeoutMs}) must not exceed probeIntervalMs (${config.probeIntervalMs})`,
    );
  }
  if (config.maxPacketBytes < 1_024 || config.maxPacketBytes > 65_000) {
    throw new RangeError(`Membership maxPacketBytes must be 1024-65000, got ${config.maxPacketBytes}`);
  }
  return config;
}

/**
 * The probe interval and timeout in a cluster of `n` members: the configured ones up to 10 members,
 * divided by √log10(n) above (100 members: 0.71×, 1,000: 0.58×).
 *
 * Each member is probed about once per interval whatever the size (every node probes one member per
 * interval), but the suspicion timeout grows with log10(n) and, when several nodes fail at once, the
 * last of them to be probed first waits longer: with the configured rates, 10 of 100 nodes killed
 * at once were declared dead by every survivor after 11-16 s in simulation, and 17 s on one machine of
 * 100 real nodes. Sized this way the suspicion timeout grows with √log10(n) instead, and each node
 * sends √log10(n) times as many probes (100 members: 1.4 a second on the LAN).
 *
 * @example
 * ```ts
 * console.log(probeTiming(LAN_CONFIG, 10)); // { intervalMs: 1000, timeoutMs: 500 }
 * console.log(probeTiming(LAN_CONFIG, 100)); // { intervalMs: 707, timeoutMs: 353 }
 * ```
 */
export function probeTiming(config: SwimConfig, n: number): { intervalMs: number; timeoutMs: number } {
  const scale = 1 / Math.sqrt(Math.max(1, Math.log10(Math.max(1, n))));
  return {
    intervalMs: Math.floor(config.probeIntervalMs * scale),
    timeoutMs: Math.floor(config.probeTimeoutMs * scale),
  };
}

/**
 * Lifeguard suspicion bounds for a cluster of `n` members: `[minMs, maxMs]`; the minimum is
 * `suspicionMult × max(1, log10(n))` probe intervals ({@linkcode probeTiming} at that size).
 *
 * @example
 * ```ts
 * console.log(suspicionBounds(LAN_CONFIG, 10)); // [4000, 24000]
 * console.log(suspicionBounds(LAN_CONFIG, 100)); // [5656, 33936]
 * ```
 */
export function suspicionBounds(config: SwimConfig, n: number): [number, number] {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  const min = Math.floor(config.suspicionMult * scale * probeTiming(config, n).intervalMs);
  return [min, min * config.suspicionMaxTimeoutMult];
}

/**
 * How many times each node retransmits one rumor in a cluster of `n`.
 *
 * @example
 * ```ts
 * console.log(retransmitLimit(LAN_CONFIG, 50)); // 8
 * ```
 */
export function retransmitLimit(config: SwimConfig, n: number): number {
  return config.retransmitMult * Math.ceil(Math.log10(n + 1));
}

/** Members above which the push-pull interval grows (memberlist pushPullScaleThreshold). */
const PUSH_PULL_SCALE_THRESHOLD = 32;

/**
 * memberlist pushPullScale: above 32 members the push-pull interval grows with log2(n),
 * so full-state traffic stays modest in large clusters.
 *
 * @example
 * ```ts
 * console.log(pushPullScale(30_000, 10), pushPullScale(30_000, 1_000)); // 30000 180000
 * ```
 */
export function pushPullScale(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  return (Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1) * intervalMs;
}
