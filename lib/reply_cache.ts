/**
 * At-most-once reply cache: remembers the reply sent for each request id for a
 * while, so a retried request is answered byte for byte and never executed twice.
 *
 * @module
 */

/** Bytes charged per cached reply on top of its length (map entry, id string). */
export const REPLY_CACHE_ENTRY_OVERHEAD = 96;

interface CacheEntry {
  id: string;
  reply: Uint8Array;
  at: number;
  /** False once a later put for the same id replaced it (its queue slot is then skipped). */
  live: boolean;
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
  #map = new Map<string, CacheEntry>();
  #bytes = 0;
  // Insertion (= time) order for expiry, as a queue consumed from #head. Iterating the Map
  // itself from the start walks over every deleted slot first, which made expiry O(n) per
  // call once the cache was full (a cliff at ~80k requests/s).
  #order: CacheEntry[] = [];
  #head = 0;
  // The entry found by the last get(): put() right after it (the node's request path)
  // skips a second lookup in a Map of hundreds of thousands of ids (each one cache misses).
  #lastId: string | undefined;
  #lastEntry: CacheEntry | undefined;

  /** Creates a cache keeping replies `ttlMs` and at most `maxBytes`. */
  constructor(options: { ttlMs: number; maxBytes: number }) {
    this.ttlMs = options.ttlMs;
    this.maxBytes = options.maxBytes;
  }

  /** Number of cached replies. */
  get size(): number {
    return this.#map.size;
  }

  /** Bytes charged for cached replies. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The cached reply for `id`, if cached and not expired at `now`. */
  get(id: string, now: number): Uint8Array | undefined {
    const e = this.#map.get(id);
    this.#lastId = id;
    this.#lastEntry = e;
    if (!e) return undefined;
    if (now - e.at >= this.ttlMs) return undefined;
    return e.reply;
  }

  /** Drops expired replies (oldest first; insertion order is time order). */
  expire(now: number): void {
    const order = this.#order;
    const start = this.#head;
    while (this.#head < order.length) {
      const e = order[this.#head];
      if (now - e.at < this.ttlMs) break;
      order[this.#head++] = undefined as never;
      if (!e.live) continue; // replaced by a later put
      this.#map.delete(e.id);
      this.#bytes -= e.reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    }
    if (this.#head === start) return;
    this.#lastId = this.#lastEntry = undefined;
    if (this.#head > 1024 && this.#head * 2 > order.length) {
      this.#order = order.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Whether a reply of `length` bytes fits now (after expiring old ones). */
  hasRoom(length: number, now: number): boolean {
    if (this.#bytes + length + REPLY_CACHE_ENTRY_OVERHEAD <= this.maxBytes) return true;
    this.expire(now);
    return this.#bytes + length + REPLY_CACHE_ENTRY_OVERHEAD <= this.maxBytes;
  }

  /** Caches `reply` for `id` if there is room (or `force`); returns whether it was cached. */
  put(id: string, reply: Uint8Array, now: number, force = false): boolean {
    if (!this.hasRoom(reply.length, now) && !force) return false;
    const old = this.#lastId === id ? this.#lastEntry : this.#map.get(id);
    if (old) {
      old.live = false;
      this.#bytes -= old.reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    }
    const entry: CacheEntry = { id, reply, at: now, live: true };
    this.#map.set(id, entry);
    this.#order.push(entry);
    this.#lastId = id;
    this.#lastEntry = entry;
    this.#bytes += reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    return true;
  }

  /** Forgets everything. */
  clear(): void {
    this.#map.clear();
    this.#order = [];
    this.#head = 0;
    this.#lastId = this.#lastEntry = undefined;
    this.#bytes = 0;
  }
}
