/**
 * Where a node's reports go: HTTP POST to the monitor, signed with the cluster
 * key (lib/wire/signed_request.ts). Injectable so simulations can collect reports
 * with a plain function instead.
 *
 * @module
 */
import type { NodeReport } from "../report.ts";
import { signedHeaders } from "../../wire/signed_request.ts";

/** Delivers reports to the monitor. */
export interface ReportSink {
  /** Sends `report` to `url`; resolves when done (never rejects). */
  send(url: string, report: NodeReport): Promise<void>;
  /** Cancels requests in flight. */
  close(): void;
}

/** Tunables of the HTTP sink. */
export interface HttpReportSinkConfig {
  /** Time limit of one POST (ms). */
  timeoutMs: number;
  /** Reports in flight at once; more are dropped (the next round reports again). */
  maxInFlight: number;
}

/** Defaults: 5 s per POST, 4 in flight. */
export const DEFAULT_HTTP_SINK_CONFIG: HttpReportSinkConfig = { timeoutMs: 5_000, maxInFlight: 4 };

/**
 * Posts reports with `fetch`, signed by `node` with the cluster key.
 *
 * @example
 * ```ts ignore
 * const sink = new HttpReportSink(key, "127.0.0.1:4000");
 * await sink.send("http://127.0.0.1:8080/api/report", report);
 * sink.close();
 * ```
 */
export class HttpReportSink implements ReportSink {
  readonly config: HttpReportSinkConfig;
  #key: Promise<CryptoKey | undefined>;
  #node: string;
  #inFlight = new Set<AbortController>();
  #closed = false;
  /** Counters: sent (2xx), refused (4xx/5xx), failed (network/timeout), skipped (too many in flight). */
  readonly stats = { sent: 0, refused: 0, failed: 0, skipped: 0 };
  /** Last failure, for the node's log and stats. */
  lastError = "";

  /** Creates a sink for `node`; `key` may be a promise (imported lazily). */
  constructor(
    key: CryptoKey | undefined | Promise<CryptoKey | undefined>,
    node: string,
    config: Partial<HttpReportSinkConfig> = {},
  ) {
    this.#key = Promise.resolve(key);
    this.#node = node;
    this.config = { ...DEFAULT_HTTP_SINK_CONFIG, ...config };
  }

  async send(url: string, report: NodeReport): Promise<void> {
    if (this.#closed) return;
    if (this.#inFlight.size >= this.config.maxInFlight) {
      this.stats.skipped++;
      return;
    }
    const abort = new AbortController();
    this.#inFlight.add(abort);
    const timer = setTimeout(() => abort.abort(), this.config.timeoutMs);
    try {
      const body = JSON.stringify(report);
      const headers = await signedHeaders(await this.#key, this.#node, body);
      if (abort.signal.aborted) throw new Error("closed");
      const res = await fetch(url, { method: "POST", headers, body, signal: abort.signal });
      const text = await res.text();
      if (res.ok) this.stats.sent++;
      else {
        this.stats.refused++;
        this.lastError = `${res.status} ${text.slice(0, 200)}`;
      }
    } catch (e) {
      this.stats.failed++;
      this.lastError = (e as Error).message ?? String(e);
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(abort);
    }
  }

  close(): void {
    this.#closed = true;
    for (const a of this.#inFlight) a.abort();
  }
}

/**
 * A sink that hands reports to a function (simulations and tests).
 *
 * @example
 * ```ts
 * const got: unknown[] = [];
 * const sink = new FunctionReportSink((_url, r) => {
 *   got.push(r);
 * });
 * console.log(sink instanceof FunctionReportSink); // true
 * ```
 */
export class FunctionReportSink implements ReportSink {
  #fn: (url: string, report: NodeReport) => void | Promise<void>;

  /** Wraps `fn`. */
  constructor(fn: (url: string, report: NodeReport) => void | Promise<void>) {
    this.#fn = fn;
  }

  async send(url: string, report: NodeReport): Promise<void> {
    try {
      await this.#fn(url, report);
    } catch { /* a sink never rejects */ }
  }

  close(): void {}
}
