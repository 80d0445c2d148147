/**
 * Turning user-given keys (text or hex) into the protocol's 32-byte keys.
 *
 * @module
 */
import { fromHex, utf8Encoder } from "../base/bytes.ts";
import { KEY_LENGTH } from "../wire/client_protocol.ts";

/** Anything accepted as a key: text (UTF-8, zero-padded) or exactly-32-or-fewer bytes. */
export type KeyInput = string | Uint8Array;

/**
 * Encodes a key to 32 bytes: text as UTF-8, zero-padded; bytes zero-padded.
 * Throws `RangeError` if longer than 32 bytes.
 *
 * @example
 * ```ts
 * console.log(toKey("user:1").length); // 32
 * ```
 */
export function toKey(input: KeyInput): Uint8Array {
  const bytes = typeof input === "string" ? utf8Encoder.encode(input) : input;
  if (bytes.length > KEY_LENGTH) {
    throw new RangeError(
      `Key is ${bytes.length} bytes; keys are at most ${KEY_LENGTH} bytes (text is UTF-8, zero-padded)`,
    );
  }
  if (bytes.length === KEY_LENGTH) return bytes;
  const out = new Uint8Array(KEY_LENGTH);
  out.set(bytes);
  return out;
}

/** Parses a hex key (up to 64 hex digits, zero-padded); clear `TypeError`/`RangeError` otherwise. */
export function hexKey(hex: string): Uint8Array {
  if (hex.length > KEY_LENGTH * 2) {
    throw new RangeError(`Hex key has ${hex.length} digits; at most ${KEY_LENGTH * 2} (32 bytes)`);
  }
  return toKey(fromHex(hex));
}
