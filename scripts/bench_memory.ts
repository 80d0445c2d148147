/**
 * The memory rows of `bench:compare`: bytes of RSS per key of a KVStore node
 * and of a redis-server holding the same number of keys of the same value size.
 *
 * Both are measured the same way, as the slope between two loads: a fresh
 * server is loaded with half the keys, another fresh one with all of them, each
 * is left to settle ({@linkcode SETTLE_MS}: its lowest RSS over that time is read), and the difference
 * is divided by the keys the second holds more. What a server costs whatever
 * it holds (its runtime, buffers, a heap grown under load) falls out. Read as
 * the growth from the idle server instead, a node was charged for the 30 MiB or
 * so its V8 heap grows under a load and gives back only when V8's memory reducer
 * runs, some 8 s after allocation stops, if it runs: at 200,000 keys that was
 * 150 B per key; measured from a warmed-up server instead, the reducer had run
 * after the load but not after the warm-up in one run, and the node read 29 B.
 *
 * @module
 */
import { type BenchOptions, runBench } from "../lib/bench/run.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { processRssBytes } from "./proc_stats.ts";
import { runCommand, startRedis } from "./bench_redis.ts";

/**
 * Wait after a load before reading RSS: the reply cache's short ttl expires, and V8's memory reducer,
 * which runs some 8 s after allocation stops, gives back heap the load grew. Redis's RSS does not change.
 */
export const SETTLE_MS = 15_000;
/** Wait after a start before reading the idle RSS. */
const IDLE_MS = 500;
/** Interval of RSS reads while a server settles. */
const RSS_POLL_MS = 500;

/** One server's memory figure. */
export interface MemoryFigure {
  /** RSS (bytes) of the idle server, right after its start. */
  idle: number;
  /** Settled RSS of a server loaded with half the keys. */
  half: number;
  /** Settled RSS of a server loaded with all the keys. */
  after: number;
  /** Keys the second server holds more than the first. */
  added: number;
  /** (after − half) / added. */
  perKey: number;
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/**
 * Formats a figure as one line of the table.
 *
 * @example
 * ```ts
 * const f = { idle: 2 ** 20, half: 2 ** 22, after: 2 ** 23, added: 16_384, perKey: 256 };
 * console.log(formatMemory("redis", f, 110).includes("256 B/key")); // true
 * ```
 */
export function formatMemory(name: string, f: MemoryFigure, rawPerKey: number): string {
  return `${name}: RSS idle ${mib(f.idle)} MiB; settled ${mib(f.half)} MiB with half the keys, ${
    mib(f.after)
  } MiB with all: ${f.perKey.toFixed(0)} B per key of the ${
    f.added.toLocaleString("en-US")
  } more, for ${rawPerKey} raw B, ${(f.perKey / rawPerKey).toFixed(2)}× raw`;
}

/** Memory per key of a node loaded with `keys` keys of `valueSize` bytes through the client protocol. */
export async function nodeMemoryPerKey(
  keys: number,
  valueSize: number,
  options: BenchOptions,
  settleMs = SETTLE_MS,
): Promise<MemoryFigure> {
  const half = Math.floor(keys / 2);
  const first = await loadedNode(half, valueSize, options, settleMs);
  const second = await loadedNode(keys, valueSize, options, settleMs);
  return figure(second.idle, first.rss, second.rss, keys - half);
}

/** Memory per key of a redis-server loaded by `DEBUG POPULATE keys` with `valueSize`-byte values. */
export async function redisMemoryPerKey(keys: number, valueSize: number, settleMs = SETTLE_MS): Promise<MemoryFigure> {
  const first = await loadedRedis(Math.floor(keys / 2), valueSize, settleMs);
  const second = await loadedRedis(keys, valueSize, settleMs);
  return figure(second.idle, first.rss, second.rss, second.keys - first.keys);
}

function figure(idle: number, half: number, after: number, added: number): MemoryFigure {
  return { idle, half, after, added, perKey: (after - half) / added };
}

/** A fresh node loaded with `keys` keys (bench keys 0 … keys − 1), settled: its idle and loaded RSS. */
async function loadedNode(keys: number, valueSize: number, options: BenchOptions, settleMs: number) {
  const [port] = freeUdpPorts(1);
  // A short reply-cache TTL so the figure is the store's, not 5 s of cached put replies.
  const p = await startNodeProcess(port, ["--max-bytes", "4GiB", "--reply-cache-ttl", "50ms"]);
  try {
    await sleep(IDLE_MS);
    const idle = processRssBytes(p.child.pid);
    const r = await runBench({
      ...options,
      targets: [`127.0.0.1:${port}`],
      valueMin: valueSize,
      valueMax: valueSize,
      keyspace: keys,
      preload: true,
      getRatio: 1,
      warmupMs: 0,
      durationMs: 200,
      timeoutMs: 1_000,
    });
    if (r.failed > 0) throw new Error(`Loading ${keys} keys into the node: ${r.failed} puts failed`);
    return { idle, rss: await settledRss(p.child.pid, settleMs) };
  } finally {
    await p.stop();
  }
}

/** A fresh redis-server populated with `keys` keys, settled: its idle and loaded RSS and its key count. */
async function loadedRedis(keys: number, valueSize: number, settleMs: number) {
  const redis = await startRedis();
  const cli = async (...args: string[]) => {
    const r = await runCommand("redis-cli", ["-p", String(redis.port), ...args]);
    if (!r.ok) throw new Error(`redis-cli ${args.join(" ")} failed: ${r.out.trim()}`);
    return r.out;
  };
  try {
    await sleep(IDLE_MS);
    const idle = processRssBytes(redis.pid);
    const pop = await cli("debug", "populate", String(keys), "key", String(valueSize));
    if (!/OK/.test(pop)) throw new Error(`redis DEBUG POPULATE failed: ${pop.trim()}`);
    // RSS from /proc, as for the node: redis's own used_memory_rss is sampled by its cron.
    const rss = await settledRss(redis.pid, settleMs);
    return { idle, rss, keys: Number(/\d+/.exec(await cli("dbsize"))?.[0] ?? NaN) };
  } finally {
    await redis.stop();
  }
}

/** The lowest RSS of `pid` over `ms` (read every {@linkcode RSS_POLL_MS}): after a GC gave memory back, if one did. */
async function settledRss(pid: number, ms: number): Promise<number> {
  let low = processRssBytes(pid);
  for (let waited = 0; waited < ms; waited += RSS_POLL_MS) {
    await sleep(RSS_POLL_MS);
    low = Math.min(low, processRssBytes(pid));
  }
  return low;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
