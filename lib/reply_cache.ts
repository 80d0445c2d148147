/**
 * At-most-once reply cache: remembers the reply sent for each request id for a
 * while, so a retried request is answered byte for byte and never executed twice.
 *
 * @module
 */

import { hashId, ReplyTable } from "./reply_table.ts";

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
  #table = new ReplyTable();
  #bytes = 0;
  // Insertion (= time) order for expiry, as a queue consumed from #head: expiring costs
  // time proportional to what expires (iterating a Map from its start walks every
  // deleted slot first, which made expiry O(n) per call once the cache was full).
  #queueIds: string[] = [];
  #queueAts: number[] = [];
  #head = 0;
  // The slot found by the last get(): put() right after it (the node's request path)
  // skips a second lookup. Any insert or delete makes it stale.
  #lastId: string | undefined;
  #lastHash = 0;
  #lastSlot = -1;

  /** Creates a cache keeping replies `ttlMs` and at most `maxBytes`. */
  constructor(options: { ttlMs: number; maxBytes: number }) {
    this.ttlMs = options.ttlMs;
    this.maxBytes = options.maxBytes;
  }

  /** Number of cached replies. */
  get size(): number {
    return this.#table.size;
  }

  /** Bytes charged for cached replies. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The cached reply for `id`, if cached and not expired at `now`. */
  get(id: string, now: number): Uint8Array | undefined {
    const hash = hashId(id);
    const slot = this.#table.find(id, hash);
    this.#lastId = id;
    this.#lastHash = hash;
    this.#lastSlot = slot;
    if (!this.#table.occupied(slot)) return undefined;
    if (now - this.#table.at(slot) >= this.ttlMs) return undefined;
    return this.#table.reply(slot);
  }

  /** Drops expired replies (oldest first; insertion order is time order). */
  expire(now: number): void {
    const ids = this.#queueIds, ats = this.#queueAts, table = this.#table;
    const start = this.#head;
    while (this.#head < ats.length) {
      const at = ats[this.#head];
      if (now - at < this.ttlMs) break;
      const id = ids[this.#head];
      ids[this.#head++] = "";
      const slot = table.find(id, hashId(id));
      // Skip records of replies replaced by a later put (the table holds the newer time).
      if (!table.occupied(slot) || table.at(slot) !== at) continue;
      this.#bytes -= table.reply(slot)!.length + REPLY_CACHE_ENTRY_OVERHEAD;
      table.delete(slot);
    }
    if (this.#head === start) return;
    this.#lastId = undefined;
    table.shrinkIfSparse();
    if (this.#head > 1024 && this.#head * 2 > ats.length) {
      this.#queueIds = ids.slice(this.#head);
      this.#queueAts = ats.slice(this.#head);
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
    const table = this.#table;
    const hash = this.#lastId === id ? this.#lastHash : hashId(id);
    const slot = this.#lastId === id ? this.#lastSlot : table.find(id, hash);
    if (table.occupied(slot)) {
      this.#bytes -= table.reply(slot)!.length + REPLY_CACHE_ENTRY_OVERHEAD;
      table.update(slot, reply, now);
    } else table.insert(slot, id, hash, reply, now);
    this.#lastId = undefined;
    this.#queueIds.push(id);
    this.#queueAts.push(now);
    this.#bytes += reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    return true;
  }

  /** Forgets everything. */
  clear(): void {
    this.#table.clear();
    this.#queueIds = [];
    this.#queueAts = [];
    this.#head = 0;
    this.#lastId = undefined;
    this.#bytes = 0;
  }
}
