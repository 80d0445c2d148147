/**
 * A 64-bit digest of what a client request asks for, so the at-most-once reply cache can tell a
 * retry (the same bytes again) from a new request that reuses an id. `decodeRequest`
 * (`client_protocol.ts`, the one parser of the client layout) decides which bytes the request
 * covers and digests them here: the command byte, the key, and for a put the value-length field and
 * the value; not the id, and not bytes after what the command reads. Two independent 32-bit lanes of
 * multiply-xorshift mixing over 4-byte words: fast, not cryptographic (a client can only confuse
 * its own retries).
 *
 * @module
 */

/** A 64-bit request digest as two signed 32-bit words. */
export interface RequestDigest {
  /** Low word (first lane). */
  readonly lo: number;
  /** High word (second lane). */
  readonly hi: number;
}

/**
 * The digest of `bytes[start, end)`, seeded with `end` (for a request, whose bytes start at a fixed
 * offset, its length).
 *
 * @example
 * ```ts
 * const a = Uint8Array.of(9, 2, 7, 7), b = Uint8Array.of(1, 2, 7, 7);
 * const x = digestRange(a, 1, 4), y = digestRange(b, 1, 4);
 * console.log(x.lo === y.lo && x.hi === y.hi); // true: byte 0 is outside the range
 * ```
 */
export function digestRange(bytes: Uint8Array, start: number, end: number): RequestDigest {
  let a = 0x9e3779b9 ^ end, b = 0x85ebca6b ^ Math.imul(end, 0x27d4eb2f);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const w = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    a = Math.imul(a ^ w, 0x01000193);
    a ^= a >>> 15;
    b = Math.imul(b + w, 0xcc9e2d51);
    b = (b << 13) | (b >>> 19);
  }
  let tail = 0;
  for (let shift = 0; i < end; i++, shift += 8) tail |= bytes[i] << shift;
  a = Math.imul(a ^ tail, 0x01000193);
  b = Math.imul(b + tail, 0xcc9e2d51);
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 15;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  return { lo: a | 0, hi: b | 0 };
}
