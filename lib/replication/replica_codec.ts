/**
 * Binary codec of the request path between nodes: a coordinator's replica
 * write (Put) and read (Get) and their replies. Keys stay 32 bytes, values are
 * views of the datagram they came in (the store copies them once), and an
 * outgoing value is written straight into the frame by a {@linkcode PayloadWriter}.
 *
 * ```text
 * Put request:  flags(1: bit0 remove, bit1 tombstone, bit2 hint) | key(32) | t(f64 LE) |
 *               nodeLength(1) | node | [hintLength(1) | hint] | valueLength(2 LE) | value
 * Put reply:    status(1: 0 ok, 1 stale, 2 full) | existed(1) | [t(f64 LE) | nodeLength(1) | node]
 *               (the held version, when the write was stale)
 * Get request:  key(32)
 * Get reply:    found(1) | [tombstone(1) | t(f64 LE) | nodeLength(1) | node | valueLength(2 LE) | value]
 * ```
 *
 * Decoders return a typed value or a string saying why the payload was rejected; they never throw.
 *
 * @module
 */
import { utf8Decoder, utf8Encoder } from "../base/bytes.ts";
import type { Version } from "../storage/hlc.ts";
import type { Entry } from "../storage/store.ts";
import type { Address } from "../net/transport.ts";
import type { PayloadWriter } from "../wire/frame.ts";
import type { PutStatus } from "./replica_protocol.ts";

const KEY = 32;
const REMOVE = 1, TOMBSTONE = 2, HINT = 4;
const STATUSES: readonly PutStatus[] = ["ok", "stale", "full"];
/** Longest node id or hint address carried (one length byte). */
const MAX_NAME = 255;

/** A decoded replica write. */
export interface ReplicaPut {
  /** The key's 32 bytes (a view of the datagram). */
  key: Uint8Array;
  /** What to store (its value a view of the datagram). */
  entry: Entry;
  /** A client remove: apply the tombstone only where the key is held. */
  remove: boolean;
  /** The owner this node stands in for, if any. */
  hint?: Address;
}

/** A decoded answer to a replica write. */
export interface ReplicaPutReply {
  /** Applied (or newer held), stale, or out of space. */
  status: PutStatus;
  /** Whether a live value was held (removes). */
  existed: boolean;
  /** The newer version held, when stale. */
  held?: Version;
}

// Encoded node ids are few (one per node of the fleet): encode each once.
const nameBytes = new Map<string, Uint8Array>();
function encodedName(name: string): Uint8Array {
  let b = nameBytes.get(name);
  if (b === undefined) {
    b = utf8Encoder.encode(name);
    if (b.length > MAX_NAME) throw new RangeError(`Node id "${name.slice(0, 40)}…" is longer than ${MAX_NAME} bytes`);
    if (nameBytes.size > 4096) nameBytes.clear();
    nameBytes.set(name, b);
  }
  return b;
}

/**
 * A writer of a replica write's payload (written once per destination and attempt; the value
 * is copied straight into the frame).
 *
 * @example
 * ```ts
 * const w = replicaPutWriter(new Uint8Array(32), { value: new Uint8Array([9]), version: { t: 5, n: "a" }, tombstone: false }, false);
 * const out = new Uint8Array(w.size);
 * w.write(out, 0);
 * const put = decodeReplicaPut(out);
 * console.log(typeof put === "string" ? put : put.entry.value); // Uint8Array(1) [ 9 ]
 * ```
 */
export function replicaPutWriter(key: Uint8Array, entry: Entry, remove: boolean, hint?: Address): PayloadWriter {
  const node = encodedName(entry.version.n);
  const hintBytes = hint === undefined ? undefined : encodedName(hint);
  const value = entry.tombstone ? EMPTY : entry.value;
  const size = 1 + KEY + 8 + 1 + node.length + (hintBytes ? 1 + hintBytes.length : 0) + 2 + value.length;
  return {
    size,
    write(out: Uint8Array, o: number): void {
      out[o] = (remove ? REMOVE : 0) | (entry.tombstone ? TOMBSTONE : 0) | (hintBytes ? HINT : 0);
      out.set(key, o + 1);
      o = writeVersion(out, o + 1 + KEY, entry.version.t, node);
      if (hintBytes) {
        out[o] = hintBytes.length;
        out.set(hintBytes, o + 1);
        o += 1 + hintBytes.length;
      }
      out[o] = value.length;
      out[o + 1] = value.length >>> 8;
      out.set(value, o + 2);
    },
  };
}

/** Decodes a replica write; a string says why it was rejected. */
export function decodeReplicaPut(p: Uint8Array): ReplicaPut | string {
  if (p.length < 1 + KEY + 9) return "truncated";
  const flags = p[0];
  if (flags > (REMOVE | TOMBSTONE | HINT)) return "unknown flags";
  const tombstone = (flags & TOMBSTONE) !== 0;
  if ((flags & REMOVE) !== 0 && !tombstone) return "a remove must carry a tombstone";
  const version = readVersion(p, 1 + KEY);
  if (typeof version === "string") return version;
  let o = versionEnd;
  let hint: string | undefined;
  if ((flags & HINT) !== 0) {
    if (o >= p.length || o + 1 + p[o] > p.length) return "truncated hint";
    hint = utf8Decoder.decode(p.subarray(o + 1, o + 1 + p[o]));
    o += 1 + p[o];
  }
  if (o + 2 > p.length) return "truncated";
  const length = p[o] | (p[o + 1] << 8);
  if (o + 2 + length !== p.length) return "value length does not match the payload";
  if (tombstone && length > 0) return "a tombstone carries no value";
  const entry: Entry = { value: p.subarray(o + 2, o + 2 + length), version, tombstone };
  const put: ReplicaPut = { key: p.subarray(1, 1 + KEY), entry, remove: (flags & REMOVE) !== 0 };
  if (hint !== undefined) put.hint = hint;
  return put;
}

/**
 * Encodes the answer to a replica write.
 *
 * @example
 * ```ts
 * const r = decodeReplicaPutReply(encodeReplicaPutReply("stale", true, { t: 3, n: "b" }));
 * console.log(typeof r === "string" ? r : [r.status, r.existed, r.held?.t]); // ["stale", true, 3]
 * ```
 */
/** (The answer may be a shared constant: read it, do not write to it.) */
export function encodeReplicaPutReply(status: PutStatus, existed: boolean, held?: Version): Uint8Array {
  if (!held) return PLAIN_PUT_REPLIES[STATUSES.indexOf(status) * 2 + (existed ? 1 : 0)];
  const node = held ? encodedName(held.n) : undefined;
  const out = new Uint8Array(2 + (node ? 9 + node.length : 0));
  out[0] = STATUSES.indexOf(status);
  out[1] = existed ? 1 : 0;
  if (held && node) writeVersion(out, 2, held.t, node);
  return out;
}

/** Decodes the answer to a replica write; a string says why it was rejected. */
export function decodeReplicaPutReply(p: Uint8Array): ReplicaPutReply | string {
  if (p.length < 2 || p[0] >= STATUSES.length || p[1] > 1) return "malformed put reply";
  const reply: ReplicaPutReply = { status: STATUSES[p[0]], existed: p[1] === 1 };
  if (p.length === 2) return reply;
  const v = readVersion(p, 2);
  if (typeof v === "string") return v;
  if (versionEnd !== p.length) return "trailing bytes";
  reply.held = v;
  return reply;
}

/**
 * The payload of a replica read: the key's 32 bytes.
 *
 * @example
 * ```ts
 * console.log(decodeReplicaGet(new Uint8Array(32)) instanceof Uint8Array); // true
 * ```
 */
export function decodeReplicaGet(p: Uint8Array): Uint8Array | string {
  return p.length === KEY ? p : "a read carries exactly a 32-byte key";
}

/** A writer of a replica read's answer: the held entry, or none. */
export function replicaGetReplyWriter(entry: Entry | undefined): PayloadWriter {
  if (!entry) return NOT_FOUND;
  const node = encodedName(entry.version.n);
  const value = entry.tombstone ? EMPTY : entry.value;
  return {
    size: 2 + 8 + 1 + node.length + 2 + value.length,
    write(out: Uint8Array, o: number): void {
      out[o] = 1;
      out[o + 1] = entry.tombstone ? 1 : 0;
      o = writeVersion(out, o + 2, entry.version.t, node);
      out[o] = value.length;
      out[o + 1] = value.length >>> 8;
      out.set(value, o + 2);
    },
  };
}

/**
 * Decodes the answer to a replica read: the entry, `null` when none is held, or why it was rejected.
 *
 * @example
 * ```ts
 * const w = replicaGetReplyWriter(undefined);
 * const out = new Uint8Array(w.size);
 * w.write(out, 0);
 * console.log(decodeReplicaGetReply(out)); // null
 * ```
 */
export function decodeReplicaGetReply(p: Uint8Array): Entry | null | string {
  if (p.length === 1 && p[0] === 0) return null;
  if (p.length < 2 || p[0] !== 1 || p[1] > 1) return "malformed read reply";
  const v = readVersion(p, 2);
  if (typeof v === "string") return v;
  const o = versionEnd;
  if (o + 2 > p.length) return "truncated";
  const length = p[o] | (p[o + 1] << 8);
  if (o + 2 + length !== p.length) return "value length does not match the payload";
  const tombstone = p[1] === 1;
  if (tombstone && length > 0) return "a tombstone carries no value";
  return { value: p.subarray(o + 2, o + 2 + length), version: v, tombstone };
}

// One scratch float for every version time read or written (no DataView per message).
const scratch = new Uint8Array(8);
const scratchView = new DataView(scratch.buffer);

function writeVersion(out: Uint8Array, o: number, t: number, node: Uint8Array): number {
  scratchView.setFloat64(0, t, true);
  out.set(scratch, o);
  out[o + 8] = node.length;
  out.set(node, o + 9);
  return o + 9 + node.length;
}

// Where the last version read ended (so reading one allocates only the version itself).
let versionEnd = 0;

function readVersion(p: Uint8Array, o: number): Version | string {
  if (o + 9 > p.length) return "truncated version";
  for (let i = 0; i < 8; i++) scratch[i] = p[o + i];
  const t = scratchView.getFloat64(0, true);
  if (!Number.isFinite(t) || t < 0) return "invalid version time";
  const n = p[o + 8];
  if (o + 9 + n > p.length) return "truncated node id";
  versionEnd = o + 9 + n;
  return { t, n: nodeIdAt(p, o + 9, n) };
}

/** Node ids remembered by a hash of their bytes: a version names one of few coordinators. */
const NODE_ID_SLOTS = 256;
const nodeIdBytes: (Uint8Array | undefined)[] = new Array(NODE_ID_SLOTS);
const nodeIdTexts: string[] = new Array(NODE_ID_SLOTS);

/**
 * The node id of `length` bytes at `start`, decoded once per distinct id (the UTF-8 decoder is a
 * runtime call: 3.9 of them per replicated request before); a different id in the same slot
 * replaces it.
 */
function nodeIdAt(p: Uint8Array, start: number, length: number): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ p[start + i], 0x01000193);
  const slot = (h >>> 0) % NODE_ID_SLOTS;
  const known = nodeIdBytes[slot];
  if (known !== undefined && known.length === length) {
    let same = true;
    for (let i = 0; i < length && same; i++) same = known[i] === p[start + i];
    if (same) return nodeIdTexts[slot];
  }
  const bytes = p.slice(start, start + length);
  const text = utf8Decoder.decode(bytes);
  nodeIdBytes[slot] = bytes;
  nodeIdTexts[slot] = text;
  return text;
}

const EMPTY = new Uint8Array(0);
/** The answers without a held version, made once (the frame copies them; nothing writes to them). */
const PLAIN_PUT_REPLIES = STATUSES.flatMap((_, i) => [Uint8Array.of(i, 0), Uint8Array.of(i, 1)]);
const NOT_FOUND: PayloadWriter = {
  size: 1,
  write(out: Uint8Array, o: number): void {
    out[o] = 0;
  },
};
