/**
 * The launchers of the release archive (scripts/release.ts): one POSIX `sh`
 * script per role that runs the Deno runtime shipped beside it on the bundle,
 * with exactly that role's permission set. The flags are generated from
 * deno.json's `"permissions"` sets (the same ones `deno task node` uses with
 * `-P=node`), so a set that gains an entry gains it in the release too.
 *
 * The node launcher takes one flag of its own, `--allow-run`: like
 * `deno task node:admin`, it starts the node with the `node-admin` set (which
 * may run bash: `kvctl run` scripts, restarts in place, upgrades) instead of
 * `node`. The node reads its permissions, not a flag, so the launcher drops
 * the word and picks the set.
 *
 * @module
 */
import { NODE_RUNTIME_FLAGS } from "../lib/roles/process_launcher.ts";

/** One permission set as deno.json writes it. */
export type PermissionSetConfig = Record<string, unknown>;

/** Permission kinds a set may name (Deno 2: `deno run --allow-KIND`). */
const KINDS = ["read", "write", "net", "env", "sys", "run", "ffi", "import"] as const;
/** Kinds whose entries are paths (relative ones would depend on where deno.json was). */
const PATH_KINDS = new Set(["read", "write", "ffi"]);

/**
 * The `deno run` flags that grant permission set `set` (named `name` in errors): `true` is
 * `--allow-KIND`, a list `--allow-KIND=a,b`, `{ allow, deny, ignore }` the three flags. Throws
 * `TypeError` for what a command line cannot carry (an unknown kind, a comma in an entry, a
 * relative path).
 *
 * @example
 * ```ts
 * console.log(permissionSetFlags("kvctl", { net: true, env: ["KVSTORE_NODE"] }));
 * // ["--allow-net", "--allow-env=KVSTORE_NODE"]
 * ```
 */
export function permissionSetFlags(name: string, set: PermissionSetConfig): string[] {
  const flags: string[] = [];
  for (const [kind, value] of Object.entries(set)) {
    if (kind === "all") {
      if (value === true) flags.push("--allow-all");
      continue;
    }
    if (!(KINDS as readonly string[]).includes(kind)) {
      throw new TypeError(`permission set "${name}": unknown permission "${kind}" (known: all, ${KINDS.join(", ")})`);
    }
    const parts = isPlainObject(value) ? value : { allow: value };
    for (const [how, v] of Object.entries(parts)) {
      if (how !== "allow" && how !== "deny" && how !== "ignore") {
        throw new TypeError(`permission set "${name}": ${kind}.${how} is not allow, deny or ignore`);
      }
      const flag = flagOf(name, kind, how, v);
      if (flag) flags.push(flag);
    }
  }
  return flags;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function flagOf(name: string, kind: string, how: string, value: unknown): string | undefined {
  if (value === false || value === undefined) return undefined;
  if (value === true) return `--${how}-${kind}`;
  if (!Array.isArray(value) || !value.every((e) => typeof e === "string" && e !== "")) {
    throw new TypeError(`permission set "${name}": ${kind} must be true, false or a list of names`);
  }
  if (value.length === 0) return undefined;
  for (const e of value as string[]) {
    if (e.includes(",")) throw new TypeError(`permission set "${name}": ${kind} entry "${e}" holds a comma`);
    if (PATH_KINDS.has(kind) && !e.startsWith("/")) {
      throw new TypeError(
        `permission set "${name}": ${kind} path "${e}" is relative to deno.json, which a release does not ` +
          "have; use an absolute path or true",
      );
    }
  }
  return `--${how}-${kind}=${value.join(",")}`;
}

/** Flags every launcher passes to `deno run`: no config, lock file, remote or npm modules, no prompt. */
export const RUNTIME_FLAGS: readonly string[] = [
  "--quiet",
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--no-npm",
  "--cached-only",
  "--no-prompt",
];

/** A launcher: file name, role (main.ts subcommand), its set and, for the node, the set with --allow-run. */
export interface LauncherSpec {
  /** File name in the archive. */
  file: string;
  /** Subcommand of the bundle. */
  role: string;
  /** Permission set (deno.json). */
  set: string;
  /** Permission set when started with `--allow-run` (the node: node-admin). */
  runSet?: string;
  /** Runtime flags of the role besides its permissions (the node's: `NODE_RUNTIME_FLAGS`). */
  runtime?: readonly string[];
}

/**
 * The launchers of a release.
 *
 * @example
 * ```ts
 * console.log(LAUNCHERS.map((l) => l.file)); // ["kvstore-node", "kvstore-monitor", "kvctl"]
 * ```
 */
export const LAUNCHERS: readonly LauncherSpec[] = [
  { file: "kvstore-node", role: "node", set: "node", runSet: "node-admin", runtime: NODE_RUNTIME_FLAGS },
  { file: "kvstore-monitor", role: "monitor", set: "monitor" },
  { file: "kvctl", role: "kvctl", set: "kvctl" },
];

/** A word quoted for sh. */
function q(word: string): string {
  return /^[A-Za-z0-9_.,=\/:+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The exec line of a launcher with the flags of one set. */
function execLine(unstable: string[], flags: string[], role: string, runtime: readonly string[] = []): string {
  const words = [...RUNTIME_FLAGS, ...runtime, ...unstable.map((u) => `--unstable-${u}`), ...flags].map(q).join(" ");
  return `exec "$here/runtime/deno" run ${words} "$here/kvstore.js" ${q(role)} "$@"`;
}

/**
 * The text of launcher `spec`, from deno.json's permission sets and unstable features.
 *
 * @example
 * ```ts
 * const sets = { kvctl: { net: true } };
 * console.log(launcherScript({ file: "kvctl", role: "kvctl", set: "kvctl" }, sets, ["net"]).includes("--allow-net"));
 * // true
 * ```
 */
export function launcherScript(
  spec: LauncherSpec,
  sets: Record<string, PermissionSetConfig>,
  unstable: string[],
): string {
  const flagsOf = (set: string) => {
    if (!isPlainObject(sets[set])) throw new TypeError(`deno.json has no permission set "${set}"`);
    return permissionSetFlags(set, sets[set]);
  };
  const named = spec.runSet ? `"${spec.set}" ("${spec.runSet}" with --allow-run)` : `"${spec.set}"`;
  const lines = [
    "#!/bin/sh",
    `# ${spec.file}: KVStore ${spec.role} on the Deno runtime shipped beside this script.`,
    `# Generated by 'deno task release' from deno.json's permission set ${named}; do not edit.`,
    "# No Deno install, module cache or network access for modules: the program is one bundle.",
    "set -e",
    "self=$0",
    'if [ -L "$self" ]; then self=$(readlink -f -- "$self"); fi',
    "case $self in */*) here=${self%/*} ;; *) here=. ;; esac",
    'here=$(cd -- "$here" && pwd -P)',
    "export DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1",
    'export DENO_DIR="$here/.deno" # private; holds only V8 code caches',
  ];
  if (spec.runSet) {
    lines.push(
      "admin=",
      "n=$#",
      'while [ "$n" -gt 0 ]; do',
      "  a=$1; shift; n=$((n - 1))",
      "  case $a in",
      "    --allow-run) admin=1 ;;",
      `    --allow-run=*) echo "${spec.file}: --allow-run takes no value (it picks the '${spec.runSet}' ` +
        `permission set)" >&2; exit 2 ;;`,
      '    *) set -- "$@" "$a" ;;',
      "  esac",
      "done",
      "# --help: the node's help, then this launcher's one flag.",
      'case " $* " in *" --help "*|*" -h "*)',
      `  ${execLine(unstable, flagsOf(spec.set), spec.role, spec.runtime).replace(/^exec /, "")}`,
      `  echo "Launcher ${spec.file}: --allow-run starts the node with the '${spec.runSet}' permission set, which may run"`,
      `  echo "bash (kvctl run scripts, restarts in place, kvctl upgrade); without it, '${spec.set}': no programs."`,
      "  exit 0 ;;",
      "esac",
      `if [ -n "$admin" ]; then`,
      `  ${execLine(unstable, flagsOf(spec.runSet), spec.role, spec.runtime)}`,
      "fi",
    );
  }
  lines.push(execLine(unstable, flagsOf(spec.set), spec.role, spec.runtime), "");
  return lines.join("\n");
}
