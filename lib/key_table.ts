/**
 * An open-addressing hash table of 32-byte keys in one typed array: each slot is
 * a 64-byte record (the key as 8 words, its hash, and the caller's fields), so a
 * lookup reads one cache line instead of following a map's pointers to a key
 * string and an entry object. Linear probing, backward-shift deletion, doubling
 * at half full.
 *
 * Keys are given as 64-character hex strings (the store's key form); a key is
 * parsed into the table's scratch words by {@linkcode KeyTable.parse} first.
 *
 * @module
 */
import { toHex } from "./bytes.ts";

/** Int32 words per slot record. */
const RECORD_WORDS = 16;
/** Record layout (int32 index within a record). */
const HASH = 8, FLAGS = 9, NODE = 10, SEGMENT = 11, OFFSET = 12, LENGTH = 13; // 14–15: the time (float64)
const USED = 1, TOMBSTONE = 2;
const MIN_SLOTS = 16;

/**
 * Slots of 32-byte keys with a version time, a node index, a value index and a
 * tombstone flag each.
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
  #slots = MIN_SLOTS;
  #count = 0;
  #words = new Int32Array(MIN_SLOTS * RECORD_WORDS);
  #times = new Float64Array(this.#words.buffer);
  #bytes = new Uint8Array(this.#words.buffer);
  // The parsed key: its 32 bytes, read as 8 words (in the platform's byte order, as records are).
  #keyBytes = new Uint8Array(32);
  #key = new Int32Array(this.#keyBytes.buffer);
  #hash = 0;

  /** Keys held. */
  get size(): number {
    return this.#count;
  }

  /** Slot count (a power of two); slots are 0 … capacity − 1. */
  get capacity(): number {
    return this.#slots;
  }

  /**
   * Parses `hex` (64 hex digits) as the key of the next find/insert. Throws `TypeError`
   * for anything else.
   */
  parse(hex: string): void {
    if (hex.length !== 64) throw notAKey(hex);
    const bytes = this.#keyBytes, key = this.#key;
    for (let i = 0; i < 32; i++) {
      const high = nibble(hex.charCodeAt(2 * i)), low = nibble(hex.charCodeAt(2 * i + 1));
      if ((high | low) < 0) throw notAKey(hex);
      bytes[i] = (high << 4) | low;
    }
    let h = 0x2f4a1b37;
    for (let w = 0; w < 8; w++) {
      h = Math.imul(h ^ key[w], 0x9e3779b1);
      h ^= h >>> 15;
    }
    this.#hash = h;
  }

  /** The slot holding the parsed key, or −1. */
  find(): number {
    const words = this.#words, key = this.#key, mask = this.#slots - 1;
    for (let slot = this.#hash & mask;; slot = (slot + 1) & mask) {
      const b = slot * RECORD_WORDS;
      if (words[b + FLAGS] === 0) return -1;
      if (
        words[b + HASH] === this.#hash && words[b] === key[0] && words[b + 1] === key[1] && words[b + 2] === key[2] &&
        words[b + 3] === key[3] && words[b + 4] === key[4] && words[b + 5] === key[5] && words[b + 6] === key[6] &&
        words[b + 7] === key[7]
      ) return slot;
    }
  }

  /**
   * Adds the parsed key (which must not be held) and returns its slot; every other slot
   * number known before may have changed (the table grows at half full).
   */
  insert(): number {
    if ((this.#count + 1) * 2 > this.#slots) this.#resize(this.#slots * 2);
    const words = this.#words, mask = this.#slots - 1;
    let slot = this.#hash & mask;
    while (words[slot * RECORD_WORDS + FLAGS] !== 0) slot = (slot + 1) & mask;
    const b = slot * RECORD_WORDS;
    words.set(this.#key, b);
    words[b + HASH] = this.#hash;
    words[b + FLAGS] = USED;
    this.#count++;
    return slot;
  }

  /**
   * Removes the key at `slot`. Records after it in its probe chain may move back (with all
   * their fields), so slot numbers known before are stale.
   */
  remove(slot: number): void {
    const words = this.#words, mask = this.#slots - 1;
    let hole = slot;
    for (let next = (hole + 1) & mask;; next = (next + 1) & mask) {
      const b = next * RECORD_WORDS;
      if (words[b + FLAGS] === 0) break;
      const home = words[b + HASH] & mask;
      // Move `next` into the hole unless its home lies cyclically in (hole, next].
      const between = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (between) continue;
      words.copyWithin(hole * RECORD_WORDS, b, b + RECORD_WORDS);
      hole = next;
    }
    words.fill(0, hole * RECORD_WORDS, hole * RECORD_WORDS + RECORD_WORDS);
    this.#count--;
  }

  /** Forgets every key. */
  clear(): void {
    this.#slots = MIN_SLOTS;
    this.#count = 0;
    this.#words = new Int32Array(MIN_SLOTS * RECORD_WORDS);
    this.#times = new Float64Array(this.#words.buffer);
    this.#bytes = new Uint8Array(this.#words.buffer);
  }

  /** Whether `slot` holds a key. */
  used(slot: number): boolean {
    return this.#words[slot * RECORD_WORDS + FLAGS] !== 0;
  }

  /** The key at `slot` as 64 hex digits. */
  hexAt(slot: number): string {
    const start = slot * RECORD_WORDS * 4;
    return toHex(this.#bytes.subarray(start, start + 32));
  }

  /** Whether the entry at `slot` is a tombstone. */
  tombstone(slot: number): boolean {
    return (this.#words[slot * RECORD_WORDS + FLAGS] & TOMBSTONE) !== 0;
  }

  /** Sets or clears the tombstone flag at `slot`. */
  setTombstone(slot: number, tombstone: boolean): void {
    this.#words[slot * RECORD_WORDS + FLAGS] = USED | (tombstone ? TOMBSTONE : 0);
  }

  /** Version time at `slot`. */
  time(slot: number): number {
    return this.#times[slot * (RECORD_WORDS / 2) + 7];
  }

  /** Sets the version time at `slot`. */
  setTime(slot: number, t: number): void {
    this.#times[slot * (RECORD_WORDS / 2) + 7] = t;
  }

  /** The caller's node index at `slot`. */
  node(slot: number): number {
    return this.#words[slot * RECORD_WORDS + NODE];
  }

  /** Sets the caller's node index at `slot`. */
  setNode(slot: number, node: number): void {
    this.#words[slot * RECORD_WORDS + NODE] = node;
  }

  /** Where the value of `slot` is: the caller's segment number (see {@linkcode KeyTable.setLocation}). */
  segment(slot: number): number {
    return this.#words[slot * RECORD_WORDS + SEGMENT];
  }

  /** Where the value of `slot` starts in its segment. */
  offset(slot: number): number {
    return this.#words[slot * RECORD_WORDS + OFFSET];
  }

  /** Length of the value of `slot`. */
  length(slot: number): number {
    return this.#words[slot * RECORD_WORDS + LENGTH];
  }

  /** Records where the value of `slot` is kept (three integers of the caller's choosing). */
  setLocation(slot: number, segment: number, offset: number, length: number): void {
    const b = slot * RECORD_WORDS;
    this.#words[b + SEGMENT] = segment;
    this.#words[b + OFFSET] = offset;
    this.#words[b + LENGTH] = length;
  }

  #resize(slots: number): void {
    const old = this.#words, oldSlots = this.#slots;
    this.#slots = slots;
    this.#words = new Int32Array(slots * RECORD_WORDS);
    this.#times = new Float64Array(this.#words.buffer);
    this.#bytes = new Uint8Array(this.#words.buffer);
    const words = this.#words, mask = slots - 1;
    for (let s = 0; s < oldSlots; s++) {
      const b = s * RECORD_WORDS;
      if (old[b + FLAGS] === 0) continue;
      let slot = old[b + HASH] & mask;
      while (words[slot * RECORD_WORDS + FLAGS] !== 0) slot = (slot + 1) & mask;
      words.set(old.subarray(b, b + RECORD_WORDS), slot * RECORD_WORDS);
    }
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
