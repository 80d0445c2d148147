/**
 * Hybrid logical clock versions: newest write wins, ties broken by node id.
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";

/** A write version: HLC timestamp plus the id of the node that made it. */
export interface Version {
  /** HLC time: physical ms × 1024 + logical counter. */
  t: number;
  /** Id of the coordinating node. */
  n: string;
}

/** Logical ticks per millisecond in an HLC timestamp. */
export const HLC_TICKS_PER_MS = 1024;

/**
 * Orders versions: negative if a is older than b, 0 if equal, positive if newer.
 *
 * @example
 * ```ts
 * console.log(compareVersions({ t: 2, n: "a" }, { t: 1, n: "b" }) > 0); // true
 * ```
 */
export function compareVersions(a: Version, b: Version): number {
  if (a.t !== b.t) return a.t - b.t;
  return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
}

/**
 * Issues monotonically increasing versions for one node.
 *
 * @example
 * ```ts
 * import { realClock } from "../base/clock.ts";
 * const hlc = new HybridLogicalClock(realClock, "node-a");
 * const a = hlc.next(), b = hlc.next();
 * console.log(compareVersions(b, a) > 0); // true
 * ```
 */
export class HybridLogicalClock {
  #last = 0;
  readonly #clock: Clock;
  /** Id of the node whose versions this clock issues. */
  readonly nodeId: string;

  /** Creates a clock for `nodeId`. */
  constructor(clock: Clock, nodeId: string) {
    this.#clock = clock;
    this.nodeId = nodeId;
  }

  /** A new version, newer than any issued or observed before. */
  next(): Version {
    this.#last = Math.max(this.#clock.now() * HLC_TICKS_PER_MS, this.#last + 1);
    return { t: this.#last, n: this.nodeId };
  }

  /** Moves the clock past a version seen from another node. */
  observe(v: Version): void {
    if (v.t > this.#last) this.#last = v.t;
  }
}
