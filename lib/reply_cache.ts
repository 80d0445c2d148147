/**
 * At-most-once reply cache: remembers the reply sent for each request id for a
 * while, so a retried request is answered byte for byte and never executed twice.
 *
 * @module
 */

/** Bytes charged per cached reply on top of its length (map entry, id string). */
export const REPLY_CACHE_ENTRY_OVERHEAD = 96;

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
  #map = new Map<string, { reply: Uint8Array; at: number }>();
  #bytes = 0;

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
    if (!e) return undefined;
    if (now - e.at >= this.ttlMs) return undefined;
    return e.reply;
  }

  /** Drops expired replies (oldest first; insertion order is time order). */
  expire(now: number): void {
    for (const [id, e] of this.#map) {
      if (now - e.at < this.ttlMs) break;
      this.#map.delete(id);
      this.#bytes -= e.reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
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
    const old = this.#map.get(id);
    if (old) {
      this.#map.delete(id);
      this.#bytes -= old.reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    }
    this.#map.set(id, { reply, at: now });
    this.#bytes += reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    return true;
  }

  /** Forgets everything. */
  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}
