/**
 * Builds the whole program as one file: `deno bundle --platform deno` of
 * main.ts (works offline, unlike `deno compile`, which downloads denort). The
 * bundle runs every role: `deno run --unstable-net <permissions> kvstore.js
 * node …`. `--version V` builds it with another version string than deno.json's
 * (how the upgrade test makes a program that differs). Prints size and SHA-256.
 *
 * ```sh
 * deno task bundle                                  # dist/kvstore.js
 * deno task bundle --out /tmp/k.js --version 0.2.0-rc1
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileSha256 } from "../lib/base/program.ts";

const HELP = `Usage: deno task bundle [--out dist/kvstore.js] [--version V]

Bundles main.ts and everything it imports into one file (deno bundle --platform deno).
  --out FILE      where the bundle goes (default dist/kvstore.js)
  --version V     version the bundle reports instead of deno.json's
  -h, --help      show this help
`;

/**
 * The version line of deno.json as the bundler inlines it: `var deno_default = { name: …, version: "…"`, or, in a
 * module main.ts loads lazily (each command is), `deno_default = { …` inside the module's init function.
 */
const VERSION_IN_BUNDLE = /((?:var )?deno_default\d* = \{\s*name: "@kvstore\/kvstore",\s*version: )"[^"]*"/g;

/**
 * Replaces the inlined deno.json version in a bundle's text; throws unless it is there exactly once.
 *
 * @example
 * ```ts
 * const text = 'var deno_default = {\n  name: "@kvstore/kvstore",\n  version: "0.1.0",';
 * console.log(setBundleVersion(text, "0.2.0").includes('"0.2.0"')); // true
 * ```
 */
export function setBundleVersion(text: string, version: string): string {
  const found = text.match(VERSION_IN_BUNDLE)?.length ?? 0;
  if (found !== 1) throw new Error(`expected the deno.json version once in the bundle, found it ${found} times`);
  return text.replace(VERSION_IN_BUNDLE, `$1${JSON.stringify(version)}`);
}

/**
 * Bundles main.ts to `out`, with `version` if given; resolves with the file's SHA-256.
 *
 * @example
 * ```ts ignore
 * const sha = await bundle("dist/kvstore.js", "0.2.0-rc1");
 * ```
 */
export async function bundle(out: string, version?: string): Promise<string> {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const config = new URL("../deno.json", import.meta.url).pathname; // from any working directory
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--config", config, "--platform", "deno", "-o", out, main],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(r.stderr).trim()}`);
  if (version !== undefined) await Deno.writeTextFile(out, setBundleVersion(await Deno.readTextFile(out), version));
  return await fileSha256(out);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { out: { type: "string" }, version: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const out = values.out ?? "dist/kvstore.js";
  const slash = out.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(out.slice(0, slash), { recursive: true });
  try {
    const sha = await bundle(out, values.version);
    const size = (await Deno.stat(out)).size;
    console.log(
      `${out}: ${size.toLocaleString("en-US")} bytes, SHA-256 ${sha}${
        values.version ? `, version ${values.version}` : ""
      }`,
    );
    console.log(
      `run it: deno run --unstable-net --allow-net --allow-read --allow-write --allow-sys --allow-env ${out} node --help`,
    );
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
