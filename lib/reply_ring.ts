/**
 * The records of the at-most-once reply cache, oldest first, in typed arrays:
 * a ring of fixed-size records (id words, id length, hash, time, where the reply
 * is) and a ring of reply bytes. Nothing is allocated per record, so the cache
 * holds no JS objects for the GC to promote and trace, however many replies it
 * keeps.
 *
 * Records are appended at the head and dropped at the tail, so insertion order
 * is kept and expiry is "drop the tail while it is old". A record can be killed
 * in place (its reply was replaced by a newer record): it stays in the ring,
 * uncounted, until it reaches the tail or the ring is rebuilt.
 *
 * @module
 */

const LIVE = 1;
/** Replies up to this many bytes are copied with a loop: cheaper than a `set` of a fresh subarray. */
const SHORT_COPY_BYTES = 128;

/**
 * A ring of reply records and their bytes. Capacities are chosen by the owner
 * ({@linkcode ReplyRing.rebuild}); the ring never grows by itself.
 *
 * @example
 * ```ts
 * const ring = new ReplyRing(8, 64);
 * const pos = ring.append(1, 2, 3, 4, 16, 99, new Uint8Array([5, 6]), 1000);
 * console.log(ring.at(pos), ring.copy(pos)); // 1000 Uint8Array(2) [ 5, 6 ]
 * ring.dropTail();
 * console.log(ring.used); // 0
 * ```
 */
export class ReplyRing {
  // Per record, at its position in a ring of `capacity`:
  #words: Int32Array; // the id as 4 little-endian words (zero-padded)
  #idLengths: Uint8Array; // the id's length in bytes (0–16)
  #flags: Uint8Array; // LIVE or 0 (killed)
  #hashes: Int32Array;
  #ats: Float64Array;
  #offsets: Int32Array; // where the reply starts in #data
  #lengths: Int32Array;
  #spans: Int32Array; // bytes of #data taken: the reply plus any unused end of the ring skipped before it
  #capacity: number;
  #head = 0;
  #tail = 0;
  #used = 0;
  #liveCount = 0;
  #liveBytes = 0;
  // Reply bytes: [#dataTail, #dataHead) cyclically, #fill bytes in all.
  #data: Uint8Array;
  #dataHead = 0;
  #dataTail = 0;
  #fill = 0;

  /** Creates an empty ring of `capacity` records and `dataCapacity` reply bytes. */
  constructor(capacity: number, dataCapacity: number) {
    this.#capacity = capacity;
    this.#words = new Int32Array(capacity * 4);
    this.#idLengths = new Uint8Array(capacity);
    this.#flags = new Uint8Array(capacity);
    this.#hashes = new Int32Array(capacity);
    this.#ats = new Float64Array(capacity);
    this.#offsets = new Int32Array(capacity);
    this.#lengths = new Int32Array(capacity);
    this.#spans = new Int32Array(capacity);
    this.#data = new Uint8Array(dataCapacity);
  }

  /** Record slots. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Reply bytes the ring can hold. */
  get dataCapacity(): number {
    return this.#data.length;
  }

  /** Records in the ring, killed ones included. */
  get used(): number {
    return this.#used;
  }

  /** Records not killed. */
  get liveCount(): number {
    return this.#liveCount;
  }

  /** Reply bytes of the records not killed. */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  /** Position of the oldest record (meaningful when {@linkcode ReplyRing.used} > 0). */
  get tail(): number {
    return this.#tail;
  }

  /** Whether the record at `pos` has the id (`w0`…`w3`, `length` bytes). */
  matches(pos: number, w0: number, w1: number, w2: number, w3: number, length: number): boolean {
    const words = this.#words, i = pos << 2;
    return words[i] === w0 && words[i + 1] === w1 && words[i + 2] === w2 && words[i + 3] === w3 &&
      this.#idLengths[pos] === length;
  }

  /** Whether the record at `pos` is live (not killed). */
  live(pos: number): boolean {
    return this.#flags[pos] === LIVE;
  }

  /** Hash of the record's id. */
  hash(pos: number): number {
    return this.#hashes[pos];
  }

  /** Time the record was appended. */
  at(pos: number): number {
    return this.#ats[pos];
  }

  /** Length of the record's reply. */
  length(pos: number): number {
    return this.#lengths[pos];
  }

  /** A fresh copy of the record's reply (later appends never change it). */
  copy(pos: number): Uint8Array {
    const offset = this.#offsets[pos];
    return this.#data.slice(offset, offset + this.#lengths[pos]);
  }

  /** Whether a record with a reply of `length` bytes can be appended without dropping or rebuilding. */
  canAppend(length: number): boolean {
    return this.#used < this.#capacity && this.#place(length) >= 0;
  }

  // Where `length` contiguous free bytes start, or -1.
  #place(length: number): number {
    const cap = this.#data.length, head = this.#dataHead, tail = this.#dataTail;
    if (this.#fill === 0) return length <= cap ? 0 : -1;
    if (head > tail) { // free: [head, cap) and [0, tail)
      if (length <= cap - head) return head;
      return length <= tail ? 0 : -1;
    }
    if (head < tail) return length <= tail - head ? head : -1; // free: [head, tail)
    return length === 0 ? head : -1; // head === tail: full
  }

  /** Appends a live record (check {@linkcode ReplyRing.canAppend} first); returns its position. */
  append(
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    idLength: number,
    hash: number,
    reply: Uint8Array,
    at: number,
  ): number {
    const length = reply.length;
    if (this.#fill === 0) this.#dataHead = this.#dataTail = 0;
    const offset = this.#place(length);
    const span = offset === this.#dataHead ? length : this.#data.length - this.#dataHead + length;
    const data = this.#data;
    if (length <= SHORT_COPY_BYTES) { for (let i = 0; i < length; i++) data[offset + i] = reply[i]; }
    else data.set(reply, offset);
    this.#dataHead = offset + length;
    this.#fill += span;
    const pos = this.#head, words = this.#words, i = pos << 2;
    words[i] = w0;
    words[i + 1] = w1;
    words[i + 2] = w2;
    words[i + 3] = w3;
    this.#idLengths[pos] = idLength;
    this.#flags[pos] = LIVE;
    this.#hashes[pos] = hash;
    this.#ats[pos] = at;
    this.#offsets[pos] = offset;
    this.#lengths[pos] = length;
    this.#spans[pos] = span;
    this.#head = pos + 1 === this.#capacity ? 0 : pos + 1;
    this.#used++;
    this.#liveCount++;
    this.#liveBytes += length;
    return pos;
  }

  /** Marks the live record at `pos` killed: uncounted, its bytes freed when it leaves the ring. */
  kill(pos: number): void {
    this.#flags[pos] = 0;
    this.#liveCount--;
    this.#liveBytes -= this.#lengths[pos];
  }

  /** Drops the oldest record (the ring must not be empty). */
  dropTail(): void {
    const pos = this.#tail;
    if (this.#flags[pos] === LIVE) this.kill(pos);
    const span = this.#spans[pos];
    if (span > 0) {
      this.#fill -= span;
      this.#dataTail = this.#offsets[pos] + this.#lengths[pos];
    }
    this.#tail = pos + 1 === this.#capacity ? 0 : pos + 1;
    this.#used--;
  }

  /**
   * Compacts the live records, oldest first, into new arrays of `capacity` records
   * (more than {@linkcode ReplyRing.liveCount}) and `dataCapacity` bytes (at least
   * {@linkcode ReplyRing.liveBytes}); killed records disappear. Record i (from 0) is
   * then the i-th oldest, so every position known before is stale.
   */
  rebuild(capacity: number, dataCapacity: number): void {
    const oldWords = this.#words, oldIdLengths = this.#idLengths, oldFlags = this.#flags, oldHashes = this.#hashes;
    const oldAts = this.#ats, oldOffsets = this.#offsets, oldLengths = this.#lengths, oldData = this.#data;
    const oldCapacity = this.#capacity, used = this.#used;
    const words = new Int32Array(capacity * 4), idLengths = new Uint8Array(capacity);
    const flags = new Uint8Array(capacity), hashes = new Int32Array(capacity), ats = new Float64Array(capacity);
    const offsets = new Int32Array(capacity), lengths = new Int32Array(capacity), spans = new Int32Array(capacity);
    const data = new Uint8Array(dataCapacity);
    // One pass over locals, field by field, short replies byte by byte (no subarray per record).
    // The pause this costs at 2^18+ records is mostly first-touch page faults of the new arrays
    // (docs/performance.md); growing without moving the reply bytes is the way to remove it.
    let n = 0, offset = 0, from = this.#tail;
    for (let k = 0; k < used; k++, from = from + 1 === oldCapacity ? 0 : from + 1) {
      if (oldFlags[from] !== LIVE) continue;
      const w = from << 2, to = n << 2;
      words[to] = oldWords[w];
      words[to + 1] = oldWords[w + 1];
      words[to + 2] = oldWords[w + 2];
      words[to + 3] = oldWords[w + 3];
      idLengths[n] = oldIdLengths[from];
      flags[n] = LIVE;
      hashes[n] = oldHashes[from];
      ats[n] = oldAts[from];
      const length = oldLengths[from], start = oldOffsets[from];
      if (length <= SHORT_COPY_BYTES) {
        for (let i = 0; i < length; i++) data[offset + i] = oldData[start + i];
      } else data.set(oldData.subarray(start, start + length), offset);
      offsets[n] = offset;
      lengths[n] = length;
      spans[n] = length;
      offset += length;
      n++;
    }
    this.#capacity = capacity;
    this.#words = words;
    this.#idLengths = idLengths;
    this.#flags = flags;
    this.#hashes = hashes;
    this.#ats = ats;
    this.#offsets = offsets;
    this.#lengths = lengths;
    this.#spans = spans;
    this.#data = data;
    this.#tail = 0;
    this.#head = n === capacity ? 0 : n;
    this.#used = n;
    this.#dataTail = 0;
    this.#dataHead = offset;
    this.#fill = offset;
  }
}
