/**
 * Lifeguard suspicion timer: starts at the max timeout and shrinks towards the
 * min timeout (logarithmically) as independent confirmations arrive.
 *
 * @module
 */
import type { Clock, TimerId } from "../base/clock.ts";
import type { Address } from "../net/transport.ts";

/**
 * Remaining time of a suspicion after `confirmations` of the `expected` ones,
 * `elapsedMs` after it started (memberlist `remainingSuspicionTime`).
 *
 * @example
 * ```ts
 * console.log(remainingSuspicionMs(0, 2, 0, 4_000, 24_000)); // 24000
 * console.log(remainingSuspicionMs(2, 2, 1_000, 4_000, 24_000)); // 3000
 * ```
 */
export function remainingSuspicionMs(
  confirmations: number,
  expected: number,
  elapsedMs: number,
  minMs: number,
  maxMs: number,
): number {
  if (expected < 1) return minMs - elapsedMs;
  const frac = Math.log(confirmations + 1) / Math.log(expected + 1);
  const timeout = Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
  return timeout - elapsedMs;
}

/**
 * One member's suspicion: fires `onTimeout` once, unless cancelled.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../base/clock.ts";
 * const clock = new VirtualClock();
 * let dead = false;
 * const s = new Suspicion(clock, "10.0.0.2:4000", 2, 4_000, 24_000, () => dead = true);
 * s.confirm("10.0.0.3:4000");
 * s.confirm("10.0.0.4:4000");
 * clock.advance(4_000);
 * console.log(dead); // true
 * ```
 */
export class Suspicion {
  /** Confirmations expected for the minimum timeout. */
  readonly expected: number;
  /** When the suspicion started. */
  readonly startedAt: number;
  #clock: Clock;
  #from = new Set<Address>();
  #confirmations = 0;
  #min: number;
  #max: number;
  #timer: TimerId;
  #onTimeout: () => void;
  #done = false;

  /** Starts a suspicion raised by `from`, expecting `expected` independent confirmations. */
  constructor(clock: Clock, from: Address, expected: number, minMs: number, maxMs: number, onTimeout: () => void) {
    this.#clock = clock;
    this.expected = expected;
    this.#min = minMs;
    this.#max = maxMs;
    this.#onTimeout = onTimeout;
    this.startedAt = clock.now();
    this.#from.add(from);
    this.#timer = clock.setTimeout(() => this.#fire(), expected < 1 ? minMs : maxMs);
  }

  /** Independent confirmations received so far. */
  get confirmations(): number {
    return this.#confirmations;
  }

  /** Counts a confirmation by `from`; returns whether it was new (then it is worth re-gossiping). */
  confirm(from: Address): boolean {
    if (this.#done || this.#confirmations >= this.expected || this.#from.has(from)) return false;
    this.#from.add(from);
    this.#confirmations++;
    const remaining = remainingSuspicionMs(
      this.#confirmations,
      this.expected,
      this.#clock.now() - this.startedAt,
      this.#min,
      this.#max,
    );
    this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(0, remaining));
    return true;
  }

  /** Stops the timer (the member refuted, or the node stops). */
  cancel(): void {
    this.#done = true;
    this.#clock.clearTimeout(this.#timer);
  }

  #fire(): void {
    if (this.#done) return;
    this.#done = true;
    this.#onTimeout();
  }
}
