/**
 * The fleet table's messages (internal commands 0x41–0x43 of the monitoring family), Scuttlebutt
 * push-pull with deltas only:
 *
 * - `Digest` (A → B): the versions A holds for the rows whose key hash lies in `[lo, hi]`:
 *   `lo u32 | hi u32 | count u16 | count × (hash u32, version u32)`;
 * - `Request` (B → A): rows B wants, with the version it holds (0 = none):
 *   `count u16 | count × (hash u32, version u32)`;
 * - `Rows` (either way): full rows newer than what the other side holds:
 *   `count u16 | count × row` (`fleet/row.ts`).
 *
 * Every message fits one datagram ({@linkcode FLEET_CHUNK_BYTES}); a digest of a large table is
 * cut into hash ranges. Rows are keyed by address; the 32-bit FNV-1a hash of the address stands for
 * it in digests and requests (a collision costs a few extra rows, never a wrong one: rows carry
 * their address).
 *
 * @module
 */
import { utf8Encoder } from "../../base/bytes.ts";
import { InternalCommand } from "../../wire/envelope.ts";
import { ByteReader, ByteWriter, type FleetRow, readRow, rowBytes, utf8Length, writeRow } from "./row.ts";

/** Command codes of the fleet table (in the monitoring range 0x40–0x4F; 0x40 is the round). */
export const FleetCommand = {
  /** Versions held, for one hash range. */
  Digest: InternalCommand.MonitoringBase + 1,
  /** Rows wanted. */
  Request: InternalCommand.MonitoringBase + 2,
  /** Rows. */
  Rows: InternalCommand.MonitoringBase + 3,
} as const;

/** Payload bytes of one fleet message at most: one datagram with the frame's header and tag under an Ethernet MTU. */
export const FLEET_CHUNK_BYTES = 1_200;
/** Entries of one digest or request message at most. */
export const MAX_ENTRIES = Math.floor((FLEET_CHUNK_BYTES - 10) / 8);
/** Rows of one message at most (an implausible number of tiny rows is refused). */
export const MAX_ROWS_PER_MESSAGE = 64;

/** A (key hash, version) pair. */
export interface VersionEntry {
  /** FNV-1a hash of the row's address. */
  hash: number;
  /** Version (0 = none). */
  version: number;
}

/** A digest chunk: the versions held for hashes in `[lo, hi]`. */
export interface Digest {
  /** Lowest hash covered. */
  lo: number;
  /** Highest hash covered. */
  hi: number;
  /** Entries, hashes in `[lo, hi]`. */
  entries: VersionEntry[];
}

/**
 * The 32-bit FNV-1a hash of an address (its stand-in in digests).
 *
 * @example
 * ```ts
 * console.log(addressHash("127.0.0.1:4000") === addressHash("127.0.0.1:4000")); // true
 * ```
 */
export function addressHash(address: string): number {
  let h = 0x811c9dc5;
  const ascii = utf8Length(address) === address.length;
  const bytes = ascii ? undefined : utf8Encoder.encode(address);
  const n = bytes ? bytes.length : address.length;
  for (let i = 0; i < n; i++) {
    h ^= bytes ? bytes[i] : address.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Encodes a digest chunk. */
export function encodeDigest(d: Digest): Uint8Array {
  if (d.entries.length > MAX_ENTRIES) throw new RangeError(`A digest chunk holds at most ${MAX_ENTRIES} entries`);
  const w = new ByteWriter(10 + 8 * d.entries.length);
  w.u32(d.lo);
  w.u32(d.hi);
  writeEntries(w, d.entries);
  return w.done();
}

/** Decodes a digest chunk; null when malformed (never throws). */
export function decodeDigest(payload: Uint8Array): Digest | null {
  try {
    const r = new ByteReader(payload);
    const lo = r.u32(), hi = r.u32();
    const entries = readEntries(r);
    if (lo > hi || r.left !== 0) return null;
    for (const e of entries) if (e.hash < lo || e.hash > hi) return null;
    return { lo, hi, entries };
  } catch {
    return null;
  }
}

/** A digest chunk as two parallel arrays: what a node reads every gossip interval, without an object per entry. */
export interface PackedDigest {
  /** Lowest hash covered. */
  lo: number;
  /** Highest hash covered. */
  hi: number;
  /** Hashes of the entries, each in `[lo, hi]`. */
  hashes: Uint32Array;
  /** Their versions. */
  versions: Uint32Array;
}

/**
 * Decodes a digest chunk into a {@linkcode PackedDigest}; null when malformed, exactly when
 * {@linkcode decodeDigest} returns null (never throws).
 *
 * @example
 * ```ts
 * const d = decodePackedDigest(encodeDigest({ lo: 0, hi: 9, entries: [{ hash: 7, version: 3 }] }));
 * console.log(d?.hashes[0], d?.versions[0]); // 7 3
 * ```
 */
export function decodePackedDigest(payload: Uint8Array): PackedDigest | null {
  if (payload.length < 10) return null;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const lo = view.getUint32(0, true), hi = view.getUint32(4, true), n = view.getUint16(8, true);
  if (n > MAX_ENTRIES || payload.length !== 10 + 8 * n || lo > hi) return null;
  const hashes = new Uint32Array(n), versions = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const hash = view.getUint32(10 + 8 * i, true);
    if (hash < lo || hash > hi) return null;
    hashes[i] = hash;
    versions[i] = view.getUint32(14 + 8 * i, true);
  }
  return { lo, hi, hashes, versions };
}

/** Encodes a request. */
export function encodeRequest(entries: readonly VersionEntry[]): Uint8Array {
  if (entries.length > MAX_ENTRIES) throw new RangeError(`A request holds at most ${MAX_ENTRIES} entries`);
  const w = new ByteWriter(2 + 8 * entries.length);
  writeEntries(w, entries);
  return w.done();
}

/** Decodes a request; null when malformed. */
export function decodeRequest(payload: Uint8Array): VersionEntry[] | null {
  try {
    const r = new ByteReader(payload);
    const entries = readEntries(r);
    return r.left === 0 ? entries : null;
  } catch {
    return null;
  }
}

/** Encodes rows (the caller keeps them within {@linkcode FLEET_CHUNK_BYTES}: see {@linkcode chunkRows}). */
export function encodeRows(rows: readonly FleetRow[]): Uint8Array {
  if (rows.length > MAX_ROWS_PER_MESSAGE) throw new RangeError(`A message holds at most ${MAX_ROWS_PER_MESSAGE} rows`);
  const w = new ByteWriter(2 + rows.reduce((s, r) => s + rowBytes(r), 0));
  w.u16(rows.length);
  for (const row of rows) writeRow(w, row);
  return w.done();
}

/** Decodes rows, each validated; null when anything is malformed. */
export function decodeRows(payload: Uint8Array): FleetRow[] | null {
  try {
    const r = new ByteReader(payload);
    const n = r.u16();
    if (n > MAX_ROWS_PER_MESSAGE) return null;
    const rows: FleetRow[] = [];
    for (let i = 0; i < n; i++) rows.push(readRow(r));
    return r.left === 0 ? rows : null;
  } catch {
    return null;
  }
}

/** Cuts `rows` into messages of at most {@linkcode FLEET_CHUNK_BYTES}. */
export function chunkRows(rows: readonly FleetRow[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let batch: FleetRow[] = [];
  let size = 2;
  for (const row of rows) {
    const b = rowBytes(row);
    if (batch.length > 0 && (size + b > FLEET_CHUNK_BYTES || batch.length >= MAX_ROWS_PER_MESSAGE)) {
      out.push(encodeRows(batch));
      batch = [];
      size = 2;
    }
    batch.push(row);
    size += b;
  }
  if (batch.length > 0) out.push(encodeRows(batch));
  return out;
}

/**
 * Cuts sorted (by hash) entries into digest chunks covering the whole hash space, never splitting
 * one hash across two chunks.
 */
export function chunkDigest(sorted: readonly VersionEntry[]): Digest[] {
  return digestRanges(sorted).map(({ lo, hi, start, end }) => ({ lo, hi, entries: sorted.slice(start, end) }));
}

/** One digest chunk's hash range and the slice `[start, end)` of the sorted entries it holds. */
interface DigestRange {
  lo: number;
  hi: number;
  start: number;
  end: number;
}

/**
 * Cuts entries sorted by hash into chunks of at most {@linkcode MAX_ENTRIES} covering the whole
 * hash space (one chunk when there is none), never splitting one hash across two chunks.
 */
function digestRanges(sorted: readonly { hash: number }[]): DigestRange[] {
  const out: DigestRange[] = [];
  let lo = 0;
  let i = 0;
  while (i < sorted.length || out.length === 0) {
    let end = Math.min(sorted.length, i + MAX_ENTRIES);
    while (end < sorted.length && end > i + 1 && sorted[end].hash === sorted[end - 1].hash) end--;
    const last = end >= sorted.length;
    const hi = last ? 0xffff_ffff : sorted[end - 1].hash;
    out.push({ lo, hi, start: i, end });
    if (last) break;
    lo = hi + 1;
    i = end;
  }
  return out;
}

/** A row's stand-in in a digest: its address hash and version (a table entry fits). */
export interface HashedVersion {
  /** FNV-1a hash of the row's address. */
  hash: number;
  /** The row (only its version is read). */
  row: { version: number };
}

/**
 * Encodes the digest of `sorted` (sorted by hash) as its chunks: the same bytes as
 * `chunkDigest(entries).map(encodeDigest)`, without building an entry per row (a node sends its
 * digest every gossip interval, so this runs n times a second across a fleet of n).
 *
 * @example
 * ```ts
 * const chunks = encodeSortedDigest([{ hash: 7, row: { version: 3 } }]);
 * console.log(chunks.length, decodeDigest(chunks[0])?.entries); // 1 [ { hash: 7, version: 3 } ]
 * ```
 */
export function encodeSortedDigest(sorted: readonly HashedVersion[]): Uint8Array[] {
  return digestRanges(sorted).map(({ lo, hi, start, end }) => {
    const w = new ByteWriter(10 + 8 * (end - start));
    w.u32(lo);
    w.u32(hi);
    w.u16(end - start);
    for (let k = start; k < end; k++) {
      w.u32(sorted[k].hash);
      w.u32(sorted[k].row.version);
    }
    return w.done();
  });
}

function writeEntries(w: ByteWriter, entries: readonly VersionEntry[]): void {
  w.u16(entries.length);
  for (const e of entries) {
    w.u32(e.hash);
    w.u32(e.version);
  }
}

function readEntries(r: ByteReader): VersionEntry[] {
  const n = r.u16();
  if (n > MAX_ENTRIES) throw new RangeError("too many entries");
  const out: VersionEntry[] = [];
  for (let i = 0; i < n; i++) out.push({ hash: r.u32(), version: r.u32() });
  return out;
}
