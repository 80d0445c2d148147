/**
 * One row of the fleet table: a node's summary (state, program version, uptime, keys, bytes,
 * capacity used, request and error rates, load, RSS, disk free, the members it sees), versioned
 * by its origin, and its typed binary codec with the one validator every decoded row passes.
 *
 * Layout (little-endian): `addrLen u8 | addr | version u32 | updatedAt f64 | state u8 |
 * progLen u8 | program | uptime u32 | keys f64 | bytes f64 | capacityUsed f32 | rps f32 |
 * errorsPerSec f32 | load f32 | rss f64 | diskFree f64 | alive u16 | suspect u16 | dead u16`.
 * A missing number (no `--allow-sys`, say) travels as NaN.
 *
 * @module
 */
import { utf8Decoder, utf8Encoder } from "../../base/bytes.ts";
import { parseAddress } from "../../net/transport.ts";

/** What a node says about itself: running, or gone on purpose (SIGTERM, shutdown). */
export type RowState = "ok" | "left";

/** A node's summary as its origin wrote it. */
export interface FleetRow {
  /** The origin's address (host:port): the row's key. */
  node: string;
  /** Only the origin advances it (max(previous + 1, its clock in seconds), so a restart continues). */
  version: number;
  /** The origin's clock when it wrote this version (ms since epoch). */
  updatedAt: number;
  /** What the origin says of itself. */
  state: RowState;
  /** Program version and build ("0.1.0 (source)"). */
  program: string;
  /** Seconds since the node started. */
  uptimeS: number;
  /** Live keys. */
  keys: number;
  /** Bytes stored. */
  bytesStored: number;
  /** Store capacity used (%). */
  capacityUsed: number;
  /** Client requests per second. */
  rps: number;
  /** Error replies per second. */
  errorsPerSec: number;
  /** 1-minute load average (NaN when unavailable). */
  load: number;
  /** Resident set size (bytes, NaN when unavailable). */
  rss: number;
  /** Free disk of the data dir (bytes, NaN when unavailable). */
  diskFree: number;
  /** Members alive as the origin sees them (itself included). */
  alive: number;
  /** Members suspect as the origin sees them. */
  suspect: number;
  /** Members dead or left as the origin sees them. */
  dead: number;
}

/** Limits of a row (named so encoder, decoder and docs agree). */
export const ROW_LIMITS = {
  /** Bytes of an address. */
  maxAddressBytes: 64,
  /** Bytes of the program string. */
  maxProgramBytes: 48,
  /** Largest encoded row. */
  maxRowBytes: 1 + 64 + 4 + 8 + 1 + 1 + 48 + 4 + 8 + 8 + 4 * 4 + 8 + 8 + 6,
} as const;

const FIXED_BYTES = 4 + 8 + 1 + 1 + 4 + 8 + 8 + 4 * 4 + 8 + 8 + 6 + 1;
const STATES: readonly RowState[] = ["ok", "left"];

/** Bytes `row` takes encoded. */
export function rowBytes(row: FleetRow): number {
  return FIXED_BYTES + utf8Length(row.node) + utf8Length(row.program);
}

/**
 * Bytes of `s` in UTF-8, without encoding it.
 *
 * @example
 * ```ts
 * console.log(utf8Length("é1")); // 3
 * ```
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4; // a surrogate pair: one 4-byte character
      i++;
    } else n += 3;
  }
  return n;
}

/** A byte writer over a growing-free buffer sized by the caller. */
export class ByteWriter {
  /** The buffer. */
  readonly bytes: Uint8Array;
  /** Bytes written. */
  offset = 0;
  #view: DataView;

  /** A writer of at most `capacity` bytes. */
  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
    this.#view = new DataView(this.bytes.buffer);
  }

  /** Writes an unsigned byte. */
  u8(v: number): void {
    this.#view.setUint8(this.offset++, v);
  }
  /** Writes an unsigned 16-bit integer. */
  u16(v: number): void {
    this.#view.setUint16(this.offset, v, true);
    this.offset += 2;
  }
  /** Writes an unsigned 32-bit integer. */
  u32(v: number): void {
    this.#view.setUint32(this.offset, v, true);
    this.offset += 4;
  }
  /** Writes a 32-bit float. */
  f32(v: number): void {
    this.#view.setFloat32(this.offset, v, true);
    this.offset += 4;
  }
  /** Writes a 64-bit float. */
  f64(v: number): void {
    this.#view.setFloat64(this.offset, v, true);
    this.offset += 8;
  }
  /** Writes a short string (u8 length, UTF-8, at most `max` bytes). */
  str(s: string, max: number): void {
    const n = utf8Length(s);
    if (n > max) throw new RangeError(`A string of ${n} bytes is over its limit of ${max}`);
    this.u8(n);
    utf8Encoder.encodeInto(s, this.bytes.subarray(this.offset, this.offset + n));
    this.offset += n;
  }
  /** The bytes written so far. */
  done(): Uint8Array {
    return this.bytes.subarray(0, this.offset);
  }
}

/** A bounds-checked byte reader: every read past the end throws {@linkcode RangeError} (decoders catch it). */
export class ByteReader {
  #bytes: Uint8Array;
  #view: DataView;
  /** Bytes read. */
  offset = 0;

  /** A reader of `bytes`. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes left. */
  get left(): number {
    return this.#bytes.length - this.offset;
  }
  #need(n: number): number {
    if (this.offset + n > this.#bytes.length) throw new RangeError("truncated");
    const at = this.offset;
    this.offset += n;
    return at;
  }
  /** Reads an unsigned byte. */
  u8(): number {
    return this.#view.getUint8(this.#need(1));
  }
  /** Reads an unsigned 16-bit integer. */
  u16(): number {
    return this.#view.getUint16(this.#need(2), true);
  }
  /** Reads an unsigned 32-bit integer. */
  u32(): number {
    return this.#view.getUint32(this.#need(4), true);
  }
  /** Reads a 32-bit float. */
  f32(): number {
    return this.#view.getFloat32(this.#need(4), true);
  }
  /** Reads a 64-bit float. */
  f64(): number {
    return this.#view.getFloat64(this.#need(8), true);
  }
  /** Reads a short string of at most `max` bytes. */
  str(max: number): string {
    const n = this.u8();
    if (n > max) throw new RangeError("string too long");
    const at = this.#need(n);
    const b = this.#bytes;
    let ascii = true;
    for (let i = at; i < at + n && ascii; i++) ascii = b[i] < 0x80;
    // ASCII (every address, most program strings): the same string as the decoder's, without a runtime call per string.
    if (ascii) return String.fromCharCode.apply(null, b.subarray(at, at + n) as unknown as number[]);
    return utf8Decoder.decode(b.subarray(at, at + n));
  }
}

/** Appends `row` to `w` (the caller sized `w` with {@linkcode rowBytes}). */
export function writeRow(w: ByteWriter, row: FleetRow): void {
  w.str(row.node, ROW_LIMITS.maxAddressBytes);
  w.u32(row.version);
  w.f64(row.updatedAt);
  w.u8(STATES.indexOf(row.state));
  w.str(row.program, ROW_LIMITS.maxProgramBytes);
  w.u32(clampU32(row.uptimeS));
  w.f64(row.keys);
  w.f64(row.bytesStored);
  w.f32(row.capacityUsed);
  w.f32(row.rps);
  w.f32(row.errorsPerSec);
  w.f32(row.load);
  w.f64(row.rss);
  w.f64(row.diskFree);
  w.u16(clampU16(row.alive));
  w.u16(clampU16(row.suspect));
  w.u16(clampU16(row.dead));
}

/** Reads one row from `r` and validates it; throws {@linkcode RangeError} when it is not a valid row. */
export function readRow(r: ByteReader): FleetRow {
  const row: FleetRow = {
    node: r.str(ROW_LIMITS.maxAddressBytes),
    version: r.u32(),
    updatedAt: r.f64(),
    state: STATES[r.u8()],
    program: r.str(ROW_LIMITS.maxProgramBytes),
    uptimeS: r.u32(),
    keys: r.f64(),
    bytesStored: r.f64(),
    capacityUsed: f32(r.f32()),
    rps: f32(r.f32()),
    errorsPerSec: f32(r.f32()),
    load: f32(r.f32()),
    rss: r.f64(),
    diskFree: r.f64(),
    alive: r.u16(),
    suspect: r.u16(),
    dead: r.u16(),
  };
  const problem = rowProblem(row);
  if (problem) throw new RangeError(problem);
  return row;
}

/** The one validator: what is wrong with `row`, or undefined when it is a valid row. */
export function rowProblem(row: FleetRow): string | undefined {
  if (row.state === undefined) return "unknown row state";
  try {
    parseAddress(row.node);
  } catch {
    return `row key "${row.node.slice(0, 64)}" is not host:port`;
  }
  if (row.version < 1) return "row version must be at least 1";
  if (!Number.isFinite(row.updatedAt) || row.updatedAt < 0) return "row time must be a finite time";
  for (const k of ["keys", "bytesStored", "capacityUsed", "rps", "errorsPerSec", "load", "rss", "diskFree"] as const) {
    const v = row[k];
    if (!Number.isNaN(v) && (!Number.isFinite(v) || v < 0)) return `row field ${k} must be a number ≥ 0 or NaN`;
  }
  return undefined;
}

/** A 32-bit float read back with three decimals (0.61 rather than 0.6100000143051147). */
function f32(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 1000) / 1000 : v;
}

function clampU32(v: number): number {
  return Number.isFinite(v) ? Math.min(0xffff_ffff, Math.max(0, Math.round(v))) : 0;
}
function clampU16(v: number): number {
  return Number.isFinite(v) ? Math.min(0xffff, Math.max(0, Math.round(v))) : 0;
}
