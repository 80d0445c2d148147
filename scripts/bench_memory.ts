/**
 * The memory rows of `bench:compare`: bytes of RSS per key after loading a
 * fresh KVStore node and a fresh redis-server with the same number of keys of
 * the same value size.
 *
 * Both are measured the same way: the server is started, warmed up with
 * traffic on a small keyspace over its network protocol (so its runtime,
 * buffers and caches reach their working size), left to settle ({@linkcode SETTLE_MS}),
 * its RSS is read, the keys are loaded, it settles again, its RSS is read again,
 * and the growth is divided by the keys added. Read right after a load, a node's
 * RSS still holds the 30 MiB or so its V8 heap grew under the load (a fixed
 * cost, given back once idle), which at 200,000 keys would be charged to the
 * keys as 150 B each. The RSS of the idle server is printed too.
 *
 * @module
 */
import { type BenchOptions, runBench } from "../lib/bench/run.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { processRssBytes } from "./proc_stats.ts";
import { runCommand, startRedis } from "./bench_redis.ts";

/** Keys of the warm-up load (at most a tenth of the keys measured). */
export const WARM_KEYS = 10_000;
/** Duration of the warm-up load. */
const WARM_MS = 3_000;
/**
 * Wait after a load before reading RSS: the reply cache's short ttl expires, and V8's memory reducer,
 * which runs some 8 s after allocation stops, gives back the heap the load grew (about 30 MiB). The
 * RSS before and after the keys are both read settled, for both servers (redis's does not change).
 */
export const SETTLE_MS = 12_000;
/** Wait after a start before reading the idle RSS. */
const IDLE_MS = 500;

/** One server's memory figure. */
export interface MemoryFigure {
  /** RSS (bytes) of the idle server, right after its start. */
  idle: number;
  /** RSS after the warm-up. */
  warm: number;
  /** RSS after loading the keys. */
  after: number;
  /** Keys the load added. */
  added: number;
  /** (after − warm) / added. */
  perKey: number;
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/**
 * Formats a figure as one line of the table.
 *
 * @example
 * ```ts
 * const line = formatMemory("redis", { idle: 0, warm: 2 ** 20, after: 2 ** 21, added: 4096, perKey: 256 }, 110);
 * console.log(line.includes("256 B/key")); // true
 * ```
 */
export function formatMemory(name: string, f: MemoryFigure, rawPerKey: number): string {
  return `${name}: RSS idle ${mib(f.idle)} MiB, warmed ${mib(f.warm)} MiB → ${mib(f.after)} MiB after ${
    f.added.toLocaleString("en-US")
  } keys: ${f.perKey.toFixed(0)} B/key for ${rawPerKey} raw B, ${(f.perKey / rawPerKey).toFixed(2)}× raw`;
}

/** Memory per key of a fresh node loaded with `keys` keys of `valueSize` bytes through the client protocol. */
export async function nodeMemoryPerKey(
  keys: number,
  valueSize: number,
  options: BenchOptions,
  settleMs = SETTLE_MS,
): Promise<MemoryFigure> {
  const [port] = freeUdpPorts(1);
  // A short reply-cache TTL so the figure is the store's, not 5 s of cached put replies.
  const p = await startNodeProcess(port, ["--max-bytes", "4GiB", "--reply-cache-ttl", "50ms"]);
  const load = { ...options, targets: [`127.0.0.1:${port}`], valueMin: valueSize, valueMax: valueSize };
  const warmKeys = Math.min(WARM_KEYS, Math.floor(keys / 10));
  try {
    await sleep(IDLE_MS);
    const idle = processRssBytes(p.child.pid);
    // The warm-up's keys are the first keys of the load (bench keys are numbered), so the load adds the rest.
    await runBench({ ...load, keyspace: warmKeys, preload: true, getRatio: 0.5, warmupMs: 0, durationMs: WARM_MS });
    await sleep(settleMs);
    const warm = processRssBytes(p.child.pid);
    const r = await runBench({
      ...load,
      keyspace: keys,
      preload: true,
      getRatio: 1,
      warmupMs: 0,
      durationMs: 200,
      timeoutMs: 1_000,
    });
    if (r.failed > 0) throw new Error(`Loading ${keys} keys into the node: ${r.failed} puts failed`);
    await sleep(settleMs);
    const after = processRssBytes(p.child.pid);
    const added = keys - warmKeys;
    return { idle, warm, after, added, perKey: (after - warm) / added };
  } finally {
    await p.stop();
  }
}

/**
 * Memory per key of a fresh redis-server: warmed up by redis-benchmark (SET and GET on
 * `WARM_KEYS` keys, as the node is), then loaded by `DEBUG POPULATE keys` with `valueSize`-byte values.
 */
export async function redisMemoryPerKey(
  keys: number,
  valueSize: number,
  options: BenchOptions,
  settleMs = SETTLE_MS,
): Promise<MemoryFigure> {
  const redis = await startRedis();
  const cli = async (...args: string[]) => {
    const r = await runCommand("redis-cli", ["-p", String(redis.port), ...args]);
    if (!r.ok) throw new Error(`redis-cli ${args.join(" ")} failed: ${r.out.trim()}`);
    return r.out;
  };
  const dbsize = async () => Number(/\d+/.exec(await cli("dbsize"))?.[0] ?? NaN);
  try {
    await sleep(IDLE_MS);
    const idle = processRssBytes(redis.pid);
    const warmKeys = Math.min(WARM_KEYS, Math.floor(keys / 10));
    const bench = await runCommand("redis-benchmark", [
      ...["-h", "127.0.0.1", "-p", String(redis.port), "-c", String(options.clients), "-P", String(options.window)],
      ...["-d", String(valueSize), "-r", String(warmKeys), "-n", String(10 * warmKeys), "-t", "set,get", "-q"],
    ]);
    if (!bench.ok) throw new Error(`redis-benchmark failed: ${bench.out.slice(-300)}`);
    await sleep(settleMs);
    // RSS from /proc, as for the node: redis's own used_memory_rss is sampled by its cron.
    const warm = processRssBytes(redis.pid);
    const before = await dbsize();
    const pop = await cli("debug", "populate", String(keys), "key", String(valueSize));
    if (!/OK/.test(pop)) throw new Error(`redis DEBUG POPULATE failed: ${pop.trim()}`);
    await sleep(settleMs);
    const after = processRssBytes(redis.pid);
    const added = (await dbsize()) - before;
    return { idle, warm, after, added, perKey: (after - warm) / added };
  } finally {
    await redis.stop();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
