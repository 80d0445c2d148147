/**
 * What the kvctl admin verbs share: flags, reading the fleet file and the
 * admin key, the UDP endpoint, handing a command to a node and following its
 * results (a rolling restart node by node).
 *
 * @module
 */
import { InternalAddressBook } from "../net/internal_address.ts";
import { realClock } from "../base/clock.ts";
import type { FleetConfig } from "../config/fleet_file.ts";
import { entryNodes, loadFleetOptional } from "./kvctl_target.ts";
import { findAdminKey } from "./kvctl_config.ts";
import { fleetKeyring } from "../wire/fleet_auth.ts";
import { UdpTransport } from "../net/udp_transport.ts";
import { parseAddress } from "../net/transport.ts";
import { AdminClient } from "../admin/client.ts";
import type { RolloutSpec, SignedCommand } from "../admin/command.ts";
import { matchesSelector, selectorError } from "../admin/selector.ts";
import { askView } from "../replication/catch_up.ts";
import { compareAddresses } from "../monitoring/server/view.ts";
import { describeRollout } from "../admin/rollout_view.ts";
import { createCommand } from "../admin/client.ts";
import { FileChunkStore } from "../admin/chunk_store.ts";
import { buildManifest } from "../admin/manifest.ts";
import { DEFAULT_ADMIN_CONFIG, DEFAULT_COMMAND_LIFETIME_MS } from "../admin/config.ts";
import { importAdminPrivateKey, publicKeyOf, rawPublicKeyText } from "../admin/keys.ts";
import { parseDuration, type parseFlags, UsageError } from "../base/cli_args.ts";
import { formatTable, ResultWatcher } from "../admin/watch.ts";
import { formatDuration } from "./admin_help.ts";
import {
  deadAmong,
  FLEET_TARGET_LIMITS,
  type FleetTargets,
  fleetTargets,
  type Skipped,
  skippedLine,
} from "./fleet_targets.ts";
import type { NodeResult } from "../admin/protocol.ts";

/**
 * The limits nodes enforce (lib/admin/config.ts defaults); kvctl checks them before sending.
 *
 * @example
 * ```ts
 * console.log(LIMITS.maxScriptBytes); // 49152
 * ```
 */
export const LIMITS = DEFAULT_ADMIN_CONFIG;

/**
 * Flags of every signing verb.
 *
 * @example
 * ```ts ignore
 * parseFlags("kvctl run", args, { ...COMMON_FLAGS, wait: { type: "boolean" } });
 * ```
 */
export const COMMON_FLAGS = {
  config: { type: "string" },
  key: { type: "string" },
  node: { type: "string" },
  nodes: { type: "string" },
  monitor: { type: "string" },
  expires: { type: "string" },
  json: { type: "boolean" },
} as const;

/** The values of {@linkcode COMMON_FLAGS} as parsed (a verb's own flags may come along). */
export type CommonFlagValues = ReturnType<typeof parseFlags<typeof COMMON_FLAGS>>["values"];

/** What every signing verb reads before it builds a command. */
export interface Common {
  fleet?: FleetConfig;
  configPath?: string;
  privateKey: CryptoKey;
  selector: string;
  lifetimeMs: number;
  entry: string[];
  monitor?: string;
  /** Whether --node named the entry node. */
  named: boolean;
  /** --json: one JSON document on stdout instead of tables. */
  json: boolean;
  /** The live members targeted and the members skipped ({@linkcode targetLiveMembers}). */
  targets?: FleetTargets;
  /** What the last {@linkcode sendAndFollow} saw (for --json). */
  last?: FollowOutcome;
}

/** What following a command saw. */
export interface FollowOutcome {
  /** Command id. */
  id: string;
  /** Node it was handed to. */
  handedTo: string;
  /** Nodes waited on. */
  targets: string[];
  /** Nodes not waited on (dead before or while following), with the line said for each. */
  skipped: string[];
  /** Results by node. */
  results: NodeResult[];
  /** Exit code. */
  code: number;
}

/** `--expires` in ms, checked against the lifetime nodes accept. */
function lifetimeOf(verb: string, values: CommonFlagValues): number {
  const text = values.expires;
  if (text === undefined) return DEFAULT_COMMAND_LIFETIME_MS;
  const ms = parseDuration(text, "--expires");
  if (ms < 1) throw new UsageError(`kvctl ${verb}: --expires must be positive, e.g. --expires 1h`);
  if (ms > LIMITS.maxLifetimeMs) {
    const max = formatDuration(LIMITS.maxLifetimeMs);
    throw new UsageError(
      `kvctl ${verb}: --expires ${text} is longer than nodes accept (at most ${max}, ` +
        `${LIMITS.maxLifetimeMs / 86_400_000} days); pass --expires ${max} or less`,
    );
  }
  return ms;
}

/**
 * Checks the common flags, reads the fleet file and the admin key.
 *
 * @example
 * ```ts ignore
 * const c = await common("run", values); // c.entry: nodes to hand the command to
 * ```
 */
export async function common(verb: string, values: CommonFlagValues): Promise<Common> {
  // Flags first: a usage mistake is reported before the fleet file and the key are read.
  const lifetimeMs = lifetimeOf(verb, values);
  const selector = values.nodes ?? "all";
  const bad = selectorError(selector);
  if (bad) throw new UsageError(`kvctl ${verb}: --nodes: ${bad}`);
  const node = values.node;
  if (node) {
    try {
      parseAddress(node);
    } catch (e) {
      throw new UsageError(`kvctl ${verb}: --node ${(e as Error).message}`);
    }
  }
  const { fleet, path } = await loadFleetOptional(values.config);
  const key = findAdminKey(values.key, path);
  const keyPath = key.path!;
  let keyText: string;
  try {
    keyText = await Deno.readTextFile(keyPath);
  } catch {
    throw new UsageError(
      `kvctl ${verb}: cannot read the admin key ${keyPath} (${key.source}); create one with ` +
        `'kvctl keygen --out ${keyPath}', or pass --key or set $KVSTORE_ADMIN_KEY ('kvctl config' shows what is used)`,
    );
  }
  const privateKey = await importAdminPrivateKey(keyText, keyPath);
  if (fleet?.adminPublicKey && rawPublicKeyText(fleet.adminPublicKey) !== await publicKeyOf(privateKey)) {
    throw new UsageError(
      `kvctl ${verb}: ${keyPath} does not match adminPublicKey in ${path}; nodes would reject the command`,
    );
  }
  const entry = entryNodes(node, fleet);
  if (entry.length === 0) {
    throw new UsageError(`kvctl ${verb}: no node to send to; pass --node ADDR or --config nodes.yaml`);
  }
  return {
    fleet,
    configPath: path,
    privateKey,
    selector,
    lifetimeMs,
    entry,
    monitor: monitorUrl(values, fleet),
    named: node !== undefined,
    json: values.json === true,
  };
}

/**
 * Makes the live members (as a reachable node sees them, matching --nodes) the one target list of
 * the command, names the members skipped (dead, left, suspect and silent) at once on stderr, and
 * hands the command to a live member. Without an answer to the members query, the fleet file's
 * nodes stay the targets (with a warning).
 *
 * @example
 * ```ts ignore
 * await targetLiveMembers("upgrade", c, client); // "skipped 127.0.0.1:4003: dead since 12:01:07"
 * ```
 */
export async function targetLiveMembers(verb: string, c: Common, client: AdminClient): Promise<void> {
  const t = await fleetTargets(c.entry, c.fleet, c.selector, client.rpc);
  if (!t) {
    console.error(
      `kvctl ${verb}: no node told its members (tried ${c.entry.join(", ")}); waiting on the fleet file's nodes`,
    );
    return;
  }
  for (const s of t.skipped) console.error(skippedLine(s));
  if (t.live.length === 0) throw new UsageError(`kvctl ${verb}: no live member matches --nodes ${c.selector}`);
  c.targets = t;
  if (!c.named) c.entry = [...t.live].sort(() => Math.random() - 0.5);
}

/**
 * The monitor to follow results on (flag, else the fleet file).
 *
 * @example
 * ```ts
 * console.log(monitorUrl({ monitor: "http://m:8080/" })); // "http://m:8080"
 * ```
 */
export function monitorUrl(values: { monitor?: string }, fleet?: FleetConfig): string | undefined {
  const url = values.monitor ?? fleet?.monitor?.url;
  return url?.replace(/\/+$/, "");
}

/**
 * An admin endpoint near `entry`, signing its frames with the fleet's cluster key (nodes drop unsigned ones).
 *
 * @example
 * ```ts ignore
 * const client = await openClient("127.0.0.1:4000", fleet);
 * client.close();
 * ```
 */
export async function openClient(entry: string, fleet: FleetConfig | undefined): Promise<AdminClient> {
  const host = parseAddress(entry).hostname;
  const loopback = host === "localhost" || host.startsWith("127.") || host === "::1";
  return new AdminClient(
    await UdpTransport.listen(loopback ? (host === "::1" ? "::1" : "127.0.0.1") : "0.0.0.0", 0),
    realClock,
    {},
    { auth: fleetKeyring(fleet), addresses: new InternalAddressBook(fleet?.internalAddresses) },
  );
}

/**
 * Prints `text`; exit code 0.
 *
 * @example
 * ```ts ignore
 * if (values.help) return print(RUN_HELP);
 * ```
 */
export function print(text: string): number {
  console.log(text);
  return 0;
}

/**
 * Hands the command to a node and, with `wait`, follows it to the end (a rolling restart node by node, with the
 * total time); resolves with the exit code.
 *
 * @example
 * ```ts ignore
 * return await sendAndFollow(c, client, signed, true, 120_000);
 * ```
 */
export async function sendAndFollow(
  c: Common,
  client: AdminClient,
  signed: SignedCommand,
  wait: boolean,
  deadlineMs: number,
): Promise<number> {
  const entry = await client.submit(signed, c.entry);
  const id = signed.c.id;
  // The live members when known; else the fleet file's nodes. Without either the targets are unknown:
  // the watcher then counts nodes as they report (monitor), or asks the node the command was handed to.
  const listed = c.targets?.live ?? (c.fleet?.nodes ?? []).filter((a) => matchesSelector(c.selector, a));
  const targets = listed.length > 0 || c.monitor || !matchesSelector(c.selector, entry) ? listed : [entry];
  const skipped = (c.targets?.skipped ?? []).map(skippedLine);
  c.last = { id, handedTo: entry, targets, skipped, results: [], code: 0 };
  console.error(`command ${id} handed to ${entry}; it spreads to every node (selector: ${c.selector})`);
  if (!wait) {
    console.error(
      c.monitor
        ? `follow it at ${c.monitor}/admin or with: kvctl admin-status ${id}`
        : `no monitor configured in the fleet file: follow it with: kvctl admin-status ${id} --config …`,
    );
    return 0;
  }
  const order = signed.c.run?.rollout?.order;
  const started = performance.now();
  const dropDead = c.targets
    ? {
      everyMs: FLEET_TARGET_LIMITS.refreshMs,
      dead: async (expected: string[]) =>
        (await deadAmong(c.entry, c.fleet, expected)).map((s: Skipped) => ({
          address: s.address,
          line: skippedLine(s),
        })),
    }
    : undefined;
  const watcher = new ResultWatcher({ id, monitor: c.monitor, client, targets: order ?? targets, order, dropDead });
  if (!order && !c.targets) await watcher.addMonitorNodes((a) => matchesSelector(c.selector, a));
  if (!c.monitor) console.error(`no monitor configured (monitor.url in nodes.yaml): asking the nodes directly`);
  const results = await watcher.follow(deadlineMs);
  const dropped = watcher.dropped();
  for (const n of dropped.keys()) results.delete(n);
  const out = c.json ? () => {} : (line: string) => console.log(line);
  out(formatTable(results, watcher.expected()));
  const missing = watcher.expected().filter((n) => !results.has(n)).length;
  const bad = [...results.values()].filter((r) => r.status !== "ok").length;
  if (order) {
    const p = describeRollout(order, results);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    if (p.halted) out(`\nrollout halted at ${p.halted.at} after ${secs} s: ${p.halted.reason}`);
    else if (p.restarted === p.total) {
      out(`\nrollout done: ${p.total} of ${p.total} nodes restarted in ${secs} s`);
    } else out(`\nrollout not finished after ${secs} s: ${p.line}`);
  }
  if (skipped.length + dropped.size > 0) {
    console.error(`${skipped.length + dropped.size} skipped: ${[...skipped, ...dropped.values()].join("; ")}`);
  }
  const code = bad === 0 && missing === 0 && results.size > 0 ? 0 : 1;
  c.last = {
    id,
    handedTo: entry,
    targets: watcher.expected(),
    skipped: [...skipped, ...dropped.values()],
    results: [...results.values()].sort((a, b) => compareAddresses(a.node, b.node)),
    code,
  };
  return code;
}

/** The --json document of run and push: the verb, what following saw (if it got that far), the exit code. */
export type FollowJson = { verb: string; code: number } & Partial<FollowOutcome>;

/** The --json document of run and push (see docs/kvctl.md), e.g. `printJson(followJson("run", c))`. */
export function followJson(verb: string, c: Common): FollowJson {
  return { verb, ...(c.last ?? {}), code: c.last?.code ?? 1 };
}

/**
 * The rollout of a restart: the live members (as a node the command may be handed to sees them)
 * that match the selector, sorted, so every node follows the same order.
 *
 * @example
 * ```ts ignore
 * const rollout = await rolloutOf("run", c, client, 180_000); // { order: [...], budgetMs: 180000 }
 * ```
 */
export async function rolloutOf(
  verb: string,
  c: Common,
  client: AdminClient,
  budgetMs: number | undefined,
): Promise<RolloutSpec> {
  let alive: string[] | undefined = c.targets?.live;
  for (const entry of alive ? [] : c.entry) {
    alive = (await askView(client.rpc, entry, entry, { viewTimeoutMs: 300, viewRetries: 2 }, true))?.alive;
    if (alive) break;
  }
  if (!alive) {
    throw new UsageError(
      `kvctl ${verb}: no node told its members (tried ${c.entry.join(", ")}); a rolling restart needs the live ` +
        "members to order them: are the nodes running, and is --config the fleet's file (cluster key)?",
    );
  }
  const order = alive.filter((a) => matchesSelector(c.selector, a)).sort(compareAddresses);
  if (order.length === 0) throw new UsageError(`kvctl ${verb}: no live member matches --nodes ${c.selector}`);
  const budget = budgetMs === undefined ? "" : `, each within ${formatDuration(budgetMs)}`;
  console.error(`rolling restart of ${order.length} nodes, one at a time${budget}: ${order.join(", ")}`);
  return budgetMs === undefined ? { order } : { order, budgetMs };
}

/**
 * Pushes `file` to `to` on the selected nodes (kvctl serves the chunks until every node has it)
 * and prints the table; resolves with the exit code (0: every node wrote it).
 *
 * @example
 * ```ts ignore
 * await pushFile(c, client, "dist/kvstore.js", { to: "bin/k.js", mode: 0o644, chunkSize: 32768, timeoutMs: 600_000 });
 * ```
 */
export async function pushFile(
  c: Common,
  client: AdminClient,
  file: string,
  o: { to: string; mode: number; chunkSize: number; timeoutMs: number },
): Promise<number> {
  const t0 = performance.now();
  const manifest = await buildManifest(file, o.chunkSize);
  const spec = { ...manifest.spec, path: o.to, mode: o.mode };
  const signed = await createCommand(c.privateKey, { push: spec }, { selector: c.selector, lifetimeMs: c.lifetimeMs });
  console.error(
    `${file}: ${spec.size} bytes, SHA-256 ${spec.sha256}, ${Math.ceil(spec.size / o.chunkSize)} chunks ` +
      `(hashed in ${Math.round(performance.now() - t0)} ms)`,
  );
  const store = await FileChunkStore.source(file);
  client.serve(signed.c.id, spec, manifest, store);
  // kvctl is the first source of the chunks, so it stays until the nodes have the file.
  const code = await sendAndFollow(c, client, signed, true, Math.min(c.lifetimeMs, o.timeoutMs));
  const secs = (performance.now() - t0) / 1000;
  console.error(`served ${client.served(signed.c.id)} chunks from here in ${secs.toFixed(1)} s`);
  return code;
}
