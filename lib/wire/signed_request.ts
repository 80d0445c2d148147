/**
 * Authenticating node → monitor HTTP requests with the cluster key:
 * header `X-KVStore-Node` (the node's address) and `X-KVStore-Signature`
 * (hex HMAC-SHA256 of `node + "\n" + body`).
 *
 * @module
 */
import { signWithClusterKey, verifyWithClusterKey } from "./http_key.ts";

/** Header carrying the sending node's address. */
export const NODE_HEADER = "x-kvstore-node";
/** Header carrying the HMAC of node + body. */
export const SIGNATURE_HEADER = "x-kvstore-signature";

/**
 * Headers to send with `body` from `node`, signed with the cluster key (or unsigned if no key).
 *
 * @example
 * ```ts ignore
 * const headers = await signedHeaders(key, "127.0.0.1:4000", body);
 * await fetch(url, { method: "POST", headers, body });
 * ```
 */
export async function signedHeaders(
  key: CryptoKey | undefined,
  node: string,
  body: string,
): Promise<Record<string, string>> {
  const headers: Record<string, string> = { "content-type": "application/json", [NODE_HEADER]: node };
  if (key) headers[SIGNATURE_HEADER] = await signWithClusterKey(key, `${node}\n${body}`);
  return headers;
}

/** Whether the request's signature matches (true when the monitor has no key configured). */
export async function verifySignedBody(
  key: CryptoKey | readonly CryptoKey[] | undefined,
  node: string | undefined | null,
  signature: string | undefined | null,
  body: string,
): Promise<boolean> {
  if (!key) return true;
  if (!node || !signature) return false;
  return await verifyWithClusterKey(key, `${node}\n${body}`, signature);
}
