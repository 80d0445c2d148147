/**
 * The fuzzer: case budget from `FUZZ_CASES`, seeded random packets, and
 * mutators (bit flips, byte overwrites, truncation, extension, splices,
 * interesting length values), so every failure is reproducible from its seed.
 *
 * @module
 */
import { type Random, seededRandom } from "../../lib/base/random.ts";

/**
 * Cases per fuzz target: `FUZZ_CASES` (CI runs `deno task test:fuzz` with 100000),
 * `fallback` otherwise (the quick run inside `deno task test`).
 */
export function fuzzCases(fallback: number): number {
  let text: string | undefined;
  try {
    text = Deno.env.get("FUZZ_CASES");
  } catch { /* no env permission */ }
  const n = Number(text);
  return text && Number.isInteger(n) && n > 0 ? n : fallback;
}

/** Seed of the run: `FUZZ_SEED` when set (to replay a failure), else a fixed default. */
export function fuzzSeed(fallback = 20_241_125): number {
  let text: string | undefined;
  try {
    text = Deno.env.get("FUZZ_SEED");
  } catch { /* no env permission */ }
  const n = Number(text);
  return text && Number.isInteger(n) ? n : fallback;
}

/** A seeded fuzzer: random integers, bytes, packets and mutations. */
export class Fuzzer {
  readonly random: Random;

  /** Creates a fuzzer for `seed`. */
  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.random() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** A length biased towards protocol boundaries (0, 16, 17, 48–52, 15,051 …). */
  length(max = 16_000): number {
    const edges = [0, 1, 15, 16, 17, 18, 21, 48, 49, 50, 51, 52, 100, 151, 15_050, 15_051, 15_052];
    if (this.chance(0.4)) {
      return Math.max(0, Math.min(max, this.pick(edges) + (this.chance(0.3) ? this.int(3) - 1 : 0)));
    }
    return this.chance(0.8) ? this.int(Math.min(max, 300)) : this.int(max);
  }

  /** A random 16-bit value, often an edge (0, 1, 15,000, 15,001, 0xffff). */
  u16(): number {
    return this.chance(0.5) ? this.pick([0, 1, 2, 100, 14_999, 15_000, 15_001, 0x7fff, 0xffff]) : this.int(0x10000);
  }

  /** A mutated copy of `packet` (1–4 mutations). */
  mutate(packet: Uint8Array, corpus: readonly Uint8Array[] = []): Uint8Array {
    let p = packet.slice();
    const rounds = 1 + this.int(4);
    for (let r = 0; r < rounds; r++) {
      switch (this.int(9)) {
        case 0: // flip a bit
          if (p.length > 0) p[this.int(p.length)] ^= 1 << this.int(8);
          break;
        case 1: // overwrite a byte
          if (p.length > 0) p[this.int(p.length)] = this.pick([0, 1, 0x20, 0x7f, 0x80, 0xff, this.int(256)]);
          break;
        case 2: // truncate
          p = p.subarray(0, this.int(p.length + 1)).slice();
          break;
        case 3: { // extend with random bytes
          const extra = this.bytes(1 + this.int(this.chance(0.9) ? 40 : 3_000));
          const q = new Uint8Array(p.length + extra.length);
          q.set(p);
          q.set(extra, p.length);
          p = q;
          break;
        }
        case 4: // write a 16-bit edge value at a random offset (length fields)
          if (p.length >= 2) {
            const o = this.int(p.length - 1);
            const v = this.u16();
            p[o] = v & 0xff;
            p[o + 1] = v >> 8;
          }
          break;
        case 5: // write a 32-bit value (JSON length of internal messages)
          if (p.length >= 4) {
            const o = this.chance(0.5) && p.length >= 21 ? 17 : this.int(p.length - 3);
            new DataView(p.buffer, p.byteOffset).setUint32(
              o,
              this.pick([0, 1, 0x7fffffff, 0xffffffff, this.int(300)]),
              true,
            );
          }
          break;
        case 6: // splice with another corpus packet
          if (corpus.length > 0) {
            const other = this.pick(corpus);
            const cut = this.int(p.length + 1);
            const from = this.int(other.length + 1);
            const q = new Uint8Array(cut + other.length - from);
            q.set(p.subarray(0, cut));
            q.set(other.subarray(from), cut);
            p = q;
          }
          break;
        case 7: // replace a JSON-ish character with another one
          if (p.length > 21) {
            const o = 21 + this.int(p.length - 21);
            p[o] = this.pick([0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x2d, 0x30, 0x39, 0x6e, 0x5c]);
          }
          break;
        default: // duplicate a region
          if (p.length > 1) {
            const a = this.int(p.length);
            const b = a + this.int(Math.min(64, p.length - a));
            const q = new Uint8Array(p.length + (b - a));
            q.set(p.subarray(0, b));
            q.set(p.subarray(a, b), b);
            q.set(p.subarray(b), b + (b - a));
            p = q;
          }
      }
    }
    return p;
  }

  /** A random JSON-compatible value (for header fuzzing), depth-limited. */
  json(depth = 0): unknown {
    const kind = this.int(depth > 2 ? 6 : 8);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, this.int(1000)]);
      case 3:
        return this.pick(["", "x", "10.0.0.1:4000", "127.0.0.1:99999", "[::1]:1", "0".repeat(64), "ok", "full"]);
      case 4:
        return "a".repeat(this.int(5));
      case 5:
        return this.int(100);
      case 6:
        return Array.from({ length: this.int(4) }, () => this.json(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        const keys = ["s", "t", "u", "p", "n", "m", "j", "k", "v", "h", "id", "i", "c", "r", "b", "d", "x"];
        for (let i = this.int(5); i > 0; i--) o[this.pick(keys)] = this.json(depth + 1);
        return o;
      }
    }
  }
}
