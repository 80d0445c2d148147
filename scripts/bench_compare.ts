/**
 * `deno task bench:compare`: one run, one machine, one load generator setup:
 * (a) the raw Deno UDP echo ceiling, (b) a single KVStore node, (c) a 5-node
 * cluster (N=3, W=2, R=2) through one and through all coordinators, and
 * (d) redis-benchmark against a local redis-server with the same number of
 * outstanding requests and value size. Prints a table with ratios to (a) and
 * (d), server CPU per request, and memory per key after loading 1M keys
 * (`bench_memory.ts`: both servers measured the same way).
 *
 * @module
 */
import { parseDuration, parseFlags, parseInteger, runCli } from "../lib/base/cli_args.ts";
import { KVClient } from "../lib/client/client.ts";
import { formatFleet } from "../lib/config/fleet_file.ts";
import { newClusterKey } from "../lib/wire/fleet_auth.ts";
import { freeUdpPorts, type RoleProcess, startNodeProcess } from "../lib/roles/process_launcher.ts";
import {
  type BenchOptions,
  type BenchResult,
  DEFAULT_BENCH_OPTIONS,
  formatProgress,
  runBench,
} from "../lib/bench/run.ts";
import { startEchoProcess } from "../lib/bench/bench.ts";
import { WatchedProcess } from "../lib/base/watched_process.ts";
import { redisAvailable, runRedisBenchmark } from "./bench_redis.ts";
import { formatMemory, nodeMemoryPerKey, redisMemoryPerKey } from "./bench_memory.ts";
import { processCpuMs } from "./proc_stats.ts";
import { type CaseResult, formatPairedRatios, formatTable, median } from "./bench_table.ts";

export type { CaseResult };

/** Rows measured with one request outstanding: their p50 is the latency without queueing. */
const LONE_NODE = "(e) single node, 1 outstanding";
const LONE_CLUSTER = "(e) 5 nodes, 1 outstanding";
/** The replicated pattern's datagrams alone (`wire_floor_server.ts`): the ceiling of the cluster rows. */
const FLOOR = "(f) wire floor, 5 processes";

/** Rounds by default: this VM's speed drifts by up to 1.5× within minutes, so one round can mislead. */
const DEFAULT_ROUNDS = 3;

/** Help text. */
export const COMPARE_HELP = `Usage: deno task bench:compare [options]

Measures, in one run on this machine: the raw Deno UDP echo ceiling, a single
node, a 5-node cluster (N=3 W=2) through one and all coordinators, the same
cluster's datagrams alone (the wire floor: 5 processes with no store), and redis
(redis-benchmark, installed from Debian when missing and running as root).
Prints a table with ratios, server CPU per request and memory per key.

Options:
  --duration D      measured time per case (default 5s)
  --rounds N        repeat every case N times, interleaved; the table shows medians, and each
                    case's ratio to the echo of its round is listed round by round (default 3)
  --clients N       client sockets (default 16)
  --window N        outstanding requests per client (default 4)
  --processes N     generator processes (default 1)
  --value-size N    value bytes (default 100)
  --memory-keys N   keys loaded for the memory figure (default 1000000; 0 skips)
  --skip LIST       comma list of cases to skip: echo,node,durable,cluster,floor,latency,redis,memory
  --fsync-always    also run the durable node with --fsync always (syncs before every reply)
  --auth-cost       also run the all-coordinators case on a cluster without a key (--insecure),
                    to show what authenticating every internal datagram costs
  -h, --help        show this help
`;

interface Servers {
  addresses: string[];
  pids: number[];
  note: string;
  stop(): Promise<void>;
}

async function startNodes(count: number, dir: string, authenticated = true, extra: string[] = []): Promise<Servers> {
  const ports = freeUdpPorts(count);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const args = ["--max-bytes", "1GiB", ...extra];
  if (count > 1) {
    const fleet = `${dir}/nodes.yaml`;
    await Deno.writeTextFile(
      fleet,
      // Authenticated, as a real fleet must be: every internal datagram is tagged and checked.
      formatFleet({
        name: "bench",
        preset: "lan",
        ...(authenticated ? { clusterKey: newClusterKey() } : {}),
        replication: { n: 3, w: 2, r: 2 },
        nodes: addresses,
      }),
    );
    args.push("--config", fleet);
    if (!authenticated) args.push("--insecure");
  }
  const procs: RoleProcess[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop()));
  };
  try {
    for (const port of ports) procs.push(await startNodeProcess(port, args));
  } catch (e) {
    await stop();
    throw e;
  }
  let note = "";
  if (count > 1) {
    const seen = await waitForMembers(addresses[0], count, 15_000);
    note = seen === count ? `${count} members alive` : `only ${seen}/${count} members seen (no gossip?)`;
  }
  return { addresses, pids: procs.map((p) => p.child.pid), note, stop };
}

/** Five processes of `wire_floor_server.ts`: the cluster's datagrams and nothing else. */
async function startFloor(count: number): Promise<Servers> {
  const ports = freeUdpPorts(count);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const script = new URL("./wire_floor_server.ts", import.meta.url).pathname;
  const key = newClusterKey();
  const procs: WatchedProcess[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop()));
  };
  try {
    for (const port of ports) {
      const args = ["--allow-net", script, "--port", String(port), "--peers", addresses.join(","), "--key", key];
      const p = WatchedProcess.deno(`floor:${port}`, args);
      procs.push(p);
      await p.waitFor(/floor listening on udp/);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { addresses, pids: procs.map((p) => p.child.pid), note: "datagrams only", stop };
}

async function waitForMembers(address: string, want: number, timeoutMs: number): Promise<number> {
  const client = await KVClient.connect(address);
  const deadline = performance.now() + timeoutMs;
  let seen = 0;
  try {
    while (performance.now() < deadline) {
      try {
        seen = await client.membershipCount();
      } catch { /* retry */ }
      if (seen >= want) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    client.close();
  }
  return seen;
}

async function measure(
  name: string,
  servers: Servers,
  options: BenchOptions,
  targets: string[],
  echo = false,
): Promise<CaseResult> {
  const enc = new TextEncoder();
  const cpu0 = servers.pids.reduce((n, p) => n + processCpuMs(p), 0);
  const r: BenchResult = await runBench({ ...options, targets, echo }, (p) => {
    Deno.stderr.writeSync(enc.encode(`  ${name.padEnd(24)} ${formatProgress(p)}\n`));
  });
  const cpu1 = servers.pids.reduce((n, p) => n + processCpuMs(p), 0);
  // Server CPU includes the (unmeasured) warm-up; divide by everything it served.
  const served = r.ops * (1 + options.warmupMs / r.elapsedMs);
  return {
    name,
    opsPerSec: r.opsPerSec,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    p999Ms: r.p999Ms,
    timeouts: r.timeouts,
    serverCpuUs: ((cpu1 - cpu0) * 1000) / served,
    generatorCores: r.generatorCores,
    note: [servers.note, r.failed > 0 ? `${r.failed} failed` : ""].filter(Boolean).join("; "),
  };
}

/** The memory rows: settled RSS of a server with half the keys and of one with all, per key (`bench_memory.ts`). */
async function printMemory(keys: number, valueSize: number, options: BenchOptions, redis: boolean): Promise<void> {
  console.log(
    `\nMemory per key (${keys.toLocaleString("en-US")} keys of ${valueSize} B; RSS slope from half the keys to all):`,
  );
  const node = await nodeMemoryPerKey(keys, valueSize, options);
  console.log("  " + formatMemory("KVStore node", node, 32 + valueSize) + " (32 B key + value)");
  if (!redis) return;
  const r = await redisMemoryPerKey(keys, valueSize);
  console.log("  " + formatMemory("redis-server", r, `key:${keys - 1}`.length + valueSize));
  console.log(`  node / redis: ${(node.perKey / r.perKey).toFixed(2)} (at most 1.00 is the target)`);
}

/** Runs the comparison; returns the exit code. */
export async function compareMain(args: string[]): Promise<number> {
  const { values } = parseFlags("bench:compare", args, {
    duration: { type: "string" },
    rounds: { type: "string" },
    clients: { type: "string" },
    window: { type: "string" },
    processes: { type: "string" },
    "value-size": { type: "string" },
    "memory-keys": { type: "string" },
    skip: { type: "string" },
    "auth-cost": { type: "boolean" },
    "fsync-always": { type: "boolean" },
  });
  if (values.help) {
    console.log(COMPARE_HELP);
    return 0;
  }
  const skip = new Set((values.skip ?? "").split(",").map((s) => s.trim()).filter(Boolean));
  const valueSize = values["value-size"] ? parseInteger(values["value-size"], "--value-size", 0, 15_000) : 100;
  const options: BenchOptions = {
    ...DEFAULT_BENCH_OPTIONS,
    durationMs: values.duration ? parseDuration(values.duration, "--duration") : 5_000,
    clients: values.clients ? parseInteger(values.clients, "--clients", 1, 4096) : DEFAULT_BENCH_OPTIONS.clients,
    window: values.window ? parseInteger(values.window, "--window", 1, 1024) : DEFAULT_BENCH_OPTIONS.window,
    processes: values.processes ? parseInteger(values.processes, "--processes", 1, 64) : 1,
    valueMin: valueSize,
    valueMax: valueSize,
  };
  const rounds = values.rounds ? parseInteger(values.rounds, "--rounds", 1, 20) : DEFAULT_ROUNDS;
  // Latency without queueing: one client, one request at a time.
  const lone: BenchOptions = { ...options, clients: 1, window: 1, durationMs: Math.min(options.durationMs, 2_000) };
  const memoryKeys = values["memory-keys"] ? parseInteger(values["memory-keys"], "--memory-keys", 0) : 1_000_000;
  const dir = await Deno.makeTempDir({ prefix: "kvstore-bench-" });
  const byCase = new Map<string, CaseResult[]>();
  const byRound: CaseResult[][] = [];
  const add = (r: CaseResult) => {
    byCase.set(r.name, [...(byCase.get(r.name) ?? []), r]);
    byRound[byRound.length - 1].push(r);
  };
  const cpus = navigator.hardwareConcurrency;
  console.log(
    `bench:compare on ${Deno.build.os}/${Deno.build.arch}, ${cpus} cores, Deno ${Deno.version.deno}: ` +
      `${options.clients} clients × window ${options.window} (${options.clients * options.window} outstanding) ` +
      `from ${options.processes} generator process(es), ${valueSize} B values, 50% get / 50% put, ` +
      `${options.durationMs / 1000} s per case, ${rounds} round(s)`,
  );
  const redis = skip.has("redis") ? { ok: false, why: "skipped" } : await redisAvailable();
  try {
    for (let round = 0; round < rounds; round++) {
      byRound.push([]);
      if (!skip.has("echo")) {
        const echo = await startEchoProcess();
        const servers: Servers = { addresses: [echo.address], pids: [echo.pid], note: "", stop: async () => {} };
        try {
          add(await measure("(a) Deno UDP echo", servers, options, [echo.address], true));
        } finally {
          await echo.stop();
        }
      }
      if (!skip.has("node")) {
        const one = await startNodes(1, dir);
        try {
          add(await measure("(b) single node", one, options, one.addresses));
          if (!skip.has("latency")) add(await measure(LONE_NODE, one, lone, one.addresses));
        } finally {
          await one.stop();
        }
      }
      if (!skip.has("durable")) {
        const policies = values["fsync-always"] ? ["batch", "always"] : ["batch"];
        for (const fsync of policies) {
          const durable = await startNodes(1, dir, true, [
            "--data-dir",
            `${dir}/data-${round}-${fsync}`,
            "--fsync",
            fsync,
          ]);
          try {
            add(await measure(`(b) single node, --data-dir, fsync ${fsync}`, durable, options, durable.addresses));
          } finally {
            await durable.stop();
          }
        }
      }
      if (!skip.has("cluster")) {
        const five = await startNodes(5, dir);
        try {
          add(await measure("(c) 5 nodes, 1 coordinator", five, options, five.addresses.slice(0, 1)));
          add(await measure("(c) 5 nodes, all coordinators", five, options, five.addresses));
          if (!skip.has("latency")) add(await measure(LONE_CLUSTER, five, lone, five.addresses));
        } finally {
          await five.stop();
        }
      }
      if (!skip.has("floor")) {
        const floor = await startFloor(5);
        try {
          add(await measure(FLOOR, floor, options, floor.addresses));
        } finally {
          await floor.stop();
        }
      }
      if (values["auth-cost"] && !skip.has("cluster")) {
        const open = await startNodes(5, dir, false);
        try {
          add(await measure("(c) 5 nodes, all coordinators, no key", open, options, open.addresses));
        } finally {
          await open.stop();
        }
      }
      if (redis.ok) add(await runRedisBenchmark(options, valueSize));
    }
    const rows = [...byCase.values()].map(median);
    console.log("\n" + formatTable(rows));
    const paired = formatPairedRatios(byRound);
    if (paired) console.log(`\nRatio to the echo of the same round, round by round:\n${paired}`);
    const floor = formatPairedRatios(byRound, FLOOR, "(c) 5 nodes, all");
    if (floor) console.log(`\nCluster against the wire floor of the same round:\n${floor}`);
    const durable = formatPairedRatios(byRound, "(b) single node", "(b) single node, --data-dir");
    if (durable) console.log(`\nDurable node against the in-memory node of the same round:\n${durable}`);
    if (!redis.ok) console.log(`\n(d) redis: not measured: ${redis.why}`);
    if (memoryKeys > 0 && !skip.has("memory")) await printMemory(memoryKeys, valueSize, options, redis.ok);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return 0;
}

if (import.meta.main) await runCli(() => compareMain(Deno.args));
