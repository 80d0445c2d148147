/**
 * Holding data requests until a node has joined the cluster. A node that has
 * just started (a restart, typically) knows no other member until its first
 * push-pull is answered: coordinating a read then would ask only itself and
 * answer "not found" for keys the cluster holds, and a write would be stored
 * on this node alone. So until the membership reports it joined (or
 * `joinWaitMs` passed: the node may be alone), put, get and remove are held
 * and run once it has; the client's retries of a held request are recognised
 * by the node as the same request, so it is answered once.
 *
 * @module
 */
import type { Clock, TimerId } from "../base/clock.ts";
import type { ExecResult, Executor } from "../node/executor.ts";
import { ErrorCode } from "../wire/client_protocol.ts";

/**
 * How often held requests check whether the node has joined (ms).
 *
 * @example
 * ```ts
 * console.log(JOIN_POLL_MS); // 10
 * ```
 */
export const JOIN_POLL_MS = 10;

/** Counters of a {@linkcode JoinGate}. */
export interface JoinGateStats {
  /** Data requests held until the node joined. */
  held: number;
  /** Of them, those released because `joinWaitMs` passed without a join. */
  releasedUnjoined: number;
  /** Time from start to the join (ms; -1 while not joined). */
  joinedAfterMs: number;
}

/**
 * An executor that holds data commands until `joined()` holds (or `waitMs` passed since it was made).
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../base/clock.ts";
 * const clock = new VirtualClock();
 * let joined = false;
 * const inner = { put: () => ({ code: 0 }), get: () => ({ code: 1 }), remove: () => ({ code: 1 }), membershipCount: () => 1 };
 * const gate = new JoinGate(inner, () => joined, clock, 5_000);
 * const r = gate.get(new Uint8Array(32)) as Promise<{ code: number }>;
 * joined = true;
 * clock.advance(20);
 * console.log((await r).code); // 1
 * gate.close();
 * ```
 */
export class JoinGate implements Executor {
  /** The executor that runs data commands once joined. */
  readonly inner: Executor;
  /** Counters. */
  readonly stats: JoinGateStats = { held: 0, releasedUnjoined: 0, joinedAfterMs: -1 };
  #joined: () => boolean;
  #clock: Clock;
  #startedAt: number;
  #waitMs: number;
  #open = false;
  #held: (() => void)[] = [];
  #timer: TimerId | undefined;
  #closed = false;

  /** Wraps `inner`; requests wait for `joined()` at most `waitMs` from now. */
  constructor(inner: Executor, joined: () => boolean, clock: Clock, waitMs: number) {
    this.inner = inner;
    this.#joined = joined;
    this.#clock = clock;
    this.#startedAt = clock.now();
    this.#waitMs = waitMs;
  }

  /** Whether requests now pass straight through (joined, or waited long enough). */
  get open(): boolean {
    if (this.#open) return true;
    const now = this.#clock.now();
    if (this.#joined()) {
      this.stats.joinedAfterMs = now - this.#startedAt;
      this.#open = true;
    } else if (now - this.#startedAt >= this.#waitMs) this.#open = true;
    return this.#open;
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.#held.length;
  }

  put(key: Uint8Array, value: Uint8Array): ExecResult | Promise<ExecResult> {
    return this.open ? this.inner.put(key, value) : this.#hold(() => this.inner.put(key, value));
  }

  get(key: Uint8Array): ExecResult | Promise<ExecResult> {
    return this.open ? this.inner.get(key) : this.#hold(() => this.inner.get(key));
  }

  remove(key: Uint8Array): ExecResult | Promise<ExecResult> {
    return this.open ? this.inner.remove(key) : this.#hold(() => this.inner.remove(key));
  }

  membershipCount(): number {
    return this.inner.membershipCount();
  }

  /** Stops the poll; held requests are answered 0x04 (the node is closing). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const release of this.#held.splice(0)) release();
  }

  #hold(run: () => ExecResult | Promise<ExecResult>): Promise<ExecResult> {
    if (this.#closed) return Promise.resolve({ code: ErrorCode.InternalFailure });
    this.stats.held++;
    return new Promise<ExecResult>((resolve) => {
      this.#held.push(() => {
        if (this.#closed) return resolve({ code: ErrorCode.InternalFailure });
        try {
          resolve(run());
        } catch {
          resolve({ code: ErrorCode.InternalFailure });
        }
      });
      this.#poll();
    });
  }

  #poll(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      if (!this.open) return this.#poll();
      if (!this.#joined()) this.stats.releasedUnjoined += this.#held.length;
      for (const release of this.#held.splice(0)) release();
    }, JOIN_POLL_MS);
  }
}
