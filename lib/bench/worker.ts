/**
 * One load-generator process: keeps `slots` requests outstanding against one or
 * more targets over UDP (closed loop per slot), with the client retry policy
 * (timeout doubling, same request id), and reports progress and a latency
 * histogram as JSON lines on stdout. Started by `lib/bench/run.ts`; it can
 * also run inside the calling process ({@linkcode runGenerator}).
 *
 * Request ids carry `slot(4) | sequence(4) | worker tag(4) | 0(4)`, so replies
 * are matched with integer reads, no maps.
 *
 * @module
 */
import process from "node:process";
import { LatencyHistogram } from "./histogram.ts";

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

const KEY_PREFIX = new TextEncoder().encode("kvbench:");

/** The 32-byte key the benchmark uses for key number `i`. */
export function benchKey(i: number): Uint8Array {
  const k = new Uint8Array(32);
  k.set(KEY_PREFIX);
  new DataView(k.buffer).setUint32(8, i, true);
  return k;
}

function addr(target: string): Deno.NetAddr {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
  if (!m) throw new TypeError(`Invalid target "${target}": expected host:port`);
  return { transport: "udp", hostname: m[1] ?? m[2], port: Number(m[3]) };
}

/**
 * Runs one generator: optional preload, `start()` barrier, warm-up, measured run.
 * `emit` receives every line; the promise resolves with the final totals.
 */
export async function runGenerator(
  cfg: GeneratorConfig,
  emit: (line: GeneratorLine) => void,
  start: () => Promise<void> = () => Promise.resolve(),
): Promise<GeneratorTotals> {
  const targets = cfg.targets.map(addr);
  const host = targets[0].hostname.includes(":") ? "::" : "0.0.0.0";
  const conns = Array.from(
    { length: Math.max(1, Math.min(cfg.sockets, cfg.slots)) },
    () => Deno.listenDatagram({ transport: "udp", hostname: host, port: 0 }),
  );
  let rnd = (cfg.seed * 2654435761) >>> 0 || 1;
  const random = () => {
    rnd ^= rnd << 13;
    rnd ^= rnd >>> 17;
    rnd ^= rnd << 5;
    return (rnd >>> 0) / 4294967296;
  };
  const tag = (cfg.seed * 40503 + 12345) >>> 0;
  const values = new Uint8Array(Math.max(1, cfg.valueMax));
  for (let i = 0; i < values.length; i++) values[i] = (random() * 256) | 0;
  const keys = Array.from({ length: Math.min(cfg.keyspace, 1 << 20) }, (_, i) => benchKey(i));
  const keyAt = (i: number) => i < keys.length ? keys[i] : benchKey(i);

  const n = cfg.slots;
  const seq = new Uint32Array(n);
  const busy = new Uint8Array(n);
  const attempts = new Uint8Array(n);
  const firstSent = new Float64Array(n);
  const deadline = new Float64Array(n);
  const timeoutOf = new Float64Array(n);
  const packets: Uint8Array[] = new Array(n);
  const hist = new LatencyHistogram();
  const interval = new LatencyHistogram();
  const codes: Record<string, number> = {};
  let phase: "preload" | "warmup" | "run" | "drain" = "preload";
  let measuredOps = 0, intervalOps = 0, timeouts = 0, intervalTimeouts = 0, failed = 0, issued = 0;
  let preloadNext = cfg.preloadFrom;
  let preloadDone = 0;
  let onPreloaded: () => void = () => {};
  let onDrained: () => void = () => {};
  let outstanding = 0;

  const send = (slot: number) => {
    const c = conns[slot % conns.length];
    c.send(packets[slot], targets[slot % targets.length]).catch(() => {});
  };

  const issue = (slot: number, now: number): void => {
    let key: Uint8Array, put: boolean;
    if (phase === "preload") {
      if (preloadNext >= cfg.preloadTo) return;
      key = keyAt(preloadNext++);
      put = true;
    } else if (phase === "drain" || (phase === "run" && issued >= cfg.maxRequests)) {
      return;
    } else {
      key = keyAt(Math.floor(random() * cfg.keyspace));
      put = random() >= cfg.getRatio;
      if (phase === "run") issued++;
    }
    const len = put ? cfg.valueMin + Math.floor(random() * (cfg.valueMax - cfg.valueMin + 1)) : 0;
    const p = new Uint8Array(put ? 51 + len : 49);
    const s = ++seq[slot];
    p[0] = slot;
    p[1] = slot >>> 8;
    p[2] = slot >>> 16;
    p[3] = slot >>> 24;
    p[4] = s;
    p[5] = s >>> 8;
    p[6] = s >>> 16;
    p[7] = s >>> 24;
    p[8] = tag;
    p[9] = tag >>> 8;
    p[10] = tag >>> 16;
    p[11] = tag >>> 24;
    p[16] = put ? 1 : 2;
    p.set(key, 17);
    if (put) {
      p[49] = len & 0xff;
      p[50] = len >> 8;
      p.set(values.subarray(0, len), 51);
    }
    packets[slot] = p;
    busy[slot] = 1;
    outstanding++;
    attempts[slot] = 0;
    firstSent[slot] = now;
    timeoutOf[slot] = cfg.timeoutMs;
    deadline[slot] = now + cfg.timeoutMs;
    send(slot);
  };

  const complete = (slot: number, code: number, now: number, ok: boolean) => {
    busy[slot] = 0;
    outstanding--;
    if (phase === "preload") {
      if (++preloadDone >= cfg.preloadTo - cfg.preloadFrom) onPreloaded();
    } else if (phase === "run" || phase === "drain") {
      if (ok) {
        const us = (now - firstSent[slot]) * 1000;
        hist.record(us);
        interval.record(us);
        measuredOps++;
        intervalOps++;
        const h = code < 16 ? "0" + code.toString(16) : code.toString(16);
        codes[h] = (codes[h] ?? 0) + 1;
      } else failed++;
    }
    if (phase === "drain" && outstanding === 0) onDrained();
    issue(slot, now);
  };

  const onReply = (d: Uint8Array) => {
    if (d.length < 17) return;
    const slot = (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0;
    if (slot >= n || !busy[slot]) return;
    const s = (d[4] | (d[5] << 8) | (d[6] << 16) | (d[7] << 24)) >>> 0;
    const t = (d[8] | (d[9] << 8) | (d[10] << 16) | (d[11] << 24)) >>> 0;
    if (s !== seq[slot] || t !== tag) return;
    complete(slot, cfg.echo ? 0 : d[16], performance.now(), true);
  };

  let closed = false;
  const loops = conns.map(async (c) => {
    const buf = new Uint8Array(65_536);
    while (!closed) {
      try {
        const [d] = await c.receive(buf);
        onReply(d);
      } catch {
        if (closed) return;
      }
    }
  });

  const sweepMs = Math.max(2, Math.min(20, cfg.timeoutMs / 4));
  const sweep = setInterval(() => {
    const now = performance.now();
    for (let slot = 0; slot < n; slot++) {
      if (!busy[slot] || now < deadline[slot]) continue;
      timeouts++;
      intervalTimeouts++;
      if (attempts[slot] < cfg.retries) {
        attempts[slot]++;
        timeoutOf[slot] *= 2;
        deadline[slot] = now + timeoutOf[slot];
        send(slot);
      } else complete(slot, -1, now, false);
    }
  }, sweepMs);

  const stopAll = async () => {
    closed = true;
    clearInterval(sweep);
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Promise.all(loops);
  };

  try {
    // Preload (not measured).
    if (cfg.preloadTo > cfg.preloadFrom) {
      const done = new Promise<void>((r) => onPreloaded = r);
      const now = performance.now();
      for (let slot = 0; slot < n; slot++) issue(slot, now);
      await done;
    }
    emit({ type: "ready", preloaded: preloadDone });
    await start();
    phase = "warmup";
    const t0 = performance.now();
    for (let slot = 0; slot < n; slot++) if (!busy[slot]) issue(slot, t0);
    if (cfg.warmupMs > 0) await new Promise((r) => setTimeout(r, cfg.warmupMs));
    phase = "run";
    const runStart = performance.now();
    const cpuStart = process.cpuUsage();
    const report = setInterval(() => {
      emit({ type: "progress", ops: intervalOps, timeouts: intervalTimeouts, hist: interval.toJSON() });
      intervalOps = 0;
      intervalTimeouts = 0;
      interval.reset();
    }, cfg.reportMs);
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        if (issued < cfg.maxRequests && performance.now() - runStart < cfg.durationMs) return;
        clearInterval(tick);
        resolve();
      }, 5);
    });
    const elapsedMs = performance.now() - runStart;
    const cpu = process.cpuUsage(cpuStart);
    clearInterval(report);
    // Drain: no new requests; wait for outstanding ones to finish or give up.
    phase = "drain";
    if (outstanding > 0) {
      const drained = new Promise<void>((r) => onDrained = r);
      let limit = 0;
      for (let t = cfg.timeoutMs, i = 0; i <= cfg.retries; i++, t *= 2) limit += t;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([drained, new Promise((r) => timer = setTimeout(r, limit + 100))]);
      clearTimeout(timer);
    }
    const totals: GeneratorTotals = {
      ops: measuredOps,
      failed: failed + outstanding,
      timeouts,
      codes,
      elapsedMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
    emit({ type: "done", totals, hist: hist.toJSON() });
    return totals;
  } finally {
    await stopAll();
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
