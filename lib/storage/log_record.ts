/**
 * The binary records of the durable log (`log_persistence.ts`): one fixed layout, checked in
 * one place. Each record is
 *
 * ```
 * u32 LE  body length
 * body    kind u8, then by kind:
 *           set     key[32] | time f64 LE | flags u8 (1: tombstone) | node length u8 | node (UTF-8)
 *                   | value length u32 LE | value
 *           delete  key[32]
 *           clear   (nothing)
 * u32 LE  CRC-32 of the body
 * ```
 *
 * A record cut short by a crash, or whose checksum does not match, ends what is read.
 *
 * @module
 */
import zlib from "node:zlib";
import { utf8Decoder, utf8Encoder } from "../base/bytes.ts";
import type { Entry, StoreKey } from "./store.ts";

/** Kinds of record. */
export const RecordKind = { Set: 1, Delete: 2, Clear: 3 } as const;

const KEY_BYTES = 32;
/** Length and checksum around a body. */
const FRAMING_BYTES = 8;
/** Body bytes of a set before its node id and value. */
const SET_FIXED_BYTES = 1 + KEY_BYTES + 8 + 1 + 1 + 4;
/** Largest body accepted when reading: a value of at most 64 KiB and its fields. */
export const MAX_BODY_BYTES = SET_FIXED_BYTES + 255 + 65_536;
/** Largest record accepted when reading, framing included. */
export const MAX_RECORD_BYTES = MAX_BODY_BYTES + FRAMING_BYTES;
const TOMBSTONE_FLAG = 1;

const crc32 = (zlib as unknown as { crc32(data: Uint8Array): number }).crc32;

/** A record read back. `key` and `entry.value` are views of the buffer read. */
export type LogRecord =
  | { kind: typeof RecordKind.Set; key: Uint8Array; entry: Entry }
  | { kind: typeof RecordKind.Delete; key: Uint8Array }
  | { kind: typeof RecordKind.Clear };

/**
 * Encodes records into one growing buffer, so a turn's changes become one write.
 *
 * @example
 * ```ts
 * const w = new RecordWriter();
 * w.set("ab".repeat(32), { value: new Uint8Array([1]), version: { t: 5, n: "a" }, tombstone: false });
 * w.clear();
 * const kinds: number[] = [];
 * readRecords(w.bytes, 0, (r) => kinds.push(r.kind));
 * console.log(kinds); // [1, 3]
 * ```
 */
export class RecordWriter {
  #buf = new Uint8Array(64 * 1024);
  #view = new DataView(this.#buf.buffer);
  #length = 0;
  #pending = 0; // body bytes of the record being written
  #nodes = new Map<string, Uint8Array>();

  /** Bytes encoded so far (a view, valid until the next change). */
  get bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#length);
  }

  /** Number of bytes encoded so far. */
  get length(): number {
    return this.#length;
  }

  /** Forgets what was encoded. */
  reset(): void {
    this.#length = 0;
  }

  /** Encodes a set of `key` to `entry`. */
  set(key: StoreKey, entry: Entry): void {
    let node = this.#nodes.get(entry.version.n);
    if (node === undefined) {
      node = utf8Encoder.encode(entry.version.n);
      if (node.length > 255) throw new RangeError(`Node id "${entry.version.n}" is over 255 bytes`);
      if (this.#nodes.size > 4096) this.#nodes.clear();
      this.#nodes.set(entry.version.n, node);
    }
    const value = entry.tombstone ? EMPTY : entry.value;
    const o = this.#begin(SET_FIXED_BYTES + node.length + value.length, RecordKind.Set);
    writeKey(this.#buf, o, key);
    let p = o + KEY_BYTES;
    this.#view.setFloat64(p, entry.version.t, true);
    this.#buf[p + 8] = entry.tombstone ? TOMBSTONE_FLAG : 0;
    this.#buf[p + 9] = node.length;
    this.#buf.set(node, p + 10);
    p += 10 + node.length;
    this.#view.setUint32(p, value.length, true);
    this.#buf.set(value, p + 4);
    this.#end();
  }

  /** Encodes an outright delete of `key`. */
  delete(key: StoreKey): void {
    writeKey(this.#buf, this.#begin(1 + KEY_BYTES, RecordKind.Delete), key);
    this.#end();
  }

  /** Encodes a clear of every key. */
  clear(): void {
    this.#begin(1, RecordKind.Clear);
    this.#end();
  }

  // Reserves a record of `body` bytes; returns where the body's fields after the kind go.
  #begin(body: number, kind: number): number {
    const need = this.#length + FRAMING_BYTES + body;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#length));
      this.#buf = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#view.setUint32(this.#length, body, true);
    this.#buf[this.#length + 4] = kind;
    this.#pending = body;
    return this.#length + 5;
  }

  #end(): void {
    const start = this.#length + 4, end = start + this.#pending;
    this.#view.setUint32(end, crc32(this.#buf.subarray(start, end)) >>> 0, true);
    this.#length = end + 4;
  }
}

/** How reading a buffer of records ended. */
export interface ReadResult {
  /** Offset just after the last whole, valid record. */
  end: number;
  /** `complete`: the buffer ended on a record boundary; `short`: a record runs past it; `bad`: a damaged record. */
  status: "complete" | "short" | "bad";
}

/**
 * Reads the records of `buf` from `start`, calling `visit` for each, until the buffer ends or a
 * record is cut short or damaged (see {@linkcode ReadResult}).
 *
 * @example
 * ```ts
 * const w = new RecordWriter();
 * w.delete("00".repeat(32));
 * console.log(readRecords(w.bytes.subarray(0, 10), 0, () => {}).status); // "short"
 * ```
 */
export function readRecords(buf: Uint8Array, start: number, visit: (r: LogRecord) => void): ReadResult {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = start;
  while (o < buf.length) {
    if (o + 4 > buf.length) return { end: o, status: "short" };
    const body = view.getUint32(o, true);
    if (body < 1 || body > MAX_BODY_BYTES) return { end: o, status: "bad" };
    if (o + FRAMING_BYTES + body > buf.length) return { end: o, status: "short" };
    const b = o + 4, next = b + body + 4;
    if (view.getUint32(b + body, true) !== crc32(buf.subarray(b, b + body)) >>> 0) return { end: o, status: "bad" };
    const record = decodeBody(buf, view, b, body);
    if (!record) return { end: o, status: "bad" };
    visit(record);
    o = next;
  }
  return { end: o, status: "complete" };
}

function decodeBody(buf: Uint8Array, view: DataView, b: number, body: number): LogRecord | undefined {
  const kind = buf[b];
  if (kind === RecordKind.Clear) return body === 1 ? { kind } : undefined;
  if (body < 1 + KEY_BYTES) return undefined;
  const key = buf.subarray(b + 1, b + 1 + KEY_BYTES);
  if (kind === RecordKind.Delete) return body === 1 + KEY_BYTES ? { kind, key } : undefined;
  if (kind !== RecordKind.Set || body < SET_FIXED_BYTES) return undefined;
  let p = b + 1 + KEY_BYTES;
  const t = view.getFloat64(p, true), flags = buf[p + 8], nodeLength = buf[p + 9];
  p += 10;
  if (body !== SET_FIXED_BYTES + nodeLength + view.getUint32(p + nodeLength, true)) return undefined;
  const n = utf8Decoder.decode(buf.subarray(p, p + nodeLength));
  p += nodeLength;
  const length = view.getUint32(p, true);
  const value = buf.subarray(p + 4, p + 4 + length);
  return { kind, key, entry: { value, version: { t, n }, tombstone: (flags & TOMBSTONE_FLAG) !== 0 } };
}

function writeKey(out: Uint8Array, o: number, key: StoreKey): void {
  if (typeof key !== "string") {
    out.set(key, o);
    return;
  }
  if (!/^[0-9a-fA-F]{64}$/.test(key)) throw new TypeError(`Invalid key "${key}": expected 64 hex digits`);
  for (let i = 0; i < KEY_BYTES; i++) out[o + i] = parseInt(key.slice(2 * i, 2 * i + 2), 16);
}

const EMPTY = new Uint8Array(0);
