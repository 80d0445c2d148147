/**
 * A hash table of 32-byte keys in typed arrays, laid out like a compact dict:
 * each key has a 48-byte record (the key as 8 words, the version time and two
 * packed words of the caller's fields) in a dense array of records, and a
 * separate open-addressing index of (hash, record) pairs finds it. A lookup
 * reads one index line and one record line, instead of following a map's
 * pointers to a key string and an entry object.
 *
 * Records never move: a key keeps its record number until it is removed (the
 * number is then reused), and records beyond the first 16,384 come in chunks of
 * that many (768 KiB), so growing allocates a chunk instead of copying every
 * record. Only the index (8 bytes a slot, at most half full) is rebuilt when it
 * doubles: at a million keys a table of records doubling in place paused writes
 * for a second; the index rebuild takes tens of milliseconds.
 *
 * A record is packed to 48 bytes (it was 64, with a word each for the hash,
 * flags, node, segment, offset and length): the hash is recomputed from the key
 * when a key is removed, the value's place is one word (segment and offset / 8)
 * and its length, flags and node index share another. Hence the limits below
 * ({@linkcode MAX_SEGMENT}, {@linkcode MAX_VALUE_OFFSET}, {@linkcode MAX_NODE_INDEX}).
 *
 * Keys are given as 64-character hex strings (the store's key form); a key is
 * parsed into the table's scratch words by {@linkcode KeyTable.parse} first.
 *
 * @module
 */
import { assert } from "../base/assert.ts";
import { toHex } from "../base/bytes.ts";
import { HashIndex } from "./hash_index.ts";

/** Int32 words per record (48 bytes). */
const RECORD_WORDS = 12;
/** Record layout (int32 index within a record; words 8–9 hold the time as a float64). */
const LOCATION = 10, META = 11;
/** Float64 index of the time within a record. */
const TIME = 4;
/** META: the value length in bits 0–15, then the flags, then the node index in bits 18–31. */
const LENGTH_MASK = 0xffff, USED = 1 << 16, TOMBSTONE = 1 << 17, NODE_SHIFT = 18;
/** LOCATION: segment + 1 in bits 23–31 (0: no segment), offset / 8 in bits 0–22. */
const SEGMENT_SHIFT = 23, OFFSET_MASK = (1 << SEGMENT_SHIFT) - 1, OFFSET_UNIT = 8;

/** Largest segment number a record holds (−1, no segment, is held too). */
export const MAX_SEGMENT = (1 << (32 - SEGMENT_SHIFT)) - 2;
/** Value offsets are multiples of 8 below this (64 MiB). */
export const MAX_VALUE_OFFSET = (OFFSET_MASK + 1) * OFFSET_UNIT;
/** Largest value length a record holds. */
export const MAX_RECORD_VALUE_LENGTH = LENGTH_MASK;
/** Largest node index a record holds. */
export const MAX_NODE_INDEX = (1 << (32 - NODE_SHIFT)) - 1;

const CHUNK_SHIFT = 14;
/** Records per chunk (the first chunk grows by doubling up to this many). */
const CHUNK_RECORDS = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_RECORDS - 1;
const FIRST_CHUNK_RECORDS = 16;
const MIN_INDEX_SLOTS = 32;

/**
 * Records of 32-byte keys with a version time, a node index, a value location and a
 * tombstone flag each, found by key through a hash index.
 *
 * @example
 * ```ts
 * const t = new KeyTable();
 * t.parse("ab".repeat(32));
 * const slot = t.insert();
 * t.setTime(slot, 5);
 * t.parse("ab".repeat(32));
 * console.log(t.find() === slot, t.time(slot), t.hexAt(slot) === "ab".repeat(32)); // true 5 true
 * ```
 */
export class KeyTable {
  #words: Int32Array[] = [];
  #times: Float64Array[] = [];
  #bytes: Uint8Array[] = [];
  #high = 0; // record numbers handed out: 0 … #high − 1
  #free: number[] = []; // removed record numbers, reused first
  #index = new HashIndex(MIN_INDEX_SLOTS);
  // The parsed key: its 32 bytes, read as 8 words (in the platform's byte order, as records are).
  #keyBytes = new Uint8Array(32);
  #key = new Int32Array(this.#keyBytes.buffer);
  #hash = 0;

  /** Keys held. */
  get size(): number {
    return this.#index.size;
  }

  /** Record numbers in use or free: records are 0 … capacity − 1 (see {@linkcode KeyTable.used}). */
  get capacity(): number {
    return this.#high;
  }

  /** Slots of the index (a power of two, at least twice the keys held). */
  get indexSlots(): number {
    return this.#index.capacity;
  }

  /**
   * Parses `hex` (64 hex digits) as the key of the next find/insert. Throws `TypeError`
   * for anything else.
   */
  parse(hex: string): void {
    if (hex.length !== 64) throw notAKey(hex);
    const bytes = this.#keyBytes;
    for (let i = 0; i < 32; i++) {
      const high = nibble(hex.charCodeAt(2 * i)), low = nibble(hex.charCodeAt(2 * i + 1));
      if ((high | low) < 0) throw notAKey(hex);
      bytes[i] = (high << 4) | low;
    }
    this.#hashParsed();
  }

  /**
   * Takes the 32 bytes of `key` as the key of the next find/insert (no hex on the request
   * path). Throws `TypeError` for any other length.
   */
  parseBytes(key: Uint8Array): void {
    if (key.length !== 32) throw new TypeError(`Invalid key: expected 32 bytes, got ${key.length}`);
    this.#keyBytes.set(key);
    this.#hashParsed();
  }

  /** Either form: 64 hex digits or 32 bytes. */
  parseKey(key: string | Uint8Array): void {
    if (typeof key === "string") this.parse(key);
    else this.parseBytes(key);
  }

  #hashParsed(): void {
    this.#hash = hashWords(this.#key, 0);
  }

  /** The record of the parsed key, or −1. */
  find(): number {
    const index = this.#index, hash = this.#hash, key = this.#key;
    for (let slot = index.seek(hash); index.occupied(slot); slot = index.seek(hash, slot)) {
      const record = index.record(slot);
      const words = this.#words[record >>> CHUNK_SHIFT], b = (record & CHUNK_MASK) * RECORD_WORDS;
      if (
        words[b] === key[0] && words[b + 1] === key[1] && words[b + 2] === key[2] && words[b + 3] === key[3] &&
        words[b + 4] === key[4] && words[b + 5] === key[5] && words[b + 6] === key[6] && words[b + 7] === key[7]
      ) return record;
    }
    return -1;
  }

  /** Adds the parsed key (which must not be held) and returns its record number. */
  insert(): number {
    const index = this.#index;
    if ((index.size + 1) * 2 > index.capacity) index.resize(index.capacity * 2);
    const record = this.#free.length > 0 ? this.#free.pop()! : this.#newRecord();
    const words = this.#words[record >>> CHUNK_SHIFT], b = (record & CHUNK_MASK) * RECORD_WORDS;
    words.set(this.#key, b);
    words[b + META] = USED;
    index.add(this.#hash, record);
    return record;
  }

  /** Removes the key of `record` (its number may be handed out again by a later insert). */
  remove(record: number): void {
    const words = this.#words[record >>> CHUNK_SHIFT], b = (record & CHUNK_MASK) * RECORD_WORDS;
    this.#index.remove(hashWords(words, b), record);
    words.fill(0, b, b + RECORD_WORDS);
    this.#free.push(record);
  }

  /** Forgets every key. */
  clear(): void {
    this.#words = [];
    this.#times = [];
    this.#bytes = [];
    this.#high = 0;
    this.#free = [];
    this.#index.reset(MIN_INDEX_SLOTS);
  }

  /** Whether `record` holds a key. */
  used(record: number): boolean {
    return (this.#meta(record) & USED) !== 0;
  }

  /** The key of `record` as 64 hex digits. */
  hexAt(record: number): string {
    const start = (record & CHUNK_MASK) * RECORD_WORDS * 4;
    return toHex(this.#bytes[record >>> CHUNK_SHIFT].subarray(start, start + 32));
  }

  /** The key of `record` as 32 bytes (a view of the table: copy it before the table changes). */
  keyAt(record: number): Uint8Array {
    const start = (record & CHUNK_MASK) * RECORD_WORDS * 4;
    return this.#bytes[record >>> CHUNK_SHIFT].subarray(start, start + 32);
  }

  /** Whether the entry of `record` is a tombstone. */
  tombstone(record: number): boolean {
    return (this.#meta(record) & TOMBSTONE) !== 0;
  }

  /** Sets or clears the tombstone flag of `record`. */
  setTombstone(record: number, tombstone: boolean): void {
    const meta = this.#meta(record) & ~TOMBSTONE;
    this.#setMeta(record, tombstone ? meta | TOMBSTONE : meta);
  }

  /** Version time of `record`. */
  time(record: number): number {
    return this.#times[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * (RECORD_WORDS / 2) + TIME];
  }

  /** Sets the version time of `record`. */
  setTime(record: number, t: number): void {
    this.#times[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * (RECORD_WORDS / 2) + TIME] = t;
  }

  /** The caller's node index of `record`. */
  node(record: number): number {
    return this.#meta(record) >>> NODE_SHIFT;
  }

  /** Sets the caller's node index of `record` (0 … {@linkcode MAX_NODE_INDEX}). */
  setNode(record: number, node: number): void {
    assert(node >= 0 && node <= MAX_NODE_INDEX && Number.isInteger(node), `node index ${node} out of range`);
    this.#setMeta(record, (this.#meta(record) & ((1 << NODE_SHIFT) - 1)) | (node << NODE_SHIFT));
  }

  /** Where the value of `record` is: the caller's segment number (see {@linkcode KeyTable.setLocation}). */
  segment(record: number): number {
    return (this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + LOCATION] >>> SEGMENT_SHIFT) -
      1;
  }

  /** Where the value of `record` starts in its segment. */
  offset(record: number): number {
    return (this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + LOCATION] & OFFSET_MASK) *
      OFFSET_UNIT;
  }

  /** Length of the value of `record`. */
  length(record: number): number {
    return this.#meta(record) & LENGTH_MASK;
  }

  /**
   * Records where the value of `record` is kept: a segment number (−1 … {@linkcode MAX_SEGMENT}), an
   * offset (a multiple of 8 below {@linkcode MAX_VALUE_OFFSET}) and a length (up to
   * {@linkcode MAX_RECORD_VALUE_LENGTH}).
   */
  setLocation(record: number, segment: number, offset: number, length: number): void {
    assert(segment >= -1 && segment <= MAX_SEGMENT, `segment ${segment} out of range`);
    assert(
      offset >= 0 && offset < MAX_VALUE_OFFSET && offset % OFFSET_UNIT === 0,
      `value offset ${offset} out of range`,
    );
    assert(length >= 0 && length <= MAX_RECORD_VALUE_LENGTH, `value length ${length} out of range`);
    const words = this.#words[record >>> CHUNK_SHIFT], b = (record & CHUNK_MASK) * RECORD_WORDS;
    words[b + LOCATION] = ((segment + 1) << SEGMENT_SHIFT) | (offset / OFFSET_UNIT);
    words[b + META] = (words[b + META] & ~LENGTH_MASK) | length;
  }

  #meta(record: number): number {
    return this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + META];
  }

  #setMeta(record: number, meta: number): void {
    this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + META] = meta;
  }

  // A record number never handed out: the first chunk doubles up to a full chunk (a small
  // table stays small), then full chunks are added.
  #newRecord(): number {
    const record = this.#high++;
    const chunk = record >>> CHUNK_SHIFT, within = record & CHUNK_MASK;
    if (chunk === this.#words.length) {
      this.#setChunk(chunk, new Int32Array((chunk === 0 ? FIRST_CHUNK_RECORDS : CHUNK_RECORDS) * RECORD_WORDS));
    } else if (within * RECORD_WORDS === this.#words[chunk].length) { // the first chunk, full: double it
      const grown = new Int32Array(this.#words[chunk].length * 2);
      grown.set(this.#words[chunk]);
      this.#setChunk(chunk, grown);
    }
    return record;
  }

  #setChunk(chunk: number, words: Int32Array): void {
    this.#words[chunk] = words;
    this.#times[chunk] = new Float64Array(words.buffer);
    this.#bytes[chunk] = new Uint8Array(words.buffer);
  }
}

// The hash of the 8 key words at `words[b]` (never 0: 0 marks an empty index slot).
function hashWords(words: Int32Array, b: number): number {
  let h = 0x2f4a1b37;
  for (let w = 0; w < 8; w++) {
    h = Math.imul(h ^ words[b + w], 0x9e3779b1);
    h ^= h >>> 15;
  }
  return h === 0 ? 1 : h;
}

function notAKey(hex: string): TypeError {
  return new TypeError(`Store keys are 64 hex digits (32 bytes), got ${JSON.stringify(hex)}`);
}

// The value of a hex digit's char code, or −1.
function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
