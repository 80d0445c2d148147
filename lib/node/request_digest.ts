/**
 * A 64-bit digest of what a client request asks for, so the at-most-once cache
 * can tell a retry (the same bytes again) from a new request that reuses an id.
 * It covers the command byte, the key, and for a put the value-length field and
 * the value; not the id, and not bytes after what the command reads (a put's
 * trailing bytes, the key bytes a keyless command may carry). Two independent
 * 32-bit lanes of multiply-xorshift mixing over 4-byte words: fast, not
 * cryptographic (a client can only confuse its own retries).
 *
 * @module
 */
import { Command, ID_LENGTH } from "../wire/client_protocol.ts";

const KEY_END = ID_LENGTH + 1 + 32;
const VALUE_START = KEY_END + 2;

/** The digest of the last {@linkcode digestRequest} call: two 32-bit words. */
export const requestDigest = { lo: 0, hi: 0 };

/** End of the bytes of `packet` that make up its request (see the module doc). */
export function requestEnd(packet: Uint8Array): number {
  const command = packet[ID_LENGTH];
  if (command === Command.Put && packet.length >= VALUE_START) {
    return Math.min(packet.length, VALUE_START + (packet[KEY_END] | (packet[KEY_END + 1] << 8)));
  }
  if (command === Command.Put || command === Command.Get || command === Command.Remove) {
    return Math.min(packet.length, KEY_END);
  }
  if (command >= Command.Shutdown && command <= Command.GetMembershipCount) return ID_LENGTH + 1;
  return packet.length;
}

/**
 * Digests the request in `packet` (from its command byte to {@linkcode requestEnd}) into
 * {@linkcode requestDigest} (no allocation on the request path).
 *
 * @example
 * ```ts
 * const a = new Uint8Array(49), b = new Uint8Array(49);
 * a[16] = b[16] = 2; // get
 * b[0] = 9; // another id: ids are not part of the digest
 * digestRequest(a);
 * const first = { ...requestDigest };
 * digestRequest(b);
 * console.log(first.lo === requestDigest.lo && first.hi === requestDigest.hi); // true
 * ```
 */
export function digestRequest(packet: Uint8Array): void {
  const end = requestEnd(packet);
  let a = 0x9e3779b9 ^ end, b = 0x85ebca6b ^ Math.imul(end, 0x27d4eb2f);
  let i = ID_LENGTH;
  for (; i + 4 <= end; i += 4) {
    const w = packet[i] | (packet[i + 1] << 8) | (packet[i + 2] << 16) | (packet[i + 3] << 24);
    a = Math.imul(a ^ w, 0x01000193);
    a ^= a >>> 15;
    b = Math.imul(b + w, 0xcc9e2d51);
    b = (b << 13) | (b >>> 19);
  }
  let tail = 0;
  for (let shift = 0; i < end; i++, shift += 8) tail |= packet[i] << shift;
  a = Math.imul(a ^ tail, 0x01000193);
  b = Math.imul(b + tail, 0xcc9e2d51);
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 15;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  requestDigest.lo = a | 0;
  requestDigest.hi = b | 0;
}
