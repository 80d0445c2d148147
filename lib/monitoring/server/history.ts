/**
 * Bounded per-node history: every numeric stat as a ring of fixed-resolution
 * buckets (last value wins in a bucket), so memory stays
 * nodes × series × points whatever the uptime.
 *
 * @module
 */
import type { StatMap } from "../report.ts";

/** One series as arrays of bucket start times (ms) and values. */
export interface Series {
  /** Bucket start times, oldest first. */
  t: number[];
  /** Values, same length as `t`. */
  v: number[];
}

/** Saved form of a {@linkcode NodeHistory}. */
export interface HistorySnapshot {
  /** Bucket length (ms). */
  resolutionMs: number;
  /** Series by stat name. */
  series: Record<string, Series>;
}

/**
 * Ring-buffered history of one node.
 *
 * @example
 * ```ts
 * const h = new NodeHistory({ resolutionMs: 1000, points: 60, maxSeries: 8 });
 * h.record(5_000, { keys: { value: 3 } });
 * console.log(h.series("keys").v); // [3]
 * ```
 */
export class NodeHistory {
  readonly resolutionMs: number;
  readonly points: number;
  readonly maxSeries: number;
  #buckets: Float64Array;
  #series = new Map<string, Float32Array>();
  #last = -Infinity;

  /** Creates an empty history. */
  constructor(options: { resolutionMs: number; points: number; maxSeries: number }) {
    if (!(options.resolutionMs > 0) || !(options.points >= 2)) {
      throw new RangeError("history needs a positive resolution and at least 2 points");
    }
    this.resolutionMs = options.resolutionMs;
    this.points = Math.floor(options.points);
    this.maxSeries = options.maxSeries;
    this.#buckets = new Float64Array(this.points).fill(NaN);
  }

  /** Records the numeric stats of a report received at `at` (ms). */
  record(at: number, stats: StatMap): void {
    const b = Math.floor(at / this.resolutionMs);
    if (!this.#advance(b)) return;
    const slot = this.#slot(b);
    for (const [name, stat] of Object.entries(stats)) {
      if (typeof stat.value !== "number") continue;
      const ring = this.#ring(name);
      if (ring) ring[slot] = stat.value;
    }
  }

  /** Moves the head to bucket `b`, clearing skipped slots; false if `b` is older than the window. */
  #advance(b: number): boolean {
    if (b <= this.#last - this.points) return false;
    if (b > this.#last) {
      const from = Number.isFinite(this.#last) ? Math.max(this.#last + 1, b - this.points + 1) : b - this.points + 1;
      for (let k = from; k <= b; k++) {
        const slot = this.#slot(k);
        this.#buckets[slot] = k;
        for (const s of this.#series.values()) s[slot] = NaN;
      }
      this.#last = b;
    }
    return true;
  }

  #slot(bucket: number): number {
    return ((bucket % this.points) + this.points) % this.points;
  }

  #ring(name: string): Float32Array | undefined {
    let s = this.#series.get(name);
    if (!s) {
      if (this.#series.size >= this.maxSeries) return undefined;
      s = new Float32Array(this.points).fill(NaN);
      this.#series.set(name, s);
    }
    return s;
  }

  /** Names of the series kept. */
  names(): string[] {
    return [...this.#series.keys()];
  }

  /** The series of `name` (empty if unknown), oldest first, gaps left out. */
  series(name: string): Series {
    const s = this.#series.get(name);
    const out: Series = { t: [], v: [] };
    if (!s || !Number.isFinite(this.#last)) return out;
    for (let b = this.#last - this.points + 1; b <= this.#last; b++) {
      const slot = this.#slot(b);
      if (this.#buckets[slot] !== b || Number.isNaN(s[slot])) continue;
      out.t.push(b * this.resolutionMs);
      out.v.push(s[slot]);
    }
    return out;
  }

  /** Every non-empty series, for saving or the API. */
  snapshot(): HistorySnapshot {
    const series: Record<string, Series> = {};
    for (const name of this.#series.keys()) {
      const one = this.series(name);
      if (one.v.length > 0) series[name] = one;
    }
    return { resolutionMs: this.resolutionMs, series };
  }

  /** Restores points from a snapshot (points outside the window are dropped). */
  restore(snapshot: HistorySnapshot): void {
    const entries = Object.entries(snapshot.series ?? {});
    const times = new Set<number>();
    for (const [, s] of entries) for (const t of s.t ?? []) times.add(t);
    for (const t of [...times].sort((a, b) => a - b)) {
      const stats: StatMap = {};
      for (const [name, s] of entries) {
        const i = s.t.indexOf(t);
        if (i >= 0 && typeof s.v[i] === "number") stats[name] = { value: s.v[i] };
      }
      this.record(t, stats);
    }
  }
}
