/**
 * Time seam: real time in production, virtual time in simulations.
 *
 * @module
 */

/** An opaque timer handle (a number for virtual time, the runtime's handle for real time). */
export type TimerId = number | ReturnType<typeof setTimeout>;

/** Time and timers, injected so node logic can run on real or virtual time. */
export interface Clock {
  /** Milliseconds since an arbitrary epoch (Unix epoch for the real clock). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer set with {@linkcode Clock.setTimeout}. */
  clearTimeout(id: TimerId): void;
}

/**
 * The real clock backed by `Date.now` and global timers.
 *
 * @example
 * ```ts
 * const t = realClock.setTimeout(() => console.log("tick"), 10);
 * realClock.clearTimeout(t);
 * ```
 */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/**
 * Virtual time for deterministic simulations: timers fire only when the
 * simulation advances time, in timestamp order (ties in creation order).
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * let fired = false;
 * clock.setTimeout(() => fired = true, 100);
 * clock.advance(100);
 * console.log(fired); // true
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #heap: { at: number; seq: number; id: number; fn: () => void }[] = [];
  #cancelled = new Set<number>();
  #nextId = 1;

  /** Creates a clock starting at `start` milliseconds. */
  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  /** Current virtual time. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at now + ms. */
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#push({ at: this.#now + Math.max(0, ms), seq: this.#seq++, id, fn });
    return id;
  }

  /** Cancels a timer. */
  clearTimeout(id: TimerId): void {
    if (typeof id === "number") this.#cancelled.add(id);
  }

  /** Number of timers still pending (cancelled ones may be counted until popped). */
  get pending(): number {
    return this.#heap.length;
  }

  /** Runs every timer due up to now + ms, then sets the time to now + ms. */
  advance(ms: number): void {
    const until = this.#now + ms;
    while (this.#heap.length > 0 && this.#heap[0].at <= until) {
      const t = this.#pop()!;
      if (this.#cancelled.delete(t.id)) continue;
      this.#now = t.at;
      t.fn();
    }
    this.#now = until;
  }

  /** Advances in steps of `step` ms until `predicate` holds or `limit` ms pass; returns the elapsed ms or -1. */
  advanceUntil(predicate: () => boolean, limit: number, step = 10): number {
    const start = this.#now;
    while (this.#now - start <= limit) {
      if (predicate()) return this.#now - start;
      this.advance(step);
    }
    return predicate() ? this.#now - start : -1;
  }

  #less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(item: { at: number; seq: number; id: number; fn: () => void }): void {
    const h = this.#heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop() {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * How a wire on `clock` defers the flush of a turn's messages: a microtask on real time, a
 * zero-delay timer on a virtual clock (whose timers run synchronously, with no turn between them).
 *
 * @example
 * ```ts
 * console.log(deferOn(realClock) === queueMicrotask); // true
 * ```
 */
export function deferOn(clock: Clock): (flush: () => void) => void {
  return clock === realClock ? queueMicrotask : (flush) => clock.setTimeout(flush, 0);
}
