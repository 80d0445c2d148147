/**
 * The hash table under the at-most-once reply cache: open addressing with
 * linear probing over typed arrays, so looking up an id that is not there
 * (every new request) reads one or two cache lines of 32-bit hashes instead of
 * walking a `Map` of hundreds of thousands of entries (several cache misses,
 * which cost 2–3 µs a request at 100k requests/s).
 *
 * @module
 */

const EMPTY = 0;

/**
 * 32-bit hash of a string (FNV-1a over char codes, then a murmur finalizer); never 0.
 *
 * @example
 * ```ts
 * console.log(hashId("abc") === hashId("abc")); // true
 * ```
 */
export function hashId(id: string): number {
  let h = 0x811c9dc5 ^ id.length;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 1;
}

/**
 * A map from string id to (reply, time) with slot-level access, kept at most half full.
 *
 * @example
 * ```ts
 * const t = new ReplyTable();
 * const slot = t.find("id", hashId("id"));
 * t.insert(slot, "id", hashId("id"), new Uint8Array(17), 0);
 * console.log(t.reply(t.find("id", hashId("id")))?.length); // 17
 * ```
 */
export class ReplyTable {
  #mask: number;
  #hashes: Int32Array;
  #ats: Float64Array;
  #ids: (string | undefined)[];
  #replies: (Uint8Array | undefined)[];
  #count = 0;
  readonly minCapacity: number;

  /** Creates an empty table with `capacity` slots (a power of two). */
  constructor(capacity = 1024) {
    if (capacity < 8 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`ReplyTable capacity must be a power of two of at least 8, got ${capacity}`);
    }
    this.minCapacity = capacity;
    this.#mask = capacity - 1;
    this.#hashes = new Int32Array(capacity);
    this.#ats = new Float64Array(capacity);
    this.#ids = new Array(capacity).fill(undefined);
    this.#replies = new Array(capacity).fill(undefined);
  }

  /** Entries held. */
  get size(): number {
    return this.#count;
  }

  /** Slots allocated. */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** The slot holding `id`, or the empty slot where it would go (check with {@linkcode ReplyTable.occupied}). */
  find(id: string, hash: number): number {
    const hashes = this.#hashes, mask = this.#mask;
    let i = hash & mask;
    while (hashes[i] !== EMPTY) {
      if (hashes[i] === hash && this.#ids[i] === id) return i;
      i = (i + 1) & mask;
    }
    return i;
  }

  /** Whether `slot` holds an entry. */
  occupied(slot: number): boolean {
    return this.#hashes[slot] !== EMPTY;
  }

  /** Reply stored at `slot` (undefined if empty). */
  reply(slot: number): Uint8Array | undefined {
    return this.#replies[slot];
  }

  /** Time stored at `slot`. */
  at(slot: number): number {
    return this.#ats[slot];
  }

  /** Replaces the reply and time of the entry at an occupied `slot`. */
  update(slot: number, reply: Uint8Array, at: number): void {
    this.#replies[slot] = reply;
    this.#ats[slot] = at;
  }

  /**
   * Stores a new entry in the empty `slot` returned by {@linkcode ReplyTable.find}.
   * Returns true if the table grew (every slot number found before is then stale).
   */
  insert(slot: number, id: string, hash: number, reply: Uint8Array, at: number): boolean {
    this.#hashes[slot] = hash;
    this.#ids[slot] = id;
    this.#replies[slot] = reply;
    this.#ats[slot] = at;
    this.#count++;
    if (this.#count * 2 <= this.capacity) return false;
    this.#resize(this.capacity * 2);
    return true;
  }

  /** Removes the entry at occupied `slot` (backward-shift deletion: later slot numbers may change). */
  delete(slot: number): void {
    const hashes = this.#hashes, mask = this.#mask;
    let i = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & mask;
      if (hashes[j] === EMPTY) break;
      const home = hashes[j] & mask;
      // The entry at j may fill the hole at i only if its home slot is not cyclically in (i, j].
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      hashes[i] = hashes[j];
      this.#ids[i] = this.#ids[j];
      this.#replies[i] = this.#replies[j];
      this.#ats[i] = this.#ats[j];
      i = j;
    }
    hashes[i] = EMPTY;
    this.#ids[i] = undefined;
    this.#replies[i] = undefined;
    this.#count--;
  }

  /** Halves the table when it is mostly empty; returns true if it did (slot numbers are then stale). */
  shrinkIfSparse(): boolean {
    if (this.capacity <= this.minCapacity || this.#count * 8 >= this.capacity) return false;
    this.#resize(this.capacity / 2);
    return true;
  }

  /** Forgets every entry and returns to the initial capacity. */
  clear(): void {
    this.#count = 0;
    this.#mask = this.minCapacity - 1;
    this.#hashes = new Int32Array(this.minCapacity);
    this.#ats = new Float64Array(this.minCapacity);
    this.#ids = new Array(this.minCapacity).fill(undefined);
    this.#replies = new Array(this.minCapacity).fill(undefined);
  }

  #resize(capacity: number): void {
    const hashes = this.#hashes, ids = this.#ids, replies = this.#replies, ats = this.#ats;
    this.#mask = capacity - 1;
    this.#hashes = new Int32Array(capacity);
    this.#ats = new Float64Array(capacity);
    this.#ids = new Array(capacity).fill(undefined);
    this.#replies = new Array(capacity).fill(undefined);
    for (let s = 0; s < hashes.length; s++) {
      if (hashes[s] === EMPTY) continue;
      let i = hashes[s] & this.#mask;
      while (this.#hashes[i] !== EMPTY) i = (i + 1) & this.#mask;
      this.#hashes[i] = hashes[s];
      this.#ids[i] = ids[s];
      this.#replies[i] = replies[s];
      this.#ats[i] = ats[s];
    }
  }
}
