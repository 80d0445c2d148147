/**
 * At-most-once reply cache: remembers the reply sent for each request id for a
 * while, so a retried request is answered byte for byte and never executed twice.
 *
 * It holds no JS object per reply: records live in a {@linkcode ReplyLog}
 * (typed arrays in chunks, reply bytes copied in) found through a
 * {@linkcode HashIndex} (a hash table over an `Int32Array`). At tens of
 * thousands of requests a second, a reply per request kept for seconds as its own
 * objects (id string, byte view, table entries) was hundreds of thousands of live
 * objects for the GC to promote and trace.
 *
 * Memory: {@linkcode ReplyCache.bytes} charges each reply its length plus
 * {@linkcode REPLY_CACHE_ENTRY_OVERHEAD} and stays within `maxBytes`, except for
 * forced puts (see {@linkcode ReplyCache.put}). That is the bound the cache keeps
 * exactly; what is allocated follows it: the log's chunks hold the records not yet
 * dropped (38 bytes each plus the reply; killed ones are compacted away once they
 * outnumber the live ones by a chunk) plus one partly filled chunk and two spares
 * (about 400 KiB each), and the index takes 16 bytes per record at 25–50% load (it
 * doubles when half full and halves in {@linkcode ReplyCache.expire} when under an
 * eighth). Neither growth copies a reply: the index rehashes its own pairs.
 *
 * @module
 */

import { HashIndex } from "../storage/hash_index.ts";
import { REPLY_LOG_CHUNK_RECORDS, ReplyLog } from "./reply_log.ts";

/** Bytes charged per cached reply on top of its length (its record and index slots, with growth slack). */
export const REPLY_CACHE_ENTRY_OVERHEAD = 96;

/** Longest id (bytes): a protocol request id. */
export const REPLY_ID_MAX_LENGTH = 16;

/**
 * A request id: bytes (a protocol id is 16), or a string standing for its char
 * codes (each below 256, as {@linkcode idKey} makes them). At most 16 bytes.
 */
export type ReplyId = Uint8Array | string;

const MIN_RECORDS = 256;
/** Default of {@linkcode ReplyCacheOptions.expirePerCall}: more than the one record each put adds. */
const EXPIRE_PER_CALL = 2;

/** Options of a {@linkcode ReplyCache}. */
export interface ReplyCacheOptions {
  /** How long a reply is kept (ms). */
  ttlMs: number;
  /** Memory bound (bytes, as charged by {@linkcode ReplyCache.bytes}). */
  maxBytes: number;
  /** Records the index starts with room for and never shrinks below (a power of two, at least 2; default 256). */
  minRecords?: number;
  /**
   * Oldest records looked at (and dropped if expired or replaced) per get, and per put not right
   * after a get of its id (default 2). Above 1 the cache holds what arrived within the ttl and
   * stops growing at a steady rate; 0 expires only when a reply would not fit.
   */
  expirePerCall?: number;
}

/**
 * A time- and memory-bounded map from request id to reply bytes.
 *
 * @example
 * ```ts
 * const cache = new ReplyCache({ ttlMs: 5000, maxBytes: 1 << 20 });
 * cache.put("id", new Uint8Array(17), 0);
 * console.log(cache.get("id", 1000)?.length); // 17
 * console.log(cache.get("id", 6000)); // undefined
 * ```
 */
export class ReplyCache {
  /** How long a reply is kept (ms). */
  readonly ttlMs: number;
  /** Memory bound (bytes). */
  readonly maxBytes: number;
  readonly #minRecords: number;
  readonly #expirePerCall: number;
  #log: ReplyLog;
  #index: HashIndex;
  #bytes = 0;
  /** Gets that found the id cached for a different request (a client reusing ids, not retrying). */
  idReuses = 0;
  // The id being looked up, as words (set by #parse).
  #w0 = 0;
  #w1 = 0;
  #w2 = 0;
  #w3 = 0;
  #length = 0;
  #hash = 0;
  // The slot found by the last get(): put() right after it for the same id (the
  // node's request path) skips a second lookup. Any index change makes it stale.
  #memoValid = false;
  #memoSlot = 0;
  #memoW0 = 0;
  #memoW1 = 0;
  #memoW2 = 0;
  #memoW3 = 0;
  #memoLength = 0;

  /** Creates a cache keeping replies `ttlMs` and at most `maxBytes`. */
  constructor(options: ReplyCacheOptions) {
    this.ttlMs = options.ttlMs;
    this.maxBytes = options.maxBytes;
    const minRecords = options.minRecords ?? MIN_RECORDS;
    if (!Number.isInteger(minRecords) || minRecords < 2 || (minRecords & (minRecords - 1)) !== 0) {
      throw new RangeError(`minRecords must be a power of two of at least 2, got ${minRecords}`);
    }
    this.#minRecords = minRecords;
    this.#expirePerCall = options.expirePerCall ?? EXPIRE_PER_CALL;
    if (!Number.isInteger(this.#expirePerCall) || this.#expirePerCall < 0) {
      throw new RangeError(`expirePerCall must be a whole number of at least 0, got ${options.expirePerCall}`);
    }
    this.#log = new ReplyLog(minRecords);
    this.#index = new HashIndex(minRecords * 2);
  }

  /** Number of cached replies. */
  get size(): number {
    return this.#index.size;
  }

  /** Bytes charged for cached replies. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes of the typed arrays the cache holds now (log chunks, spares and index). */
  get allocatedBytes(): number {
    return this.#log.allocatedBytes + this.#index.capacity * 8;
  }

  /**
   * A copy of the cached reply for `id`, if cached and not expired at `now` and made by a request
   * with the same digest (`digest0`, `digest1`: see `request_digest.ts`). A reply cached for the
   * id by a different request is not returned: the id was reused, not retried
   * ({@linkcode ReplyCache.idReuses} counts it), and the new request's reply replaces it.
   */
  get(id: ReplyId, now: number, digest0 = 0, digest1 = 0): Uint8Array | undefined {
    this.#expireTail(now);
    this.#parse(id);
    const slot = this.#find();
    this.#memoValid = true;
    this.#memoSlot = slot;
    this.#memoW0 = this.#w0;
    this.#memoW1 = this.#w1;
    this.#memoW2 = this.#w2;
    this.#memoW3 = this.#w3;
    this.#memoLength = this.#length;
    if (!this.#index.occupied(slot)) return undefined;
    const pos = this.#index.record(slot);
    if (now - this.#log.at(pos) >= this.ttlMs) return undefined;
    if (!this.#log.digestMatches(pos, digest0, digest1)) {
      this.idReuses++;
      return undefined;
    }
    return this.#log.copy(pos);
  }

  /** Drops expired replies (oldest first; insertion order is time order); shrinks the index if sparse. */
  expire(now: number): void {
    this.#expireTail(now, Infinity);
    // Halve what is under an eighth used, to at least an eighth used (growth doubles what
    // would be over half used: no back and forth).
    const index = this.#index;
    let capacity = index.capacity;
    while (capacity > this.#minRecords * 2 && index.size * 8 < capacity) capacity /= 2;
    if (capacity !== index.capacity) {
      index.resize(capacity);
      this.#memoValid = false;
    }
  }

  /** Whether a reply of `length` bytes fits now (after expiring old ones). */
  hasRoom(length: number, now: number): boolean {
    if (this.#bytes + length + REPLY_CACHE_ENTRY_OVERHEAD <= this.maxBytes) return true;
    this.expire(now);
    return this.#bytes + length + REPLY_CACHE_ENTRY_OVERHEAD <= this.maxBytes;
  }

  /**
   * Caches a copy of `reply` for `id`, made by the request with digest `digest0`/`digest1`
   * (replacing any reply cached for it), if there
   * is room; returns whether it was cached. With `force` (mutating replies: their
   * room was checked before executing) it is cached anyway: {@linkcode ReplyCache.bytes}
   * may then exceed `maxBytes`, and nothing unexpired is ever evicted to make room,
   * so no earlier reply loses its at-most-once answer.
   */
  put(id: ReplyId, reply: Uint8Array, now: number, force = false, digest0 = 0, digest1 = 0): boolean {
    if (!this.hasRoom(reply.length, now) && !force) return false;
    if (!this.#memoValid) this.#expireTail(now);
    this.#parse(id);
    const index = this.#index, log = this.#log;
    let slot = this.#memoValid && this.#w0 === this.#memoW0 && this.#w1 === this.#memoW1 &&
        this.#w2 === this.#memoW2 && this.#w3 === this.#memoW3 && this.#length === this.#memoLength
      ? this.#memoSlot
      : this.#find();
    this.#memoValid = false;
    if (index.occupied(slot)) { // replaced: the old record stays in the log, killed
      const old = index.record(slot);
      this.#bytes -= log.length(old) + REPLY_CACHE_ENTRY_OVERHEAD;
      log.kill(old);
      index.deleteAt(slot);
      slot = this.#find(); // deletion may have moved the probe chain
    } else if ((index.size + 1) * 2 > index.capacity) {
      index.resize(index.capacity * 2);
      slot = this.#find();
    }
    const pos = log.append(
      this.#w0,
      this.#w1,
      this.#w2,
      this.#w3,
      this.#length,
      this.#hash,
      reply,
      now,
      digest0,
      digest1,
    );
    index.insert(slot, this.#hash, pos);
    this.#bytes += reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    if (log.used - log.liveCount > log.liveCount + REPLY_LOG_CHUNK_RECORDS) this.#compact();
    return true;
  }

  /** Forgets everything. */
  clear(): void {
    this.#log = new ReplyLog(this.#minRecords);
    this.#index.reset(this.#minRecords * 2);
    this.#memoValid = false;
    this.#bytes = 0;
  }

  // Drops up to `limit` expired or replaced records at the tail, oldest first. Gets and puts drop
  // #expirePerCall each: a few per request keep the log at what the ttl holds, so it stops
  // growing at a steady request rate (and reuses its chunks), long before maxBytes forces a full expire().
  #expireTail(now: number, limit = this.#expirePerCall): void {
    const log = this.#log;
    for (let i = 0; i < limit && log.used > 0; i++) {
      const pos = log.tail;
      if (log.live(pos)) {
        if (now - log.at(pos) < this.ttlMs) return;
        this.#index.remove(log.hash(pos), pos);
        this.#bytes -= log.length(pos) + REPLY_CACHE_ENTRY_OVERHEAD;
      }
      log.dropTail();
      this.#memoValid = false;
    }
  }

  // Sets #w0…#w3, #length and #hash from `id`.
  #parse(id: ReplyId): void {
    let w0 = 0, w1 = 0, w2 = 0, w3 = 0;
    const length = id.length;
    if (typeof id !== "string" && length === REPLY_ID_MAX_LENGTH) {
      w0 = id[0] | (id[1] << 8) | (id[2] << 16) | (id[3] << 24);
      w1 = id[4] | (id[5] << 8) | (id[6] << 16) | (id[7] << 24);
      w2 = id[8] | (id[9] << 8) | (id[10] << 16) | (id[11] << 24);
      w3 = id[12] | (id[13] << 8) | (id[14] << 16) | (id[15] << 24);
    } else {
      if (length > REPLY_ID_MAX_LENGTH) throw new RangeError(`Reply cache ids are at most 16 bytes, got ${length}`);
      const words = [0, 0, 0, 0];
      for (let i = 0; i < length; i++) {
        const byte = typeof id === "string" ? id.charCodeAt(i) : id[i];
        if (byte > 0xff) throw new RangeError(`Reply cache string ids hold char codes below 256, got ${byte}`);
        words[i >> 2] |= byte << ((i & 3) * 8);
      }
      [w0, w1, w2, w3] = words;
    }
    this.#w0 = w0;
    this.#w1 = w1;
    this.#w2 = w2;
    this.#w3 = w3;
    this.#length = length;
    this.#hash = hashIdWords(w0, w1, w2, w3, length);
  }

  // The index slot holding the parsed id, or the empty slot where it would go.
  #find(): number {
    const index = this.#index, log = this.#log, hash = this.#hash;
    let slot = index.seek(hash);
    while (index.occupied(slot)) {
      if (log.matches(index.record(slot), this.#w0, this.#w1, this.#w2, this.#w3, this.#length)) return slot;
      slot = index.seek(hash, slot);
    }
    return slot;
  }

  // Copies the live records into fresh chunks (killed ones outnumber them) and re-indexes them.
  #compact(): void {
    const log = this.#log, index = this.#index;
    log.compact();
    index.reset(index.capacity);
    for (let k = 0, pos = log.tail; k < log.used; k++, pos = log.next(pos)) index.add(log.hash(pos), pos);
    this.#memoValid = false;
  }
}

/**
 * 32-bit hash of an id given as four little-endian 32-bit words and its length
 * in bytes (murmur3-style mixing); never 0.
 *
 * @example
 * ```ts
 * console.log(hashIdWords(1, 2, 3, 4, 16) === hashIdWords(1, 2, 3, 4, 16)); // true
 * console.log(hashIdWords(1, 2, 3, 4, 16) !== 0); // true
 * ```
 */
export function hashIdWords(w0: number, w1: number, w2: number, w3: number, length: number): number {
  let h = length;
  h = mix(h, w0);
  h = mix(h, w1);
  h = mix(h, w2);
  h = mix(h, w3);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h; // never 0, which marks an empty index slot
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}
