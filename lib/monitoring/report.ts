/**
 * What a node reports to the monitor once per round: an open map of stats
 * (name → number or string, with an optional unit), so a new stat needs no
 * change on the monitor. Shared by the node agent (which builds reports) and
 * the monitor (which validates them with `report_schema.ts`: zod stays out of a node).
 *
 * @module
 */

/** One stat: a number or a short string, with an optional unit ("bytes", "s", "req/s", "%"). */
export interface Stat {
  /** The value. */
  value: number | string;
  /** Unit, if any. */
  unit?: string;
}

/** Stats by name. Names are short identifiers such as `keys`, `rps.put`, `load_1m`. */
export type StatMap = Record<string, Stat>;

/** One report from one node for one round. */
export interface NodeReport {
  /** The reporting node's address (host:port), its id on the monitor. */
  node: string;
  /** Id of the round that triggered the report. */
  round: string;
  /** How many hops the round message took to reach the node (0 = sent by the monitor). */
  hops: number;
  /** How long the node waited (jitter) between receiving the round and sending, in ms. */
  waitMs: number;
  /** The node's stats. */
  stats: StatMap;
  /** Some members the node believes alive (a sample when the cluster is large). */
  members?: string[];
  /** Members the node knows as gone: dead (crashed) or left (on purpose), and how long ago (a sample). */
  gone?: GoneMember[];
}

/** A member a node reports as gone. */
export interface GoneMember {
  /** Its address. */
  node: string;
  /** dead: crashed or stopped without a word; left: announced its leave (SIGTERM, SIGINT, a drain). */
  state: "dead" | "left";
  /** How long ago, ms. */
  forMs: number;
}

/** Size limits of reports (named so the monitor and agent agree). */
export const REPORT_LIMITS = {
  /** Stats per report. */
  maxStats: 256,
  /** Characters in a stat name. */
  maxNameLength: 64,
  /** Characters in a string value. */
  maxStringLength: 256,
  /** Characters in a unit. */
  maxUnitLength: 16,
  /** Member addresses per report. */
  maxMembers: 64,
  /** Reports in one batch. */
  maxBatch: 100,
  /** Bytes in one HTTP request body (single report or batch). */
  maxBodyBytes: 256 * 1024,
} as const;

/** Pattern of stat names: a letter or `_`, then letters, digits, `_ . : -`. */
export const STAT_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
/** Pattern of round ids (hex). */
export const ROUND_ID = /^[0-9a-f]{8,32}$/;

/**
 * Adds a stat to `map` if the value is usable (finite number or string); returns the map.
 *
 * @example
 * ```ts
 * const m = putStat({}, "keys", 3);
 * console.log(m.keys); // { value: 3 }
 * ```
 */
export function putStat(map: StatMap, name: string, value: number | string | undefined, unit?: string): StatMap {
  if (value === undefined || (typeof value === "number" && !Number.isFinite(value))) return map;
  if (!STAT_NAME.test(name) || name.length > REPORT_LIMITS.maxNameLength) {
    throw new TypeError(`Invalid stat name "${name}": use letters, digits, _ . : - (at most 64 characters)`);
  }
  const v = typeof value === "string" ? value.slice(0, REPORT_LIMITS.maxStringLength) : value;
  map[name] = unit ? { value: v, unit } : { value: v };
  return map;
}
