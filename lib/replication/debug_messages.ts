/**
 * Typed headers of the debug queries (commands 0x60–0x6F, `debug_queries.ts`): one interface
 * with named fields per reply, one encoder to the wire header and one validator from it. The
 * wire keeps its compact rows (arrays), as nodes of the previous version send them:
 *
 * | command       | request header                | reply header                                               |
 * | ------------- | ----------------------------- | ---------------------------------------------------------- |
 * | Keys (0x60)   | `{after: hex, limit?: n}`     | `{keys: [[hex, t, node, tombstone 0/1]…], next: hex/null}` |
 * | Stats (0x61)  | `{}`                          | the {@linkcode ReplicationDebugStats} object as it is      |
 * | Members (0x63)| `{}`                          | `{members: [[address, state, incarnation, forMs]…], more}` |
 *
 * Validators never throw: a reply that is not of its shape is `null`.
 *
 * @module
 */
import type { Address } from "../net/transport.ts";
import type { StoreMemory } from "../storage/store.ts";
import type { ReplicationStats } from "./local_replica.ts";

/** A key a node holds, as the debug query reports it. */
export interface HeldKey {
  /** Key, 64 hex digits. */
  key: string;
  /** HLC time of the version. */
  t: number;
  /** Node id of the version. */
  n: string;
  /** Whether the entry is a tombstone. */
  tombstone: boolean;
}

/** One member as the members query reports it. */
export interface MemberRow {
  /** Its address. */
  address: Address;
  /** alive, suspect, dead or left. */
  state: string;
  /** Its incarnation. */
  incarnation: number;
  /** How long it has been in this state, ms. */
  forMs: number;
}

/** A page of the keys query. */
export interface KeysPageRequest {
  /** Keys above this one (`""`: from the first). */
  after: string;
  /** Most keys in the page (the node caps it). */
  limit?: number;
}

/** A page of held keys and where the next one starts (`null`: the last page). */
export interface KeysPage {
  /** The keys of this page, sorted. */
  keys: HeldKey[];
  /** `after` of the next page, or `null`. */
  next: string | null;
}

/** The members query's answer; `more` counts members left out. */
export interface MembersPage {
  /** Members sorted by address. */
  members: MemberRow[];
  /** Members not listed (the reply is bounded). */
  more: number;
}

/** Sizes and counters of a node's replication layer (the Stats query). */
export interface ReplicationDebugStats extends ReplicationStats {
  /** The node's address. */
  self: Address;
  /** Live keys. */
  keys: number;
  /** Entries, tombstones included. */
  entries: number;
  /** Tombstones held. */
  tombstones: number;
  /** Keys this node owns. */
  owned: number;
  /** Keys held without owning them (hints, data to hand off). */
  notOwned: number;
  /** Hints held for other owners. */
  hints: number;
  /** Bytes stored. */
  bytes: number;
  /** Live members. */
  members: Address[];
  /** Effective N. */
  n: number;
  /** The replication settings that shape placement and quorums. */
  config: { n: number; w: number; r: number; virtualNodes: number };
  /** The membership's own counters, when the node runs SWIM. */
  membership?: MembershipCounters;
  /** Where the store's memory goes (byte counts; `bench:churn` reads the arena's reuse here). */
  storage?: StoreMemory;
}

/** Failure-detection counters of a node's membership (cumulative), as the stats query reports them. */
export interface MembershipCounters {
  /** Members this node began to suspect. */
  suspicions: number;
  /** Members this node declared dead. */
  deaths: number;
  /** Suspicions of itself this node refuted. */
  refutes: number;
}

/**
 * Wire header of a {@linkcode KeysPageRequest}.
 *
 * @example
 * ```ts
 * console.log(keysPageRequestHeader({ after: "" })); // { after: "" }
 * ```
 */
export function keysPageRequestHeader(r: KeysPageRequest): { after: string; limit?: number } {
  return r.limit === undefined ? { after: r.after } : { after: r.after, limit: r.limit };
}

/**
 * The {@linkcode KeysPageRequest} of a wire header: `after` `""` unless a string, `limit` only when ≥ 1.
 *
 * @example
 * ```ts
 * console.log(parseKeysPageRequest({ after: 3, limit: 0 })); // { after: "" }
 * ```
 */
export function parseKeysPageRequest(header: unknown): KeysPageRequest {
  const h = fieldsOf(header) ?? {};
  const after = typeof h.after === "string" ? h.after : "";
  return typeof h.limit === "number" && h.limit >= 1 ? { after, limit: h.limit } : { after };
}

/**
 * Wire header of a {@linkcode KeysPage}.
 *
 * @example
 * ```ts
 * console.log(keysPageHeader({ keys: [{ key: "ab", t: 1, n: "a", tombstone: false }], next: null }).keys);
 * // [ [ "ab", 1, "a", 0 ] ]
 * ```
 */
export function keysPageHeader(p: KeysPage): { keys: [string, number, string, number][]; next: string | null } {
  return { keys: p.keys.map((k) => [k.key, k.t, k.n, k.tombstone ? 1 : 0]), next: p.next };
}

/**
 * The {@linkcode KeysPage} of a wire header, or `null` unless every row is `[hex, t, node, 0/1]`.
 *
 * @example
 * ```ts
 * console.log(parseKeysPage({ keys: [["ab", 1, "a", 1]], next: null })?.keys[0].tombstone); // true
 * ```
 */
export function parseKeysPage(header: unknown): KeysPage | null {
  const h = fieldsOf(header);
  if (!h || !Array.isArray(h.keys) || (h.next !== null && typeof h.next !== "string")) return null;
  const keys: HeldKey[] = [];
  for (const row of h.keys) {
    if (!Array.isArray(row) || row.length !== 4 || typeof row[0] !== "string" || typeof row[1] !== "number") {
      return null;
    }
    if (typeof row[2] !== "string" || (row[3] !== 0 && row[3] !== 1)) return null;
    keys.push({ key: row[0], t: row[1], n: row[2], tombstone: row[3] === 1 });
  }
  return { keys, next: h.next };
}

/**
 * Wire header of a {@linkcode MembersPage}.
 *
 * @example
 * ```ts
 * console.log(membersPageHeader({ members: [{ address: "a:1", state: "alive", incarnation: 0, forMs: 5 }], more: 0 }).members);
 * // [ [ "a:1", "alive", 0, 5 ] ]
 * ```
 */
export function membersPageHeader(p: MembersPage): { members: [string, string, number, number][]; more: number } {
  return { members: p.members.map((m) => [m.address, m.state, m.incarnation, Math.round(m.forMs)]), more: p.more };
}

/**
 * The {@linkcode MembersPage} of a wire header, or `null` unless every row is `[address, state, n, n]`.
 *
 * @example
 * ```ts
 * console.log(parseMembersPage({ members: [["a:1", "alive", 0, 5]], more: 0 })?.members[0].state); // "alive"
 * ```
 */
export function parseMembersPage(header: unknown): MembersPage | null {
  const h = fieldsOf(header);
  if (!h || !Array.isArray(h.members)) return null;
  const members: MemberRow[] = [];
  for (const row of h.members) {
    if (!Array.isArray(row) || row.length !== 4 || typeof row[0] !== "string" || typeof row[1] !== "string") {
      return null;
    }
    if (typeof row[2] !== "number" || typeof row[3] !== "number") return null;
    members.push({ address: row[0], state: row[1], incarnation: row[2], forMs: row[3] });
  }
  return { members, more: typeof h.more === "number" && h.more >= 0 ? h.more : 0 };
}

/**
 * The {@linkcode ReplicationDebugStats} of a wire header, or `null` unless its counts are numbers
 * (the node sends the object as it is).
 *
 * @example
 * ```ts
 * console.log(parseReplicationDebugStats({ self: "a:1", keys: "x" })); // null
 * ```
 */
export function parseReplicationDebugStats(header: unknown): ReplicationDebugStats | null {
  const h = fieldsOf(header);
  if (!h || typeof h.self !== "string" || !Array.isArray(h.members) || fieldsOf(h.config) === null) return null;
  for (const k of ["keys", "entries", "tombstones", "owned", "notOwned", "hints", "bytes", "n"]) {
    if (typeof h[k] !== "number") return null;
  }
  if (h.membership !== undefined) {
    const m = fieldsOf(h.membership);
    if (!m || ["suspicions", "deaths", "refutes"].some((k) => typeof m[k] !== "number")) return null;
  }
  if (h.storage !== undefined) {
    const s = fieldsOf(h.storage);
    if (!s || Object.values(s).some((v) => typeof v !== "number")) return null;
  }
  return h as unknown as ReplicationDebugStats;
}

// The validators' own helper: the only place a header is an untyped record.
function fieldsOf(h: unknown): Record<string, unknown> | null {
  return h !== null && typeof h === "object" && !Array.isArray(h) ? h as Record<string, unknown> : null;
}
