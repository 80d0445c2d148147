/**
 * Internal replication messages (commands 0x30–0x3F) and their binary bodies.
 *
 * The request path (`Put`, `Get` and their replies) is binary (`replica_codec.ts`); the
 * background messages (digests, key lists, pushes, offers, fetches) carry a small JSON header,
 * typed and validated in `replica_messages.ts` (where each message's layout is), plus a binary
 * body (`envelope.ts`) defined here. Bodies carry either entries (key, version, value) or
 * versions only (key, version), packed so a batch always fits in one datagram:
 *
 * - entry:   key(32) | t(f64 LE) | flags(1: bit0 tombstone) | nodeLen(1) | node | valueLen(2 LE) | value
 * - version: key(32) | t(f64 LE) | flags(1) | nodeLen(1) | node
 *
 * Decoders never throw: malformed input yields `null` and is dropped by the caller.
 *
 * @module
 */
import { fromHex, toHex, utf8Decoder, utf8Encoder } from "../base/bytes.ts";
import { InternalCommand } from "../wire/envelope.ts";
import type { Version } from "../storage/hlc.ts";
import type { Entry } from "../storage/store.ts";

/**
 * Replication commands (0x30–0x3F).
 *
 * @example
 * ```ts
 * console.log(ReplicaCommand.Put); // 48 (0x30)
 * ```
 */
export const ReplicaCommand = {
  /** Coordinator → replica: store one entry (binary, `replica_codec.ts`); reply: status, existed, held version. */
  Put: InternalCommand.ReplicationBase,
  /** Coordinator → replica: read one key (binary, `replica_codec.ts`); reply: the entry or none. */
  Get: InternalCommand.ReplicationBase + 1,
  /** Anti-entropy: per-bucket digests of a replica pair (`DigestRequest`, `DigestReply`). */
  Digest: InternalCommand.ReplicationBase + 2,
  /** Anti-entropy: versions held in some buckets (`KeysRequest`, `KeysReply` + versions newer on the peer). */
  Keys: InternalCommand.ReplicationBase + 3,
  /** Fetch entries by key (`FetchRequest`, `FetchReply` + entries, as many as fit). */
  Fetch: InternalCommand.ReplicationBase + 4,
  /** Push a batch of entries (body); reply `PushReply`: a status per entry. */
  Push: InternalCommand.ReplicationBase + 5,
  /** Handoff: offer versions to an owner (body); reply `OfferReply`: the entries it lacks or holds older. */
  Offer: InternalCommand.ReplicationBase + 6,
} as const;

/**
 * Debug/admin queries (0x60–0x6F).
 *
 * @example
 * ```ts
 * console.log(DebugCommand.Keys); // 96 (0x60)
 * ```
 */
export const DebugCommand = {
  /** List held keys with versions. Header `{after?, limit?}`; reply `{keys: [[hex, t, node, tomb]], next}`. */
  Keys: InternalCommand.DebugBase,
  /** Counters and sizes of the replication layer. */
  Stats: InternalCommand.DebugBase + 1,
  /** How a node sees a member, its catch-up and version (`catch_up.ts`). Header `{about?, list?}`. */
  View: InternalCommand.DebugBase + 2,
  /** Every member the node knows with its state (`kvctl members`). */
  Members: InternalCommand.DebugBase + 3,
} as const;

/** Replica answer to a put: applied (or newer already held), stale, or out of space. */
export type PutStatus = "ok" | "stale" | "full";

/** A keyed entry (key as 64 hex digits, as in the store). */
export interface KeyedEntry {
  /** Key, hex. */
  key: string;
  /** The entry. */
  entry: Entry;
}

/** A keyed version (no value). */
export interface KeyedVersion {
  /** Key, hex. */
  key: string;
  /** Version of the held entry. */
  version: Version;
  /** Whether the held entry is a tombstone. */
  tombstone: boolean;
}

const KEY = 32;

/**
 * Encoded size of an entry in a batch body.
 *
 * @example
 * ```ts
 * const e = { key: "00".repeat(32), entry: { value: new Uint8Array(10), version: { t: 1, n: "a" }, tombstone: false } };
 * console.log(entrySize(e) === encodeEntries([e]).length); // true
 * ```
 */
export function entrySize(e: KeyedEntry): number {
  return KEY + 8 + 1 + 1 + utf8Encoder.encode(e.entry.version.n).length + 2 +
    (e.entry.tombstone ? 0 : e.entry.value.length);
}

/**
 * Encoded size of a version in a list body.
 *
 * @example
 * ```ts
 * const v = { key: "00".repeat(32), version: { t: 1, n: "ab" }, tombstone: false };
 * console.log(versionSize(v) === encodeVersions([v]).length); // true
 * ```
 */
export function versionSize(v: KeyedVersion): number {
  return KEY + 8 + 1 + 1 + utf8Encoder.encode(v.version.n).length;
}

/**
 * Encodes entries for a batch body.
 *
 * @example
 * ```ts
 * const body = encodeEntries([{ key: "00".repeat(32), entry: { value: new Uint8Array([7]), version: { t: 5, n: "a" }, tombstone: false } }]);
 * console.log(decodeEntries(body)?.[0].entry.value); // Uint8Array [7]
 * ```
 */
export function encodeEntries(items: readonly KeyedEntry[]): Uint8Array {
  const parts = items.map((it) => ({ it, node: utf8Encoder.encode(it.entry.version.n.slice(0, 255)) }));
  let size = 0;
  for (const p of parts) size += KEY + 12 + p.node.length + (p.it.entry.tombstone ? 0 : p.it.entry.value.length);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let o = 0;
  for (const { it, node } of parts) {
    o = writeHead(out, view, o, it.key, it.entry.version.t, it.entry.tombstone, node);
    const value = it.entry.tombstone ? EMPTY : it.entry.value;
    view.setUint16(o, value.length, true);
    out.set(value, o + 2);
    o += 2 + value.length;
  }
  return out;
}

/**
 * Decodes a batch of entries; `null` if malformed. Values are copies.
 *
 * @example
 * ```ts
 * console.log(decodeEntries(new Uint8Array(3))); // null (truncated)
 * ```
 */
export function decodeEntries(body: Uint8Array): KeyedEntry[] | null {
  const out: KeyedEntry[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let o = 0;
  while (o < body.length) {
    const head = readHead(body, view, o);
    if (!head) return null;
    o = head.next;
    if (o + 2 > body.length) return null;
    const len = view.getUint16(o, true);
    o += 2;
    if (o + len > body.length || (head.tombstone && len > 0)) return null;
    out.push({
      key: head.key,
      entry: { value: body.slice(o, o + len), version: head.version, tombstone: head.tombstone },
    });
    o += len;
  }
  return out;
}

/**
 * Encodes versions (no values) for a list body.
 *
 * @example
 * ```ts
 * const body = encodeVersions([{ key: "11".repeat(32), version: { t: 2, n: "a" }, tombstone: false }]);
 * console.log(body.length); // 43
 * ```
 */
export function encodeVersions(items: readonly KeyedVersion[]): Uint8Array {
  const parts = items.map((it) => ({ it, node: utf8Encoder.encode(it.version.n.slice(0, 255)) }));
  let size = 0;
  for (const p of parts) size += KEY + 10 + p.node.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let o = 0;
  for (const { it, node } of parts) o = writeHead(out, view, o, it.key, it.version.t, it.tombstone, node);
  return out;
}

/**
 * Decodes a list of versions; `null` if malformed.
 *
 * @example
 * ```ts
 * const body = encodeVersions([{ key: "ab".repeat(32), version: { t: 9, n: "b" }, tombstone: true }]);
 * console.log(decodeVersions(body)?.[0].tombstone); // true
 * ```
 */
export function decodeVersions(body: Uint8Array): KeyedVersion[] | null {
  const out: KeyedVersion[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let o = 0;
  while (o < body.length) {
    const head = readHead(body, view, o);
    if (!head) return null;
    out.push({ key: head.key, version: head.version, tombstone: head.tombstone });
    o = head.next;
  }
  return out;
}

function writeHead(
  out: Uint8Array,
  view: DataView,
  o: number,
  key: string,
  t: number,
  tombstone: boolean,
  node: Uint8Array,
): number {
  out.set(fromHex(key).subarray(0, KEY), o);
  view.setFloat64(o + KEY, t, true);
  out[o + KEY + 8] = tombstone ? 1 : 0;
  out[o + KEY + 9] = node.length;
  out.set(node, o + KEY + 10);
  return o + KEY + 10 + node.length;
}

function readHead(body: Uint8Array, view: DataView, o: number) {
  if (o + KEY + 10 > body.length) return null;
  const key = toHex(body.subarray(o, o + KEY));
  const t = view.getFloat64(o + KEY, true);
  const flags = body[o + KEY + 8];
  const nLen = body[o + KEY + 9];
  const start = o + KEY + 10;
  if (start + nLen > body.length || !Number.isFinite(t) || t < 0 || flags > 1) return null;
  const n = utf8Decoder.decode(body.subarray(start, start + nLen));
  return { key, version: { t, n }, tombstone: flags === 1, next: start + nLen };
}

/**
 * Splits `items` into consecutive batches whose encoded size (by `size`) stays within `budget` bytes.
 * An item larger than the budget gets a batch of its own.
 *
 * @example
 * ```ts
 * console.log(batches([5, 5, 5], (x) => x, 10)); // [[5, 5], [5]]
 * ```
 */
export function batches<T>(items: readonly T[], size: (item: T) => number, budget: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let used = 0;
  for (const it of items) {
    const s = size(it);
    if (cur.length > 0 && used + s > budget) {
      out.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(it);
    used += s;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const EMPTY = new Uint8Array(0);
