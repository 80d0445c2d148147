/**
 * `kvstore cluster`: a local N-node cluster on loopback for trying KVStore out.
 *
 * @module
 */
import { startNodeProcess } from "../roles/process_launcher.ts";
import { toHex } from "../base/bytes.ts";
import { formatFleet } from "../config/fleet_file.ts";
import { parseFlags, parseInteger, UsageError } from "../base/cli_args.ts";
import { defaultInternalPort, MAX_DEFAULT_CLIENT_PORT } from "../net/internal_address.ts";
import { FSYNC_POLICIES } from "../storage/durability.ts";
import { generateAdminKeys } from "../admin/keys.ts";
import { ClusterSupervisor, MONITOR_DATA_ARGS, stopAll, superviseMonitor } from "./cluster_supervisor.ts";

export { MONITOR_RESTART_MAX_MS, MONITOR_RESTART_MIN_MS } from "./cluster_supervisor.ts";

/**
 * The first of `ports` in use on 127.0.0.1 now, if any. Without the net permission (the `cluster`
 * permission set has none) nothing is checked: a node then says which port it could not bind.
 */
function takenPort(ports: number[]): number | undefined {
  if (Deno.permissions.querySync({ name: "net" }).state !== "granted") return undefined;
  for (const port of ports) {
    try {
      Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) return port;
    }
  }
  return undefined;
}

/** Help text of `cluster`. */
export const CLUSTER_HELP = `Usage: kvstore cluster [options]

Starts a local cluster of N nodes on 127.0.0.1 (ports BASE..BASE+N-1, their
internal ports BASE+10000..BASE+10000+N-1) and
writes its fleet file, plus the status server (monitor) on http://127.0.0.1:8080.
A node that exits (for example after 'kvctl shutdown') is reported and the
others keep running; the command ends when every node has exited (exit code 1
if any failed). A node that restarts in place (kvctl run --restart, kvctl
upgrade) is started again by this command, so it stays its child. The monitor
is restarted whenever it exits (with a back-off; its page shows the restarts),
so the fleet is never left unwatched. Ctrl-C or SIGTERM stops every node
cleanly (exit code 0).

Options:
  --nodes N         number of nodes (default 5)
  --base-port P     first UDP port (default 4000)
  --dir DIR         where the fleet file and node data go (default .kvstore-cluster)
  --allow-run       let nodes execute signed admin scripts
  --monitor-port P  HTTP port of the status page (default 8080; 0 = no monitor)
  --status-base-port S
                    each node serves its own status page (its fleet table) on TCP port
                    S+i (default 0: each node takes a free port); the ports are printed
  --durable         keep each node's keys under DIR/data-PORT (--data-dir), so a restarted
                    node serves its keys at once and fetches only what it missed, and the
                    monitor's history under DIR/monitor (saved every 10 s)
  --fsync POLICY    with --durable: always, batch (default) or off (see kvstore node --help)
  -h, --help        show this help
`;

/** Runs the cluster until Ctrl-C / SIGTERM (exit code 0) or until every node has exited. */
export async function clusterCommand(args: string[]): Promise<number> {
  const settings = clusterSettings(args);
  if (!settings) {
    console.log(CLUSTER_HELP);
    return 0;
  }
  const { n, dir, fleetFile, monitorPort, monitorUrl } = settings;
  await Deno.mkdir(dir, { recursive: true });
  checkPortsFree(settings);
  await writeFleetFile(settings);
  const sup = new ClusterSupervisor(n, settings.permissionSet);
  Deno.addSignalListener("SIGINT", sup.onSignal);
  Deno.addSignalListener("SIGTERM", sup.onSignal);
  try {
    try {
      await startNodes(settings, sup);
      if (monitorPort > 0 && !sup.stopping) {
        // With --durable the monitor keeps its history too, saved every round, so a restart loses little.
        const monitorArgs = ["--config", fleetFile, ...(settings.durable ? MONITOR_DATA_ARGS(dir) : [])];
        sup.monitor = await superviseMonitor(monitorArgs, {
          stopping: () => sup.stopping,
          current: (p) => sup.monitor = p,
        });
        console.log(`monitor up: status page at ${monitorUrl}/`);
      }
    } catch (e) {
      if (sup.stopping) return 0; // interrupted while starting: the finally block stops what runs
      throw new Error(`cannot start the cluster: ${(e as Error).message.split("\n")[0]}`);
    }
    if (sup.stopping) return 0;
    console.log(
      `\n${n} nodes running; fleet file ${fleetFile}, admin key ${dir}/admin.key. Try (from this directory):\n` +
        `  deno task kvctl put hello world\n  deno task kvctl get hello\n  deno task kvctl members\n${
          monitorPort > 0 ? `Status page: ${monitorUrl}/\n` : ""
        }Ctrl-C stops the cluster.`,
    );
    if (sup.running === 0) sup.wake(); // every node already exited during start-up
    await sup.woken; // Ctrl-C / SIGTERM, or the last node exited
    if (sup.stopping) return 0;
    sup.stopping = true;
    console.error(`all ${n} nodes have exited${sup.failed > 0 ? ` (${sup.failed} failed)` : ""}; stopping the cluster`);
    return sup.failed > 0 ? 1 : 0;
  } finally {
    await stopAll(sup.all());
    Deno.removeSignalListener("SIGINT", sup.onSignal);
    Deno.removeSignalListener("SIGTERM", sup.onSignal);
    if (sup.signalled) console.log("all nodes stopped");
  }
}

/** The cluster command's flags, checked. */
interface ClusterSettings {
  /** Number of nodes. */
  n: number;
  /** First client port. */
  base: number;
  dir: string;
  /** The nodes' client addresses. */
  addresses: string[];
  fleetFile: string;
  /** 0: no monitor. */
  monitorPort: number;
  monitorUrl: string;
  /** First status port (0: each node takes a free one). */
  statusBase: number;
  durable: boolean;
  fsync?: string;
  /** deno.json "permissions" set of the nodes. */
  permissionSet: "node" | "node-admin";
}

/** Reads and checks the flags; undefined for --help. */
function clusterSettings(args: string[]): ClusterSettings | undefined {
  const { values, positionals } = parseFlags("cluster", args, {
    nodes: { type: "string" },
    "base-port": { type: "string" },
    dir: { type: "string" },
    "allow-run": { type: "boolean" },
    "monitor-port": { type: "string" },
    "status-base-port": { type: "string" },
    durable: { type: "boolean" },
    fsync: { type: "string" },
  });
  if (values.help) return undefined;
  if (positionals.length > 0) throw new UsageError(`cluster: unexpected argument "${positionals[0]}"`);
  const n = values.nodes ? parseInteger(values.nodes, "--nodes", 1, 200) : 5;
  const base = values["base-port"]
    ? parseInteger(values["base-port"], "--base-port", 1, MAX_DEFAULT_CLIENT_PORT + 1 - n)
    : 4000;
  const dir = values.dir ?? ".kvstore-cluster";
  if (values.fsync !== undefined && !(FSYNC_POLICIES as readonly string[]).includes(values.fsync)) {
    throw new UsageError(`cluster: --fsync must be one of ${FSYNC_POLICIES.join(", ")}, got "${values.fsync}"`);
  }
  if (values.fsync !== undefined && !values.durable) throw new UsageError("cluster: --fsync needs --durable");
  const monitorPort = values["monitor-port"] ? parseInteger(values["monitor-port"], "--monitor-port", 0, 65535) : 8080;
  const statusBase = values["status-base-port"]
    ? parseInteger(values["status-base-port"], "--status-base-port", 0, 65535 - n)
    : 0;
  return {
    n,
    base,
    dir,
    addresses: Array.from({ length: n }, (_, i) => `127.0.0.1:${base + i}`),
    fleetFile: `${dir}/nodes.yaml`,
    monitorPort,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    statusBase,
    durable: values.durable === true,
    fsync: values.fsync,
    permissionSet: values["allow-run"] ? "node-admin" : "node",
  };
}

/** A usage error when a port of a node (client or internal) is in use. */
function checkPortsFree({ n, base, addresses }: ClusterSettings): void {
  const taken = takenPort(addresses.flatMap((_, i) => [base + i, defaultInternalPort(base + i)]));
  if (taken !== undefined) {
    throw new UsageError(
      `cluster: UDP port ${taken} is in use (the nodes take ports ${base}-${base + n - 1} and their internal ` +
        `ports ${defaultInternalPort(base)}-${defaultInternalPort(base + n - 1)}); pick another --base-port`,
    );
  }
}

/** Writes DIR/nodes.yaml: the nodes, the monitor, a new cluster key and the admin public key. */
async function writeFleetFile({ dir, fleetFile, monitorPort, monitorUrl, addresses }: ClusterSettings): Promise<void> {
  const clusterKey = toHex(crypto.getRandomValues(new Uint8Array(32)));
  // The admin key: DIR/admin.key (from 'kvctl keygen --out DIR/admin.key', docs/admin.md), made here if
  // missing, so kvctl run/push/upgrade work at once from the directory (they find the key beside the fleet file).
  const adminPub = await localAdminKey(dir);
  await Deno.writeTextFile(
    fleetFile,
    formatFleet({
      name: "local",
      ...(monitorPort > 0 ? { monitor: { url: monitorUrl } } : {}),
      clusterKey,
      ...(adminPub ? { adminPublicKey: adminPub } : {}),
      nodes: addresses,
    }, "Written by 'kvstore cluster'"),
  );
}

/** Starts the nodes one after the other (until a signal), each supervised once it is up. */
async function startNodes(settings: ClusterSettings, sup: ClusterSupervisor): Promise<void> {
  const { n, base, dir, durable } = settings;
  for (let i = 0; i < n && !sup.stopping; i++) {
    const port = base + i;
    const args = nodeArgs(settings, i);
    const proc = await startNodeProcess(port, args.slice(2), { permissionSet: sup.permissionSet });
    sup.started++;
    const stateDir = durable ? `${dir}/data-${port}` : `${dir}/admin-${port}`;
    sup.supervise({ address: settings.addresses[i], port, args, stateDir, procs: new Set() }, proc, true);
    const page = proc.output.map((l) => l.match(/status page on (\S+)/)?.[1]).find((u) => u !== undefined);
    console.log(`node ${i + 1}/${n} up on 127.0.0.1:${port}${page ? `, status page ${page}/` : ""}`);
  }
}

/** The command line of node `i` (its port first). */
function nodeArgs({ base, dir, durable, fsync, fleetFile, statusBase }: ClusterSettings, i: number): string[] {
  const port = base + i;
  const adminDir = ["--admin-dir", `${dir}/admin-${port}`]; // where 'kvctl push' files go
  const dataDir = durable ? ["--data-dir", `${dir}/data-${port}`, ...(fsync ? ["--fsync", fsync] : [])] : [];
  const status = ["--status-port", String(statusBase > 0 ? statusBase + i : 0)];
  return ["--port", String(port), "--config", fleetFile, ...adminDir, ...dataDir, ...status, "--supervised"];
}

/**
 * The public key of DIR/admin.key.pub, after writing a new key pair there when DIR has none
 * (the private key with mode 600); "" when a private key exists without its .pub.
 */
async function localAdminKey(dir: string): Promise<string> {
  const pub = await Deno.readTextFile(`${dir}/admin.key.pub`).then((t) => t.trim(), () => "");
  if (pub) return pub;
  const hasPrivate = await Deno.stat(`${dir}/admin.key`).then(() => true, () => false);
  if (hasPrivate) return "";
  const keys = await generateAdminKeys();
  await Deno.writeTextFile(`${dir}/admin.key`, keys.privateKeyFile, { mode: 0o600, createNew: true });
  if (Deno.build.os !== "windows") await Deno.chmod(`${dir}/admin.key`, 0o600);
  await Deno.writeTextFile(`${dir}/admin.key.pub`, `${keys.publicKey}\n`);
  console.log(`wrote a new admin key pair: ${dir}/admin.key (private, mode 600) and ${dir}/admin.key.pub`);
  return keys.publicKey;
}
