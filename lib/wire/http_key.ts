/**
 * HMAC-SHA256 with the shared cluster key (nodes.yaml `clusterKey`), used to
 * authenticate what nodes send to the monitor so a stranger cannot fake a node.
 *
 * @module
 */
import { fromHex, toHex, utf8Encoder } from "../base/bytes.ts";

/**
 * Imports a hex cluster key for signing and verifying.
 *
 * @example
 * ```ts
 * const key = await importClusterKey("00".repeat(32));
 * const tag = await signWithClusterKey(key, "hello");
 * console.log(await verifyWithClusterKey(key, "hello", tag)); // true
 * ```
 */
export function importClusterKey(hex: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    fromHex(hex) as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
      "verify",
    ],
  );
}

/**
 * Imports the fleet's cluster keys (the signing key first); empty for none.
 *
 * @example
 * ```ts
 * console.log((await importClusterKeys(["00".repeat(16), "11".repeat(16)])).length); // 2
 * ```
 */
export function importClusterKeys(hexes: readonly string[]): Promise<CryptoKey[]> {
  return Promise.all(hexes.map(importClusterKey));
}

/** Hex HMAC-SHA256 of `data` (text or bytes). */
export async function signWithClusterKey(key: CryptoKey, data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? utf8Encoder.encode(data) : data;
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes as Uint8Array<ArrayBuffer>)));
}

/**
 * Whether `tagHex` is the HMAC of `data` with `key`, or with any of a list of keys (a key
 * rotation in progress). Constant time per key via WebCrypto verify.
 */
export async function verifyWithClusterKey(
  key: CryptoKey | readonly CryptoKey[],
  data: string | Uint8Array,
  tagHex: string,
): Promise<boolean> {
  let tag: Uint8Array;
  try {
    tag = fromHex(tagHex);
  } catch {
    return false;
  }
  const bytes = typeof data === "string" ? utf8Encoder.encode(data) : data;
  for (const k of Array.isArray(key) ? key : [key]) {
    if (await crypto.subtle.verify("HMAC", k, tag as Uint8Array<ArrayBuffer>, bytes as Uint8Array<ArrayBuffer>)) {
      return true;
    }
  }
  return false;
}
