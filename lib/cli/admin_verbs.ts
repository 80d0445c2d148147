/**
 * kvctl admin verbs: `keygen`, `run`, `push`, `admin-status` (registered in
 * the `extraVerbs` map of lib/cli/kvctl.ts). See docs/admin.md.
 *
 * @module
 */
import { isReleaseArchive } from "../admin/release.ts";
import { checkArchive } from "./release_check.ts";
import { createCommand, submitSizeError } from "../admin/client.ts";
import type { RolloutSpec } from "../admin/command.ts";
import { DEFAULT_CHUNK_SIZE, DEFAULT_SCRIPT_TIMEOUT_MS } from "../admin/config.ts";
import { generateAdminKeys } from "../admin/keys.ts";
import { isFinal, type NodeResult } from "../admin/protocol.ts";
import type { KvctlVerb } from "./kvctl_verb.ts";
import { loadFleetOptional } from "./kvctl_target.ts";
import { parseDuration, parseFlags, parseInteger, parseSize, UsageError } from "../base/cli_args.ts";
import { formatTable, ResultWatcher } from "../admin/watch.ts";
import { parseCommandListJson } from "../admin/monitor/results_store.ts";
import { utf8Encoder } from "../base/bytes.ts";
import { printJson } from "./json_output.ts";
import { ADMIN_HELP, ADMIN_STATUS_HELP, formatDuration, KEYGEN_HELP, PUSH_HELP, RUN_HELP } from "./admin_help.ts";
import {
  common,
  COMMON_FLAGS,
  followJson,
  LIMITS,
  monitorUrl,
  openClient,
  print,
  pushFile,
  rolloutOf,
  sendAndFollow,
  targetLiveMembers,
} from "./admin_common.ts";

export { ADMIN_HELP };

/** Whether `path` exists (a dangling symlink counts: writing would follow it). */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function keygen(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl keygen", args, {
    out: { type: "string" },
    force: { type: "boolean" },
  });
  if (values.help) return print(KEYGEN_HELP);
  if (positionals.length > 0) throw new UsageError(`kvctl keygen: unexpected argument "${positionals[0]}"`);
  const out = values.out ?? "admin.key";
  if (!values.force) {
    for (const file of [out, `${out}.pub`]) {
      if (await exists(file)) {
        throw new UsageError(
          `kvctl keygen: ${file} already exists; pass --force to replace the key pair (every node then needs ` +
            `the new adminPublicKey), or --out another file`,
        );
      }
    }
  }
  const keys = await generateAdminKeys();
  const slash = out.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(out.slice(0, slash), { recursive: true });
  // The secret goes to a new file that only its owner can read (chmod: the umask may have taken
  // more bits), then replaces the old key in one rename: it is never readable by others.
  const tmp = `${out}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(tmp, keys.privateKeyFile, { mode: 0o600, createNew: true });
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, out);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await Deno.writeTextFile(`${out}.pub`, `${keys.publicKey}\n`);
  console.log(`wrote the private key to ${out} (mode 600, keep it secret) and the public key to ${out}.pub`);
  console.log(`add this line to nodes.yaml on every node:\n\nadminPublicKey: ${keys.publicKey}`);
  return 0;
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl run", args, {
    ...COMMON_FLAGS,
    timeout: { type: "string" },
    wait: { type: "boolean" },
    restart: { type: "boolean" },
    budget: { type: "string" },
  });
  if (values.help) return print(RUN_HELP);
  if (positionals.length !== 1) {
    throw new UsageError("kvctl run: give one script file, e.g. kvctl run fix.sh --nodes all --wait");
  }
  let script: string;
  try {
    script = await Deno.readTextFile(positionals[0]);
  } catch (e) {
    throw new UsageError(`kvctl run: cannot read ${positionals[0]}: ${(e as Error).message}`);
  }
  // The node's limits, checked here so that nothing is sent that a node would refuse.
  const scriptBytes = utf8Encoder.encode(script).length;
  if (scriptBytes > LIMITS.maxScriptBytes) {
    throw new UsageError(
      `kvctl run: ${positionals[0]} is ${scriptBytes.toLocaleString("en-US")} bytes but nodes accept scripts of ` +
        `at most ${LIMITS.maxScriptBytes.toLocaleString("en-US")} bytes (${LIMITS.maxScriptBytes / 1024} KiB, ` +
        `one UDP datagram); shorten it, or copy the bulk with 'kvctl push' and run a short script that uses it`,
    );
  }
  const timeoutMs = values.timeout ? parseDuration(values.timeout, "--timeout") : DEFAULT_SCRIPT_TIMEOUT_MS;
  if (timeoutMs < 1) throw new UsageError("kvctl run: --timeout must be positive");
  if (timeoutMs > LIMITS.maxTimeoutMs) {
    const max = formatDuration(LIMITS.maxTimeoutMs);
    throw new UsageError(
      `kvctl run: --timeout ${values.timeout} is longer than nodes allow (at most ${max}); pass --timeout ${max} ` +
        `or less`,
    );
  }
  const budgetMs = budgetOf("run", values.budget, values.restart === true);
  const c = await common("run", values);
  const client = await openClient(c.entry[0], c.fleet);
  try {
    const sign = (rollout?: RolloutSpec) =>
      createCommand(c.privateKey, {
        run: { script, timeoutMs, ...(rollout ? { restart: true, rollout } : {}) },
      }, { selector: c.selector, lifetimeMs: c.lifetimeMs });
    const sizeCheck = (signed: Awaited<ReturnType<typeof sign>>) => {
      const tooBig = submitSizeError(signed);
      if (tooBig) {
        throw new UsageError(
          `kvctl run: ${tooBig} (${positionals[0]} grows as its quotes, backslashes and control characters are ` +
            `escaped); shorten the script, or copy the bulk with 'kvctl push'`,
        );
      }
    };
    sizeCheck(await sign()); // before any datagram leaves: a script too big is refused without a word to a node
    await targetLiveMembers("run", c, client);
    const rollout = values.restart ? await rolloutOf("run", c, client, budgetMs) : undefined;
    const signed = await sign(rollout);
    sizeCheck(signed);
    const code = await sendAndFollow(c, client, signed, values.wait === true, followLimit(c, timeoutMs, rollout));
    if (c.json) printJson(followJson("run", c));
    return code;
  } finally {
    client.close();
  }
}

/**
 * `--budget` in ms (only with a restart), checked.
 *
 * @example
 * ```ts
 * console.log(budgetOf("run", "3m", true)); // 180000
 * ```
 */
export function budgetOf(verb: string, text: string | undefined, restart: boolean): number | undefined {
  if (text === undefined) return undefined;
  if (!restart) throw new UsageError(`kvctl ${verb}: --budget is for rolling restarts; add --restart`);
  const ms = parseDuration(text, "--budget");
  if (ms < 1_000) throw new UsageError(`kvctl ${verb}: --budget must be at least 1s, e.g. --budget 3m`);
  if (ms > LIMITS.maxLifetimeMs) throw new UsageError(`kvctl ${verb}: --budget ${text} is longer than 7 days`);
  return ms;
}

/**
 * How long kvctl follows a command: the script's timeout, or every node's turn of a rollout.
 *
 * @example
 * ```ts
 * console.log(followLimit({ lifetimeMs: 3_600_000 }, 60_000)); // 120000
 * ```
 */
export function followLimit(c: { lifetimeMs: number }, timeoutMs: number, rollout?: RolloutSpec): number {
  if (!rollout) return Math.min(c.lifetimeMs, timeoutMs + 60_000);
  const perNode = timeoutMs + (rollout.budgetMs ?? LIMITS.rolloutNodeBudgetMs);
  return Math.min(c.lifetimeMs, rollout.order.length * perNode + 60_000);
}

async function push(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl push", args, {
    ...COMMON_FLAGS,
    to: { type: "string" },
    mode: { type: "string" },
    timeout: { type: "string" },
    "chunk-size": { type: "string" },
  });
  if (values.help) return print(PUSH_HELP);
  if (positionals.length !== 1 || !values.to) {
    throw new UsageError(
      "kvctl push: give one file and --to PATH, e.g. kvctl push dist/kvstore-node --to bin/kvstore-node",
    );
  }
  const file = positionals[0];
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(file);
  } catch (e) {
    throw new UsageError(`kvctl push: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!stat.isFile) throw new UsageError(`kvctl push: ${file} is not a regular file`);
  let mode = (stat.mode ?? 0o644) & 0o7777;
  if (values.mode !== undefined) {
    if (!/^[0-7]{3,4}$/.test(values.mode)) {
      throw new UsageError(`kvctl push: --mode "${values.mode}" is not octal like 755`);
    }
    mode = parseInt(values.mode, 8);
  }
  const chunkSize = values["chunk-size"] ? parseSize(values["chunk-size"], "--chunk-size") : DEFAULT_CHUNK_SIZE;
  if (chunkSize < 1024 || chunkSize > 48 * 1024 || chunkSize % 32 !== 0) {
    throw new UsageError("kvctl push: --chunk-size must be a multiple of 32 between 1KiB and 48KiB");
  }
  const timeoutMs = values.timeout ? parseDuration(values.timeout, "--timeout") : 600_000;
  const c = await common("push", values);
  if (isReleaseArchive(file) && await exists(`${file}.sig`)) await checkArchive("push", file, c);
  const client = await openClient(c.entry[0], c.fleet);
  try {
    await targetLiveMembers("push", c, client);
    const code = await pushFile(c, client, file, { to: values.to, mode, chunkSize, timeoutMs });
    if (c.json) printJson(followJson("push", c));
    return code;
  } finally {
    client.close();
  }
}

async function status(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl admin-status", args, {
    config: { type: "string" },
    monitor: { type: "string" },
    node: { type: "string" },
    tail: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) return print(ADMIN_STATUS_HELP);
  const tail = values.tail === undefined ? undefined : parseInteger(values.tail, "--tail", 0, 100_000);
  const { fleet } = await loadFleetOptional(values.config);
  const monitor = monitorUrl(values, fleet);
  const id = positionals[0];
  if (!id) {
    if (!monitor) {
      throw new UsageError("kvctl admin-status: listing commands needs a monitor (monitor.url or --monitor)");
    }
    const res = await fetch(`${monitor}/api/admin/commands`);
    const body = parseCommandListJson(await res.json().catch(() => undefined));
    if (!body) throw new Error(`kvctl admin-status: ${monitor}/api/admin/commands did not answer a command list`);
    if (values.json) return printJson({ commands: body.commands });
    if (body.commands.length === 0) console.log("no admin commands on the monitor yet");
    for (const c of body.commands) {
      console.log(
        `${c.id}  ${c.command.kind.padEnd(4)}  ${
          new Date(c.command.issuedAt).toISOString()
        }  ${c.counts.done}/${c.counts.reported} done  nodes ${c.command.selector}`,
      );
    }
    return 0;
  }
  const nodes = values.node ? [values.node] : fleet?.nodes ?? [];
  if (!monitor && nodes.length === 0) {
    throw new UsageError("kvctl admin-status: pass --monitor URL, --config or --node");
  }
  const client = await openClient(nodes[0] ?? "127.0.0.1:1", fleet);
  try {
    const watcher = new ResultWatcher({ id, monitor, client, targets: nodes });
    const results = await watcher.poll();
    const final = [...results.values()].every((r) => isFinal(r.status));
    const sorted = [...results.values()].sort((a, b) => a.node.localeCompare(b.node, "en", { numeric: true }));
    if (values.json) {
      printJson({ id, expected: watcher.expected(), final, results: sorted.map((r) => tailed(r, tail)) });
      return final ? 0 : 1;
    }
    console.log(formatTable(results, watcher.expected()));
    for (const r of sorted.map((r) => tailed(r, tail))) {
      const out = [r.stdout?.trimEnd(), r.stderr?.trimEnd() && `(stderr)\n${r.stderr.trimEnd()}`].filter(Boolean);
      if (out.length > 0) console.log(`\n--- ${r.node} (${r.status}) ---\n${out.join("\n")}`);
    }
    return final ? 0 : 1;
  } finally {
    client.close();
  }
}

/** `r` with only the last `lines` lines of its stdout and stderr (all of them when `lines` is undefined). */
function tailed(r: NodeResult, lines: number | undefined): NodeResult {
  if (lines === undefined) return r;
  const cut = (t: string | undefined) =>
    t === undefined ? t : lines === 0 ? "" : t.trimEnd().split("\n").slice(-lines).join("\n");
  return { ...r, stdout: cut(r.stdout), stderr: cut(r.stderr) };
}

/** The admin verbs of kvctl (their help is ADMIN_HELP, under `keygen`). */
export const ADMIN_VERBS: Readonly<Record<string, KvctlVerb>> = {
  keygen: { help: ADMIN_HELP, run: keygen },
  run: { help: "", run },
  push: { help: "", run: push },
  "admin-status": { help: "", run: status },
};

export type { NodeResult };
