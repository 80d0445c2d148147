/**
 * Counts of refused or cut HTTP connections and requests, by reason: what `listenHttp` refuses
 * below the handler and what a server's routes refuse above it share one table, shown as
 * `http_refused_total{reason}`.
 *
 * @module
 */

/**
 * Why a connection or request was refused or cut:
 * - `connection_cap`: at the connection cap with no idle connection to close for room;
 * - `evicted`: an idle connection (no request head yet, or between requests) closed to make room;
 * - `descriptors`: an accept failed for want of file descriptors (EMFILE/ENFILE);
 * - `accept_error`: another accept failure;
 * - `header_timeout`: the request head did not arrive within the header timeout;
 * - `idle_timeout`: a kept-alive connection sent no next request within the idle timeout;
 * - `header_too_large`, `bad_request`: the head was too large or malformed;
 * - `write_timeout`: the client did not take the response within the write timeout;
 * - `body_timeout`: a request body did not arrive within its route's timeout;
 * - `sse_cap`, `sse_slow`: event-stream subscribers refused when full, or dropped for not reading.
 */
export type RefusalReason =
  | "connection_cap"
  | "evicted"
  | "descriptors"
  | "accept_error"
  | "header_timeout"
  | "idle_timeout"
  | "header_too_large"
  | "bad_request"
  | "write_timeout"
  | "body_timeout"
  | "sse_cap"
  | "sse_slow";

/**
 * A counter per refusal reason.
 *
 * @example
 * ```ts
 * const r = new Refusals();
 * r.add("header_timeout");
 * console.log(r.get("header_timeout"), r.total); // 1 1
 * ```
 */
export class Refusals {
  #counts = new Map<RefusalReason, number>();

  /** Counts `n` refusals for `reason`. */
  add(reason: RefusalReason, n = 1): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + n);
  }

  /** Refusals for `reason` so far. */
  get(reason: RefusalReason): number {
    return this.#counts.get(reason) ?? 0;
  }

  /** Every refusal so far. */
  get total(): number {
    let t = 0;
    for (const n of this.#counts.values()) t += n;
    return t;
  }

  /** Reasons with their counts, most frequent first. */
  entries(): [RefusalReason, number][] {
    return [...this.#counts].sort((a, b) => b[1] - a[1]);
  }
}
