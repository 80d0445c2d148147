/**
 * The digests anti-entropy compares: two 32-bit hashes per entry (position, version, tombstone),
 * combined per bucket and per table so that two replicas holding the same versions agree.
 *
 * @module
 */
import { utf8Encoder } from "../base/bytes.ts";
import { fmix32, murmur3 } from "./ring.ts";

// Node ids hash once: versions name few coordinators.
const nodeHashes = new Map<string, number>();
function nodeHash(n: string): number {
  let h = nodeHashes.get(n);
  if (h === undefined) {
    h = murmur3(utf8Encoder.encode(n), 0x9747b28c);
    if (nodeHashes.size > 10_000) nodeHashes.clear();
    nodeHashes.set(n, h);
  }
  return h;
}

/**
 * Two 32-bit hashes of (position, version, tombstone) for digests.
 *
 * @example
 * ```ts
 * const [h1, h2] = entryDigest(123, 1024, "10.0.0.1:4000", false);
 * console.log(h1 >= 0 && h2 >= 0); // true
 * ```
 */
export function entryDigest(position: number, t: number, n: string, tombstone: boolean): [number, number] {
  const lo = t % 0x1_0000_0000, hi = Math.floor(t / 0x1_0000_0000);
  const v = fmix32((lo ^ Math.imul(hi, 0x9e3779b1)) ^ nodeHash(n) ^ (tombstone ? 0x5bd1e995 : 0));
  const h1 = fmix32(position ^ v);
  const h2 = fmix32(Math.imul(h1 ^ 0x27d4eb2f, 0x165667b1) + v);
  return [h1, h2];
}

/**
 * The digest of a whole pair table: XOR of the first hashes and sum of the second ones.
 *
 * @example
 * ```ts
 * console.log(digestTotal(new Uint32Array([1, 2, 4, 8]))); // [5, 10]
 * ```
 */
export function digestTotal(table: Uint32Array | undefined): [number, number] {
  let x = 0, y = 0;
  if (table) {
    for (let i = 0; i < table.length; i += 2) {
      x ^= table[i];
      y = (y + table[i + 1]) >>> 0;
    }
  }
  return [x >>> 0, y];
}
