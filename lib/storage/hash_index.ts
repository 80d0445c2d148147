/**
 * A hash index of records kept elsewhere: open addressing with linear probing
 * over one `Int32Array` of (hash, record number) pairs, so looking up a key that
 * is not there reads one cache line and allocates nothing. The keys themselves
 * live in the caller's records (the reply cache's log, the store's key table);
 * the index only narrows the search to the records whose 32-bit hash matches,
 * and the caller compares keys.
 *
 * @module
 */

/** Hash value marking an empty slot (callers' hashes are never 0). */
const EMPTY = 0;

/**
 * A set of (hash, record number) pairs in a power-of-two table; hashes must not
 * be 0 (it marks an empty slot). The owner keeps it at most half full (it never grows by itself: see {@linkcode HashIndex.resize}).
 *
 * @example
 * ```ts
 * const index = new HashIndex(16);
 * const hash = 0x5bd1e995;
 * index.insert(index.seek(hash), hash, 7);
 * const slot = index.seek(hash);
 * console.log(index.occupied(slot), index.record(slot)); // true 7
 * ```
 */
export class HashIndex {
  #pairs: Int32Array;
  #mask: number;
  #count = 0;

  /** Creates an empty index of `capacity` slots (a power of two, at least 2). */
  constructor(capacity: number) {
    this.#pairs = HashIndex.#allocate(capacity);
    this.#mask = capacity - 1;
  }

  static #allocate(capacity: number): Int32Array {
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`HashIndex capacity must be a power of two of at least 2, got ${capacity}`);
    }
    return new Int32Array(capacity * 2);
  }

  /** Entries held. */
  get size(): number {
    return this.#count;
  }

  /** Slots allocated. */
  get capacity(): number {
    return this.#mask + 1;
  }

  /**
   * The first slot from `hash`'s home (or, given `after`, from the slot after it)
   * that is empty or holds `hash`: the caller compares that record's id and, on a
   * mismatch, seeks again after it. An empty slot is where the id would go.
   */
  seek(hash: number, after = -1): number {
    const pairs = this.#pairs, mask = this.#mask;
    let i = after < 0 ? hash & mask : (after + 1) & mask;
    for (;;) {
      const h = pairs[i << 1];
      if (h === EMPTY || h === hash) return i;
      i = (i + 1) & mask;
    }
  }

  /** Whether `slot` holds an entry. */
  occupied(slot: number): boolean {
    return this.#pairs[slot << 1] !== EMPTY;
  }

  /** The record number stored at an occupied `slot`. */
  record(slot: number): number {
    return this.#pairs[(slot << 1) + 1];
  }

  /** Stores (`hash`, `record`) in the empty `slot` returned by {@linkcode HashIndex.seek}. */
  insert(slot: number, hash: number, record: number): void {
    this.#pairs[slot << 1] = hash;
    this.#pairs[(slot << 1) + 1] = record;
    this.#count++;
  }

  /** Stores (`hash`, `record`) in the first empty slot of `hash`'s probe sequence. */
  add(hash: number, record: number): void {
    let slot = this.seek(hash);
    while (this.occupied(slot)) slot = this.seek(hash, slot);
    this.insert(slot, hash, record);
  }

  /** Removes the entry (`hash`, `record`); returns whether it was there. */
  remove(hash: number, record: number): boolean {
    const pairs = this.#pairs;
    for (let slot = this.seek(hash); pairs[slot << 1] !== EMPTY; slot = this.seek(hash, slot)) {
      if (pairs[(slot << 1) + 1] !== record) continue;
      this.deleteAt(slot);
      return true;
    }
    return false;
  }

  /** Removes the entry at occupied `slot` (backward-shift deletion: other entries may move). */
  deleteAt(slot: number): void {
    const pairs = this.#pairs, mask = this.#mask;
    let i = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & mask;
      const h = pairs[j << 1];
      if (h === EMPTY) break;
      const home = h & mask;
      // The entry at j may fill the hole at i only if its home slot is not cyclically in (i, j].
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      pairs[i << 1] = h;
      pairs[(i << 1) + 1] = pairs[(j << 1) + 1];
      i = j;
    }
    pairs[i << 1] = EMPTY;
    this.#count--;
  }

  /** Moves every entry into a table of `capacity` slots (a power of two, more than twice the entries). */
  resize(capacity: number): void {
    const old = this.#pairs;
    this.#pairs = HashIndex.#allocate(capacity);
    this.#mask = capacity - 1;
    this.#count = 0;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== EMPTY) this.add(old[i], old[i + 1]);
    }
  }

  /** Empties the index, with `capacity` slots (a power of two). */
  reset(capacity: number): void {
    if (capacity === this.capacity) this.#pairs.fill(0);
    else this.#pairs = HashIndex.#allocate(capacity);
    this.#mask = capacity - 1;
    this.#count = 0;
  }
}
