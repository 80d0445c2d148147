/**
 * The release archive (`deno task release`: `kvstore-VERSION-linux-x64.tar.gz`)
 * as kvctl and the nodes see it: its detached signature and its unpacking.
 *
 * The signature file (`ARCHIVE.sig`) is a few text lines; the Ed25519
 * signature (admin key) covers {@linkcode releaseMessage}: a domain line and
 * the archive's SHA-256, so verifying hashes the file in pieces and a release
 * signature can never pass for an admin command's (`kvstore-admin-v1`).
 *
 * A node given an archive by `kvctl upgrade` checks the signature with the
 * fleet's `adminPublicKey`, then extracts it (a TypeScript tar reader: no
 * `tar` program, no `..` or links) next to it and restarts on the bundle and
 * the runtime inside.
 *
 * @module
 */
import { fileSha256 } from "../base/program.ts";
import { utf8Encoder } from "../base/bytes.ts";
import { extractTar, RELEASE_TAR_LIMITS, walkTar } from "../base/tar.ts";
import { createHash } from "node:crypto";
import { fromBase64, toBase64 } from "./command.ts";
import { publicKeyOf } from "./keys.ts";

/** First line of a signature file, and the domain of what is signed. */
const SIGNATURE_HEADER = "kvstore-release-signature v1";

/** The program inside a release archive (relative to its root). */
export const RELEASE_BUNDLE = "kvstore.js";
/** The Deno runtime inside a release archive. */
export const RELEASE_RUNTIME = "runtime/deno";

/**
 * Whether `path` names a release archive (by its extension).
 *
 * @example
 * ```ts
 * console.log(isReleaseArchive("dist/kvstore-0.1.0-linux-x64.tar.gz")); // true
 * ```
 */
export function isReleaseArchive(path: string): boolean {
  return /\.(tar\.gz|tgz)$/.test(path);
}

/**
 * Raised when a release archive or its signature does not check out; the message says why.
 *
 * @example
 * ```ts
 * console.log(new ReleaseError("tampered").name); // "ReleaseError"
 * ```
 */
export class ReleaseError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ReleaseError";
  }
}

/** The fields of a signature file. */
export interface ReleaseSignature {
  /** Archive file name it was made for. */
  file: string;
  /** The archive's SHA-256 (hex). */
  sha256: string;
  /** Public key that signed (base64 raw), informational. */
  key: string;
  /** Ed25519 signature (base64) of {@linkcode releaseMessage}. */
  signature: string;
}

/**
 * The bytes a release signature covers.
 *
 * @example
 * ```ts
 * console.log(new TextDecoder().decode(releaseMessage("ab")).split("\n")[1]); // "sha256 ab"
 * ```
 */
export function releaseMessage(sha256: string): Uint8Array<ArrayBuffer> {
  return utf8Encoder.encode(`${SIGNATURE_HEADER}\nsha256 ${sha256}\n`) as Uint8Array<ArrayBuffer>;
}

/**
 * Signs the archive whose SHA-256 is `sha256`; resolves with the signature file's text.
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile(`${archive}.sig`, await signRelease(key, sha, "kvstore-0.1.0-linux-x64.tar.gz"));
 * ```
 */
export async function signRelease(privateKey: CryptoKey, sha256: string, file: string): Promise<string> {
  const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", privateKey, releaseMessage(sha256)));
  return `${SIGNATURE_HEADER}\nfile ${file}\nsha256 ${sha256}\nkey ${await publicKeyOf(privateKey)}\n` +
    `signature ${toBase64(sig)}\n`;
}

/**
 * Parses a signature file; throws {@linkcode ReleaseError} saying what is wrong.
 *
 * @example
 * ```ts
 * try {
 *   parseReleaseSignature("hello");
 * } catch (e) {
 *   console.log((e as Error).name); // "ReleaseError"
 * }
 * ```
 */
export function parseReleaseSignature(text: string, from = "the signature file"): ReleaseSignature {
  const lines = text.trim().split("\n").map((l) => l.trim());
  if (lines[0] !== SIGNATURE_HEADER) {
    throw new ReleaseError(`${from} is not a KVStore release signature (first line "${SIGNATURE_HEADER}")`);
  }
  const fields = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]));
  const sha256 = fields.get("sha256") ?? "";
  const signature = fields.get("signature") ?? "";
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ReleaseError(`${from} has no valid "sha256" line`);
  if (!/^[A-Za-z0-9+/]{86}==$/.test(signature)) throw new ReleaseError(`${from} has no valid "signature" line`);
  return { file: fields.get("file") ?? "", sha256, key: fields.get("key") ?? "", signature };
}

/**
 * Whether `signature` (base64) is the admin key's signature of the archive with SHA-256 `sha256`.
 *
 * @example
 * ```ts ignore
 * if (!await verifyReleaseSignature(publicKey, sha, sig.signature)) throw new Error("not signed by the fleet");
 * ```
 */
export async function verifyReleaseSignature(
  publicKey: CryptoKey,
  sha256: string,
  signature: string,
): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(signature);
  } catch {
    return false;
  }
  if (bytes.length !== 64) return false;
  return await crypto.subtle.verify("Ed25519", publicKey, bytes as Uint8Array<ArrayBuffer>, releaseMessage(sha256));
}

/**
 * Checks `archive` against its signature file (default `ARCHIVE.sig`): the file's SHA-256 must be
 * the signed one and the signature the admin key's. Resolves with the parsed signature; throws
 * {@linkcode ReleaseError} with the reason (a changed archive, another key, no signature).
 *
 * @example
 * ```ts ignore
 * const sig = await checkReleaseArchive("dist/kvstore-0.1.0-linux-x64.tar.gz", publicKey);
 * ```
 */
export async function checkReleaseArchive(
  archive: string,
  publicKey: CryptoKey,
  sigPath = `${archive}.sig`,
): Promise<ReleaseSignature> {
  let text: string;
  try {
    text = await Deno.readTextFile(sigPath);
  } catch {
    throw new ReleaseError(
      `no signature ${sigPath} for ${archive}: build the release with 'deno task release --key admin.key'`,
    );
  }
  const sig = parseReleaseSignature(text, sigPath);
  const sha = await fileSha256(archive);
  if (sha !== sig.sha256) {
    throw new ReleaseError(
      `${archive} has SHA-256 ${sha.slice(0, 16)}…, but ${sigPath} signs ${sig.sha256.slice(0, 16)}…: ` +
        "the archive was changed after it was signed (or belongs to another signature)",
    );
  }
  if (!await verifyReleaseSignature(publicKey, sha, sig.signature)) {
    throw new ReleaseError(
      `${sigPath} does not verify with the fleet's adminPublicKey: signed with another key, or altered`,
    );
  }
  return sig;
}

/** Where an unpacked release's program and runtime are. */
export interface UnpackedRelease {
  /** Directory it was extracted to. */
  dir: string;
  /** The bundle (absolute). */
  program: string;
  /** The Deno runtime (absolute). */
  runtime: string;
}

/**
 * On a node: checks that `signature` signs `sha256` with the fleet's admin key, that `archive`
 * has that SHA-256, and extracts it next to it (`bin/kvstore-<sha>.tar.gz` →
 * `bin/kvstore-<sha>/`, through a temporary directory, so a half-extracted archive is never
 * run). A directory left complete by an earlier attempt is reused.
 *
 * @example
 * ```ts ignore
 * const { program, runtime } = await unpackRelease("/srv/kv/bin/kvstore-ab12.tar.gz", sha, sig, publicKey);
 * ```
 */
export async function unpackRelease(
  archive: string,
  sha256: string,
  signature: string | undefined,
  publicKey: CryptoKey | undefined,
): Promise<UnpackedRelease> {
  if (!signature) throw new ReleaseError("the archive comes without a signature; nodes run only signed releases");
  if (!publicKey) throw new ReleaseError("this node has no adminPublicKey to check the archive's signature with");
  if (!await verifyReleaseSignature(publicKey, sha256, signature)) {
    throw new ReleaseError("the archive's signature does not verify with the fleet's adminPublicKey");
  }
  const got = await fileSha256(archive);
  if (got !== sha256) {
    throw new ReleaseError(`${archive} has SHA-256 ${got.slice(0, 12)}…, not the signed ${sha256.slice(0, 12)}…`);
  }
  const dir = archive.replace(/\.(tar\.gz|tgz)$/, "");
  const done = { dir, program: `${dir}/${RELEASE_BUNDLE}`, runtime: `${dir}/${RELEASE_RUNTIME}` };
  const marker = `${dir}/.sha256`;
  if ((await Deno.readTextFile(marker).catch(() => "")).trim() === sha256) return done;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const temp = `${dir}.unpack-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(temp, { recursive: true });
  try {
    const file = await Deno.open(archive, { read: true }); // closed by its stream, read to the end or cancelled
    let names: string[];
    try {
      names = await extractTar(
        file.readable.pipeThrough(new DecompressionStream("gzip")),
        temp,
        RELEASE_TAR_LIMITS,
      );
    } catch (e) {
      throw new ReleaseError(`cannot unpack ${archive}: ${(e as Error).message}`);
    }
    for (const need of [RELEASE_BUNDLE, RELEASE_RUNTIME]) {
      if (!names.includes(need)) throw new ReleaseError(`${archive} has no ${need}: not a KVStore release`);
    }
    await Deno.writeTextFile(`${temp}/.sha256`, `${sha256}\n`);
    await Deno.rename(temp, dir);
  } catch (e) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw e;
  }
  return done;
}

/**
 * The SHA-256 (hex) of the bundle inside a release archive: the build nodes report once they
 * run it (kvctl upgrade compares). Throws {@linkcode ReleaseError} if it cannot be read.
 *
 * @example
 * ```ts ignore
 * console.log((await releaseBundleSha256("dist/kvstore-0.1.0-linux-x64.tar.gz")).slice(0, 12));
 * ```
 */
export async function releaseBundleSha256(archive: string): Promise<string> {
  let sha: string | undefined;
  try {
    const file = await Deno.open(archive, { read: true });
    await walkTar(file.readable.pipeThrough(new DecompressionStream("gzip")), RELEASE_TAR_LIMITS, async (m, data) => {
      if (m.name !== RELEASE_BUNDLE) return;
      const hash = createHash("sha256");
      for await (const part of data) hash.update(part);
      sha = hash.digest("hex");
    });
  } catch (e) {
    throw new ReleaseError(`cannot read ${archive}: ${(e as Error).message}`);
  }
  if (!sha) throw new ReleaseError(`${archive} has no ${RELEASE_BUNDLE}: not a KVStore release`);
  return sha;
}
