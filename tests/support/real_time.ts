/**
 * Waiting on real time in tests, always with a bound, so that a condition that never comes fails the test
 * with what was awaited and what was last seen, instead of hanging it.
 *
 * - {@linkcode waitUntil} polls a condition (sync or async) until it holds, and throws at its deadline.
 * - {@linkcode poll} does the same but reports the deadline instead of throwing (for a caller that retries or
 *   decides itself).
 * - {@linkcode withTimeout} bounds a promise: where an event can be awaited, await it rather than poll.
 * - {@linkcode sleep} waits a fixed time (pacing, or letting traffic run for a while).
 *
 * Virtual time (a `VirtualClock`) is stepped by `virtual_time.ts` instead.
 *
 * @module
 */

/** How {@linkcode poll} and {@linkcode waitUntil} poll. */
export interface PollOptions<T> {
  /** Give up once this many milliseconds have passed since the first check. */
  timeoutMs: number;
  /** Pause between two checks (default 20 ms; 0 checks again as soon as the previous check returned). */
  intervalMs?: number;
  /** Whether a value of the condition means "done" (default: the value is truthy). */
  until?: (value: T) => boolean;
}

/** What {@linkcode waitUntil} waits for. */
export interface WaitOptions<T> extends PollOptions<T> {
  /** What is awaited, for the error at the deadline ("5 members everywhere"); a function is called then. */
  what: string | (() => string);
}

/** What {@linkcode poll} saw: whether the condition held before the deadline, and its last value. */
export interface PollResult<T> {
  /** The condition held (its last value passed `until`). */
  done: boolean;
  /** The condition's last value. */
  value: T;
  /** Milliseconds from the first check to the last one. */
  elapsedMs: number;
}

/** Waits `ms` milliseconds of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Checks `condition` every `intervalMs` until its value passes `until` or `timeoutMs` has passed (it is
 * checked once more at the deadline, then not again). An exception thrown by `condition` propagates.
 *
 * @example
 * ```ts ignore
 * const { done } = await poll(() => replies.length > 0, { timeoutMs: 300, intervalMs: 2 });
 * ```
 */
export async function poll<T>(condition: () => T | Promise<T>, options: PollOptions<T>): Promise<PollResult<T>> {
  const until = options.until ?? Boolean;
  const intervalMs = options.intervalMs ?? 20;
  const start = Date.now();
  for (;;) {
    const value = await condition();
    const elapsedMs = Date.now() - start;
    if (until(value)) return { done: true, value, elapsedMs };
    if (elapsedMs >= options.timeoutMs) return { done: false, value, elapsedMs };
    if (intervalMs > 0) await sleep(intervalMs);
  }
}

/**
 * Polls `condition` like {@linkcode poll} and resolves with its first value that passes `until`; throws
 * `timed out after … ms waiting for <what>; last value: …` at the deadline.
 *
 * @example
 * ```ts ignore
 * await waitUntil(async () => (await nodes()).length === 5, { timeoutMs: 10_000, what: "all 5 nodes reporting" });
 * const counts = await waitUntil(() => membershipCounts(), { until: (c) => c.every((n) => n === 3), timeoutMs: 20_000, what: "3 members" });
 * ```
 */
export async function waitUntil<T>(condition: () => T | Promise<T>, options: WaitOptions<T>): Promise<T> {
  const r = await poll(condition, options);
  if (r.done) return r.value;
  const what = typeof options.what === "function" ? options.what() : options.what;
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}; last value: ${describe(r.value)}`);
}

/**
 * Resolves or rejects as `promise` does, or rejects with `not within <ms> ms: <what>` if it has not settled
 * by then (the timer is always cleared).
 *
 * @example
 * ```ts ignore
 * const status = await withTimeout(process.exited(), 5_000, "the node to exit");
 * ```
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not within ${ms} ms: ${typeof what === "function" ? what() : what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** A value as it reads in an error message (JSON when it can be, cut to 500 characters). */
function describe(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
