/**
 * The redis reference for `bench:compare`: a local `redis-server` (installed
 * from Debian when missing and running as root), loaded by `redis-benchmark`
 * with the same outstanding requests and value size as the KVStore runs.
 *
 * @module
 */
import type { BenchOptions } from "../lib/bench/run.ts";
import type { CaseResult } from "./bench_table.ts";
import { WatchedProcess } from "../lib/base/watched_process.ts";
import { processCpuMs } from "./proc_stats.ts";

/**
 * Runs `cmd` with `args`; its stdout and stderr together, and whether it succeeded (never throws).
 *
 * @example
 * ```ts ignore
 * console.log((await runCommand("redis-cli", ["ping"])).out); // PONG
 * ```
 */
export async function runCommand(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" }).output();
    const dec = new TextDecoder();
    return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
  } catch (e) {
    return { ok: false, out: (e as Error).message };
  }
}

/**
 * Whether redis-server, redis-benchmark and redis-cli all run here (nothing is installed).
 *
 * @example
 * ```ts ignore
 * if (!(await redisInstalled())) console.log("no redis");
 * ```
 */
export async function redisInstalled(): Promise<boolean> {
  return (await runCommand("redis-server", ["--version"])).ok &&
    (await runCommand("redis-benchmark", ["--version"])).ok &&
    (await runCommand("redis-cli", ["--version"])).ok;
}

/** Whether redis-server, redis-benchmark and redis-cli can run; installs them (apt-get) when root. */
export async function redisAvailable(): Promise<{ ok: boolean; why: string }> {
  if (await redisInstalled()) return { ok: true, why: "" };
  if (Deno.uid() !== 0 || !(await runCommand("apt-get", ["--version"])).ok) {
    return { ok: false, why: "redis-server/redis-tools are not installed (install them, or run as root with apt-get)" };
  }
  console.error("bench:compare: installing redis-server and redis-tools from Debian (apt-get)…");
  await runCommand("apt-get", ["update", "-qq"]);
  const inst = await runCommand("apt-get", ["install", "-y", "-qq", "redis-server", "redis-tools"]);
  if (!inst.ok || !(await redisInstalled())) {
    return { ok: false, why: `apt-get install failed: ${inst.out.slice(-300)}` };
  }
  return { ok: true, why: "" };
}

/** A redis-server on a free loopback TCP port, without persistence. */
export interface RedisServer {
  /** TCP port. */
  port: number;
  /** Process id. */
  pid: number;
  /** Stops it. */
  stop(): Promise<void>;
}

/** Starts redis-server on a free loopback port (no RDB/AOF, DEBUG allowed for populating keys). */
export async function startRedis(): Promise<RedisServer> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const p = new WatchedProcess(`redis:${port}`, "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--enable-debug-command",
    "yes",
    "--daemonize",
    "no",
  ]);
  try {
    await p.waitFor(/Ready to accept connections/, 15_000);
  } catch (e) {
    await p.stop("SIGKILL");
    throw e;
  }
  return { port, pid: p.child.pid, stop: async () => void await p.stop() };
}

interface CsvRow {
  test: string;
  rps: number;
  p50: number;
  p99: number;
}

function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  for (const line of text.split("\n")) {
    const cells = line.split(",").map((c) => c.replace(/"/g, ""));
    if (cells.length < 7 || !/^\d/.test(cells[1])) continue;
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    rows.push({ test: cells[0], rps: Number(cells[1]), p50: Number(cells[4]), p99: Number(cells[6]) });
  }
  return rows;
}

async function redisBenchmark(port: number, o: BenchOptions, valueSize: number, n: number): Promise<CsvRow[]> {
  const r = await runCommand("redis-benchmark", [
    ...["-h", "127.0.0.1", "-p", String(port)],
    ...["-c", String(o.clients), "-P", String(o.window), "-d", String(valueSize)],
    ...["-r", String(o.keyspace), "-n", String(n), "-t", "set,get", "--csv"],
  ]);
  const rows = parseCsv(r.out);
  if (!r.ok || rows.length < 2) throw new Error(`redis-benchmark failed: ${r.out.slice(-400)}`);
  return rows;
}

/**
 * Runs redis-benchmark (SET then GET, `clients` connections × pipeline `window`) for about
 * the configured duration each; the 50/50 rate is the harmonic mean of the two.
 */
export async function runRedisBenchmark(o: BenchOptions, valueSize: number): Promise<CaseResult> {
  const redis = await startRedis();
  try {
    // Calibrate so each test lasts about the configured duration; this also preloads the keys.
    const probe = await redisBenchmark(redis.port, o, valueSize, 50_000);
    const rate = Math.min(...probe.map((r) => r.rps));
    const n = Math.max(50_000, Math.round((rate * o.durationMs) / 1000));
    const cpu0 = processCpuMs(redis.pid);
    const rows = await redisBenchmark(redis.port, o, valueSize, n);
    const cpu1 = processCpuMs(redis.pid);
    const set = rows.find((r) => r.test === "SET")!;
    const get = rows.find((r) => r.test === "GET")!;
    const opsPerSec = 2 / (1 / set.rps + 1 / get.rps);
    Deno.stderr.writeSync(
      new TextEncoder().encode(`  (d) redis                SET ${set.rps} req/s, GET ${get.rps} req/s\n`),
    );
    return {
      name: "(d) redis-server",
      opsPerSec,
      p50Ms: (set.p50 + get.p50) / 2,
      p99Ms: Math.max(set.p99, get.p99),
      p999Ms: NaN,
      timeouts: 0,
      serverCpuUs: ((cpu1 - cpu0) * 1000) / (2 * n),
      generatorCores: NaN,
      note: `redis-benchmark -c ${o.clients} -P ${o.window} -d ${valueSize}; SET and GET run one after the other`,
    };
  } finally {
    await redis.stop();
  }
}
