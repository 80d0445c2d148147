/**
 * The load generator of one worker (`./worker.ts`): its sockets, its slots (one request
 * outstanding each, retried with the client policy), and the phases of a run.
 *
 * Request ids carry `slot(4) | sequence(4) | worker tag(4) | 0(4)`, so replies
 * are matched with integer reads, no maps.
 *
 * @module
 */
import process from "node:process";
import { LatencyHistogram } from "./histogram.ts";
import type { GeneratorConfig, GeneratorLine } from "./worker.ts";

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

/** What a generator is doing: requests issued in the preload and the drain are not measured. */
type Phase = "preload" | "warmup" | "run" | "drain";

/** Bytes of a get request; a put adds a 2-byte length and the value. */
const GET_REQUEST_BYTES = 49;
/** Offset of the key in a request. */
const KEY_OFFSET = 17;
/** Interval of the measured run's end check (ms). */
const END_CHECK_MS = 5;
/** Extra wait of the drain past the last retry's timeout (ms). */
const DRAIN_SLACK_MS = 100;

/**
 * One generator's sockets and slots: a slot issues a request, and on its reply (or after its last
 * retry) completes it and issues the next. Started by the constructor: receive loops and the
 * timeout sweep run until {@linkcode LoadGenerator.stop}.
 */
export class LoadGenerator {
  readonly cfg: GeneratorConfig;
  readonly targets: Deno.NetAddr[];
  readonly conns: Deno.DatagramConn[];
  /** Tags this worker's request ids. */
  readonly tag: number;
  readonly values: Uint8Array;
  readonly keys: Uint8Array[];
  readonly n: number;
  readonly seq: Uint32Array;
  readonly busy: Uint8Array;
  readonly attempts: Uint8Array;
  readonly firstSent: Float64Array;
  readonly deadline: Float64Array;
  readonly timeoutOf: Float64Array;
  readonly packets: Uint8Array[];
  readonly hist = new LatencyHistogram();
  readonly interval = new LatencyHistogram();
  readonly codes: Record<string, number> = {};
  phase: Phase = "preload";
  measuredOps = 0;
  intervalOps = 0;
  timeouts = 0;
  intervalTimeouts = 0;
  failed = 0;
  issued = 0;
  preloadNext: number;
  preloadDone = 0;
  outstanding = 0;
  onPreloaded: () => void = () => {};
  onDrained: () => void = () => {};
  rnd: number;
  closed = false;
  readonly loops: Promise<void>[];
  readonly sweep: ReturnType<typeof setInterval>;

  constructor(cfg: GeneratorConfig) {
    this.cfg = cfg;
    this.targets = cfg.targets.map(addr);
    const host = this.targets[0].hostname.includes(":") ? "::" : "0.0.0.0";
    this.conns = Array.from(
      { length: Math.max(1, Math.min(cfg.sockets, cfg.slots)) },
      () => Deno.listenDatagram({ transport: "udp", hostname: host, port: 0 }),
    );
    this.rnd = (cfg.seed * 2654435761) >>> 0 || 1;
    this.tag = (cfg.seed * 40503 + 12345) >>> 0;
    this.values = new Uint8Array(Math.max(1, cfg.valueMax));
    for (let i = 0; i < this.values.length; i++) this.values[i] = (this.random() * 256) | 0;
    this.keys = Array.from({ length: Math.min(cfg.keyspace, 1 << 20) }, (_, i) => benchKey(i));
    const n = this.n = cfg.slots;
    this.seq = new Uint32Array(n);
    this.busy = new Uint8Array(n);
    this.attempts = new Uint8Array(n);
    this.firstSent = new Float64Array(n);
    this.deadline = new Float64Array(n);
    this.timeoutOf = new Float64Array(n);
    this.packets = new Array(n);
    this.preloadNext = cfg.preloadFrom;
    this.loops = this.conns.map((c) => this.receive(c));
    const sweepMs = Math.max(2, Math.min(20, cfg.timeoutMs / 4));
    this.sweep = setInterval(() => this.sweepTimeouts(performance.now()), sweepMs);
  }

  /** xorshift32: the next number in [0, 1). */
  random(): number {
    this.rnd ^= this.rnd << 13;
    this.rnd ^= this.rnd >>> 17;
    this.rnd ^= this.rnd << 5;
    return (this.rnd >>> 0) / 4294967296;
  }

  /** Key number `i` (the first 2^20 made once). */
  keyAt(i: number): Uint8Array {
    return i < this.keys.length ? this.keys[i] : benchKey(i);
  }

  /** Sends (or resends) the slot's request to its target. */
  send(slot: number): void {
    const c = this.conns[slot % this.conns.length];
    c.send(this.packets[slot], this.targets[slot % this.targets.length]).catch(() => {});
  }

  /** The next request of the phase (a put of the preload range, then random gets and puts), or null. */
  nextRequest(): { key: Uint8Array; put: boolean } | null {
    const { cfg } = this;
    if (this.phase === "preload") {
      if (this.preloadNext >= cfg.preloadTo) return null;
      return { key: this.keyAt(this.preloadNext++), put: true };
    }
    if (this.phase === "drain" || (this.phase === "run" && this.issued >= cfg.maxRequests)) return null;
    const key = this.keyAt(Math.floor(this.random() * cfg.keyspace));
    const put = this.random() >= cfg.getRatio;
    if (this.phase === "run") this.issued++;
    return { key, put };
  }

  /** The datagram of a request: id `slot | sequence | tag | 0`, command, key, and a put's value. */
  encode(slot: number, key: Uint8Array, put: boolean): Uint8Array {
    const { cfg, tag } = this;
    const len = put ? cfg.valueMin + Math.floor(this.random() * (cfg.valueMax - cfg.valueMin + 1)) : 0;
    const p = new Uint8Array(put ? GET_REQUEST_BYTES + 2 + len : GET_REQUEST_BYTES);
    const s = ++this.seq[slot];
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
    p.set(key, KEY_OFFSET);
    if (put) {
      p[49] = len & 0xff;
      p[50] = len >> 8;
      p.set(this.values.subarray(0, len), 51);
    }
    return p;
  }

  /** Starts the slot's next request, if the phase has one. */
  issue(slot: number, now: number): void {
    const next = this.nextRequest();
    if (next === null) return;
    this.packets[slot] = this.encode(slot, next.key, next.put);
    this.busy[slot] = 1;
    this.outstanding++;
    this.attempts[slot] = 0;
    this.firstSent[slot] = now;
    this.timeoutOf[slot] = this.cfg.timeoutMs;
    this.deadline[slot] = now + this.cfg.timeoutMs;
    this.send(slot);
  }

  /** Ends the slot's request (`ok`: a reply with `code`; else no reply) and issues the next. */
  complete(slot: number, code: number, now: number, ok: boolean): void {
    this.busy[slot] = 0;
    this.outstanding--;
    if (this.phase === "preload") {
      if (++this.preloadDone >= this.cfg.preloadTo - this.cfg.preloadFrom) this.onPreloaded();
    } else if (this.phase === "run" || this.phase === "drain") {
      if (ok) {
        const us = (now - this.firstSent[slot]) * 1000;
        this.hist.record(us);
        this.interval.record(us);
        this.measuredOps++;
        this.intervalOps++;
        const h = code < 16 ? "0" + code.toString(16) : code.toString(16);
        this.codes[h] = (this.codes[h] ?? 0) + 1;
      } else this.failed++;
    }
    if (this.phase === "drain" && this.outstanding === 0) this.onDrained();
    this.issue(slot, now);
  }

  /** A reply: matched to its slot by integer reads of its id; stale or foreign ones are dropped. */
  onReply(d: Uint8Array): void {
    if (d.length < 17) return;
    const slot = (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0;
    if (slot >= this.n || !this.busy[slot]) return;
    const s = (d[4] | (d[5] << 8) | (d[6] << 16) | (d[7] << 24)) >>> 0;
    const t = (d[8] | (d[9] << 8) | (d[10] << 16) | (d[11] << 24)) >>> 0;
    if (s !== this.seq[slot] || t !== this.tag) return;
    this.complete(slot, this.cfg.echo ? 0 : d[16], performance.now(), true);
  }

  /** Reads replies on one socket until {@linkcode LoadGenerator.stop}. */
  async receive(c: Deno.DatagramConn): Promise<void> {
    const buf = new Uint8Array(65_536);
    while (!this.closed) {
      try {
        const [d] = await c.receive(buf);
        this.onReply(d);
      } catch {
        if (this.closed) return;
      }
    }
  }

  /** Resends the requests past their deadline (timeout doubled), or fails them after the last retry. */
  sweepTimeouts(now: number): void {
    for (let slot = 0; slot < this.n; slot++) {
      if (!this.busy[slot] || now < this.deadline[slot]) continue;
      this.timeouts++;
      this.intervalTimeouts++;
      if (this.attempts[slot] < this.cfg.retries) {
        this.attempts[slot]++;
        this.timeoutOf[slot] *= 2;
        this.deadline[slot] = now + this.timeoutOf[slot];
        this.send(slot);
      } else this.complete(slot, -1, now, false);
    }
  }

  /** Puts the preload range once (not measured). */
  async preload(): Promise<void> {
    if (this.cfg.preloadTo <= this.cfg.preloadFrom) return;
    const done = new Promise<void>((r) => this.onPreloaded = r);
    const now = performance.now();
    for (let slot = 0; slot < this.n; slot++) this.issue(slot, now);
    await done;
  }

  /** Every slot busy, for the warm-up time (not measured). */
  async warmUp(): Promise<void> {
    this.phase = "warmup";
    const t0 = performance.now();
    for (let slot = 0; slot < this.n; slot++) if (!this.busy[slot]) this.issue(slot, t0);
    if (this.cfg.warmupMs > 0) await new Promise((r) => setTimeout(r, this.cfg.warmupMs));
  }

  /** The measured run, with a progress line per report interval; its wall and CPU time (ms). */
  async measure(emit: (line: GeneratorLine) => void): Promise<{ elapsedMs: number; cpuMs: number }> {
    const { cfg } = this;
    this.phase = "run";
    const runStart = performance.now();
    const cpuStart = process.cpuUsage();
    const report = setInterval(() => {
      emit({ type: "progress", ops: this.intervalOps, timeouts: this.intervalTimeouts, hist: this.interval.toJSON() });
      this.intervalOps = 0;
      this.intervalTimeouts = 0;
      this.interval.reset();
    }, cfg.reportMs);
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        if (this.issued < cfg.maxRequests && performance.now() - runStart < cfg.durationMs) return;
        clearInterval(tick);
        resolve();
      }, END_CHECK_MS);
    });
    const elapsedMs = performance.now() - runStart;
    const cpu = process.cpuUsage(cpuStart);
    clearInterval(report);
    return { elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
  }

  /** No new requests; waits for the outstanding ones to finish or give up. */
  async drain(): Promise<void> {
    this.phase = "drain";
    if (this.outstanding === 0) return;
    const drained = new Promise<void>((r) => this.onDrained = r);
    let limit = 0;
    for (let t = this.cfg.timeoutMs, i = 0; i <= this.cfg.retries; i++, t *= 2) limit += t;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([drained, new Promise((r) => timer = setTimeout(r, limit + DRAIN_SLACK_MS))]);
    clearTimeout(timer);
  }

  /** Closes the sockets and waits for the receive loops. */
  async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    for (const c of this.conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Promise.all(this.loops);
  }
}
