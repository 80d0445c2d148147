/**
 * Seeded pseudo-random numbers so simulations are repeatable.
 *
 * @module
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * Returns a deterministic generator (mulberry32) for a 32-bit seed.
 *
 * @example
 * ```ts
 * const rnd = seededRandom(42);
 * console.log(rnd() === seededRandom(42)()); // true
 * ```
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns an integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}

/** Returns up to `k` distinct elements of `items` chosen at random. */
export function sample<T>(random: Random, items: readonly T[], k: number): T[] {
  const copy = items.slice();
  const out: T[] = [];
  while (out.length < k && copy.length > 0) {
    const i = randomInt(random, copy.length);
    out.push(copy[i]);
    copy[i] = copy[copy.length - 1];
    copy.pop();
  }
  return out;
}

/** Fills `bytes` from `random` (deterministic when `random` is seeded). */
export function randomBytes(random: Random, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (random() * 256) | 0;
  return out;
}
