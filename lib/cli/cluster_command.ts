/**
 * `kvstore cluster`: a local N-node cluster on loopback for trying KVStore out.
 *
 * @module
 */
import { RoleProcess, startNodeProcess } from "../roles/process_launcher.ts";
import { parseRestartLine, takeoverErrorFile } from "../admin/restart.ts";
import { toHex } from "../base/bytes.ts";
import { formatFleet } from "../config/fleet_file.ts";
import { parseFlags, parseInteger, UsageError } from "../base/cli_args.ts";
import { defaultInternalPort, MAX_DEFAULT_CLIENT_PORT } from "../net/internal_address.ts";
import { FSYNC_POLICIES } from "../storage/durability.ts";
import { generateAdminKeys } from "../admin/keys.ts";

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
  if (values.help) {
    console.log(CLUSTER_HELP);
    return 0;
  }
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
  await Deno.mkdir(dir, { recursive: true });
  const addresses = Array.from({ length: n }, (_, i) => `127.0.0.1:${base + i}`);
  const taken = takenPort(addresses.flatMap((_, i) => [base + i, defaultInternalPort(base + i)]));
  if (taken !== undefined) {
    throw new UsageError(
      `cluster: UDP port ${taken} is in use (the nodes take ports ${base}-${base + n - 1} and their internal ` +
        `ports ${defaultInternalPort(base)}-${defaultInternalPort(base + n - 1)}); pick another --base-port`,
    );
  }
  const fleetFile = `${dir}/nodes.yaml`;
  const monitorPort = values["monitor-port"] ? parseInteger(values["monitor-port"], "--monitor-port", 0, 65535) : 8080;
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  const statusBase = values["status-base-port"]
    ? parseInteger(values["status-base-port"], "--status-base-port", 0, 65535 - n)
    : 0;
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
  /** Every node process running (a node restarting in place has two for a moment). */
  const live = new Set<RoleProcess>();
  let started = 0;
  let monitor: RoleProcess | undefined;
  const all = () => [...live, ...(monitor ? [monitor] : [])];
  let stopping = false;
  let signalled = false;
  let wake = () => {};
  const woken = new Promise<void>((resolve) => wake = resolve);
  const onSignal = () => {
    if (stopping) {
      for (const p of all()) p.kill("SIGKILL"); // a second Ctrl-C: no more waiting
      return;
    }
    stopping = signalled = true;
    console.log("\nstopping the cluster…");
    wake();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let running = 0;
  let failed = 0;
  const permissionSet = values["allow-run"] ? "node-admin" : "node"; // deno.json "permissions"
  // A node that exits (crash, kill, 'kvctl shutdown') is reported; the others keep running. A node
  // that asks to be restarted in place gets its new process from here (see lib/admin/restart.ts).
  const supervise = (slot: NodeSlot, proc: RoleProcess, fresh: boolean) => {
    if (fresh) running++;
    slot.procs.add(proc);
    live.add(proc);
    proc.onLine((line) => {
      const request = parseRestartLine(line);
      if (!request || stopping || !slot.procs.has(proc)) return;
      const next = new RoleProcess(`node:${slot.port}`, "node", [...slot.args, "--takeover", request.takeover], {
        permissionSet,
        program: request.program,
      });
      let up = false;
      next.waitFor(/listening on udp/, 600_000).then(() => up = true, () => {});
      next.exited().then(async (status) => {
        if (up || stopping) return;
        const why = `the new process exited (code ${status.code}) before taking over: ` +
          next.output.slice(-3).join(" / ");
        console.log(`node ${slot.address}: ${why}; the old process keeps running`);
        await Deno.writeTextFile(takeoverErrorFile(slot.stateDir, request.takeover), why).catch(() => {});
      });
      supervise(slot, next, false);
    });
    proc.exited().then((status) => {
      slot.procs.delete(proc);
      live.delete(proc);
      if (stopping) return;
      if (slot.procs.size > 0) {
        if (status.success) console.log(`node ${slot.address} restarted in place (pid ${proc.child.pid} handed over)`);
        return;
      }
      running--;
      if (!status.success) failed++;
      const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
      console.log(`node ${slot.address} exited (${how}); ${running} node${running === 1 ? "" : "s"} still running`);
      if (running === 0 && started === n) wake();
    });
  };
  try {
    try {
      for (let i = 0; i < n && !stopping; i++) {
        const port = base + i;
        const adminDir = ["--admin-dir", `${dir}/admin-${port}`]; // where 'kvctl push' files go
        const durable = values.durable
          ? ["--data-dir", `${dir}/data-${port}`, ...(values.fsync ? ["--fsync", values.fsync] : [])]
          : [];
        const status = ["--status-port", String(statusBase > 0 ? statusBase + i : 0)];
        const args = [
          "--port",
          String(port),
          "--config",
          fleetFile,
          ...adminDir,
          ...durable,
          ...status,
          "--supervised",
        ];
        const proc = await startNodeProcess(port, args.slice(2), { permissionSet });
        started++;
        const stateDir = values.durable ? `${dir}/data-${port}` : `${dir}/admin-${port}`;
        supervise({ address: addresses[i], port, args, stateDir, procs: new Set() }, proc, true);
        const page = proc.output.map((l) => l.match(/status page on (\S+)/)?.[1]).find((u) => u !== undefined);
        console.log(`node ${i + 1}/${n} up on 127.0.0.1:${port}${page ? `, status page ${page}/` : ""}`);
      }
      if (monitorPort > 0 && !stopping) {
        // With --durable the monitor keeps its history too, saved every round, so a restart loses little.
        const monitorArgs = ["--config", fleetFile, ...(values.durable ? MONITOR_DATA_ARGS(dir) : [])];
        monitor = await superviseMonitor(monitorArgs, {
          stopping: () => stopping,
          current: (p) => monitor = p,
        });
        console.log(`monitor up: status page at ${monitorUrl}/`);
      }
    } catch (e) {
      if (stopping) return 0; // interrupted while starting: the finally block stops what runs
      throw new Error(`cannot start the cluster: ${(e as Error).message.split("\n")[0]}`);
    }
    if (stopping) return 0;
    console.log(
      `\n${n} nodes running; fleet file ${fleetFile}, admin key ${dir}/admin.key. Try (from this directory):\n` +
        `  deno task kvctl put hello world\n  deno task kvctl get hello\n  deno task kvctl members\n${
          monitorPort > 0 ? `Status page: ${monitorUrl}/\n` : ""
        }Ctrl-C stops the cluster.`,
    );
    if (running === 0) wake(); // every node already exited during start-up
    await woken; // Ctrl-C / SIGTERM, or the last node exited
    if (stopping) return 0;
    stopping = true;
    console.error(`all ${n} nodes have exited${failed > 0 ? ` (${failed} failed)` : ""}; stopping the cluster`);
    return failed > 0 ? 1 : 0;
  } finally {
    await stopAll(all());
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    if (signalled) console.log("all nodes stopped");
  }
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

/** One node of the cluster: its command line and its processes (two while it restarts in place). */
interface NodeSlot {
  address: string;
  port: number;
  /** The node's arguments (the port included). */
  args: string[];
  /** Where its new process says why it cannot start (data dir, else admin dir). */
  stateDir: string;
  procs: Set<RoleProcess>;
}

/** Stops `procs` with SIGTERM, then SIGKILL for any still running after `graceMs`; resolves when all have exited. */
async function stopAll(procs: RoleProcess[], graceMs = 5_000): Promise<void> {
  await Promise.all(procs.map(async (p) => {
    p.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), graceMs));
    try {
      if (await Promise.race([p.exited(), late]) === "late") {
        console.error(`${p.name} did not stop within ${graceMs} ms; killing it`);
        p.kill("SIGKILL");
        await p.exited();
      }
    } finally {
      clearTimeout(timer);
    }
  }));
}

/** The monitor's history directory and save period under the cluster's directory (with --durable). */
const MONITOR_DATA_ARGS = (dir: string) => ["--data-dir", `${dir}/monitor`, "--save-interval", "10s"];
/** Pause before the second restart of a monitor that keeps exiting; doubles each time (the first is at once). */
export const MONITOR_RESTART_MIN_MS = 250;
/** Longest pause between monitor restarts. */
export const MONITOR_RESTART_MAX_MS = 30_000;
/** A monitor that ran this long resets the back-off. */
const MONITOR_HEALTHY_MS = 60_000;

/**
 * Starts the monitor and restarts it whenever it exits while the cluster is not stopping, with a
 * back-off, counting the restarts and passing the count to the new monitor (`--restarts`) so its
 * page shows it. Resolves with the first process once it listens.
 */
async function superviseMonitor(
  args: string[],
  hooks: { stopping: () => boolean; current: (p: RoleProcess) => void },
): Promise<RoleProcess> {
  let restarts = 0;
  let backoff = 0;
  const spawn = (): RoleProcess => {
    const startedAt = Date.now();
    const p = new RoleProcess("monitor", "monitor", [...args, "--restarts", String(restarts)]);
    hooks.current(p);
    let up = false;
    p.waitFor(/listening on/, 600_000).then(() => up = true, () => {});
    p.exited().then(async (s) => {
      if (hooks.stopping() || (!up && restarts === 0)) return; // a first start that failed is reported by the caller
      const how = s.signal ? `signal ${s.signal}` : `code ${s.code}`;
      if (Date.now() - startedAt >= MONITOR_HEALTHY_MS) backoff = 0;
      restarts++;
      console.log(
        `monitor exited (${how}): ${p.output.slice(-2).join(" / ") || "no output"}; ` +
          `restarting it in ${backoff} ms (restart ${restarts}); the nodes keep running`,
      );
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(Math.max(backoff * 2, MONITOR_RESTART_MIN_MS), MONITOR_RESTART_MAX_MS);
      if (hooks.stopping()) return;
      const next = spawn();
      next.waitFor(/listening on/).then(
        () => console.log(`monitor restarted (restart ${restarts}, pid ${next.child.pid})`),
        () => {},
      );
    });
    return p;
  };
  const first = spawn();
  await first.waitFor(/listening on/);
  return first;
}
