/**
 * Real-process admin clusters for the acceptance tests: N node processes with
 * a fleet file (admin public key, monitor URL, cluster key), an in-process
 * monitor, and a kvctl-side admin client on UDP.
 *
 * @module
 */
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { realClock } from "../../lib/base/clock.ts";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { AdminClient } from "../../lib/admin/client.ts";
import type { NodeResult } from "../../lib/admin/protocol.ts";
import { freeUdpPorts, type RoleProcess, startNodeProcess } from "../../lib/roles/process_launcher.ts";
import { startMonitor } from "../../lib/roles/start_monitor.ts";
import { UdpTransport } from "../../lib/net/udp_transport.ts";
import { makeKeys } from "./admin_keys.ts";
import { kvctl } from "../child_processes.ts";

/** A running test cluster. */
export interface ProcCluster {
  dir: string;
  addresses: string[];
  /** Per-node admin directory. */
  adminDirs: string[];
  /** Shared fleet file path. */
  fleetFile: string;
  keyFile: string;
  privateKey: CryptoKey;
  monitorUrl: string;
  procs: RoleProcess[];
  client: AdminClient;
  /** The monitor's view of a command (null if it has none). */
  commandResults(id: string): Promise<NodeResult[] | null>;
  /** Runs kvctl in a child process; resolves with its exit code and output. */
  kvctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

/** Starts `n` node processes and a monitor; `allowRun` grants the nodes bash. */
export async function startProcCluster(
  n: number,
  options: { allowRun: boolean; perNodeConfig?: boolean },
): Promise<ProcCluster> {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-admin-test-" });
  const keys = await makeKeys();
  const keyFile = `${dir}/admin.key`;
  await Deno.writeTextFile(keyFile, keys.file);
  const ports = freeUdpPorts(n);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const clusterKey = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
  const base = `name: admin-test\nclusterKey: ${clusterKey}\nadminPublicKey: ${keys.publicKey}\nnodes:\n${
    addresses.map((a) => `  - ${a}\n`).join("")
  }`;
  const monitor = await startMonitor({
    port: 0,
    fleet: parseFleet(base, "test"),
    config: { intervalMs: 5_000 },
    tcpProbe: null,
  });
  const fleetText = base.replace("nodes:\n", `monitor:\n  url: ${monitor.url}\nnodes:\n`);
  const fleetFile = `${dir}/nodes.yaml`;
  await Deno.writeTextFile(fleetFile, fleetText);
  const adminDirs = addresses.map((_, i) => `${dir}/node${i}`);
  const procs: RoleProcess[] = [];
  const client = new AdminClient(await UdpTransport.listen("127.0.0.1", 0), realClock, {}, {
    auth: ClusterKeyring.fromHex([clusterKey]),
  });
  const permissionSet = options.allowRun ? "node-admin" : "node";
  try {
    const started = await Promise.all(ports.map(async (port, i) => {
      let config = fleetFile;
      if (options.perNodeConfig) {
        await Deno.mkdir(adminDirs[i], { recursive: true });
        config = `${adminDirs[i]}/nodes.yaml`;
        await Deno.writeTextFile(config, fleetText);
      }
      return await startNodeProcess(port, ["--config", config, "--admin-dir", adminDirs[i]], { permissionSet });
    }));
    procs.push(...started);
  } catch (e) {
    client.close();
    await monitor.close();
    throw e;
  }
  return {
    dir,
    addresses,
    adminDirs,
    fleetFile,
    keyFile,
    privateKey: keys.privateKey,
    monitorUrl: monitor.url,
    procs,
    client,
    async commandResults(id) {
      const res = await fetch(`${monitor.url}/api/admin/commands/${id}`);
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      return ((await res.json()) as { results: NodeResult[] }).results;
    },
    kvctl(args) {
      // A whole-cluster run or a 20 MiB push takes a while on a loaded machine: a generous bound.
      return kvctl(args, { cwd: dir, limitMs: 300_000 });
    },
    async close() {
      client.close();
      await Promise.all(procs.map((p) => p.stop("SIGTERM")));
      await monitor.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Lines of a text file, or [] if it does not exist. */
export async function linesOf(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

/** Whether process `pid` is gone (or a zombie: killed, not yet reaped). */
export async function processGone(pid: number): Promise<boolean> {
  const out = await new Deno.Command("bash", {
    args: ["-c", `s=$(cut -d' ' -f3 /proc/${pid}/stat 2>/dev/null) || exit 0; [ "$s" = Z ] && exit 0; exit 1`],
  }).output();
  return out.success;
}

/** Pids of live processes (other than this one) whose command line mentions `text` (a test's unique temp dir). */
export function pidsMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      const state = Deno.readTextFileSync(`/proc/${e.name}/stat`).split(") ")[1]?.[0];
      if (cmd.includes(text) && state !== "Z") out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** Sends SIGTERM to `pids` (then SIGKILL to any left after `graceMs`) and waits until they are gone. */
export async function stopPids(pids: number[], graceMs = 5_000): Promise<void> {
  const signal = (s: Deno.Signal) => {
    for (const pid of pids) {
      try {
        Deno.kill(pid, s);
      } catch { /* gone */ }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if ((await Promise.all(pids.map(processGone))).every(Boolean)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  signal("SIGKILL");
}
