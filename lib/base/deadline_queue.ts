/**
 * Deadlines of many short-lived waits behind one timer. A timer per internal
 * call (the runtime's `setTimeout`/`clearTimeout`) allocates a timer object and
 * keeps its closure, and everything the closure holds, alive until the timer
 * is cleared; on the replicated request path that was a fifth of the objects
 * surviving young-generation collections. Here a wait is two numbers in typed
 * arrays (a binary min-heap of deadline and id), a finished wait is left for
 * the heap to drop when its deadline passes, and one clock timer, set for the
 * earliest deadline and at most every {@linkcode DEADLINE_TICK_MS} ms, checks them.
 *
 * @module
 */
import type { Clock, TimerId } from "./clock.ts";

/**
 * Smallest gap between two checks (ms): a deadline fires at most this late. Replica calls time
 * out after 100 ms (LAN) or 500 ms (WAN), so this adds at most 10% to a timeout.
 */
export const DEADLINE_TICK_MS = 10;
/** Entries the heap starts with (it doubles when full). */
const INITIAL_CAPACITY = 1_024;

/**
 * A min-heap of `(deadline, id)` that calls `onExpired(id, deadline)` once the clock passes
 * `deadline`. Entries are never removed early: the callback checks whether the wait it names is
 * still the one that deadline belongs to, so cancelling costs nothing.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./clock.ts";
 * const clock = new VirtualClock(0);
 * const fired: number[] = [];
 * const q = new DeadlineQueue(clock, (id) => fired.push(id));
 * q.add(7, 50);
 * clock.advance(60);
 * console.log(fired); // [7]
 * q.close();
 * ```
 */
export class DeadlineQueue {
  #clock: Clock;
  #onExpired: (id: number, deadline: number) => void;
  #at = new Float64Array(INITIAL_CAPACITY);
  #ids = new Uint32Array(INITIAL_CAPACITY);
  #size = 0;
  #timer: TimerId | undefined;
  #timerAt = Infinity;
  #lastCheck = -Infinity;
  #closed = false;

  /** Creates a queue on `clock`; `onExpired` runs for each entry whose deadline passed. */
  constructor(clock: Clock, onExpired: (id: number, deadline: number) => void) {
    this.#clock = clock;
    this.#onExpired = onExpired;
  }

  /** Entries in the heap (finished waits included until their deadline passes). */
  get size(): number {
    return this.#size;
  }

  /** Adds a wait: `onExpired(id, deadline)` runs once the clock reaches `deadline`. */
  add(id: number, deadline: number): void {
    if (this.#closed) return;
    if (this.#size === this.#at.length) this.#grow();
    let i = this.#size++;
    const at = this.#at, ids = this.#ids;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (at[parent] <= deadline) break;
      at[i] = at[parent];
      ids[i] = ids[parent];
      i = parent;
    }
    at[i] = deadline;
    ids[i] = id;
    if (deadline < this.#timerAt) this.#schedule(deadline);
  }

  /** Stops the timer and forgets every entry. */
  close(): void {
    this.#closed = true;
    this.#size = 0;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(deadline: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    const now = this.#clock.now();
    const at = Math.max(deadline, this.#lastCheck + DEADLINE_TICK_MS);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(this.#check, Math.max(0, at - now));
  }

  #check = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#lastCheck = this.#clock.now();
    while (this.#size > 0 && this.#at[0] <= now && !this.#closed) {
      const deadline = this.#at[0], id = this.#ids[0];
      this.#pop();
      this.#onExpired(id, deadline);
    }
    if (this.#size > 0 && !this.#closed && this.#timer === undefined) this.#schedule(this.#at[0]);
  };

  #pop(): void {
    const at = this.#at, ids = this.#ids;
    const n = --this.#size;
    if (n === 0) return;
    const lastAt = at[n], lastId = ids[n];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && at[child + 1] < at[child]) child++;
      if (at[child] >= lastAt) break;
      at[i] = at[child];
      ids[i] = ids[child];
      i = child;
    }
    at[i] = lastAt;
    ids[i] = lastId;
  }

  #grow(): void {
    const at = new Float64Array(this.#at.length * 2), ids = new Uint32Array(this.#ids.length * 2);
    at.set(this.#at);
    ids.set(this.#ids);
    this.#at = at;
    this.#ids = ids;
  }
}
