/**
 * `deno task release`: one archive that runs every role on a host without
 * Deno, built offline. `dist/kvstore-VERSION-linux-x64.tar.gz` holds the Deno
 * runtime this script runs on (`Deno.execPath()`) with its MIT licence, the
 * program as one bundle (`deno bundle`), and one `sh` launcher per role
 * (`kvstore-node`, `kvstore-monitor`, `kvctl`) with that role's permission set
 * generated from deno.json (scripts/release_launchers.ts). `SHA256SUMS` goes
 * beside it; with `--key admin.key`, `ARCHIVE.sig`, the admin key's signature
 * that `kvctl upgrade` and the nodes check (lib/admin/release.ts).
 *
 * ```sh
 * deno task release                       # dist/kvstore-0.1.0-linux-x64.tar.gz, SHA256SUMS
 * deno task release --key admin.key       # and the .sig
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { bundle } from "./bundle.ts";
import { LAUNCHERS, launcherScript, type PermissionSetConfig } from "./release_launchers.ts";
import { tarChunks, type TarEntry } from "../lib/base/tar.ts";
import { fileSha256 } from "../lib/base/program.ts";
import { importAdminPrivateKey } from "../lib/admin/keys.ts";
import { RELEASE_BUNDLE, RELEASE_RUNTIME, signRelease } from "../lib/admin/release.ts";

/**
 * Default gzip level. Measured here (node:zlib, 2 busy cores, the 96 MB runtime and 1.6 MB
 * bundle): level 1 gives 53.2 MB in 3.4 s, level 6 42.9 MB in 2.7 s, level 9 41.7 MB in 21 s.
 */
export const DEFAULT_GZIP_LEVEL = 6;

const HELP = `Usage: deno task release [--key admin.key] [--out-dir dist] [--version V] [--level N]

Builds dist/kvstore-VERSION-OS-ARCH.tar.gz, which runs on a host without Deno:
the Deno runtime (with its licence), the program bundle, and the launchers
kvstore-node, kvstore-monitor and kvctl, each with its role's permission set
from deno.json. Writes SHA256SUMS beside it. Works offline.

  --key FILE      admin private key (kvctl keygen): also write ARCHIVE.sig, which
                  kvctl upgrade and the nodes check with the fleet's adminPublicKey
  --out-dir DIR   where the archive goes (default dist)
  --version V     version of the program and the archive name (default deno.json's)
  --level N       gzip level 1-9 (default ${DEFAULT_GZIP_LEVEL}: 9 is 3% smaller and 8 times slower)
  -h, --help      show this help
`;

/** What a build produced. */
export interface ReleaseBuild {
  /** Path of the archive. */
  archive: string;
  /** Its size in bytes. */
  size: number;
  /** Its SHA-256 (hex). */
  sha256: string;
  /** Path of the signature file, when a key was given. */
  signature?: string;
  /** Seconds spent bundling and compressing. */
  seconds: { bundle: number; compress: number };
}

/** Options of {@linkcode buildRelease}. */
export interface ReleaseOptions {
  /** Directory the archive goes to. */
  outDir: string;
  /** Version (default deno.json's). */
  version?: string;
  /** Admin private key file; signs the archive. */
  keyFile?: string;
  /** gzip level. */
  level?: number;
}

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** `linux-x64`, `linux-arm64`, … for the runtime this script runs on. */
function platformName(): string {
  const arch = Deno.build.arch === "x86_64" ? "x64" : Deno.build.arch === "aarch64" ? "arm64" : Deno.build.arch;
  return `${Deno.build.os}-${arch}`;
}

/** The Deno project's licence text: the one shipped with the runtime (npm package), else the copy kept here. */
async function denoLicense(): Promise<string> {
  const exe = await Deno.realPath(Deno.execPath());
  for (const path of [`${exe.slice(0, exe.lastIndexOf("/"))}/LICENSE`, `${REPO}/scripts/DENO_LICENSE`]) {
    const text = await Deno.readTextFile(path).catch(() => undefined);
    if (text && /MIT License/.test(text) && /the Deno authors/.test(text)) return text;
  }
  throw new Error("cannot find the Deno licence (LICENSE next to the deno binary, or scripts/DENO_LICENSE)");
}

function readme(version: string, denoVersion: string, platform: string): string {
  return `KVStore ${version} (${platform}) with Deno ${denoVersion}

Runs on a host without Deno. Unpack anywhere, then:

  ./kvstore-node --port 4000 --config nodes.yaml    # a node (add --allow-run for kvctl run/upgrade)
  ./kvstore-monitor --port 8080 --config nodes.yaml  # the status server
  ./kvctl put greeting hello --node 127.0.0.1:4000   # the client and admin tool

Each launcher runs runtime/deno on kvstore.js with its role's permission set
(the lists are in the launcher). ${RELEASE_RUNTIME} is Deno (MIT licence: runtime/LICENSE).
Check the archive with: sha256sum -c SHA256SUMS (and kvctl verifies ARCHIVE.sig).
`;
}

/**
 * Builds the release archive; resolves with where it is and what it measured.
 *
 * @example
 * ```ts ignore
 * const r = await buildRelease({ outDir: "dist", keyFile: "admin.key" });
 * console.log(r.archive, r.size);
 * ```
 */
export async function buildRelease(o: ReleaseOptions): Promise<ReleaseBuild> {
  const level = o.level ?? DEFAULT_GZIP_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`--level must be 1 to 9, not ${level}`);
  const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`)) as {
    version: string;
    unstable?: string[];
    permissions: Record<string, PermissionSetConfig>;
  };
  const version = o.version ?? config.version;
  const privateKey = o.keyFile
    ? await importAdminPrivateKey(
      await Deno.readTextFile(o.keyFile).catch(() => {
        throw new Error(`cannot read the admin key ${o.keyFile}; create one with 'kvctl keygen'`);
      }),
      o.keyFile,
    )
    : undefined;
  const launchers = LAUNCHERS.map((l) => ({
    file: l.file,
    text: launcherScript(l, config.permissions, config.unstable ?? []),
  }));
  await Deno.mkdir(o.outDir, { recursive: true });
  const work = await Deno.makeTempDir({ prefix: "kvstore-release-" });
  try {
    let t = performance.now();
    await bundle(`${work}/${RELEASE_BUNDLE}`, o.version);
    const bundleSeconds = (performance.now() - t) / 1000;
    const platform = platformName();
    const enc = new TextEncoder();
    const entries: TarEntry[] = [
      ...launchers.map((l) => ({ name: l.file, mode: 0o755, data: enc.encode(l.text) })),
      { name: RELEASE_BUNDLE, mode: 0o644, data: await Deno.readFile(`${work}/${RELEASE_BUNDLE}`) },
      { name: "README.txt", mode: 0o644, data: enc.encode(readme(version, Deno.version.deno, platform)) },
      { name: "runtime", mode: 0o755 },
      { name: RELEASE_RUNTIME, mode: 0o755, data: await Deno.readFile(Deno.execPath()) },
      { name: "runtime/LICENSE", mode: 0o644, data: enc.encode(await denoLicense()) },
    ];
    const name = `kvstore-${version}-${platform}.tar.gz`;
    const archive = `${o.outDir}/${name}`;
    t = performance.now();
    await pipeline(Readable.from(tarChunks(entries)), createGzip({ level }), createWriteStream(`${archive}.part`));
    await Deno.rename(`${archive}.part`, archive);
    const compressSeconds = (performance.now() - t) / 1000;
    const sha256 = await fileSha256(archive);
    await updateSums(`${o.outDir}/SHA256SUMS`, name, sha256);
    let signature: string | undefined;
    if (privateKey) {
      signature = `${archive}.sig`;
      await Deno.writeTextFile(signature, await signRelease(privateKey, sha256, name));
    } else await Deno.remove(`${archive}.sig`).catch(() => {}); // an old one would not match
    const size = (await Deno.stat(archive)).size;
    return { archive, size, sha256, signature, seconds: { bundle: bundleSeconds, compress: compressSeconds } };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Puts `sha256  name` in the SHA256SUMS file (sha256sum -c format), replacing an older line for `name`. */
async function updateSums(path: string, name: string, sha256: string): Promise<void> {
  const old = await Deno.readTextFile(path).catch(() => "");
  const kept = old.split("\n").filter((l) => l.trim() !== "" && !l.endsWith(`  ${name}`));
  await Deno.writeTextFile(path, [...kept, `${sha256}  ${name}`].join("\n") + "\n");
}

if (import.meta.main) {
  let values;
  try {
    values = parseArgs({
      options: {
        key: { type: "string" },
        "out-dir": { type: "string" },
        version: { type: "string" },
        level: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`error: ${(e as Error).message}. Run with --help.`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  try {
    const r = await buildRelease({
      outDir: values["out-dir"] ?? "dist",
      version: values.version,
      keyFile: values.key,
      level: values.level === undefined ? undefined : Number(values.level),
    });
    const mb = (r.size / 1e6).toFixed(1);
    console.log(`${r.archive}: ${r.size.toLocaleString("en-US")} bytes (${mb} MB), SHA-256 ${r.sha256}`);
    console.log(
      `built in ${(r.seconds.bundle + r.seconds.compress).toFixed(1)} s (bundle ${r.seconds.bundle.toFixed(1)} s, ` +
        `tar + gzip ${r.seconds.compress.toFixed(1)} s)`,
    );
    console.log(`checksum: ${values["out-dir"] ?? "dist"}/SHA256SUMS`);
    console.log(
      r.signature ? `signature: ${r.signature}` : "unsigned (pass --key admin.key to sign it for kvctl upgrade)",
    );
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
