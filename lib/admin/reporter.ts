/**
 * Delivering a node's command results to the monitor: `POST /api/admin/results`
 * signed with the cluster key (lib/wire/signed_request.ts), retried with back-off,
 * in order per command.
 *
 * @module
 */
import type { Clock, TimerId } from "../base/clock.ts";
import { signedHeaders } from "../wire/signed_request.ts";
import type { AdminConfig } from "./config.ts";
import type { NodeResult } from "./protocol.ts";

/** Where results go. */
export interface ResultSink {
  /** Queues a result for delivery (never throws). */
  send(result: NodeResult): void;
  /** Resolves when everything queued so far was delivered or given up (bounded by `maxWaitMs`). */
  flush(maxWaitMs: number): Promise<void>;
  /** Stops delivering (pending requests are aborted). */
  close(): void;
}

/**
 * The results endpoint of a monitor base URL.
 *
 * @example
 * ```ts
 * console.log(resultsUrl("http://m:8080/")); // "http://m:8080/api/admin/results"
 * ```
 */
export function resultsUrl(base: string): string {
  return `${base.replace(/\/+$/, "").replace(/\/api\/report$/, "")}/api/admin/results`;
}

/**
 * Posts results over HTTP.
 *
 * @example
 * ```ts ignore
 * const sink = new HttpResultSink("http://127.0.0.1:8080", key, "127.0.0.1:4000", realClock, config);
 * sink.send(result);
 * ```
 */
export class HttpResultSink implements ResultSink {
  /** Counters: delivered, failed attempts, given up. */
  readonly stats = { delivered: 0, failedAttempts: 0, dropped: 0 };
  #url: string;
  #key: Promise<CryptoKey | undefined>;
  #node: string;
  #clock: Clock;
  #config: AdminConfig;
  #chain: Promise<void> = Promise.resolve();
  #timers = new Set<TimerId>();
  #aborts = new Set<AbortController>();
  #closed = false;

  /** Creates a sink posting to the monitor at `base`. */
  constructor(
    base: string,
    key: Promise<CryptoKey | undefined>,
    node: string,
    clock: Clock,
    config: AdminConfig,
  ) {
    this.#url = resultsUrl(base);
    this.#key = key;
    this.#node = node;
    this.#clock = clock;
    this.#config = config;
  }

  send(result: NodeResult): void {
    if (this.#closed) return;
    const body = JSON.stringify(result);
    this.#chain = this.#chain.then(() => this.#deliver(body));
  }

  async flush(maxWaitMs: number): Promise<void> {
    let timer: TimerId | undefined;
    await Promise.race([
      this.#chain,
      new Promise<void>((resolve) => {
        timer = this.#clock.setTimeout(resolve, maxWaitMs);
        this.#timers.add(timer);
      }),
    ]);
    if (timer !== undefined) {
      this.#clock.clearTimeout(timer);
      this.#timers.delete(timer);
    }
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
    for (const a of this.#aborts) a.abort();
    this.#aborts.clear();
  }

  async #deliver(body: string): Promise<void> {
    let wait = this.#config.reportRetryMs;
    for (let attempt = 0; attempt < this.#config.reportAttempts && !this.#closed; attempt++) {
      if (attempt > 0) {
        await new Promise<void>((resolve) => {
          const t = this.#clock.setTimeout(() => {
            this.#timers.delete(t);
            resolve();
          }, wait);
          this.#timers.add(t);
        });
        wait *= 2;
        if (this.#closed) return;
      }
      const ac = new AbortController();
      this.#aborts.add(ac);
      const timer = setTimeout(() => ac.abort(), this.#config.reportTimeoutMs);
      try {
        const headers = await signedHeaders(await this.#key, this.#node, body);
        const res = await fetch(this.#url, { method: "POST", headers, body, signal: ac.signal });
        await res.body?.cancel();
        if (res.ok) {
          this.stats.delivered++;
          return;
        }
        if (res.status >= 400 && res.status < 500) break; // the monitor refuses it: retrying will not help
      } catch {
        /* network error or timeout: retry */
      } finally {
        clearTimeout(timer);
        this.#aborts.delete(ac);
      }
      this.stats.failedAttempts++;
    }
    this.stats.dropped++;
  }
}
