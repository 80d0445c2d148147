/**
 * Typed headers of the background replication messages (anti-entropy, fetch, push, hand-off):
 * one interface with named fields per message and direction, one encoder to the wire header and
 * one validator from it (`parse…`, which never throws: malformed input is `null` or drops the bad
 * field). The request path (`Put`, `Get`) is binary (`replica_codec.ts`); bodies are the entry and
 * version lists of `replica_protocol.ts`.
 *
 * The wire keeps its short JSON keys (nodes of the previous version read and write them during a
 * rolling upgrade); the code sees only the named fields. Layouts, command by command
 * (`B` = the anti-entropy bucket count, `config.digestBuckets`):
 *
 * | command       | request header                          | request body      | reply header                         | reply body              |
 * | ------------- | --------------------------------------- | ----------------- | ------------------------------------ | ----------------------- |
 * | Digest (0x32) | `{b: B, t: [x, y], p}` (totals) or `{b: B, p}` | none, or 8·B B | `{d: [bucket…]}` or `{more: 1}` | none                    |
 * | Keys (0x33)   | `{b: [bucket…], nb: B}`                  | versions          | `{want: [index…], lack: n}`          | versions newer there    |
 * | Fetch (0x34)  | `{k: [hex key…]}`                        | none              | `{done: n}` (keys answered, in order) | entries (as many as fit) |
 * | Push (0x35)   | `{}`                                     | entries           | `{s: "o"/"s"/"f" per entry}`         | none                    |
 * | Offer (0x36)  | `{}`                                     | versions          | `{want: [index…]}`                   | none                    |
 *
 * A Digest with totals is answered `{d: []}` when the pair's totals agree and `{more: 1}` when they
 * differ; the asker then sends the 8·B-byte table (two 32-bit words per bucket) and gets the
 * differing buckets. A Digest for another bucket count is answered `{d: [], error: "bucket count"}`;
 * one whose placement fingerprint `p` (`Ring.fingerprint`: the ring and N the asker's table is for)
 * is not the answerer's is answered `{d: [], error: "placement"}`: tables of two rings do not compare
 * (an empty table there is not "nothing to send"). Nodes of the previous version send no `p`.
 *
 * @module
 */

/** Digest request: the pair's totals first, or (`totals` absent) the per-bucket table in the body. */
export interface DigestRequest {
  /** Buckets of the asker's digest table (must equal the answerer's). */
  bucketCount: number;
  /** The 64-bit total of the pair's table as two 32-bit words (totals round only). */
  totals?: readonly [number, number];
  /** The fingerprint of the placement the asker's table is for (absent from older nodes). */
  placement?: number;
}

/** Digest reply: the buckets that differ, or `more` (the totals differ: send the table). */
export interface DigestReply {
  /** Buckets whose digests differ. */
  differing: number[];
  /** The totals differ; the table is wanted. */
  more: boolean;
  /** Why nothing could be compared (another bucket count). */
  error?: string;
}

/** Keys request: the asker's versions of some buckets (in the body). */
export interface KeysRequest {
  /** The buckets the listed versions cover. */
  buckets: number[];
  /** The asker's bucket count (must equal the answerer's). */
  bucketCount: number;
}

/** Keys reply: which listed versions the answerer wants, and how many it holds that the asker lacks. */
export interface KeysReply {
  /** Indices (into the request's list) of the entries the answerer lacks or holds older. */
  want: number[];
  /** Entries the asker lacks in all, listed in the body or not (absent from older nodes). */
  lack?: number;
}

/** Fetch request: keys to send the entries of. */
export interface FetchRequest {
  /** Keys as 64 hex digits; `null` where the wire held something else (skipped, still counted as done). */
  keys: (string | null)[];
}

/** Fetch reply: how many of the asked keys were answered (the entries are in the body). */
export interface FetchReply {
  /** Keys answered, from the first (present or not); at least 1. */
  done: number;
}

/** Push reply: a status letter per pushed entry. */
export interface PushReply {
  /** `o` applied, `s` stale (newer held), `f` full: one letter per entry, in order. */
  statuses: string;
}

/** Offer reply: which offered versions the owner wants. */
export interface OfferReply {
  /** Indices (into the offered list) of the entries the owner lacks or holds older. */
  want: number[];
}

/** A JSON header as the wire carries it. */
export type WireHeader = { readonly [field: string]: unknown };

/** Most keys one Fetch asks for. */
export const MAX_FETCH_KEYS = 500;

/**
 * Wire header of a {@linkcode DigestRequest}.
 *
 * @example
 * ```ts
 * console.log(digestRequestHeader({ bucketCount: 256, totals: [1, 2] })); // { b: 256, t: [ 1, 2 ] }
 * ```
 */
export function digestRequestHeader(r: DigestRequest): WireHeader {
  const totals = r.totals ? { t: [r.totals[0], r.totals[1]] } : {};
  return r.placement === undefined ? { b: r.bucketCount, ...totals } : { b: r.bucketCount, ...totals, p: r.placement };
}

/**
 * The {@linkcode DigestRequest} of a wire header, or `null` without a positive bucket count;
 * malformed totals are dropped (they then match nothing).
 *
 * @example
 * ```ts
 * console.log(parseDigestRequest({ b: 256, t: [1, "x"] })); // { bucketCount: 256 }
 * ```
 */
export function parseDigestRequest(header: unknown): DigestRequest | null {
  const h = fieldsOf(header);
  if (!h || !isCount(h.b) || h.b < 1) return null;
  const t = h.t;
  const totals = Array.isArray(t) && t.length === 2 && isWord(t[0]) && isWord(t[1]) ? [t[0], t[1]] as const : undefined;
  const request: DigestRequest = totals ? { bucketCount: h.b, totals } : { bucketCount: h.b };
  return isWord(h.p) ? { ...request, placement: h.p } : request;
}

/**
 * Wire header of a {@linkcode DigestReply}.
 *
 * @example
 * ```ts
 * console.log(digestReplyHeader({ differing: [3], more: false })); // { d: [ 3 ] }
 * ```
 */
export function digestReplyHeader(r: DigestReply): WireHeader {
  if (r.more) return { more: 1 };
  return r.error === undefined ? { d: r.differing } : { d: r.differing, error: r.error };
}

/**
 * The {@linkcode DigestReply} of a wire header: differing buckets below `bucketCount` (others dropped).
 *
 * @example
 * ```ts
 * console.log(parseDigestReply({ d: [1, 9, -1] }, 4)); // { differing: [ 1 ], more: false }
 * ```
 */
export function parseDigestReply(header: unknown, bucketCount: number): DigestReply {
  const h = fieldsOf(header) ?? {};
  const reply: DigestReply = { differing: indices(h.d, bucketCount), more: h.more === 1 };
  if (typeof h.error === "string") reply.error = h.error.slice(0, 200);
  return reply;
}

/**
 * Wire header of a {@linkcode KeysRequest}.
 *
 * @example
 * ```ts
 * console.log(keysRequestHeader({ buckets: [1, 2], bucketCount: 256 })); // { b: [ 1, 2 ], nb: 256 }
 * ```
 */
export function keysRequestHeader(r: KeysRequest): WireHeader {
  return { b: r.buckets, nb: r.bucketCount };
}

/**
 * The {@linkcode KeysRequest} of a wire header, or `null` unless its bucket count is `bucketCount`;
 * buckets outside `[0, bucketCount)` are dropped.
 *
 * @example
 * ```ts
 * console.log(parseKeysRequest({ b: [1, 300], nb: 256 }, 256)); // { buckets: [ 1 ], bucketCount: 256 }
 * ```
 */
export function parseKeysRequest(header: unknown, bucketCount: number): KeysRequest | null {
  const h = fieldsOf(header);
  if (!h || h.nb !== bucketCount) return null;
  return { buckets: indices(h.b, bucketCount), bucketCount };
}

/**
 * Wire header of a {@linkcode KeysReply}.
 *
 * @example
 * ```ts
 * console.log(keysReplyHeader({ want: [0], lack: 3 })); // { want: [ 0 ], lack: 3 }
 * ```
 */
export function keysReplyHeader(r: KeysReply): WireHeader {
  return r.lack === undefined ? { want: r.want } : { want: r.want, lack: r.lack };
}

/**
 * The {@linkcode KeysReply} of a wire header: indices below `listed`; `lack` only when a count.
 *
 * @example
 * ```ts
 * console.log(parseKeysReply({ want: [0, 5], lack: -1 }, 2)); // { want: [ 0 ] }
 * ```
 */
export function parseKeysReply(header: unknown, listed: number): KeysReply {
  const h = fieldsOf(header) ?? {};
  const want = indices(h.want, listed);
  return isCount(h.lack) ? { want, lack: h.lack } : { want };
}

/**
 * Wire header of a {@linkcode FetchRequest}.
 *
 * @example
 * ```ts
 * console.log(fetchRequestHeader({ keys: ["ab".repeat(32)] }).k); // [ "abab…" ]
 * ```
 */
export function fetchRequestHeader(r: FetchRequest): WireHeader {
  return { k: r.keys };
}

/**
 * The {@linkcode FetchRequest} of a wire header, or `null` unless it lists at most
 * {@linkcode MAX_FETCH_KEYS} keys; an item that is not a hex key is `null`.
 *
 * @example
 * ```ts
 * console.log(parseFetchRequest({ k: ["x", "ab".repeat(32)] })?.keys[0]); // null
 * ```
 */
export function parseFetchRequest(header: unknown): FetchRequest | null {
  const k = fieldsOf(header)?.k;
  if (!Array.isArray(k) || k.length > MAX_FETCH_KEYS) return null;
  return { keys: k.map((x) => isHexKey(x) ? x : null) };
}

/**
 * Wire header of a {@linkcode FetchReply}.
 *
 * @example
 * ```ts
 * console.log(fetchReplyHeader({ done: 2 })); // { done: 2 }
 * ```
 */
export function fetchReplyHeader(r: FetchReply): WireHeader {
  return { done: r.done };
}

/**
 * The {@linkcode FetchReply} of a wire header, or `null` unless `done` is an integer ≥ 1.
 *
 * @example
 * ```ts
 * console.log(parseFetchReply({ done: 0 })); // null
 * ```
 */
export function parseFetchReply(header: unknown): FetchReply | null {
  const done = fieldsOf(header)?.done;
  return isCount(done) && done >= 1 ? { done } : null;
}

/**
 * Wire header of a {@linkcode PushReply}.
 *
 * @example
 * ```ts
 * console.log(pushReplyHeader({ statuses: "os" })); // { s: "os" }
 * ```
 */
export function pushReplyHeader(r: PushReply): WireHeader {
  return { s: r.statuses };
}

/**
 * The {@linkcode PushReply} of a wire header, or `null` unless `s` is a string of `o`, `s`, `f`.
 *
 * @example
 * ```ts
 * console.log(parsePushReply({ s: "ox" })); // null
 * ```
 */
export function parsePushReply(header: unknown): PushReply | null {
  const s = fieldsOf(header)?.s;
  return typeof s === "string" && /^[osf]*$/.test(s) ? { statuses: s } : null;
}

/**
 * Wire header of an {@linkcode OfferReply}.
 *
 * @example
 * ```ts
 * console.log(offerReplyHeader({ want: [1] })); // { want: [ 1 ] }
 * ```
 */
export function offerReplyHeader(r: OfferReply): WireHeader {
  return { want: r.want };
}

/**
 * The {@linkcode OfferReply} of a wire header: indices below `offered`.
 *
 * @example
 * ```ts
 * console.log(parseOfferReply({ want: [0, 3] }, 2)); // { want: [ 0 ] }
 * ```
 */
export function parseOfferReply(header: unknown, offered: number): OfferReply {
  return { want: indices(fieldsOf(header)?.want, offered) };
}

/**
 * Whether `x` is a 64-digit lower-case hex key.
 *
 * @example
 * ```ts
 * console.log(isHexKey("ab".repeat(32)), isHexKey("xyz")); // true false
 * ```
 */
export function isHexKey(x: unknown): x is string {
  return typeof x === "string" && x.length === 64 && /^[0-9a-f]{64}$/.test(x);
}

// The validators' own helpers: the only place a header is an untyped record.
function fieldsOf(h: unknown): Record<string, unknown> | null {
  return h !== null && typeof h === "object" && !Array.isArray(h) ? h as Record<string, unknown> : null;
}

function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function isWord(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffff_ffff;
}

/** Non-negative integers of `x` below `limit` (others dropped); `[]` unless `x` is an array. */
function indices(x: unknown, limit: number): number[] {
  if (!Array.isArray(x)) return [];
  return x.filter((i): i is number => Number.isInteger(i) && i >= 0 && i < limit);
}
