/**
 * Small byte helpers: hex, UTF-8, key padding.
 *
 * @module
 */

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** Both hex digits' char codes of each byte value (high digit in the high byte). */
const HEX_PAIRS: Uint16Array = Uint16Array.from(HEX, (h) => (h.charCodeAt(0) << 8) | h.charCodeAt(1));
/** Longest input converted through char codes (`apply` takes a bounded number of arguments). */
const HEX_CODES_MAX_BYTES = 4096;
/** Reused char-code buffer for 32-byte keys. */
const hexCodes: number[] = new Array<number>(64).fill(0);

/**
 * Lower-case hex of `bytes`.
 *
 * @example
 * ```ts
 * console.log(toHex(new Uint8Array([1, 255]))); // "01ff"
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  if (bytes.length > HEX_CODES_MAX_BYTES) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
    return s;
  }
  // Keys (32 bytes) are converted on every request: one flat string from char codes is about
  // twice as fast as 32 concatenations, which V8 must also flatten before hashing.
  const codes = bytes.length * 2 === hexCodes.length ? hexCodes : new Array<number>(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    const pair = HEX_PAIRS[bytes[i]];
    codes[2 * i] = pair >> 8;
    codes[2 * i + 1] = pair & 0xff;
  }
  return String.fromCharCode.apply(null, codes);
}

/** Parses hex; throws `TypeError` naming the problem if it is not even-length hex. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError(
      `Invalid hex "${hex.length > 40 ? hex.slice(0, 40) + "…" : hex}": expected an even number of 0-9/a-f digits`,
    );
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Shared UTF-8 encoder. */
export const utf8Encoder: TextEncoder = new TextEncoder();
/** Shared UTF-8 decoder. */
export const utf8Decoder: TextDecoder = new TextDecoder();

/** Whether two byte arrays are equal. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
