/**
 * Benchmark orchestration: splits clients over generator processes
 * (`lib/bench/worker.ts`), starts them together, aggregates their
 * progress into a live line, and merges their histograms into the result.
 *
 * @module
 */
import { LatencyHistogram } from "./histogram.ts";
import { type GeneratorConfig, type GeneratorLine, type GeneratorTotals, runGenerator } from "./worker.ts";

/** What to run. */
export interface BenchOptions {
  /** `host:port` targets; requests are spread over them round-robin by slot. */
  targets: string[];
  /** Client sockets in total. */
  clients: number;
  /** Requests each client keeps outstanding. */
  window: number;
  /** Generator processes; 0 runs the generator in this process. */
  processes: number;
  /** Smallest put value (bytes). */
  valueMin: number;
  /** Largest put value (bytes). */
  valueMax: number;
  /** Fraction of gets (0–1). */
  getRatio: number;
  /** Distinct keys. */
  keyspace: number;
  /** Put every key once before measuring (so gets find values). */
  preload: boolean;
  /** Warm-up (ms, not measured). */
  warmupMs: number;
  /** Measured duration (ms). */
  durationMs: number;
  /** Cap on measured requests (all processes together). */
  maxRequests: number;
  /** First timeout (ms), doubled per retry. */
  timeoutMs: number;
  /** Retries with the same id. */
  retries: number;
  /** Echo mode (raw UDP ceiling: any reply counts). */
  echo: boolean;
  /** Progress interval (ms). */
  reportMs: number;
}

/** Defaults: 16 clients × window 4 over 1 process, 100 B values, 50% gets, 10 s. */
export const DEFAULT_BENCH_OPTIONS: BenchOptions = {
  targets: ["127.0.0.1:4000"],
  clients: 16,
  window: 4,
  processes: 1,
  valueMin: 100,
  valueMax: 100,
  getRatio: 0.5,
  keyspace: 10_000,
  preload: true,
  warmupMs: 1_000,
  durationMs: 10_000,
  maxRequests: 100_000_000,
  timeoutMs: 100,
  retries: 3,
  echo: false,
  reportMs: 1_000,
};

/** One progress report (per interval, all generators together). */
export interface BenchProgress {
  /** Seconds since the measured run started. */
  seconds: number;
  /** Throughput over the interval. */
  opsPerSec: number;
  /** Median latency over the interval (ms). */
  p50Ms: number;
  /** 99th percentile over the interval (ms). */
  p99Ms: number;
  /** Timeouts over the interval. */
  timeouts: number;
}

/** The outcome of a run. */
export interface BenchResult {
  /** Options used. */
  options: BenchOptions;
  /** Completed requests per second (all generators). */
  opsPerSec: number;
  /** Completed requests. */
  ops: number;
  /** Requests without any reply after all retries. */
  failed: number;
  /** Timed-out attempts (each retry counts). */
  timeouts: number;
  /** Replies by code (hex). */
  codes: Record<string, number>;
  /** Latency percentiles (ms). */
  p50Ms: number;
  /** 99th percentile (ms). */
  p99Ms: number;
  /** 99.9th percentile (ms). */
  p999Ms: number;
  /** Mean latency (ms). */
  meanMs: number;
  /** Largest latency (ms). */
  maxMs: number;
  /** Measured wall time (ms, slowest generator). */
  elapsedMs: number;
  /** CPU the generators used, in cores (1 = one core busy), to see whether they were the limit. */
  generatorCores: number;
}

const WORKER = new URL("./worker.ts", import.meta.url);

/** Splits `total` into `parts` near-equal positive integers (fewer parts if total is small). */
function split(total: number, parts: number): number[] {
  const p = Math.max(1, Math.min(parts, total));
  return Array.from({ length: p }, (_, i) => Math.floor(total / p) + (i < total % p ? 1 : 0));
}

/** Builds the generator configs for `o`. */
export function generatorConfigs(o: BenchOptions): GeneratorConfig[] {
  const clientsPer = split(o.clients, Math.max(1, o.processes));
  const keysPer = split(o.keyspace, clientsPer.length);
  let keyFrom = 0;
  return clientsPer.map((clients, i) => {
    const from = keyFrom;
    keyFrom += keysPer[i];
    return {
      targets: o.targets,
      slots: clients * o.window,
      sockets: clients,
      valueMin: o.valueMin,
      valueMax: o.valueMax,
      getRatio: o.getRatio,
      keyspace: o.keyspace,
      preloadFrom: from,
      preloadTo: o.preload && !o.echo ? keyFrom : from,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
      maxRequests: Math.ceil(o.maxRequests / clientsPer.length),
      timeoutMs: o.timeoutMs,
      retries: o.retries,
      reportMs: o.reportMs,
      seed: i + 1,
      echo: o.echo,
    };
  });
}

interface Generator {
  lines: AsyncIterable<GeneratorLine>;
  go(): void;
  stop(): Promise<void>;
}

function spawnGenerator(cfg: GeneratorConfig): Generator {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--unstable-net", "--allow-net", WORKER.pathname, JSON.stringify(cfg)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  async function* lines(): AsyncIterable<GeneratorLine> {
    let buf = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith("{")) yield JSON.parse(line) as GeneratorLine;
      }
    }
    const status = await child.status;
    if (!status.success) throw new Error(`load generator exited with code ${status.code}`);
  }
  return {
    lines: lines(),
    go: () => {
      writer.write(new TextEncoder().encode("go\n")).then(() => writer.close()).catch(() => {});
    },
    stop: async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
    },
  };
}

function inProcessGenerator(cfg: GeneratorConfig): Generator {
  const queue: GeneratorLine[] = [];
  let wake: () => void = () => {};
  let finished = false;
  let failure: unknown;
  let release: () => void = () => {};
  const started = new Promise<void>((r) => release = r);
  const run = runGenerator(cfg, (l) => {
    queue.push(l);
    wake();
  }, () => started).catch((e) => failure = e).finally(() => {
    finished = true;
    wake();
  });
  async function* lines(): AsyncIterable<GeneratorLine> {
    while (true) {
      while (queue.length > 0) yield queue.shift()!;
      if (finished) break;
      await new Promise<void>((r) => wake = r);
    }
    if (failure) throw failure;
  }
  return { lines: lines(), go: release, stop: () => run.then(() => {}) };
}

/**
 * Runs a benchmark; `onProgress` is called once per report interval.
 *
 * @example
 * ```ts ignore
 * const r = await runBench({ ...DEFAULT_BENCH_OPTIONS, targets: ["127.0.0.1:4000"], durationMs: 5_000 });
 * console.log(formatResult(r));
 * ```
 */
export async function runBench(
  options: Partial<BenchOptions>,
  onProgress: (p: BenchProgress) => void = () => {},
): Promise<BenchResult> {
  const o: BenchOptions = { ...DEFAULT_BENCH_OPTIONS, ...options };
  if (o.targets.length === 0) throw new RangeError("runBench: give at least one target host:port");
  const configs = generatorConfigs(o);
  const gens = configs.map((c) => o.processes === 0 ? inProcessGenerator(c) : spawnGenerator(c));
  let ready = 0;
  // Progress interval k is printed once every generator has reported its k-th interval.
  const intervals = new Map<number, { ops: number; timeouts: number; hist: LatencyHistogram; count: number }>();
  const reported = gens.map(() => 0);
  const total = new LatencyHistogram();
  const totals: GeneratorTotals[] = [];
  try {
    await Promise.all(gens.map(async (g, gi) => {
      for await (const line of g.lines) {
        if (line.type === "ready" && ++ready === gens.length) {
          for (const x of gens) x.go();
        } else if (line.type === "progress") {
          const k = reported[gi]++;
          let iv = intervals.get(k);
          if (!iv) intervals.set(k, iv = { ops: 0, timeouts: 0, hist: new LatencyHistogram(), count: 0 });
          iv.ops += line.ops;
          iv.timeouts += line.timeouts;
          iv.hist.merge(LatencyHistogram.fromJSON(line.hist));
          if (++iv.count === gens.length) {
            intervals.delete(k);
            onProgress({
              seconds: ((k + 1) * o.reportMs) / 1000,
              opsPerSec: iv.ops / (o.reportMs / 1000),
              p50Ms: iv.hist.percentile(50) / 1000,
              p99Ms: iv.hist.percentile(99) / 1000,
              timeouts: iv.timeouts,
            });
          }
        } else if (line.type === "done") {
          totals.push(line.totals);
          total.merge(LatencyHistogram.fromJSON(line.hist));
        }
      }
    }));
  } finally {
    await Promise.all(gens.map((g) => g.stop()));
  }
  const codes: Record<string, number> = {};
  for (const t of totals) for (const [k, v] of Object.entries(t.codes)) codes[k] = (codes[k] ?? 0) + v;
  const ops = totals.reduce((n, t) => n + t.ops, 0);
  const elapsedMs = Math.max(...totals.map((t) => t.elapsedMs));
  return {
    options: o,
    opsPerSec: totals.reduce((n, t) => n + t.ops / (t.elapsedMs / 1000), 0),
    ops,
    failed: totals.reduce((n, t) => n + t.failed, 0),
    timeouts: totals.reduce((n, t) => n + t.timeouts, 0),
    codes,
    p50Ms: total.percentile(50) / 1000,
    p99Ms: total.percentile(99) / 1000,
    p999Ms: total.percentile(99.9) / 1000,
    meanMs: total.mean() / 1000,
    maxMs: total.max / 1000,
    elapsedMs,
    generatorCores: totals.reduce((n, t) => n + t.cpuMs, 0) / elapsedMs,
  };
}

/** One-line progress text (for a terminal line rewritten in place). */
export function formatProgress(p: BenchProgress): string {
  return `[${p.seconds.toFixed(1).padStart(5)} s] ${
    Math.round(p.opsPerSec).toLocaleString("en-US").padStart(9)
  } ops/s` +
    `  p50 ${p.p50Ms.toFixed(2)} ms  p99 ${p.p99Ms.toFixed(2)} ms  timeouts ${p.timeouts}`;
}

/** Multi-line summary of a result. */
export function formatResult(r: BenchResult): string {
  const o = r.options;
  const codes = Object.entries(r.codes).sort().map(([k, v]) => `0x${k}: ${v}`).join(", ");
  const size = o.valueMin === o.valueMax ? `${o.valueMin} B` : `${o.valueMin}-${o.valueMax} B`;
  return [
    `targets      ${o.targets.join(", ")}${o.echo ? " (echo)" : ""}`,
    `load         ${o.clients} clients × window ${o.window} ${
      o.processes === 0 ? "from a generator in this process" : `over ${o.processes} generator process(es)`
    }; ${Math.round(o.getRatio * 100)}% get, values ${size}, ` +
    `${o.keyspace} keys`,
    `throughput   ${Math.round(r.opsPerSec).toLocaleString("en-US")} ops/s (${r.ops} requests in ${
      (r.elapsedMs / 1000).toFixed(1)
    } s)`,
    `latency      p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  p99.9 ${r.p999Ms.toFixed(3)} ms  mean ${
      r.meanMs.toFixed(3)
    } ms  max ${r.maxMs.toFixed(1)} ms`,
    `generators   ${r.generatorCores.toFixed(2)} cores busy`,
    `timeouts     ${r.timeouts} attempts timed out; ${r.failed} requests got no reply after ${o.retries} retries`,
    `replies      ${codes || "none"}`,
  ].join("\n");
}
