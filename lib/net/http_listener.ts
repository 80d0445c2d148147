/**
 * A hardened HTTP/1.1 listener for the project's status servers: never exits on an accept error,
 * caps open connections, times out slow request heads and idle keep-alive connections, and counts
 * every refusal by reason. `Deno.serve` (2.9) gives none of these below the handler: its accept
 * loop ends with an uncaught `Too many open files` on EMFILE, and it has no header timeout or
 * connection cap (measured, see docs/monitoring.md), so the accept loop and the HTTP/1.1 framing
 * (`./http1.ts`) are here, kept small.
 *
 * @module
 */
import { serveConnection, type Slot } from "./http_connection.ts";
import { type DescriptorLimit, descriptorLimit } from "./descriptor_limit.ts";
import { type RefusalReason, Refusals } from "./refusals.ts";
import { TimedQueue } from "./timed_queue.ts";

/** Time a new connection has to deliver its first complete request head (ms). */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/** Time a kept-alive connection may wait for (and deliver) its next request head (ms). */
export const DEFAULT_IDLE_TIMEOUT_MS = 5_000;
/** Time one write of a response may wait for the client to take bytes (ms). */
export const DEFAULT_WRITE_TIMEOUT_MS = 15_000;
/** Largest request head accepted (bytes); larger gets 431. */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
/** Descriptors left to the process's own files (logs, data, probes, sockets) at most. */
export const MAX_RESERVED_DESCRIPTORS = 256;
/** Connection cap when the descriptor limit cannot be read. */
export const FALLBACK_MAX_CONNECTIONS = 4_096;
/** Longest pause of the accept loop after a failed accept (ms); pauses double from 5 ms. */
const MAX_ACCEPT_BACKOFF_MS = 1_000;
/** Out of descriptors, the cap is lowered to the connections open less this many (left to the process's files). */
const EMFILE_SPARE = 64;
/** A cap learned from running out of descriptors is never lowered below this. */
const MIN_LEARNED_CAP = 64;
/** Out of descriptors, a connection that has waited this long for a head is closed to free one (ms). */
const EMFILE_EVICT_MIN_WAIT_MS = 1_000;
/** A burst of failed accepts ends after this long without one (one log line per burst). */
const BURST_QUIET_MS = 5_000;
/** Timeouts are checked this often (ms). */
const SWEEP_MS = 200;

/** Options of {@linkcode listenHttp}. */
export interface HttpListenerOptions {
  /** Interface to listen on (default 127.0.0.1). */
  hostname?: string;
  /** TCP port (0 = any free one). */
  port: number;
  /** Answers one request (a Hono app's `fetch`, say). */
  handler: (req: Request, info: { remoteAddr: Deno.NetAddr }) => Response | Promise<Response>;
  /** Open connections at most (default: the descriptor limit less a reserve for the process's own files). */
  maxConnections?: number;
  /** See {@linkcode DEFAULT_HEADER_TIMEOUT_MS}. */
  headerTimeoutMs?: number;
  /** See {@linkcode DEFAULT_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs?: number;
  /** See {@linkcode DEFAULT_WRITE_TIMEOUT_MS}. */
  writeTimeoutMs?: number;
  /** See {@linkcode DEFAULT_MAX_HEADER_BYTES}. */
  maxHeaderBytes?: number;
  /** Where refusals are counted (pass one to share it with the routes). */
  refusals?: Refusals;
  /** Logs a line (default console.error); used once per burst of failed accepts. */
  log?: (line: string) => void;
  /** Name used in log lines (default "http"). */
  name?: string;
}

/** The limits a listener runs with, for display. */
export interface HttpListenerLimits {
  /** Open connections at most. */
  maxConnections: number;
  /** Header, idle and write timeouts (ms). */
  headerTimeoutMs: number;
  /** See {@linkcode DEFAULT_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs: number;
  /** See {@linkcode DEFAULT_WRITE_TIMEOUT_MS}. */
  writeTimeoutMs: number;
  /** The process's open-file limit as read at start (null = unknown). */
  descriptors: DescriptorLimit | null;
}

/** A running listener. */
export interface HttpListener {
  /** The address bound. */
  addr: Deno.NetAddr;
  /** The limits in force. */
  limits: HttpListenerLimits;
  /** Refusals by reason. */
  refusals: Refusals;
  /** Whether the timeouts' sweep timer runs: only while a connection is open, so an idle server sleeps. */
  readonly sweeping: boolean;
  /** Connections open now. */
  readonly connections: number;
  /** Stops accepting, closes every connection; resolves when all are done. */
  close(): Promise<void>;
}

/**
 * The default connection cap for a descriptor limit: the limit less a reserve of a quarter of it,
 * at most {@linkcode MAX_RESERVED_DESCRIPTORS} (as redis fits maxclients to its limit).
 *
 * @example
 * ```ts
 * console.log(fittedMaxConnections({ soft: 1024, hard: 1024 })); // 768
 * console.log(fittedMaxConnections({ soft: 20000, hard: 20000 })); // 19744
 * ```
 */
export function fittedMaxConnections(limit: DescriptorLimit | null): number {
  const soft = limit?.soft;
  if (soft === undefined) return FALLBACK_MAX_CONNECTIONS;
  if (soft === null) return 1_000_000;
  return Math.max(1, soft - Math.min(MAX_RESERVED_DESCRIPTORS, Math.floor(soft / 4)));
}

/**
 * Listens for HTTP/1.1 on `hostname:port` and answers with `handler`. Accept errors (EMFILE
 * included) never end it: the loop backs off and accepts again, logging once per burst. When the
 * connection cap is reached the connection idle the longest (no request head yet, or between
 * requests) is closed for room, else the new one is refused. Throws `Deno.errors.AddrInUse` like
 * `Deno.listen`.
 *
 * @example
 * ```ts
 * const l = listenHttp({ port: 0, handler: () => new Response("ok") });
 * const res = await fetch(`http://127.0.0.1:${l.addr.port}/`);
 * console.log(await res.text(), l.limits.headerTimeoutMs); // ok 10000
 * await l.close();
 * ```
 */
export function listenHttp(options: HttpListenerOptions): HttpListener {
  const descriptors = descriptorLimit();
  const limits: HttpListenerLimits = {
    maxConnections: options.maxConnections ?? fittedMaxConnections(descriptors),
    headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    writeTimeoutMs: options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS,
    descriptors,
  };
  const refusals = options.refusals ?? new Refusals();
  const listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: options.port });
  const run: ListenerRun = {
    listener,
    addr: listener.addr as Deno.NetAddr,
    limits,
    refusals,
    handler: options.handler,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    log: options.log ?? ((line: string) => console.error(line)),
    name: options.name ?? "http",
    table: new ConnectionTable(refusals),
    closing: false,
    wake: () => {},
    sweepTimer: undefined,
  };
  const accepting = acceptLoop(run);
  let closed: Promise<void> | undefined;
  return {
    addr: run.addr,
    limits,
    refusals,
    get connections() {
      return run.table.slots.size;
    },
    get sweeping() {
      return run.sweepTimer !== undefined;
    },
    close: () => closed ??= closeListener(run, accepting),
  };
}

/** One listener's state, shared by its accept loop, its connections and its close. */
interface ListenerRun {
  listener: Deno.Listener;
  addr: Deno.NetAddr;
  /** The limits in force (the cap may be lowered when descriptors run out). */
  limits: HttpListenerLimits;
  refusals: Refusals;
  handler: HttpListenerOptions["handler"];
  maxHeaderBytes: number;
  log: (line: string) => void;
  name: string;
  table: ConnectionTable;
  /** Set by close: the accept loop ends. */
  closing: boolean;
  /** Ends the accept loop's back-off pause at once. */
  wake: () => void;
  /** The timeouts' sweep, every {@linkcode SWEEP_MS} while a connection is open (none wakes an idle process). */
  sweepTimer: ReturnType<typeof setInterval> | undefined;
}

/** Sweeps the table for timeouts while it holds a connection; the first admitted connection starts it. */
function startSweeping(run: ListenerRun): void {
  if (run.sweepTimer !== undefined || run.closing) return;
  run.sweepTimer = setInterval(() => {
    run.table.sweep(run.limits, Date.now());
    if (run.table.slots.size === 0) stopSweeping(run);
  }, SWEEP_MS);
}

function stopSweeping(run: ListenerRun): void {
  if (run.sweepTimer !== undefined) clearInterval(run.sweepTimer);
  run.sweepTimer = undefined;
}

/** The open connections of one listener, with the time each has waited in its current state. */
class ConnectionTable {
  /** Connections waiting for a first head (since accept). */
  readonly awaitingFirst = new TimedQueue<Slot>();
  /** Connections waiting for a next head (since the last response). */
  readonly awaitingNext = new TimedQueue<Slot>();
  /** Connections with a write in progress, since it started. */
  readonly writing = new TimedQueue<Slot>();
  /** Every open connection. */
  readonly slots = new Set<Slot>();
  /** The serving task of each. */
  readonly tasks = new Set<Promise<void>>();

  constructor(private readonly refusals: Refusals) {}

  /** Closes `slot` (once), counting `reason` if given. */
  shut(slot: Slot, reason?: RefusalReason): void {
    if (slot.closed) return;
    slot.closed = true;
    if (reason) this.refusals.add(reason);
    this.awaitingFirst.delete(slot);
    this.awaitingNext.delete(slot);
    this.writing.delete(slot);
    try {
      slot.conn.close();
    } catch { /* already closed */ }
  }

  /** Closes the connection waiting longest (kept-alive ones first) if it has waited `minWaitMs`. */
  evictOne(minWaitMs = 0): boolean {
    const now = Date.now();
    for (const waiting of [this.awaitingNext, this.awaitingFirst]) {
      for (const [slot, since] of waiting) {
        if (now - since < minWaitMs) break;
        this.shut(slot, "evicted");
        return true;
      }
    }
    return false;
  }

  /** Closes the connections past their header, idle or write timeout. */
  sweep(limits: HttpListenerLimits, now: number): void {
    for (
      const [waiting, ms, reason] of [
        [this.awaitingFirst, limits.headerTimeoutMs, "header_timeout"],
        [this.awaitingNext, limits.idleTimeoutMs, "idle_timeout"],
        [this.writing, limits.writeTimeoutMs, "write_timeout"],
      ] as const
    ) {
      for (const [slot, since] of waiting) {
        if (now - since < ms) break; // in order of arrival: the rest are younger
        this.shut(slot, reason);
      }
    }
  }
}

/** A burst of failed accepts: the back-off and what is logged. */
interface AcceptBurst {
  /** The next pause (ms); 0 after an accept. */
  backoff: number;
  /** Accepts failed since the burst began. */
  failedInBurst: number;
  /** When the last accept failed. */
  lastFailAt: number;
}

/** Accepts connections until the listener closes; a failed accept backs off and tries again. */
async function acceptLoop(run: ListenerRun): Promise<void> {
  const burst: AcceptBurst = { backoff: 0, failedInBurst: 0, lastFailAt: -Infinity };
  while (!run.closing) {
    let conn: Deno.Conn;
    try {
      conn = await run.listener.accept();
    } catch (e) {
      if (run.closing || e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) break;
      acceptFailed(run, burst, e);
      await pause(run, burst.backoff);
      continue;
    }
    burst.backoff = 0;
    if (burst.failedInBurst > 0 && Date.now() - burst.lastFailAt >= BURST_QUIET_MS) {
      run.log(`${run.name}: accepting connections again; ${burst.failedInBurst} accepts failed in the burst`);
      burst.failedInBurst = 0;
    }
    admit(run, conn);
  }
}

/**
 * Counts a failed accept, logs the first of a burst, and (out of descriptors) learns a lower cap
 * and frees a descriptor; doubles the back-off.
 */
function acceptFailed(run: ListenerRun, burst: AcceptBurst, e: unknown): void {
  const { limits, table } = run;
  const code = (e as { code?: string }).code;
  const outOfFiles = code === "EMFILE" || code === "ENFILE";
  run.refusals.add(outOfFiles ? "descriptors" : "accept_error");
  const burstStarts = Date.now() - burst.lastFailAt >= BURST_QUIET_MS;
  burst.lastFailAt = Date.now();
  const open = table.slots.size;
  const learned = outOfFiles && burstStarts && open - EMFILE_SPARE >= MIN_LEARNED_CAP &&
    open - EMFILE_SPARE < limits.maxConnections;
  // The limit was unknown or the reserve too small: the cap becomes what fitted, less a spare.
  if (learned) limits.maxConnections = open - EMFILE_SPARE;
  if (burstStarts) {
    run.log(
      `${run.name}: cannot accept connections (${(e as Error).message}); ${open} open, ` +
        `limit ${limits.descriptors?.soft ?? "unknown"} descriptors; ${
          learned ? `connection cap lowered to ${limits.maxConnections}; ` : ""
        }retrying with back-off`,
    );
  }
  burst.failedInBurst++;
  if (outOfFiles) table.evictOne(EMFILE_EVICT_MIN_WAIT_MS); // frees a descriptor for the next accept
  burst.backoff = Math.min(Math.max(burst.backoff * 2, 5), MAX_ACCEPT_BACKOFF_MS);
}

/** Waits `ms`, or until the listener closes. */
function pause(run: ListenerRun, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    run.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
}

/** Serves a new connection, or (at the cap, with none idle to evict) refuses it. */
function admit(run: ListenerRun, conn: Deno.Conn): void {
  const { table } = run;
  const slot: Slot = { conn, closed: false };
  if (table.slots.size >= run.limits.maxConnections && !table.evictOne()) {
    table.shut(slot, "connection_cap");
    return;
  }
  table.slots.add(slot);
  startSweeping(run);
  const task = serve(run, slot);
  table.tasks.add(task);
  task.finally(() => table.tasks.delete(task));
}

/** Serves one connection to its end, its timers kept in the table. */
async function serve(run: ListenerRun, slot: Slot): Promise<void> {
  const { table } = run;
  try {
    await serveConnection(slot, {
      handler: run.handler,
      remoteAddr: slot.conn.remoteAddr as Deno.NetAddr,
      localAddr: run.addr,
      maxHeaderBytes: run.maxHeaderBytes,
      writing: (on) => on ? table.writing.set(slot, Date.now()) : table.writing.delete(slot),
      waiting: (first) => (first ? table.awaitingFirst : table.awaitingNext).set(slot, Date.now()),
      active: () => {
        table.awaitingFirst.delete(slot);
        table.awaitingNext.delete(slot);
      },
      shut: (reason) => table.shut(slot, reason),
    });
  } finally {
    table.shut(slot);
    table.slots.delete(slot);
  }
}

/** Stops accepting, closes every connection, and waits for their tasks. */
async function closeListener(run: ListenerRun, accepting: Promise<void>): Promise<void> {
  run.closing = true;
  stopSweeping(run);
  run.wake();
  try {
    run.listener.close();
  } catch { /* already closed */ }
  await accepting;
  for (const slot of run.table.slots) run.table.shut(slot);
  await Promise.allSettled([...run.table.tasks]);
}
