/**
 * The timers of one membership instance on an injected clock: one-shot and
 * repeating, all cancelled together when membership stops.
 *
 * @module
 */
import type { Clock, TimerId } from "../base/clock.ts";
import type { Random } from "../base/random.ts";

/**
 * A group of timers stopped as one.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../base/clock.ts";
 * const clock = new VirtualClock();
 * const timers = new TimerGroup(clock, Math.random);
 * let ticks = 0;
 * timers.every(() => 100, () => ticks++);
 * clock.advance(1_000);
 * timers.stop();
 * console.log(ticks >= 9); // true
 * ```
 */
export class TimerGroup {
  #clock: Clock;
  #random: Random;
  #ids = new Set<TimerId>();
  #stopped = false;

  /** Creates a group on `clock`; `random` spreads the first tick of repeating timers. */
  constructor(clock: Clock, random: Random) {
    this.#clock = clock;
    this.#random = random;
  }

  /** Whether {@linkcode TimerGroup.stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Calls `fn` once after `ms` (never after stop); returns the timer, for {@linkcode TimerGroup.cancel}. */
  after(ms: number, fn: () => void): TimerId | undefined {
    if (this.#stopped) return undefined;
    const id = this.#clock.setTimeout(() => {
      this.#ids.delete(id);
      if (!this.#stopped) fn();
    }, ms);
    this.#ids.add(id);
    return id;
  }

  /** Cancels a timer of {@linkcode TimerGroup.after} that has not fired (an idle node wakes only when needed). */
  cancel(id: TimerId | undefined): void {
    if (id === undefined || !this.#ids.delete(id)) return;
    this.#clock.clearTimeout(id);
  }

  /**
   * Runs `fn` repeatedly, `interval()` ms apart (re-read each time). The first run is at a
   * random point of the first interval, so nodes started together do not tick in step.
   * A throwing `fn` is reported to `onError` and the repetition goes on.
   */
  every(interval: () => number, fn: () => void, onError: (e: unknown) => void = () => {}): void {
    const tick = () => {
      try {
        fn();
      } catch (e) {
        onError(e);
      }
      this.after(interval(), tick);
    };
    this.after(Math.floor(this.#random() * interval()) + 1, tick);
  }

  /**
   * Rounds that run only while there is work: the returned `arm()` starts them when `pending()` holds and they
   * do not run yet (the first at a random point of the first interval, as a free-running ticker would); they
   * repeat every `interval` ms while `pending()` holds, so an idle owner keeps no timer. A throwing `fn` is
   * reported to `onError`.
   */
  whilePending(
    interval: number,
    pending: () => boolean,
    fn: () => void,
    onError: (e: unknown) => void = () => {},
  ): () => void {
    let armed = false;
    const round = () => {
      armed = false;
      try {
        fn();
      } catch (e) {
        onError(e);
      }
      if (!pending()) return;
      armed = true;
      this.after(interval, round);
    };
    return () => {
      if (armed || this.#stopped || interval <= 0 || !pending()) return;
      armed = true;
      this.after(Math.floor(this.#random() * interval) + 1, round);
    };
  }

  /** Cancels every timer; later calls to after/every do nothing. */
  stop(): void {
    this.#stopped = true;
    for (const id of this.#ids) this.#clock.clearTimeout(id);
    this.#ids.clear();
  }
}
