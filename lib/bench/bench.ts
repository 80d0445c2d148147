/**
 * `deno task bench` and `kvctl bench`: load a node (or cluster) over the UDP
 * protocol from separate generator processes and print throughput, latency
 * percentiles and timeouts, with a live progress line.
 *
 * Without `--target` it starts a fresh local node process (or, with `--echo`,
 * the raw Deno UDP echo server) on a free port and loads that.
 *
 * @module
 */
import { parseDuration, parseFlags, parseInteger, runCli, UsageError } from "../base/cli_args.ts";
import { freeUdpPorts, startNodeProcess } from "../roles/process_launcher.ts";
import { WatchedProcess } from "../base/watched_process.ts";
import { parseAddress } from "../net/transport.ts";
import {
  type BenchOptions,
  type BenchResult,
  DEFAULT_BENCH_OPTIONS,
  formatProgress,
  formatResult,
  runBench,
} from "./run.ts";

/** Help text of the bench command. */
export const BENCH_HELP = `Usage: deno task bench [options]     (also: kvctl bench [options])

Loads KVStore over the UDP protocol from separate generator processes and prints
throughput, p50/p99/p99.9 latency and timeouts (a progress line while it runs).

Options:
  --target A[,B…]     node(s) to load; requests spread over them (default: start a local node)
  --echo              load the raw Deno UDP echo server instead (the ceiling)
  --clients N         client sockets (default ${DEFAULT_BENCH_OPTIONS.clients})
  --window N          requests each client keeps outstanding (default ${DEFAULT_BENCH_OPTIONS.window})
  --processes N       generator processes; 0 runs the generator in this process (default 1)
  --value-size S      put value size in bytes, or a range A-B (default 100)
  --gets F            fraction of requests that are gets, 0-1 (default 0.5; the rest are puts)
  --keys N            distinct keys (default ${DEFAULT_BENCH_OPTIONS.keyspace}); preloaded unless --no-preload
  --no-preload        do not put every key before measuring
  --duration D        measured time (default 10s)
  --warmup D          unmeasured warm-up (default 1s)
  --requests N        stop after N measured requests (default: time only)
  --timeout D         first timeout, doubled per retry (default 100ms)
  --retries N         retries with the same request id (default 3)
  --json              print the result as JSON
  -h, --help          show this help
`;

/** Parses bench flags into options (targets may be empty: start a local server). */
export function parseBenchArgs(args: string[]): { options: BenchOptions; json: boolean; help: boolean } {
  const { values, positionals } = parseFlags("bench", args, {
    target: { type: "string" },
    echo: { type: "boolean" },
    clients: { type: "string" },
    window: { type: "string" },
    processes: { type: "string" },
    "value-size": { type: "string" },
    gets: { type: "string" },
    keys: { type: "string" },
    "no-preload": { type: "boolean" },
    duration: { type: "string" },
    warmup: { type: "string" },
    requests: { type: "string" },
    timeout: { type: "string" },
    retries: { type: "string" },
    json: { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`bench: unexpected argument "${positionals[0]}"`);
  const d = DEFAULT_BENCH_OPTIONS;
  const targets = values.target ? values.target.split(",").map((s) => s.trim()).filter(Boolean) : [];
  for (const t of targets) {
    try {
      parseAddress(t);
    } catch (e) {
      throw new UsageError(`bench: --target ${(e as Error).message}`);
    }
  }
  let valueMin = d.valueMin, valueMax = d.valueMax;
  if (values["value-size"]) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(values["value-size"].trim());
    if (!m || Number(m[2] ?? m[1]) > 15_000 || Number(m[1]) > Number(m[2] ?? m[1])) {
      throw new UsageError(`bench: --value-size "${values["value-size"]}": use N or A-B with 0 ≤ A ≤ B ≤ 15000`);
    }
    valueMin = Number(m[1]);
    valueMax = Number(m[2] ?? m[1]);
  }
  let getRatio = d.getRatio;
  if (values.gets !== undefined) {
    getRatio = Number(values.gets);
    if (!/^\d*\.?\d+$/.test(values.gets) || getRatio > 1) {
      throw new UsageError(`bench: --gets "${values.gets}" must be a fraction between 0 and 1, e.g. 0.9`);
    }
  }
  const options: BenchOptions = {
    ...d,
    targets,
    echo: values.echo ?? false,
    clients: values.clients ? parseInteger(values.clients, "--clients", 1, 4096) : d.clients,
    window: values.window ? parseInteger(values.window, "--window", 1, 1024) : d.window,
    processes: values.processes ? parseInteger(values.processes, "--processes", 0, 64) : d.processes,
    valueMin,
    valueMax,
    getRatio,
    keyspace: values.keys ? parseInteger(values.keys, "--keys", 1, 100_000_000) : d.keyspace,
    preload: !values["no-preload"],
    durationMs: values.duration ? parseDuration(values.duration, "--duration") : d.durationMs,
    warmupMs: values.warmup ? parseDuration(values.warmup, "--warmup") : d.warmupMs,
    maxRequests: values.requests ? parseInteger(values.requests, "--requests", 1) : d.maxRequests,
    timeoutMs: values.timeout ? parseDuration(values.timeout, "--timeout") : d.timeoutMs,
    retries: values.retries ? parseInteger(values.retries, "--retries", 0, 20) : d.retries,
  };
  if (options.durationMs <= 0) throw new UsageError("bench: --duration must be more than 0");
  if (options.timeoutMs <= 0) throw new UsageError("bench: --timeout must be more than 0");
  return { options, json: values.json ?? false, help: values.help ?? false };
}

/** A local server started for the benchmark. */
export interface LocalServer {
  /** Its `host:port`. */
  address: string;
  /** Its process id. */
  pid: number;
  /** Stops it. */
  stop(): Promise<unknown>;
}

/** Starts the raw Deno UDP echo server in its own process on a free loopback port. */
export async function startEchoProcess(): Promise<LocalServer> {
  const [port] = freeUdpPorts(1);
  const script = new URL("../../scripts/echo_server.ts", import.meta.url).pathname;
  const p = WatchedProcess.deno(`echo:${port}`, ["--unstable-net", "--allow-net", script, "--port", String(port)]);
  try {
    await p.waitFor(/echo listening on udp/);
  } catch (e) {
    await p.stop("SIGKILL");
    throw e;
  }
  return { address: `127.0.0.1:${port}`, pid: p.child.pid, stop: () => p.stop() };
}

/** Starts a fresh node in its own process on a free loopback port. */
export async function startLocalNode(args: string[] = []): Promise<LocalServer> {
  const [port] = freeUdpPorts(1);
  const p = await startNodeProcess(port, ["--max-bytes", "1GiB", ...args]);
  return { address: `127.0.0.1:${port}`, pid: p.child.pid, stop: () => p.stop() };
}

/** Whether this process may start child processes. */
export async function canSpawn(): Promise<boolean> {
  return (await Deno.permissions.query({ name: "run" })).state === "granted";
}

/** Runs the bench command; returns the exit code. */
export async function benchMain(args: string[]): Promise<number> {
  const { options, json, help } = parseBenchArgs(args);
  if (help) {
    console.log(BENCH_HELP);
    return 0;
  }
  const spawn = await canSpawn();
  if (!spawn && options.processes > 0) {
    console.error("bench: no --allow-run, so the load generator runs in this process (use deno task bench for more)");
    options.processes = 0;
  }
  let server: LocalServer | undefined;
  if (options.targets.length === 0) {
    if (!spawn) throw new UsageError("bench: give --target host:port (starting a local node needs --allow-run)");
    server = options.echo ? await startEchoProcess() : await startLocalNode();
    options.targets = [server.address];
    console.error(`bench: started a local ${options.echo ? "echo server" : "node"} on ${server.address}`);
  }
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let result: BenchResult;
  try {
    result = await runBench(options, (p) => {
      const line = formatProgress(p);
      Deno.stderr.writeSync(enc.encode(tty ? `\r${line}\x1b[K` : `${line}\n`));
    });
  } finally {
    if (tty) Deno.stderr.writeSync(enc.encode("\n"));
    await server?.stop();
  }
  console.log(json ? JSON.stringify(result, null, 2) : formatResult(result));
  return result.ops > 0 ? 0 : 1;
}

if (import.meta.main) await runCli(() => benchMain(Deno.args));
