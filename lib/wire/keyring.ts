/**
 * The cluster keyring: the shared keys that tag every node-to-node frame with
 * HMAC-SHA256 truncated to 16 bytes (RFC 4231's 128-bit truncation). The first
 * key signs, every key verifies, so a key is rotated without downtime (as in
 * memberlist's keyring): install the new key everywhere as a second key, make
 * it the first everywhere, then remove the old one.
 *
 * HMAC comes from `@noble/hashes` (audited, pure JS): each key's inner and outer
 * states are keyed once and cloned per tag, so a tag costs only the hashing
 * (about 2 µs for 200 bytes here, against ~50 µs through WebCrypto's async API;
 * `deno task bench:auth`).
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromHex } from "../base/bytes.ts";
import { type FrameAuth, TAG_BYTES } from "./frame.ts";

/** Shortest key accepted: 16 bytes (32 hex digits). */
export const MIN_KEY_BYTES = 16;

/** The part of noble's HMAC state the keyring uses. */
interface Hmac {
  update(data: Uint8Array): unknown;
  digestInto(out: Uint8Array): void;
  _cloneInto(to?: Hmac): Hmac;
}

/**
 * HMAC-SHA256 of `data` with `key`, all 32 bytes (the primitive the keyring truncates).
 *
 * @example
 * ```ts
 * const tag = hmacSha256(new TextEncoder().encode("key"), new TextEncoder().encode("data"));
 * console.log(tag.length); // 32
 * ```
 */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(sha256, key, data);
}

/** One key: its id and its keyed state, cloned for each tag. */
interface KeyState {
  id: number;
  keyed: Hmac;
  scratch: Hmac;
}

/**
 * Signs and verifies frames with the cluster keys.
 *
 * @example
 * ```ts
 * const ring = ClusterKeyring.fromHex(["ab".repeat(32)]);
 * const data = new Uint8Array([1, 2, 3]);
 * const tag = new Uint8Array(16);
 * ring.sign(data, tag, 0);
 * console.log(ring.verify(data, ring.primaryKeyId, tag)); // true
 * ```
 */
export class ClusterKeyring implements FrameAuth {
  #keys: KeyState[];
  #digest = new Uint8Array(32);

  private constructor(keys: Uint8Array[]) {
    this.#keys = keys.map((k) => {
      const keyed = hmac.create(sha256, k) as unknown as Hmac;
      return { id: keyIdOf(k), keyed, scratch: keyed._cloneInto() };
    });
  }

  /**
   * A keyring of hex keys, the first signing. Throws `RangeError` naming the entry that is not
   * at least 32 hex digits, or when the list is empty.
   */
  static fromHex(keys: readonly string[]): ClusterKeyring {
    if (keys.length === 0) throw new RangeError("Cluster keyring: give at least one key");
    return new ClusterKeyring(keys.map((hex, i) => {
      if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2 !== 0 || hex.length < 2 * MIN_KEY_BYTES) {
        throw new RangeError(
          `Cluster key ${i + 1} of ${keys.length} is not usable: expected at least ${
            2 * MIN_KEY_BYTES
          } hex digits (an even count), for example from 'openssl rand -hex 32'`,
        );
      }
      return fromHex(hex.toLowerCase());
    }));
  }

  /** Id of the key that signs. */
  get primaryKeyId(): number {
    return this.#keys[0].id;
  }

  /** Number of keys. */
  get size(): number {
    return this.#keys.length;
  }

  /** Ids of every key, signing key first (for logs and stats; the keys themselves never leave). */
  get keyIds(): number[] {
    return this.#keys.map((k) => k.id);
  }

  /** Writes the 16-byte tag of `data` with the signing key into `out` at `offset`. */
  sign(data: Uint8Array, out: Uint8Array, offset: number): void {
    this.#tag(this.#keys[0], data);
    out.set(this.#digest.subarray(0, TAG_BYTES), offset);
  }

  /** Whether `tag` is the tag of `data` with the key `keyId` (constant time over the 16 bytes). Never throws. */
  verify(data: Uint8Array, keyId: number, tag: Uint8Array): boolean {
    if (tag.length !== TAG_BYTES) return false;
    const key = this.#keys.find((k) => k.id === keyId);
    if (!key) return false;
    this.#tag(key, data);
    const d = this.#digest;
    let diff = 0;
    for (let i = 0; i < TAG_BYTES; i++) diff |= d[i] ^ tag[i];
    return diff === 0;
  }

  #tag(key: KeyState, data: Uint8Array): void {
    const h = key.keyed._cloneInto(key.scratch);
    h.update(data);
    h.digestInto(this.#digest);
  }
}

/**
 * A key's id: the first 4 bytes of SHA-256 of the key, big-endian (names the key in a frame
 * without revealing it).
 *
 * @example
 * ```ts
 * console.log(keyIdOf(new Uint8Array(16)) === keyIdOf(new Uint8Array(16))); // true
 * ```
 */
export function keyIdOf(key: Uint8Array): number {
  const d = sha256(key);
  return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
}
