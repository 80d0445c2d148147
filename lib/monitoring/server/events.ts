/**
 * Server-sent events for the live page: a hub of open streams, and a
 * coalescer that gathers changed rows and sends them at most every
 * `flushMs`, so a thousand reports a round cost a few messages per client.
 *
 * @module
 */
import { utf8Encoder } from "../../base/bytes.ts";
import type { Clock, TimerId } from "../../base/clock.ts";

/** Bytes queued for one stream by default before the client is dropped as not reading. */
export const DEFAULT_MAX_QUEUED_BYTES = 256 * 1024;

/** Options of an {@linkcode EventHub}. */
export interface EventHubOptions {
  /** Open streams at most. */
  maxClients: number;
  /** Keep-alive comment period (ms). */
  keepAliveMs: number;
  /** Bytes queued per stream at most (default {@linkcode DEFAULT_MAX_QUEUED_BYTES}). */
  maxQueuedBytes?: number;
  /** Called when a client is dropped for not reading. */
  onSlowClient?: () => void;
}

/**
 * Open SSE streams. Kept over hono/streaming's streamSSE, which formats and encodes each event once
 * per client: 529 against 43 µs (12×) for one 100 KB event to 20 clients.
 *
 * @example
 * ```ts ignore
 * const hub = new EventHub({ maxClients: 10, keepAliveMs: 15_000 }, realClock);
 * app.get("/events", () => hub.connect() ?? new Response("busy", { status: 503 }));
 * hub.publish("rows", [{ id: "a" }]);
 * ```
 */
export class EventHub {
  #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #max: number;
  #clock: Clock;
  #keepAliveMs: number;
  #keepAlive: TimerId | undefined;
  #closed = false;
  #maxQueued: number;
  #onSlow: (() => void) | undefined;
  /** Events sent (to all clients). */
  sent = 0;
  /** Clients dropped for not reading. */
  dropped = 0;

  /** Creates a hub that accepts at most `maxClients` streams. */
  constructor(options: EventHubOptions, clock: Clock) {
    this.#max = options.maxClients;
    this.#maxQueued = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.#onSlow = options.onSlowClient;
    this.#clock = clock;
    this.#keepAliveMs = options.keepAliveMs;
  }

  /** Number of open streams. */
  get clients(): number {
    return this.#clients.size;
  }

  /** A streaming response for a new client, or null when full or closed. */
  connect(): Response | null {
    if (this.#closed || this.#clients.size >= this.#max) return null;
    let self: ReadableStreamDefaultController<Uint8Array> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller;
        this.#clients.add(controller);
        controller.enqueue(utf8Encoder.encode("retry: 2000\n: connected\n\n"));
        this.#scheduleKeepAlive();
      },
      cancel: () => {
        if (self) this.#clients.delete(self);
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: this.#maxQueued }));
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  }

  /** Sends an event to every client. */
  publish(event: string, data: unknown): void {
    this.publishAll([[event, data]]);
  }

  /**
   * Sends events to every client as one chunk: one write per client for all of them (a flush's
   * rows and summary), where each chunk costs a write and its allocation per client.
   */
  publishAll(events: readonly (readonly [event: string, data: unknown])[]): void {
    if (this.#clients.size === 0 || events.length === 0) return;
    this.#write(events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join(""));
    this.sent += events.length;
  }

  #write(text: string): void {
    const bytes = utf8Encoder.encode(text);
    for (const c of this.#clients) {
      try {
        if ((c.desiredSize ?? 0) <= 0) {
          // Not reading: drop it rather than queue without bound (the client's EventSource reconnects).
          this.#clients.delete(c);
          this.dropped++;
          this.#onSlow?.();
          c.error(new Error("the client does not read its event stream"));
          continue;
        }
        c.enqueue(bytes);
      } catch {
        this.#clients.delete(c);
      }
    }
  }

  #scheduleKeepAlive(): void {
    if (this.#keepAlive !== undefined || this.#closed) return;
    this.#keepAlive = this.#clock.setTimeout(() => {
      this.#keepAlive = undefined;
      if (this.#clients.size === 0) return;
      this.#write(": keep-alive\n\n");
      this.#scheduleKeepAlive();
    }, this.#keepAliveMs);
  }

  /** Ends every stream. */
  close(): void {
    this.#closed = true;
    if (this.#keepAlive !== undefined) this.#clock.clearTimeout(this.#keepAlive);
    for (const c of this.#clients) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    this.#clients.clear();
  }
}

/**
 * Gathers ids marked as changed and flushes them together at most every `flushMs`.
 *
 * @example
 * ```ts ignore
 * const c = new Coalescer(500, realClock, (ids, round) => hub.publish("rows", render(ids)));
 * c.mark(["127.0.0.1:4000"], false);
 * ```
 */
export class Coalescer {
  #pending = new Set<string>();
  #removed = new Set<string>();
  #round = false;
  #timer: TimerId | undefined;
  #flushMs: number;
  #clock: Clock;
  #flush: (ids: string[], removed: string[], round: boolean) => void;
  #closed = false;

  /** Calls `flush` with what changed, at most every `flushMs`. */
  constructor(
    flushMs: number,
    clock: Clock,
    flush: (ids: string[], removed: string[], round: boolean) => void,
  ) {
    this.#flushMs = flushMs;
    this.#clock = clock;
    this.#flush = flush;
  }

  /** Marks rows as changed (and whether a round started). */
  mark(ids: Iterable<string>, removed: Iterable<string>, round: boolean): void {
    if (this.#closed) return;
    for (const id of ids) this.#pending.add(id);
    for (const id of removed) this.#removed.add(id);
    this.#round ||= round;
    if (this.#timer === undefined) {
      this.#timer = this.#clock.setTimeout(() => this.flushNow(), this.#flushMs);
    }
  }

  /** Flushes at once. */
  flushNow(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const ids = [...this.#pending];
    const removed = [...this.#removed];
    const round = this.#round;
    this.#pending.clear();
    this.#removed.clear();
    this.#round = false;
    if (ids.length > 0 || removed.length > 0 || round) this.#flush(ids, removed, round);
  }

  /** Stops flushing. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
