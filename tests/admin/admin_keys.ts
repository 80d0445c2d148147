/**
 * Admin signing keys for tests: a fresh Ed25519 pair as `kvctl keygen` makes it.
 *
 * @module
 */
import { generateAdminKeys, importAdminPrivateKey } from "../../lib/admin/keys.ts";

/** A key pair: the private key, the public key text for nodes.yaml, and the private key file's text. */
export async function makeKeys(): Promise<{ privateKey: CryptoKey; publicKey: string; file: string }> {
  const k = await generateAdminKeys();
  return { privateKey: await importAdminPrivateKey(k.privateKeyFile), publicKey: k.publicKey, file: k.privateKeyFile };
}
