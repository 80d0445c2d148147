/**
 * kvctl's check of a release archive (`deno task release --key`) before it
 * sends it: `kvctl upgrade` requires the signature beside the archive,
 * `kvctl push` checks it when there is one.
 *
 * @module
 */
import { checkReleaseArchive } from "../admin/release.ts";
import { importAdminPublicKey, publicKeyOf } from "../admin/keys.ts";
import type { Common } from "./admin_common.ts";

/**
 * Checks `file` against `file.sig` with the fleet's adminPublicKey (else the public half of the key
 * kvctl signs with); resolves with the signature (base64), or throws why the archive is refused.
 *
 * @example
 * ```ts ignore
 * const signature = await checkArchive("upgrade", "dist/kvstore-0.1.0-linux-x64.tar.gz", c);
 * ```
 */
export async function checkArchive(verb: string, file: string, c: Common): Promise<string> {
  const publicKey = await importAdminPublicKey(c.fleet?.adminPublicKey ?? await publicKeyOf(c.privateKey));
  try {
    const sig = await checkReleaseArchive(file, publicKey);
    console.error(`${file}: signature verified (SHA-256 ${sig.sha256.slice(0, 16)}…, signed by the fleet's admin key)`);
    return sig.signature;
  } catch (e) {
    throw new Error(`kvctl ${verb}: refused: ${(e as Error).message}`);
  }
}
