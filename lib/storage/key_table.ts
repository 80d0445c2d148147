/**
 * A hash table of 32-byte keys in typed arrays, laid out like a compact dict:
 * each key has a 64-byte record (the key as 8 words, its hash, and the caller's
 * fields) in a dense array of records, and a separate open-addressing index of
 * (hash, record) pairs finds it. A lookup reads one index line and one record
 * line, instead of following a map's pointers to a key string and an entry
 * object.
 *
 * Records never move: a key keeps its record number until it is removed (the
 * number is then reused), and records beyond the first 16,384 come in chunks of
 * that many (1 MiB), so growing allocates a chunk instead of copying every
 * record. Only the index (8 bytes a slot, at most half full) is rebuilt when it
 * doubles: at a million keys a table of records doubling in place paused writes
 * for a second; the index rebuild takes tens of milliseconds.
 *
 * Keys are given as 64-character hex strings (the store's key form); a key is
 * parsed into the table's scratch words by {@linkcode KeyTable.parse} first.
 *
 * @module
 */
import { toHex } from "../base/bytes.ts";
import { HashIndex } from "./hash_index.ts";

/** Int32 words per record. */
const RECORD_WORDS = 16;
/** Record layout (int32 index within a record). */
const HASH = 8, FLAGS = 9, NODE = 10, SEGMENT = 11, OFFSET = 12, LENGTH = 13; // 14–15: the time (float64)
const USED = 1, TOMBSTONE = 2;
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
    const key = this.#key;
    let h = 0x2f4a1b37;
    for (let w = 0; w < 8; w++) {
      h = Math.imul(h ^ key[w], 0x9e3779b1);
      h ^= h >>> 15;
    }
    this.#hash = h === 0 ? 1 : h; // 0 marks an empty index slot
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
    words[b + HASH] = this.#hash;
    words[b + FLAGS] = USED;
    index.add(this.#hash, record);
    return record;
  }

  /** Removes the key of `record` (its number may be handed out again by a later insert). */
  remove(record: number): void {
    const words = this.#words[record >>> CHUNK_SHIFT], b = (record & CHUNK_MASK) * RECORD_WORDS;
    this.#index.remove(words[b + HASH], record);
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
    return this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + FLAGS] !== 0;
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
    return (this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + FLAGS] & TOMBSTONE) !== 0;
  }

  /** Sets or clears the tombstone flag of `record`. */
  setTombstone(record: number, tombstone: boolean): void {
    this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + FLAGS] = USED |
      (tombstone ? TOMBSTONE : 0);
  }

  /** Version time of `record`. */
  time(record: number): number {
    return this.#times[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * (RECORD_WORDS / 2) + 7];
  }

  /** Sets the version time of `record`. */
  setTime(record: number, t: number): void {
    this.#times[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * (RECORD_WORDS / 2) + 7] = t;
  }

  /** The caller's node index of `record`. */
  node(record: number): number {
    return this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + NODE];
  }

  /** Sets the caller's node index of `record`. */
  setNode(record: number, node: number): void {
    this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + NODE] = node;
  }

  /** Where the value of `record` is: the caller's segment number (see {@linkcode KeyTable.setLocation}). */
  segment(record: number): number {
    return this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + SEGMENT];
  }

  /** Where the value of `record` starts in its segment. */
  offset(record: number): number {
    return this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + OFFSET];
  }

  /** Length of the value of `record`. */
  length(record: number): number {
    return this.#words[record >>> CHUNK_SHIFT][(record & CHUNK_MASK) * RECORD_WORDS + LENGTH];
  }

  /** Records where the value of `record` is kept (three integers of the caller's choosing). */
  setLocation(record: number, segment: number, offset: number, length: number): void {
    const words = this.#words[record >>> CHUNK_SHIFT], b = (record & CHUNK_MASK) * RECORD_WORDS;
    words[b + SEGMENT] = segment;
    words[b + OFFSET] = offset;
    words[b + LENGTH] = length;
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
