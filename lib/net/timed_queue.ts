/**
 * An insertion-ordered set of keys with a time each, O(1) to add at the tail, remove anywhere and
 * read from the head: the listener's queues of connections waiting for a head or a write. (A `Map`
 * used as a queue slows down as its head is deleted over and over: V8 leaves the deleted entries in
 * place until it rehashes, and every iteration walks past them.)
 *
 * @module
 */

interface Entry<K> {
  key: K;
  since: number;
  prev: Entry<K> | undefined;
  next: Entry<K> | undefined;
}

/**
 * Keys in the order they were (last) set, each with its time.
 *
 * @example
 * ```ts
 * const q = new TimedQueue<string>();
 * q.set("a", 1);
 * q.set("b", 2);
 * q.set("a", 3); // moves "a" to the tail
 * console.log([...q]); // [["b", 2], ["a", 3]]
 * ```
 */
export class TimedQueue<K> {
  #entries = new Map<K, Entry<K>>();
  #head: Entry<K> | undefined;
  #tail: Entry<K> | undefined;

  /** Number of keys. */
  get size(): number {
    return this.#entries.size;
  }

  /** Puts `key` at the tail with time `since` (moving it if present). */
  set(key: K, since: number): void {
    this.delete(key);
    const e: Entry<K> = { key, since, prev: this.#tail, next: undefined };
    if (this.#tail) this.#tail.next = e;
    else this.#head = e;
    this.#tail = e;
    this.#entries.set(key, e);
  }

  /** Removes `key`; false if absent. */
  delete(key: K): boolean {
    const e = this.#entries.get(key);
    if (!e) return false;
    this.#entries.delete(key);
    if (e.prev) e.prev.next = e.next;
    else this.#head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.#tail = e.prev;
    return true;
  }

  /** Keys with their times from the head (oldest); the key just yielded may be deleted meanwhile. */
  *[Symbol.iterator](): IterableIterator<[K, number]> {
    for (let e = this.#head; e;) {
      const next = e.next;
      yield [e.key, e.since];
      e = next;
    }
  }
}
