/**
 * The records of the at-most-once reply cache, oldest first, in typed arrays
 * held by a list of chunks: each chunk has room for a number of records (id
 * words, id length, hash, time, where the reply is) and a block of reply bytes.
 * Nothing is allocated per record, so the cache holds no JS objects for the GC
 * to promote and trace, however many replies it keeps.
 *
 * Records are appended at the head and dropped at the tail, so insertion order
 * is kept and expiry is "drop the tail while it is old". When the head chunk is
 * full a new one is linked after it, and a chunk the tail has passed is unlinked
 * (kept as a spare for the next head, up to {@linkcode REPLY_LOG_SPARE_CHUNKS}).
 * So the log grows and shrinks without ever copying what it holds: at tens of
 * thousands of requests a second, copying a ring of 2^18 records into a bigger
 * one paused the node for over 100 ms, and a steady load reuses the same few
 * chunks, whose memory is already mapped.
 *
 * A record can be killed in place (its reply was replaced by a newer record):
 * it stays, uncounted, until the tail passes it or {@linkcode ReplyLog.compact}
 * copies the live records into fresh chunks.
 *
 * A position is `chunk slot << 12 | record in chunk`: stable while the record is
 * in the log (until it is dropped, or the log compacted).
 *
 * @module
 */

const LIVE = 1;
const SLOT_SHIFT = 12;
/** Records in a full-size chunk (and the most a chunk has). */
export const REPLY_LOG_CHUNK_RECORDS = 1 << SLOT_SHIFT;
/** Reply bytes in a full-size chunk (a larger reply gets a chunk of its own size). */
export const REPLY_LOG_CHUNK_BYTES = 256 * 1024;
/** Full-size chunks kept for reuse after the tail leaves them. */
export const REPLY_LOG_SPARE_CHUNKS = 2;
const RECORD_MASK = REPLY_LOG_CHUNK_RECORDS - 1;
/** Replies up to this many bytes are copied with a loop: cheaper than a `set` of a fresh subarray. */
const SHORT_COPY_BYTES = 128;
/** Bytes per record slot in a chunk: 4 id words, id length, flags, hash, time, offset, length, request digest. */
const RECORD_SLOT_BYTES = 16 + 1 + 1 + 4 + 8 + 4 + 4 + 8;

class Chunk {
  readonly words: Int32Array; // the id as 4 little-endian words (zero-padded)
  readonly idLengths: Uint8Array; // the id's length in bytes (0–16)
  readonly flags: Uint8Array; // LIVE or 0 (killed)
  readonly hashes: Int32Array;
  readonly ats: Float64Array;
  readonly offsets: Int32Array; // where the reply starts in `data`
  readonly lengths: Int32Array;
  readonly digests: Int32Array; // the request's 64-bit digest as 2 words
  readonly data: Uint8Array;
  readonly capacity: number;
  slot = 0;
  count = 0; // records appended
  dataUsed = 0;
  next: Chunk | undefined = undefined;

  constructor(capacity: number, dataBytes: number) {
    this.capacity = capacity;
    this.words = new Int32Array(capacity * 4);
    this.idLengths = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.hashes = new Int32Array(capacity);
    this.ats = new Float64Array(capacity);
    this.offsets = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
    this.digests = new Int32Array(capacity * 2);
    this.data = new Uint8Array(dataBytes);
  }

  get bytes(): number {
    return this.capacity * RECORD_SLOT_BYTES + this.data.length;
  }
}

/**
 * A log of reply records and their bytes in chunks.
 *
 * @example
 * ```ts
 * const log = new ReplyLog(8);
 * const pos = log.append(1, 2, 3, 4, 16, 99, new Uint8Array([5, 6]), 1000);
 * console.log(log.at(pos), log.copy(pos)); // 1000 Uint8Array(2) [ 5, 6 ]
 * log.dropTail();
 * console.log(log.used); // 0
 * ```
 */
export class ReplyLog {
  readonly #firstChunkRecords: number;
  #chunks: (Chunk | undefined)[] = [];
  #freeSlots: number[] = [];
  #spares: Chunk[] = [];
  #head: Chunk | undefined = undefined; // newest chunk
  #tail: Chunk | undefined = undefined; // oldest chunk
  #tailIndex = 0; // oldest record in #tail
  #used = 0;
  #liveCount = 0;
  #liveBytes = 0;
  #allocated = 0;

  /** Creates an empty log whose first chunk has room for `firstChunkRecords` (doubling up to 4096). */
  constructor(firstChunkRecords = 64) {
    if (!Number.isInteger(firstChunkRecords) || firstChunkRecords < 1) {
      throw new RangeError(`firstChunkRecords must be a whole number of at least 1, got ${firstChunkRecords}`);
    }
    this.#firstChunkRecords = Math.min(firstChunkRecords, REPLY_LOG_CHUNK_RECORDS);
  }

  /** Records in the log, killed ones included. */
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

  /** Bytes of the typed arrays of the chunks in the log and the spares. */
  get allocatedBytes(): number {
    return this.#allocated;
  }

  /** Position of the oldest record (meaningful when {@linkcode ReplyLog.used} > 0). */
  get tail(): number {
    return this.#tail === undefined ? 0 : (this.#tail.slot << SLOT_SHIFT) | this.#tailIndex;
  }

  /** Position of the record after `pos` (oldest to newest; meaningless after the newest). */
  next(pos: number): number {
    const chunk = this.#chunks[pos >>> SLOT_SHIFT]!;
    const index = (pos & RECORD_MASK) + 1;
    if (index < chunk.count || chunk.next === undefined) return pos + 1;
    return chunk.next.slot << SLOT_SHIFT;
  }

  /** Whether the record at `pos` has the id (`w0`…`w3`, `length` bytes). */
  matches(pos: number, w0: number, w1: number, w2: number, w3: number, length: number): boolean {
    const chunk = this.#chunks[pos >>> SLOT_SHIFT]!, r = pos & RECORD_MASK, words = chunk.words, i = r << 2;
    return words[i] === w0 && words[i + 1] === w1 && words[i + 2] === w2 && words[i + 3] === w3 &&
      chunk.idLengths[r] === length;
  }

  /** Whether the record at `pos` is live (not killed). */
  live(pos: number): boolean {
    return this.#chunks[pos >>> SLOT_SHIFT]!.flags[pos & RECORD_MASK] === LIVE;
  }

  /** Hash of the record's id. */
  hash(pos: number): number {
    return this.#chunks[pos >>> SLOT_SHIFT]!.hashes[pos & RECORD_MASK];
  }

  /** Time the record was appended. */
  at(pos: number): number {
    return this.#chunks[pos >>> SLOT_SHIFT]!.ats[pos & RECORD_MASK];
  }

  /** Length of the record's reply. */
  length(pos: number): number {
    return this.#chunks[pos >>> SLOT_SHIFT]!.lengths[pos & RECORD_MASK];
  }

  /** Whether the record was made by a request with this digest (two 32-bit words). */
  digestMatches(pos: number, digest0: number, digest1: number): boolean {
    const chunk = this.#chunks[pos >>> SLOT_SHIFT]!, i = (pos & RECORD_MASK) << 1;
    return chunk.digests[i] === (digest0 | 0) && chunk.digests[i + 1] === (digest1 | 0);
  }

  /** A fresh copy of the record's reply (later appends never change it). */
  copy(pos: number): Uint8Array {
    const chunk = this.#chunks[pos >>> SLOT_SHIFT]!, r = pos & RECORD_MASK;
    const offset = chunk.offsets[r];
    return chunk.data.slice(offset, offset + chunk.lengths[r]);
  }

  /** Appends a live record; returns its position. */
  append(
    w0: number,
    w1: number,
    w2: number,
    w3: number,
    idLength: number,
    hash: number,
    reply: Uint8Array,
    at: number,
    digest0 = 0,
    digest1 = 0,
  ): number {
    const length = reply.length;
    let chunk = this.#head;
    if (chunk === undefined || chunk.count === chunk.capacity || chunk.dataUsed + length > chunk.data.length) {
      chunk = this.#link(length);
    }
    const r = chunk.count++, offset = chunk.dataUsed, data = chunk.data;
    if (length <= SHORT_COPY_BYTES) { for (let i = 0; i < length; i++) data[offset + i] = reply[i]; }
    else data.set(reply, offset);
    chunk.dataUsed = offset + length;
    const words = chunk.words, i = r << 2;
    words[i] = w0;
    words[i + 1] = w1;
    words[i + 2] = w2;
    words[i + 3] = w3;
    chunk.idLengths[r] = idLength;
    chunk.flags[r] = LIVE;
    chunk.hashes[r] = hash;
    chunk.ats[r] = at;
    chunk.offsets[r] = offset;
    chunk.lengths[r] = length;
    chunk.digests[r << 1] = digest0;
    chunk.digests[(r << 1) + 1] = digest1;
    this.#used++;
    this.#liveCount++;
    this.#liveBytes += length;
    return (chunk.slot << SLOT_SHIFT) | r;
  }

  /** Marks the live record at `pos` killed: uncounted, its room freed when it leaves the log. */
  kill(pos: number): void {
    const chunk = this.#chunks[pos >>> SLOT_SHIFT]!, r = pos & RECORD_MASK;
    chunk.flags[r] = 0;
    this.#liveCount--;
    this.#liveBytes -= chunk.lengths[r];
  }

  /** Drops the oldest record (the log must not be empty). */
  dropTail(): void {
    const chunk = this.#tail!, r = this.#tailIndex;
    if (chunk.flags[r] === LIVE) this.kill((chunk.slot << SLOT_SHIFT) | r);
    this.#used--;
    this.#tailIndex = r + 1;
    if (this.#tailIndex < chunk.count) return;
    if (chunk === this.#head) { // empty: start the head chunk over
      chunk.count = 0;
      chunk.dataUsed = 0;
      this.#tailIndex = 0;
      return;
    }
    this.#tail = chunk.next;
    this.#tailIndex = 0;
    this.#unlink(chunk);
  }

  /**
   * Copies the live records, oldest first, into fresh chunks; killed records
   * disappear. Every position known before is stale.
   */
  compact(): void {
    let chunk = this.#tail, index = this.#tailIndex;
    this.#chunks = [];
    this.#freeSlots = [];
    this.#head = this.#tail = undefined;
    this.#tailIndex =
      this.#used =
      this.#liveCount =
      this.#liveBytes =
        0;
    this.#allocated = this.#spares.reduce((sum, c) => sum + c.bytes, 0);
    for (; chunk !== undefined; chunk = chunk.next, index = 0) {
      for (let r = index; r < chunk.count; r++) {
        if (chunk.flags[r] !== LIVE) continue;
        const i = r << 2, offset = chunk.offsets[r];
        const reply = chunk.data.subarray(offset, offset + chunk.lengths[r]);
        this.append(
          chunk.words[i],
          chunk.words[i + 1],
          chunk.words[i + 2],
          chunk.words[i + 3],
          chunk.idLengths[r],
          chunk.hashes[r],
          reply,
          chunk.ats[r],
          chunk.digests[r << 1],
          chunk.digests[(r << 1) + 1],
        );
      }
    }
  }

  // Links a new head chunk with room for a reply of `length` bytes.
  #link(length: number): Chunk {
    const last = this.#head;
    const records = last === undefined ? this.#firstChunkRecords : Math.min(REPLY_LOG_CHUNK_RECORDS, last.capacity * 2);
    let chunk: Chunk;
    if (records === REPLY_LOG_CHUNK_RECORDS && length <= REPLY_LOG_CHUNK_BYTES && this.#spares.length > 0) {
      chunk = this.#spares.pop()!;
      chunk.count = chunk.dataUsed = 0;
      chunk.next = undefined;
    } else {
      const dataBytes = Math.max(length, (REPLY_LOG_CHUNK_BYTES / REPLY_LOG_CHUNK_RECORDS) * records);
      chunk = new Chunk(records, dataBytes);
      this.#allocated += chunk.bytes;
    }
    const free = this.#freeSlots.pop();
    chunk.slot = free ?? this.#chunks.length;
    if (chunk.slot >= 2 ** (31 - SLOT_SHIFT)) throw new RangeError("Reply log: too many chunks");
    this.#chunks[chunk.slot] = chunk;
    if (last === undefined) {
      this.#tail = chunk;
      this.#tailIndex = 0;
    } else last.next = chunk;
    this.#head = chunk;
    return chunk;
  }

  // Unlinks a chunk the tail has left; keeps it as a spare if full-size and spares are wanted.
  #unlink(chunk: Chunk): void {
    this.#chunks[chunk.slot] = undefined;
    this.#freeSlots.push(chunk.slot);
    chunk.next = undefined;
    const fullSize = chunk.capacity === REPLY_LOG_CHUNK_RECORDS && chunk.data.length === REPLY_LOG_CHUNK_BYTES;
    if (fullSize && this.#spares.length < REPLY_LOG_SPARE_CHUNKS) this.#spares.push(chunk);
    else this.#allocated -= chunk.bytes;
  }
}
