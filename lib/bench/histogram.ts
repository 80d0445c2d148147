/**
 * A mergeable latency histogram for the load generator: log-linear buckets in
 * microseconds (exact below 128 µs, then 64 buckets per power of two, so every
 * recorded value is within 1.6% of its bucket), serializable as a sparse list.
 *
 * @module
 */

const EXACT = 128;
const SUB = 64;
const MAX_EXP = 32;
const BUCKETS = EXACT + (MAX_EXP - 7) * SUB;

/** Bucket index of a value in whole microseconds. */
function bucketOf(us: number): number {
  if (us < EXACT) return us < 0 ? 0 : us;
  const v = us >= 2 ** 31 ? 2 ** 31 - 1 : us;
  const b = 31 - Math.clz32(v);
  const shift = b - 6;
  return EXACT + (b - 7) * SUB + ((v >>> shift) - SUB);
}

/** Representative value (µs) of a bucket: its midpoint. */
function valueOf(index: number): number {
  if (index < EXACT) return index;
  const i = index - EXACT;
  const b = Math.floor(i / SUB) + 7;
  const shift = b - 6;
  const low = ((i % SUB) + SUB) * 2 ** shift;
  return low + (2 ** shift - 1) / 2;
}

/**
 * Latency histogram (microseconds).
 *
 * @example
 * ```ts
 * const h = new LatencyHistogram();
 * for (let i = 1; i <= 100; i++) h.record(i);
 * console.log(h.percentile(50)); // 50
 * ```
 */
export class LatencyHistogram {
  #counts = new Float64Array(BUCKETS);
  /** Number of recorded values. */
  count = 0;
  /** Sum of recorded values (µs), for the mean. */
  sum = 0;
  /** Largest recorded value (µs). */
  max = 0;

  /** Records one latency in microseconds (fractions are truncated). */
  record(us: number): void {
    const v = us > 0 ? Math.floor(us) : 0;
    this.#counts[bucketOf(v)]++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** The value (µs) below which `p` percent of recorded values fall; 0 when empty. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) return Math.min(valueOf(i), this.max);
    }
    return this.max;
  }

  /** Mean latency (µs); 0 when empty. */
  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** Adds every value of `other` into this histogram. */
  merge(other: LatencyHistogram): void {
    const c = other.#counts;
    for (let i = 0; i < BUCKETS; i++) this.#counts[i] += c[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /** Forgets every value. */
  reset(): void {
    this.#counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  /** A compact JSON form: non-empty buckets as [index, count] pairs. */
  toJSON(): { buckets: [number, number][]; sum: number; max: number } {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.#counts[i] > 0) buckets.push([i, this.#counts[i]]);
    return { buckets, sum: this.sum, max: this.max };
  }

  /** Rebuilds a histogram from {@linkcode LatencyHistogram.toJSON} output; throws `TypeError` if malformed. */
  static fromJSON(json: unknown): LatencyHistogram {
    const j = json as { buckets?: unknown; sum?: unknown; max?: unknown };
    if (!j || !Array.isArray(j.buckets) || typeof j.sum !== "number" || typeof j.max !== "number") {
      throw new TypeError("Malformed histogram JSON: expected { buckets: [[index, count]…], sum, max }");
    }
    const h = new LatencyHistogram();
    for (const pair of j.buckets) {
      const [i, n] = pair as [number, number];
      if (!Number.isInteger(i) || i < 0 || i >= BUCKETS || typeof n !== "number" || n < 0) {
        throw new TypeError(`Malformed histogram bucket ${JSON.stringify(pair)}`);
      }
      h.#counts[i] += n;
      h.count += n;
    }
    h.sum = j.sum;
    h.max = j.max;
    return h;
  }
}
