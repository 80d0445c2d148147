/**
 * One load-generator process: keeps `slots` requests outstanding against one or
 * more targets over UDP (closed loop per slot), with the client retry policy
 * (timeout doubling, same request id), and reports progress and a latency
 * histogram as JSON lines on stdout. Started by `lib/bench/run.ts`; it can
 * also run inside the calling process ({@linkcode runGenerator}). The sockets,
 * slots and phases are `./load_generator.ts`.
 *
 * @module
 */
import type { LatencyHistogram } from "./histogram.ts";
import { LoadGenerator } from "./load_generator.ts";

/** What one generator does. */
export interface GeneratorConfig {
  /** `host:port` targets; slot i talks to target i mod targets.length. */
  targets: string[];
  /** Requests kept outstanding (closed loop each). */
  slots: number;
  /** UDP sockets the slots are spread over. */
  sockets: number;
  /** Smallest value size for puts (bytes). */
  valueMin: number;
  /** Largest value size for puts (bytes). */
  valueMax: number;
  /** Fraction of requests that are gets (the rest are puts). */
  getRatio: number;
  /** Number of distinct keys. */
  keyspace: number;
  /** Keys [preloadFrom, preloadTo) are put once before the run (not measured). */
  preloadFrom: number;
  /** End of the preload range (exclusive); equal to preloadFrom for none. */
  preloadTo: number;
  /** Warm-up before measuring (ms). */
  warmupMs: number;
  /** Measured duration (ms). */
  durationMs: number;
  /** Hard cap on measured requests. */
  maxRequests: number;
  /** First timeout (ms), doubled per retry. */
  timeoutMs: number;
  /** Retries with the same id before a request counts as failed. */
  retries: number;
  /** Progress report interval (ms). */
  reportMs: number;
  /** Seed of this worker (tags its request ids and picks its keys). */
  seed: number;
  /** Echo mode: any reply with the right id counts as success (raw UDP ceiling). */
  echo: boolean;
}

/** Totals of a run (or of one progress interval). */
export interface GeneratorTotals {
  /** Completed requests (any reply code). */
  ops: number;
  /** Requests that got no reply after all retries. */
  failed: number;
  /** Attempts that timed out (each retry counts). */
  timeouts: number;
  /** Replies by code (hex). */
  codes: Record<string, number>;
  /** Wall time of the measured part (ms). */
  elapsedMs: number;
  /** CPU time this generator process used during the measured part (ms, user + system). */
  cpuMs: number;
}

/** Lines a generator prints. */
export type GeneratorLine =
  | { type: "ready"; preloaded: number }
  | { type: "progress"; ops: number; timeouts: number; hist: ReturnType<LatencyHistogram["toJSON"]> }
  | { type: "done"; totals: GeneratorTotals; hist: ReturnType<LatencyHistogram["toJSON"]> };

export { benchKey } from "./load_generator.ts";

/**
 * Runs one generator: optional preload, `start()` barrier, warm-up, measured run.
 * `emit` receives every line; the promise resolves with the final totals.
 */
export async function runGenerator(
  cfg: GeneratorConfig,
  emit: (line: GeneratorLine) => void,
  start: () => Promise<void> = () => Promise.resolve(),
): Promise<GeneratorTotals> {
  const g = new LoadGenerator(cfg);
  try {
    await g.preload(); // not measured
    emit({ type: "ready", preloaded: g.preloadDone });
    await start();
    await g.warmUp();
    const { elapsedMs, cpuMs } = await g.measure(emit);
    await g.drain();
    const totals: GeneratorTotals = {
      ops: g.measuredOps,
      failed: g.failed + g.outstanding,
      timeouts: g.timeouts,
      codes: g.codes,
      elapsedMs,
      cpuMs,
    };
    emit({ type: "done", totals, hist: g.hist.toJSON() });
    return totals;
  } finally {
    await g.stop();
  }
}

async function readLine(): Promise<void> {
  const reader = Deno.stdin.readable.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
}

if (import.meta.main) {
  const cfg = JSON.parse(Deno.args[0]) as GeneratorConfig;
  const enc = new TextEncoder();
  const emit = (line: GeneratorLine) => {
    const bytes = enc.encode(JSON.stringify(line) + "\n");
    for (let o = 0; o < bytes.length;) o += Deno.stdout.writeSync(bytes.subarray(o));
  };
  await runGenerator(cfg, emit, readLine);
}
