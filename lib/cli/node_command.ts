/**
 * `kvstore node`: runs one KV node.
 *
 * @module
 */
import type { FleetConfig } from "../config/fleet_config.ts";
import { loadFleet } from "../config/fleet_file.ts";
import { defaultInternalPort, internalAddressOf } from "../net/internal_address.ts";
import { DEFAULT_NODE_CONFIG } from "../node/kv_node.ts";
import { DEFAULT_MAX_BYTES, startNode, type StartNodeOptions } from "../roles/start_node.ts";
import { formatAddress, parseAddress, type Transport } from "../net/transport.ts";
import { FSYNC_POLICIES, type FsyncPolicy } from "../storage/durability.ts";
import { MAX_STORE_CAPACITY } from "../storage/segment_size.ts";
import { CLIENT_GUARD_HELP, clientGuardSettings } from "./client_guard_flags.ts";
import { fleetKeyring, INSECURE_WARNING, insecureClusterError } from "../wire/fleet_auth.ts";
import { parseDuration, parseFlags, parseInteger, parseSize, UsageError } from "../base/cli_args.ts";
import { ProcessRestarter } from "../admin/restart.ts";
import { bindTakingOver, reportTakeoverFailure } from "../admin/takeover.ts";
import { DEFAULT_ADMIN_CONFIG } from "../admin/config.ts";
import { Swim } from "../membership/swim.ts";
import { realClock } from "../base/clock.ts";
import { loadProgramInfo } from "../base/program.ts";
import type { RunningNode } from "../roles/start_node.ts";

/** Help text of `node`. */
export const NODE_HELP = `Usage: kvstore node [options]

Runs a KVStore node that answers the UDP client protocol.

Options:
  --port N              UDP port to serve (default 4000)
  --internal-port N     UDP port of node-to-node traffic (default: the fleet file's
                        internalAddresses entry of this node, else the port + 10000);
                        firewall it to the fleet (docs/cluster.md)
  --host ADDR           interface to bind (default 127.0.0.1; 0.0.0.0 for all)
  --config FILE         fleet file (nodes.yaml) listing seeds, monitor and keys
  --seed ADDR           join the cluster through ADDR (repeatable; added to the fleet file's nodes)
  --max-bytes SIZE      store capacity, e.g. 64MiB (default 64MiB)
  --data-dir DIR        keep keys in an append-only log under DIR so a restart keeps them
  --fsync POLICY        with --data-dir: when writes reach the disk: always (before every
                        reply), batch (at least every second; default), off (when the OS
                        decides). A kill -9 loses no acknowledged write under any of them;
                        a power loss may lose the last second with batch (docs/performance.md)
  --reply-cache-ttl D   how long replies are kept for retries (default 5s)
  --max-in-flight N     requests executing at once before replying overload (default 1024)
  --admin-dir DIR       where files sent with 'kvctl push' may be written (refused without it);
                        also keeps the ids of admin commands run, so a restart never reruns one
${CLIENT_GUARD_HELP}
  --insecure            run in a cluster whose fleet file has no clusterKey: node-to-node traffic
                        is then not authenticated (refused without this flag)
  --supervised          a supervisor restarts this node: to restart in place (kvctl run --restart)
                        it prints a KVSTORE-RESTART line and the supervisor starts the new process
                        (deno task cluster does); without it the node starts the new process itself
  --status-port N       serve the fleet's status page, /api/nodes and /metrics from this node's
                        fleet table on TCP port N (0 = any free port; off by default)
  --status-host ADDR    interface of the status server (default 127.0.0.1: loopback only;
                        0.0.0.0 to expose it)
  --takeover TOKEN      (set when a node restarts in place) take the port over from the old
                        process that holds it; the old one hands it over and exits
  -h, --help            show this help

Scripts sent with 'kvctl run' execute only when the node runs with --allow-run
(deno task node:admin); otherwise they are refused and reported. See docs/admin.md.

Node-to-node messages are authenticated with the fleet file's clusterKey (one key,
or a list: the first signs, every one is accepted). On SIGHUP the node reads the
fleet file again and takes its keys, so a key is rotated without a restart:
add the new key second everywhere, move it first everywhere, drop the old one
(docs/cluster.md).
`;

/**
 * On SIGHUP, reads the fleet file again and puts its cluster keys in force (key rotation without
 * a restart). A file that cannot be read or has no key leaves the keys as they are, with one line
 * saying why.
 */
function reloadKeysOnHangup(path: string, running: RunningNode): void {
  Deno.addSignalListener("SIGHUP", async () => {
    try {
      const keyring = fleetKeyring(await loadFleet(path));
      if (!keyring) throw new Error(`${path} has no clusterKey; the keys in force stay`);
      running.node.rpc.setAuth(keyring);
      if (running.destructiveGuard) running.destructiveGuard.auth = keyring;
      console.log(`kvstore node: cluster keys reloaded from ${path}: ${keyring.size} key(s), signing with the first`);
    } catch (e) {
      console.error(`kvstore node: SIGHUP: cannot reload the cluster keys: ${(e as Error).message}`);
    }
  });
}

/**
 * What the old process does once its new process asked for the port: no more client requests
 * (their retries land on the new process), leave the membership (peers stop routing here at
 * once), wait for the requests and replica writes in flight (at most restartDrainMs), save the
 * admin state, close.
 */
async function handOver(running: RunningNode, drainMs: number): Promise<void> {
  running.node.refuseClientRequests();
  if (running.members instanceof Swim) running.members.leave();
  const replication = running.cluster.replication;
  const deadline = Date.now() + drainMs;
  while (
    Date.now() < deadline && (running.node.inFlight > 0 || (replication?.stats.pendingReplicaWrites ?? 0) > 0)
  ) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20)); // the leave and the last replies leave the socket
  await running.admin?.flush();
  running.close();
  console.log(`kvstore node ${running.node.address} handed over to its new process`);
}

const NODE_FLAGS = {
  port: { type: "string" },
  "internal-port": { type: "string" },
  host: { type: "string" },
  config: { type: "string" },
  "max-bytes": { type: "string" },
  "data-dir": { type: "string" },
  fsync: { type: "string" },
  "reply-cache-ttl": { type: "string" },
  "max-in-flight": { type: "string" },
  seed: { type: "string", multiple: true },
  "admin-dir": { type: "string" },
  insecure: { type: "boolean" },
  "allow-destructive-from": { type: "string" },
  "trusted-clients": { type: "string" },
  "reply-budget": { type: "string" },
  supervised: { type: "boolean" },
  takeover: { type: "string" },
  "status-port": { type: "string" },
  "status-host": { type: "string" },
} as const;

type NodeValues = ReturnType<typeof parseFlags<typeof NODE_FLAGS>>["values"];

/**
 * Where the internal socket binds: `--internal-port`, else the fleet file's entry of this node
 * (its host too, unless the node binds every interface), else the client port + 10000.
 */
function internalSocketOf(
  flag: string | undefined,
  fleet: FleetConfig | undefined,
  host: string,
  port: number,
): { host: string; port: (clientPort: number) => number } {
  if (flag !== undefined) {
    const p = parseInteger(flag, "--internal-port", 1, 65535);
    return { host, port: () => p };
  }
  const entry = fleet?.internalAddresses?.[formatAddress(host, port)];
  if (entry === undefined) return { host, port: defaultInternalPort };
  const at = parseAddress(internalAddressOf(formatAddress(host, port), entry));
  return { host: host === "0.0.0.0" || host === "::" ? host : at.hostname, port: () => at.port };
}

/** Runs the node command until the process is stopped. */
export async function nodeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("node", args, NODE_FLAGS);
  if (values.help) {
    console.log(NODE_HELP);
    return 0;
  }
  const token = values.takeover;
  if (token !== undefined && !/^[0-9a-f]{8,64}$/.test(token)) {
    throw new UsageError("node: --takeover takes a hex token");
  }
  const stateDir = values["data-dir"] ?? values["admin-dir"];
  try {
    return await serve(values, positionals, token);
  } catch (e) {
    // A restart in place: the old process waits for this one; say why it will not come.
    if (token && stateDir) await reportTakeoverFailure(stateDir, token, (e as Error).message ?? String(e));
    throw e;
  }
}

async function serve(values: NodeValues, positionals: string[], token: string | undefined): Promise<number> {
  const settings = await nodeSettings(values, positionals);
  if (values["admin-dir"]) await Deno.mkdir(values["admin-dir"], { recursive: true });
  await loadProgramInfo();
  const keyring = fleetKeyring(settings.fleet);
  // A restart in place: the old process still holds the ports until this one asks for them.
  const internal = internalSocketOf(values["internal-port"], settings.fleet, settings.host, settings.port);
  const sockets = await bindTakingOver(
    settings.host,
    settings.port,
    internal.host,
    internal.port,
    token ? { token, auth: keyring } : undefined,
  );
  const late: { restarter?: ProcessRestarter } = {}; // made once the node's endpoint exists
  const running: RunningNode = await startNode(nodeOptions(values, settings, sockets, late));
  late.restarter = new ProcessRestarter({
    rpc: running.node.rpc,
    clock: realClock,
    supervised: values.supervised === true,
    stateDir: values["data-dir"] ?? values["admin-dir"],
    handover: () => handOver(running, DEFAULT_ADMIN_CONFIG.restartDrainMs),
  });
  await serveStatus(values, running, settings.fleet?.name);
  printBanner(values, running, sockets.internal.address, settings.fleet);
  wireSignals(values, running);
  await new Promise(() => {}); // serve until a signal or shutdown command
  return 0;
}

/** The node command's flags, checked: what {@linkcode serve} needs before it binds. */
interface NodeSettings {
  fleet: FleetConfig | undefined;
  port: number;
  host: string;
  fsync: FsyncPolicy;
  maxBytes: number;
  guards: ReturnType<typeof clientGuardSettings>;
}

/** Reads the fleet file and checks the flags (a usage error for a bad one; the refusal of an unkeyed cluster). */
async function nodeSettings(values: NodeValues, positionals: string[]): Promise<NodeSettings> {
  if (positionals.length > 0) {
    throw new UsageError(`node: unexpected argument "${positionals[0]}". Run with --help to see the options.`);
  }
  const fleet = values.config ? await loadFleet(values.config) : undefined;
  const port = values.port ? parseInteger(values.port, "--port", 0, 65535) : 4000;
  for (const s of values.seed ?? []) {
    try {
      parseAddress(s);
    } catch (e) {
      throw new UsageError(`node: --seed ${(e as Error).message}`);
    }
  }
  const host = values.host ?? "127.0.0.1";
  const fsync = values.fsync ?? "batch";
  if (!(FSYNC_POLICIES as readonly string[]).includes(fsync)) {
    throw new UsageError(`node: --fsync must be one of ${FSYNC_POLICIES.join(", ")}, got "${fsync}"`);
  }
  const maxBytes = values["max-bytes"] ? parseSize(values["max-bytes"], "--max-bytes") : DEFAULT_MAX_BYTES;
  if (maxBytes > MAX_STORE_CAPACITY) {
    throw new UsageError(
      `node: --max-bytes is at most ${MAX_STORE_CAPACITY / 1024 ** 3}GiB, got "${values["max-bytes"]}"`,
    );
  }
  const guards = clientGuardSettings(values, fleet);
  const refusal = insecureClusterError(fleet, formatAddress(host, port), values.seed ?? [], values.insecure === true);
  if (refusal) throw new UsageError(`node: ${refusal}`);
  return { fleet, port, host, fsync: fsync as FsyncPolicy, maxBytes, guards };
}

/** The options {@linkcode startNode} gets from the flags, on the sockets bound (the restarter is made later). */
function nodeOptions(
  values: NodeValues,
  settings: NodeSettings,
  sockets: { client: Transport; internal: Transport },
  late: { restarter?: ProcessRestarter },
): StartNodeOptions {
  const { fleet, guards } = settings;
  return {
    subsystemOptions: {
      admin: {
        adminDir: values["admin-dir"],
        configPath: values.config,
        restarter: {
          restart: (o) => late.restarter!.restart(o),
          get handingOver() {
            return late.restarter?.handingOver ?? false;
          },
        },
      },
    },
    transport: sockets.client,
    internalTransport: sockets.internal,
    host: settings.host,
    destructiveFrom: guards.destructiveFrom,
    trustedClients: guards.trustedClients,
    replyBudget: { bytesPerSecond: guards.replyBudgetBytes, burstBytes: guards.replyBudgetBytes },
    port: settings.port,
    fleet,
    seeds: values.seed ? [...new Set([...(fleet?.nodes ?? []), ...values.seed])] : undefined,
    maxBytes: settings.maxBytes,
    dataDir: values["data-dir"],
    fsync: settings.fsync,
    pid: Deno.pid,
    onShutdown: () => Deno.exit(0),
    nodeConfig: {
      replyCacheTtlMs: values["reply-cache-ttl"]
        ? parseDuration(values["reply-cache-ttl"], "--reply-cache-ttl")
        : DEFAULT_NODE_CONFIG.replyCacheTtlMs,
      maxInFlight: values["max-in-flight"]
        ? parseInteger(values["max-in-flight"], "--max-in-flight", 1)
        : DEFAULT_NODE_CONFIG.maxInFlight,
    },
  };
}

/** The listening line, and the warning of a cluster whose node-to-node traffic is not authenticated. */
function printBanner(values: NodeValues, running: RunningNode, internal: string, fleet: FleetConfig | undefined): void {
  const loaded = values["data-dir"] ? `, ${running.loadedKeys} keys loaded from ${values["data-dir"]}` : "";
  console.log(
    `kvstore node listening on udp ${running.node.address} (pid ${Deno.pid}${loaded}; ` +
      `internal udp ${internal})`,
  );
  if (!running.node.rpc.authenticated && (values.insecure || fleet)) console.error(INSECURE_WARNING);
}

/** SIGHUP reloads the keys (with a fleet file); SIGINT and SIGTERM close the node and exit. */
function wireSignals(values: NodeValues, running: RunningNode): void {
  if (values.config) reloadKeysOnHangup(values.config, running);
  const stop = () => {
    running.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

/** Tries to bind the status port this long after a restart in place (the old process holds it until it exits). */
const STATUS_TAKEOVER_WAIT_MS = 10_000;

/** Starts the status server when `--status-port` is given; prints its URL. */
async function serveStatus(values: NodeValues, running: RunningNode, name: string | undefined): Promise<void> {
  if (values["status-port"] === undefined) return;
  const port = parseInteger(values["status-port"], "--status-port", 0, 65535);
  const fleet = running.fleet;
  if (!fleet) throw new UsageError("node: --status-port needs the fleet table, which is off");
  // Loaded only here: the page, the monitor's views and hono stay out of a node without a status port.
  const { startStatusServer } = await import("../roles/status_server.ts");
  const start = () => startStatusServer({ host: values["status-host"], port, read: () => fleet.snapshot(), name });
  const announce = (url: string) => console.log(`kvstore node ${running.node.address} status page on ${url}`);
  try {
    announce((await start()).url);
  } catch (e) {
    if (values.takeover === undefined) throw e;
    // A restart in place: the old process frees the port when it exits; keep trying for a while.
    const until = Date.now() + STATUS_TAKEOVER_WAIT_MS;
    const retry = () =>
      start().then((s) => announce(s.url), (err) => {
        if (Date.now() < until) setTimeout(retry, 250);
        else console.error(`kvstore node: no status page: ${(err as Error).message}`);
      });
    setTimeout(retry, 250);
  }
}
