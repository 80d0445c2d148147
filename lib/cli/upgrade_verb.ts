/**
 * `kvctl upgrade FILE`: puts the fleet on a new program in one command. The
 * file (a bundle from `deno task bundle`, or a `compile:node` binary) is
 * pushed to `bin/kvstore-<sha>` under every node's --admin-dir; once every
 * node has it, a rolling restart switches each node to it in turn (the node
 * checks the file's SHA-256 first). Nodes report the version and build they
 * run; kvctl prints the mix at the end.
 *
 * @module
 */
import { createCommand } from "../admin/client.ts";
import { DEFAULT_CHUNK_SIZE } from "../admin/config.ts";
import { fileSha256 } from "../base/program.ts";
import { askView } from "../replication/catch_up.ts";
import { parseDuration, parseFlags, UsageError } from "../base/cli_args.ts";
import { isReleaseArchive, releaseBundleSha256 } from "../admin/release.ts";
import { checkArchive } from "./release_check.ts";
import type { AdminClient } from "../admin/client.ts";
import type { RolloutSpec } from "../admin/command.ts";
import {
  type Common,
  common,
  COMMON_FLAGS,
  type FollowOutcome,
  LIMITS,
  openClient,
  print,
  pushFile,
  rolloutOf,
  sendAndFollow,
  targetLiveMembers,
} from "./admin_common.ts";
import { printJson } from "./json_output.ts";
import { budgetOf, followLimit } from "./admin_verbs.ts";
import { formatDuration } from "./admin_help.ts";
import type { KvctlVerb } from "./kvctl_verb.ts";

/**
 * Help of `kvctl upgrade`.
 *
 * @example
 * ```ts ignore
 * console.log(UPGRADE_HELP);
 * ```
 */
export const UPGRADE_HELP = `Usage: kvctl upgrade FILE [options]

Puts every selected node on the program FILE: pushes it to bin/kvstore-<sha> under
each node's --admin-dir, then restarts the nodes one at a time onto it (a rolling
restart: each node goes only when the one before is back and caught up).

FILE is a bundle (deno task bundle: dist/kvstore.js, run by deno), a binary built
with 'deno task compile:node', or a release archive (deno task release --key admin.key:
dist/kvstore-VERSION-linux-x64.tar.gz with its .sig beside it). kvctl checks the
archive's signature with the fleet's adminPublicKey before pushing it; each node checks
it again, unpacks the archive next to it and restarts on its bundle and its Deno
runtime (the node needs --allow-run, as for any restart).

Options:
  --budget D          how long each node has to be back after its switch (default ${
  formatDuration(LIMITS.rolloutNodeBudgetMs)
});
                      a node not back in time halts the rollout
  --timeout D         how long the push may take (default 10m)
  --nodes SEL         nodes to upgrade (default all live members: members the fleet knows
                      as dead or left are named at once and skipped)
  --expires D         lifetime of the commands (default 1h)
  --config FILE       fleet file (default $KVSTORE_CONFIG, .kvstore-cluster/nodes.yaml, ./nodes.yaml)
  --key FILE          admin private key (default $KVSTORE_ADMIN_KEY, else admin.key beside the
                      fleet file)
  --json              print {"push":…,"restart":…,"versions":[{"program","nodes"}],"code"}
  --node ADDR         node to hand the commands to
  --monitor URL       monitor to follow the results on
  -h, --help          show this help

Exit code 0 only if every node runs FILE at the end.
`;

/**
 * Runs `kvctl upgrade`; resolves with the exit code (0: every node runs the new program).
 *
 * @example
 * ```ts ignore
 * Deno.exit(await upgrade(["dist/kvstore.js", "--config", "nodes.yaml"]));
 * ```
 */
export async function upgrade(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl upgrade", args, {
    ...COMMON_FLAGS,
    budget: { type: "string" },
    timeout: { type: "string" },
  });
  if (values.help) return print(UPGRADE_HELP);
  if (positionals.length !== 1) {
    throw new UsageError("kvctl upgrade: give one program file, e.g. kvctl upgrade dist/kvstore.js");
  }
  const file = positionals[0];
  const { script, archive } = await programKind(file);
  const budgetMs = budgetOf("upgrade", values.budget, true);
  const pushTimeoutMs = values.timeout ? parseDuration(values.timeout, "--timeout") : DEFAULT_PUSH_TIMEOUT_MS;
  const c = await common("upgrade", values);
  const signature = archive ? await checkArchive("upgrade", file, c) : undefined;
  const sha256 = await fileSha256(file);
  const path = `bin/kvstore-${sha256.slice(0, 12)}${script ? ".js" : archive ? ".tar.gz" : ""}`;
  const client = await openClient(c.entry[0], c.fleet);
  try {
    return await pushThenRoll({ c, client, file, script, archive, path, sha256, signature, budgetMs, pushTimeoutMs });
  } finally {
    client.close();
  }
}

/** How long the push may take without --timeout. */
const DEFAULT_PUSH_TIMEOUT_MS = 600_000;
/** Time the switching script of each node may take. */
const SWITCH_SCRIPT_TIMEOUT_MS = 60_000;

/** One upgrade, its file checked and its client open. */
interface UpgradeRun {
  c: Common;
  client: AdminClient;
  file: string;
  /** A bundle run by deno (.js, .mjs, .ts). */
  script: boolean;
  /** A signed release archive (.tar.gz). */
  archive: boolean;
  /** Where the file goes under each node's --admin-dir. */
  path: string;
  sha256: string;
  /** The archive's signature, checked by kvctl. */
  signature: string | undefined;
  budgetMs: number | undefined;
  pushTimeoutMs: number;
}

/** Which program FILE is: a script, a release archive, or (neither) an executable binary. */
async function programKind(file: string): Promise<{ script: boolean; archive: boolean }> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(file);
  } catch (e) {
    throw new UsageError(`kvctl upgrade: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!stat.isFile) throw new UsageError(`kvctl upgrade: ${file} is not a regular file`);
  const script = /\.(m?js|ts)$/.test(file);
  const archive = isReleaseArchive(file);
  if (!script && !archive && ((stat.mode ?? 0) & 0o111) === 0) {
    throw new UsageError(
      `kvctl upgrade: ${file} is neither a script (.js) nor an executable binary, nor a release archive (.tar.gz)`,
    );
  }
  return { script, archive };
}

/** Prints the --json outcome (when asked); returns 0 for the callers' convenience. */
function upgradeJson(
  c: Common,
  push: FollowOutcome | undefined,
  restart: FollowOutcome | undefined,
  versions: unknown[],
  code: number,
): number {
  return c.json ? printJson({ verb: "upgrade", push: push ?? null, restart: restart ?? null, versions, code }) : 0;
}

/** Step 1, the push to every node; step 2 (only when every node has it), the rolling restart. */
async function pushThenRoll(u: UpgradeRun): Promise<number> {
  const { c, client, file, path } = u;
  await targetLiveMembers("upgrade", c, client);
  const rollout = await rolloutOf("upgrade", c, client, u.budgetMs);
  console.error(`1/2 pushing ${file} to ${path} on every node`);
  const pushed = await pushFile(c, client, file, {
    to: path,
    mode: u.script || u.archive ? 0o644 : 0o755,
    chunkSize: DEFAULT_CHUNK_SIZE,
    timeoutMs: u.pushTimeoutMs,
  });
  const push = c.last;
  if (pushed !== 0) {
    console.error("upgrade stopped: the program did not reach every node; no node was restarted");
    upgradeJson(c, push, undefined, [], 1);
    return 1;
  }
  console.error(`2/2 switching the nodes to ${path}, one at a time`);
  const code = await switchNodes(u, rollout);
  const mix = await versionMix(client, rollout.order);
  return await reportVersions(u, push, code, mix);
}

/** Signs and follows the rolling restart onto the pushed program; resolves with its exit code. */
async function switchNodes(u: UpgradeRun, rollout: RolloutSpec): Promise<number> {
  const { c, path, sha256, signature } = u;
  const timeoutMs = SWITCH_SCRIPT_TIMEOUT_MS;
  const signed = await createCommand(c.privateKey, {
    run: {
      script: `echo "switching $KVSTORE_NODE to ${path}"`,
      timeoutMs,
      restart: true,
      rollout,
      program: signature ? { path, sha256, signature } : { path, sha256 },
    },
  }, { selector: c.selector, lifetimeMs: c.lifetimeMs });
  return await sendAndFollow(c, u.client, signed, true, followLimit(c, timeoutMs, rollout));
}

/** What each node runs now: "version (build)" → the nodes running it. */
async function versionMix(client: AdminClient, nodes: readonly string[]): Promise<Map<string, string[]>> {
  const mix = new Map<string, string[]>();
  for (const node of nodes) {
    const v = await askView(client.rpc, node, node);
    const key = v ? `${v.version} (${v.build || "?"})` : "no answer";
    mix.set(key, [...(mix.get(key) ?? []), node]);
  }
  return mix;
}

/** Prints the mix of versions; 0 only if the restart went through and every node runs the new program. */
async function reportVersions(
  u: UpgradeRun,
  push: FollowOutcome | undefined,
  code: number,
  mix: Map<string, string[]>,
): Promise<number> {
  const { c } = u;
  const build = u.archive ? await releaseBundleSha256(u.file) : u.sha256; // nodes report the program they run
  const wanted = [...mix.keys()].find((k) => k.includes(build.slice(0, 12)));
  const ok = code === 0 && wanted !== undefined && mix.size === 1;
  if (c.json) {
    upgradeJson(c, push, c.last, [...mix].map(([program, nodes]) => ({ program, nodes })), ok ? 0 : 1);
    return ok ? 0 : 1;
  }
  console.log(
    `versions now: ${[...mix].map(([k, nodes]) => `${k} on ${nodes.length}`).join(", ")}` +
      (wanted && mix.size === 1 ? " (every node runs the new program)" : ""),
  );
  return ok ? 0 : 1;
}

/** `kvctl upgrade FILE` (its help is in the admin help). */
export const UPGRADE_VERB: KvctlVerb = { help: "", run: upgrade };
