/**
 * Attaches the epidemic admin subsystem to a node (see docs/admin.md).
 *
 * Options (`startNode({ subsystemOptions: { admin: {...} } })`, all optional):
 * `config` (tunables, {@linkcode AdminConfig}), `executor` (a
 * {@linkcode ScriptExecutor}; bash by default), `sink` (a {@linkcode ResultSink},
 * `null` for none; HTTP to the fleet's monitor by default), `adminDir`,
 * `configPath` (the fleet file, for scripts), `files` (keep pushed files in
 * memory: simulations), `restarter` (restart the process in place; see
 * lib/admin/restart.ts).
 *
 * @module
 */
import { importClusterKey } from "../wire/http_key.ts";
import { clusterKeysOf } from "../config/fleet_config.ts";
import type { StatsSources } from "../monitoring/agent/stats.ts";
import type { NodeContext } from "../node/context.ts";
import type { MemberView } from "../node/members.ts";
import type { StatMap } from "../monitoring/report.ts";
import { type AdminConfig, resolveAdminConfig } from "./config.ts";
import { importAdminPublicKey } from "./keys.ts";
import { HttpResultSink, type ResultSink } from "./reporter.ts";
import { BashExecutor, type ScriptExecutor } from "./runner.ts";
import { AdminService } from "./service.ts";
import type { Restarter } from "./rollout.ts";
import type { CatchUpStatus } from "../replication/catch_up.ts";

/** Options of the admin subsystem of one node. */
export interface AdminAttachOptions {
  /** Tunables overriding DEFAULT_ADMIN_CONFIG. */
  config?: Partial<AdminConfig>;
  /** Runs scripts (default: bash, gated by the run permission). */
  executor?: ScriptExecutor;
  /** Where results go; `null` for nowhere (default: the fleet's monitor, if any). */
  sink?: ResultSink | null;
  /** Directory pushed files go to (absent: pushes are refused). */
  adminDir?: string;
  /** Path of the fleet file, passed to scripts as KVSTORE_CONFIG. */
  configPath?: string;
  /** Keep pushed files in this map instead of on disk (simulations). */
  files?: Map<string, Uint8Array>;
  /** Restarts the node process in place (set by `kvstore node`). */
  restarter?: Restarter & { readonly handingOver?: boolean };
  /** Admin public key overriding the fleet file's. */
  publicKey?: string;
}

/**
 * Starts the admin subsystem for the node.
 *
 * @example
 * ```ts ignore
 * const admin = attachAdmin(ctx, members, { adminDir }, () => catchUp.status(), sources); // by startNode
 * ```
 *
 * Returns the service, or `undefined` when its state file cannot be read (the node then runs
 * without admin: acting could repeat commands).
 */
export function attachAdmin(
  ctx: NodeContext,
  members: MemberView,
  options: AdminAttachOptions = {},
  catchUp: () => CatchUpStatus | undefined = () => undefined,
  sources?: StatsSources,
): AdminService | undefined {
  const { node, clock, random, fleet } = ctx;
  const config = resolveAdminConfig(options.config);
  const keyText = options.publicKey ?? fleet?.adminPublicKey;
  const publicKey = keyText
    ? importAdminPublicKey(keyText).catch((e) => {
      console.error(`admin: ${(e as Error).message}; every admin command will be rejected`);
      return undefined;
    })
    : Promise.resolve(undefined);
  let sink: ResultSink | undefined;
  if (options.sink !== undefined) sink = options.sink ?? undefined;
  else if (fleet?.monitor?.url) {
    const [first] = clusterKeysOf(fleet); // results are signed with the signing key
    const key = first ? importClusterKey(first) : Promise.resolve(undefined);
    sink = new HttpResultSink(fleet.monitor.url, key, node.address, clock, config);
  }
  const env: Record<string, string> = { KVSTORE_NODE: node.address };
  if (options.configPath) env.KVSTORE_CONFIG = options.configPath;
  if (options.adminDir) env.KVSTORE_ADMIN_DIR = options.adminDir;
  if (ctx.dataDir) env.KVSTORE_DATA_DIR = ctx.dataDir;
  try {
    env.KVSTORE_NODE_PID = String(Deno.pid);
  } catch { /* no pid */ }
  let service: AdminService;
  try {
    service = new AdminService({
      node,
      members,
      clock,
      random,
      config,
      publicKey,
      executor: options.executor ?? new BashExecutor(),
      sink,
      adminDir: options.adminDir,
      stateDir: ctx.dataDir ?? options.adminDir,
      files: options.files,
      env,
      restarter: options.restarter,
      catchUp,
    });
  } catch (e) {
    // An unreadable state file: acting could repeat commands, so the node runs without admin.
    console.error(`admin: disabled: ${(e as Error).message}`);
    sink?.close();
    return undefined;
  }
  // Without an admin key every command is rejected, so there is nothing to gossip: no timers, no
  // traffic (large simulations of other subsystems stay unaffected); handlers still count rejections.
  if (keyText) service.start();
  const removeStats = sources?.add(() => adminStats(service));
  node.onClose(() => {
    removeStats?.();
    service.close();
  });
  return service;
}

/**
 * The admin counters as monitor stats (`admin_*`).
 *
 * @example
 * ```ts ignore
 * const stats = adminStats(running.admin!); // { admin_executed: { value: 1 }, … }
 * ```
 */
export function adminStats(service: AdminService): StatMap {
  const out: StatMap = {};
  for (const [k, v] of Object.entries(service.stats)) out[`admin_${k}`] = { value: v };
  return out;
}
