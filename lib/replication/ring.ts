/**
 * Consistent hashing with virtual nodes: where each key lives.
 *
 * Positions are 32-bit MurmurHash3 values. Every member owns `virtualNodes`
 * tokens (hash of `address#i`); a key's preference list is the first N
 * distinct members met walking clockwise from the key's position. The ring is
 * a pure function of the sorted member list, so two nodes with the same view
 * of the membership compute the same placement.
 *
 * @module
 */
import { fromHex, utf8Encoder } from "../base/bytes.ts";
import type { Address } from "../net/transport.ts";

/**
 * Size of the hash space (positions are 0 … 2^32 − 1).
 *
 * @example
 * ```ts
 * console.log(RING_SIZE); // 4294967296
 * ```
 */
export const RING_SIZE = 0x1_0000_0000;

/**
 * MurmurHash3 (x86, 32-bit) of `data`: fast, well mixed, not cryptographic.
 *
 * @example
 * ```ts
 * console.log(murmur3(new Uint8Array([1, 2, 3])) >= 0); // true
 * ```
 */
export function murmur3(data: Uint8Array, seed = 0): number {
  let h = seed | 0;
  const len = data.length;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = len & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= data[blocks + 2] << 16;
    if (rest >= 2) k ^= data[blocks + 1] << 8;
    k ^= data[blocks];
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  return fmix32(h ^ len);
}

/**
 * MurmurHash3's finalizer: spreads every input bit over the output.
 *
 * @example
 * ```ts
 * console.log(fmix32(0)); // 0
 * ```
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Ring position of a 32-byte key.
 *
 * @example
 * ```ts
 * console.log(keyPosition(new Uint8Array(32)) === keyPositionHex("00".repeat(32))); // true
 * ```
 */
export function keyPosition(key: Uint8Array): number {
  return murmur3(key);
}

const HEX_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUES["0123456789abcdef".charCodeAt(i)] = i;
  HEX_VALUES["0123456789ABCDEF".charCodeAt(i)] = i;
}
const scratch = new Uint8Array(32);

/**
 * Ring position of a key given as 64 hex digits (the store's key form); same as {@linkcode keyPosition}.
 *
 * @example
 * ```ts
 * console.log(keyPositionHex("00".repeat(32)) === keyPosition(new Uint8Array(32))); // true
 * ```
 */
export function keyPositionHex(hex: string): number {
  if (hex.length !== 64) return murmur3(fromHex(hex));
  for (let i = 0; i < 32; i++) {
    const hi = HEX_VALUES[hex.charCodeAt(2 * i) & 127], lo = HEX_VALUES[hex.charCodeAt(2 * i + 1) & 127];
    if (hi < 0 || lo < 0) return murmur3(fromHex(hex));
    scratch[i] = (hi << 4) | lo;
  }
  return murmur3(scratch);
}

/**
 * Index of the digest bucket (a contiguous range of the ring) holding `position`.
 *
 * @example
 * ```ts
 * console.log(bucketOf(0xffffffff, 1024)); // 1023
 * ```
 */
export function bucketOf(position: number, buckets: number): number {
  return Math.floor((position / RING_SIZE) * buckets);
}

/**
 * An immutable consistent-hash ring over a set of members.
 *
 * @example
 * ```ts
 * const ring = new Ring(["a:1", "b:1", "c:1", "d:1"], 64);
 * const owners = ring.preferenceList(new Uint8Array(32), 3);
 * console.log(new Set(owners).size); // 3
 * ```
 */
export class Ring {
  /** Members, sorted. */
  readonly members: readonly Address[];
  /** Tokens per member. */
  readonly virtualNodes: number;
  #tokens: Uint32Array;
  #owners: Uint16Array;
  // For each of the SLOTS equal slices of the ring, the index of its first token (and the end):
  // a lookup searches only its slice's few tokens.
  #slotStart = new Uint32Array(SLOTS + 1);
  #cache = new Map<number, Address[][]>();
  #fingerprints: { n: number; value: number } | undefined;

  /** Builds the ring of `members` (duplicates ignored) with `virtualNodes` tokens each. */
  constructor(members: Iterable<Address>, virtualNodes: number) {
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1 || virtualNodes > 4096) {
      throw new RangeError(`virtualNodes must be an integer 1-4096, got ${virtualNodes}`);
    }
    this.members = [...new Set(members)].sort();
    if (this.members.length > 65535) throw new RangeError(`A ring holds at most 65535 members`);
    this.virtualNodes = virtualNodes;
    // Sort (token, member) pairs packed in one float64 (token × 2^16 + member: exact below 2^53).
    const packed = new Float64Array(this.members.length * virtualNodes);
    let j = 0;
    for (let m = 0; m < this.members.length; m++) {
      for (const t of memberTokens(this.members[m], virtualNodes)) packed[j++] = t * 65536 + m;
    }
    packed.sort();
    this.#tokens = new Uint32Array(packed.length);
    this.#owners = new Uint16Array(packed.length);
    for (let i = 0; i < packed.length; i++) {
      const m = packed[i] % 65536;
      this.#owners[i] = m;
      this.#tokens[i] = (packed[i] - m) / 65536;
    }
    for (let slot = 0, i = 0; slot <= SLOTS; slot++) {
      while (i < this.#tokens.length && slot < SLOTS && this.#tokens[i] < slot * SLOT_WIDTH) i++;
      this.#slotStart[slot] = slot === SLOTS ? this.#tokens.length : i;
    }
  }

  /**
   * A 32-bit fingerprint of the placement with `n` replicas per key (members, tokens per member, n):
   * two nodes whose fingerprints match place every key on the same owners.
   */
  fingerprint(n: number): number {
    const text = `${this.members.join("\n")}\n${this.virtualNodes}\n${n}`;
    if (this.#fingerprints?.n !== n) this.#fingerprints = { n, value: murmur3(new TextEncoder().encode(text)) };
    return this.#fingerprints.value;
  }

  /** Number of members. */
  get size(): number {
    return this.members.length;
  }

  /** Index of the first token at or after `position` (wrapping to 0). */
  #tokenIndex(position: number): number {
    const t = this.#tokens;
    const slot = Math.floor(position / SLOT_WIDTH);
    let lo = this.#slotStart[slot], hi = this.#slotStart[slot + 1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t[mid] < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === t.length ? 0 : lo;
  }

  /** The first `count` distinct members clockwise from token `start` (uncached). */
  #walk(start: number, count: number): Address[] {
    const out: Address[] = [];
    const seen = new Set<number>();
    const len = this.#tokens.length;
    for (let k = 0; k < len && out.length < count; k++) {
      const m = this.#owners[(start + k) % len];
      if (!seen.has(m)) {
        seen.add(m);
        out.push(this.members[m]);
      }
    }
    return out;
  }

  /**
   * The preference list of the key at `position`: min(n, members) distinct members,
   * coordinator-independent. The returned array is shared: do not modify it.
   */
  preferenceListAt(position: number, n: number): readonly Address[] {
    if (this.#tokens.length === 0) return [];
    const i = this.#tokenIndex(position);
    let perToken = this.#cache.get(n);
    if (!perToken) {
      perToken = new Array(this.#tokens.length);
      this.#cache.set(n, perToken);
    }
    return perToken[i] ??= this.#walk(i, n);
  }

  /** The preference list of a 32-byte key (see {@linkcode Ring.preferenceListAt}). */
  preferenceList(key: Uint8Array, n: number): readonly Address[] {
    return this.preferenceListAt(keyPosition(key), n);
  }

  /** Every member in ring order from `position` (preference list first, then stand-ins). */
  successorsAt(position: number, count = this.members.length): Address[] {
    if (this.#tokens.length === 0) return [];
    return this.#walk(this.#tokenIndex(position), count);
  }

  /**
   * Members that share at least one preference list (of length n) with `member`:
   * the n−1 distinct members before and after each of its tokens.
   */
  neighbours(member: Address, n: number): Set<Address> {
    const out = new Set<Address>();
    const m = this.members.indexOf(member);
    const len = this.#tokens.length;
    if (m < 0) return out;
    for (let i = 0; i < len; i++) {
      if (this.#owners[i] !== m) continue;
      for (const dir of [1, -1]) {
        const seen = new Set<number>();
        for (let k = 1; k < len && seen.size < n - 1; k++) {
          const o = this.#owners[(i + dir * k + len * k) % len];
          if (o === m) break;
          seen.add(o);
        }
        for (const o of seen) out.add(this.members[o]);
      }
    }
    return out;
  }
}

/** Slices of the ring indexing its tokens (16 KiB of index a ring). */
const SLOTS = 4096;
const SLOT_WIDTH = RING_SIZE / SLOTS;

const tokenCache = new Map<string, Uint32Array>();

/** The `count` ring tokens of `member` (cached: they depend only on the address). */
function memberTokens(member: Address, count: number): Uint32Array {
  const id = `${count}|${member}`;
  let t = tokenCache.get(id);
  if (!t) {
    t = new Uint32Array(count);
    for (let i = 0; i < count; i++) t[i] = murmur3(utf8Encoder.encode(`${member}#${i}`));
    if (tokenCache.size > 100_000) tokenCache.clear();
    tokenCache.set(id, t);
  }
  return t;
}
