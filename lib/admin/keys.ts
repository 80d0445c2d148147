/**
 * The admin Ed25519 key pair (WebCrypto): generation, the text formats of the
 * private key file and of `adminPublicKey` in nodes.yaml, and importing both.
 *
 * Public key: base64 of the raw 32-byte key (what `kvctl keygen` prints), or
 * base64 of its SPKI encoding (44 bytes). Private key file: comment lines
 * starting with `#`, then base64 PKCS#8.
 *
 * @module
 */
import { fromBase64, toBase64 } from "./command.ts";

/**
 * Raised when a key cannot be read; the message says what to do.
 *
 * @example
 * ```ts
 * const e = new AdminKeyError("bad key");
 * console.log(e.name); // "AdminKeyError"
 * ```
 */
export class AdminKeyError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AdminKeyError";
  }
}

/** A freshly generated key pair in its text forms. */
export interface GeneratedKeys {
  /** Base64 raw public key for nodes.yaml `adminPublicKey`. */
  publicKey: string;
  /** Contents of the private key file. */
  privateKeyFile: string;
}

/**
 * Generates an admin key pair.
 *
 * @example
 * ```ts
 * const keys = await generateAdminKeys();
 * console.log(keys.publicKey.length); // 44
 * ```
 */
export async function generateAdminKeys(): Promise<GeneratedKeys> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const publicKey = toBase64(raw);
  const privateKeyFile = `# KVStore admin private key (Ed25519, PKCS#8, base64). Keep it secret.\n` +
    `# Public key for nodes.yaml: adminPublicKey: ${publicKey}\n${toBase64(pkcs8)}\n`;
  return { publicKey, privateKeyFile };
}

/**
 * Whether `text` is a usable public key (base64 of 32 raw bytes or 44 SPKI bytes).
 *
 * @example
 * ```ts
 * console.log(isPublicKeyText("hello")); // false
 * ```
 */
export function isPublicKeyText(text: string): boolean {
  try {
    const n = fromBase64(text).length;
    return n === 32 || n === 44;
  } catch {
    return false;
  }
}

/**
 * Imports `adminPublicKey` from nodes.yaml for verification.
 *
 * @example
 * ```ts ignore
 * const key = await importAdminPublicKey(fleet.adminPublicKey!);
 * ```
 */
export async function importAdminPublicKey(text: string): Promise<CryptoKey> {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(text);
  } catch {
    throw new AdminKeyError("adminPublicKey is not base64; paste the key printed by 'kvctl keygen'");
  }
  const format = bytes.length === 32 ? "raw" : bytes.length === 44 ? "spki" : undefined;
  if (!format) {
    throw new AdminKeyError(
      `adminPublicKey decodes to ${bytes.length} bytes; an Ed25519 key has 32 (raw) or 44 (SPKI)`,
    );
  }
  try {
    return await crypto.subtle.importKey(format, bytes as Uint8Array<ArrayBuffer>, { name: "Ed25519" }, true, [
      "verify",
    ]);
  } catch (e) {
    throw new AdminKeyError(`adminPublicKey is not an Ed25519 key: ${(e as Error).message}`);
  }
}

/**
 * Imports the private key from the text of a key file written by `kvctl keygen`.
 *
 * @example
 * ```ts ignore
 * const key = await importAdminPrivateKey(await Deno.readTextFile("admin.key"));
 * ```
 */
export async function importAdminPrivateKey(fileText: string, file = "the key file"): Promise<CryptoKey> {
  const body = fileText.split("\n").filter((l) => !l.startsWith("#")).join("").trim();
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(body);
  } catch {
    throw new AdminKeyError(
      `${file} is not a KVStore admin key (expected base64 PKCS#8); create one with 'kvctl keygen'`,
    );
  }
  try {
    return await crypto.subtle.importKey("pkcs8", bytes as Uint8Array<ArrayBuffer>, { name: "Ed25519" }, true, [
      "sign",
    ]);
  } catch {
    throw new AdminKeyError(`${file} does not hold an Ed25519 private key; create one with 'kvctl keygen'`);
  }
}

/**
 * The raw public key (base64) that belongs to a private key, for matching against nodes.yaml.
 *
 * @example
 * ```ts ignore
 * console.log(await publicKeyOf(privateKey) === fleet.adminPublicKey);
 * ```
 */
export async function publicKeyOf(privateKey: CryptoKey): Promise<string> {
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  if (!jwk.x) throw new AdminKeyError("cannot derive the public key from this private key");
  return toBase64(fromBase64(jwk.x.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - jwk.x.length % 4) % 4)));
}

/**
 * Normalizes a public key text (raw or SPKI base64) to base64 raw, for comparison.
 *
 * @example
 * ```ts ignore
 * console.log(rawPublicKeyText(spkiBase64)); // the 32-byte form
 * ```
 */
export function rawPublicKeyText(text: string): string {
  const b = fromBase64(text);
  return toBase64(b.length === 44 ? b.subarray(12) : b);
}
