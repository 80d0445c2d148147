/**
 * Which program this process runs: the KVStore version (deno.json `version`,
 * or the one a bundle was built with) and a build id, the first 12 hex digits
 * of the SHA-256 of the program file — a bundle (`deno task bundle`) or a
 * compiled binary. Run from the source tree (main.ts) the build is "source":
 * one file's hash would not identify the tree. Nodes report both as stats
 * (`version`, `build`), and the status page shows the mix during an upgrade.
 *
 * @module
 */
import { createHash } from "node:crypto";
import denoJson from "../../deno.json" with { type: "json" };

/**
 * The running KVStore version (from deno.json; a bundle carries the one it was built with).
 *
 * @example
 * ```ts
 * console.log(/^\d+\.\d+\.\d+/.test(KVSTORE_VERSION)); // true
 * ```
 */
export const KVSTORE_VERSION: string = denoJson.version;

/** What program this process runs. */
export interface ProgramInfo {
  /** KVStore version. */
  version: string;
  /** First 12 hex digits of the program file's SHA-256, or "source" (main.ts of the source tree). */
  build: string;
  /** Path of the program file: the bundle or script for `deno run`, the binary when compiled. */
  path: string;
  /** Whether this is a `deno compile`d binary. */
  compiled: boolean;
}

/**
 * Whether this process is a `deno compile`d binary (its executable is not `deno`).
 *
 * @example
 * ```ts
 * console.log(isCompiledBinary()); // false under deno run / deno test
 * ```
 */
export function isCompiledBinary(): boolean {
  return !/^deno(\.exe)?$/.test(Deno.execPath().split(/[\\/]/).pop() ?? "");
}

let cached: ProgramInfo | undefined;
let loading: Promise<ProgramInfo> | undefined;

/**
 * The program's path, without reading it.
 *
 * @example
 * ```ts ignore
 * console.log(programPath()); // "/srv/kvstore/bin/kvstore-3f2a9c1b7d10.js"
 * ```
 */
export function programPath(): string {
  if (isCompiledBinary()) return Deno.execPath();
  return Deno.mainModule.startsWith("file:") ? filePathOf(Deno.mainModule) : Deno.mainModule;
}

/**
 * The path of a `file:` URL.
 *
 * @example
 * ```ts
 * console.log(filePathOf("file:///srv/kv%20store/main.ts")); // "/srv/kv store/main.ts"
 * ```
 */
export function filePathOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname);
}

/**
 * Version and build of this process (the file is hashed once).
 *
 * @example
 * ```ts ignore
 * const p = await loadProgramInfo();
 * console.log(p.version, p.build); // 0.1.0 3f2a9c1b7d10
 * ```
 */
export function loadProgramInfo(): Promise<ProgramInfo> {
  loading ??= (async () => {
    const compiled = isCompiledBinary();
    const path = programPath();
    let build = "source";
    if (compiled || !/\/main\.ts$/.test(path)) {
      try {
        build = await fileSha256(path).then((h) => h.slice(0, 12));
      } catch {
        build = "unknown";
      }
    }
    cached = { version: KVSTORE_VERSION, build, path, compiled };
    return cached;
  })();
  return loading;
}

/**
 * Version and build as far as known: the build is "" until {@linkcode loadProgramInfo} has run
 * (the node command runs it at start; embedded and simulated nodes report the version only).
 *
 * @example
 * ```ts ignore
 * console.log(programInfo().version); // 0.1.0
 * ```
 */
export function programInfo(): ProgramInfo {
  return cached ?? { version: KVSTORE_VERSION, build: "", path: "", compiled: false };
}

/**
 * "0.1.0 (3f2a9c1b7d10)", or "0.1.0 (source)".
 *
 * @example
 * ```ts
 * console.log(describeProgram({ version: "0.1.0", build: "source" })); // "0.1.0 (source)"
 * ```
 */
export function describeProgram(p: { version: string; build: string }): string {
  return p.build ? `${p.version} (${p.build})` : p.version;
}

/**
 * SHA-256 (hex) of a file, read in pieces.
 *
 * @example
 * ```ts ignore
 * console.log(await fileSha256("dist/kvstore.js"));
 * ```
 */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}
