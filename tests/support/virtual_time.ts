/**
 * Stepping virtual time in tests. A `VirtualClock` moves only when a test moves it, and the promise
 * continuations its timers start run only when the test lets them; so a test advances the clock in ticks and
 * lets pending work run after each tick. {@linkcode runUntil} does that until a condition holds or a promise
 * settles, and fails with a clear message at its limit; {@linkcode advance} does it for a fixed time.
 *
 * How a test steps is part of what it tests (the same seed gives the same run only with the same steps), so
 * every choice is an option: the tick, how pending work runs after it ({@linkcode Settle}), whether it also
 * runs before the first tick, and how often the condition is checked.
 *
 * Real time is awaited with `real_time.ts` instead.
 *
 * @module
 */
import type { VirtualClock } from "../../lib/base/clock.ts";

/** A virtual clock, or what carries one (a `Simulation`, a `SimCluster`). */
export type ClockSource = VirtualClock | { readonly clock: VirtualClock };

/**
 * How pending work runs after a tick: a number of microtask rounds (`await Promise.resolve()` each; 0 runs
 * nothing, and stepping is then synchronous), `"macrotask"`: a zero-delay real timer, by which time every
 * queued microtask, and any chain of them, has run; or a function awaited after each tick, for work that
 * completes in real time (as an asynchronous signature check) and must be done before virtual time moves on.
 */
export type Settle = number | "macrotask" | (() => Promise<void>);

/** Microtask rounds after each tick unless an option says otherwise. */
export const DEFAULT_SETTLE = 40;
/** Virtual milliseconds of one tick unless an option says otherwise. */
export const DEFAULT_TICK_MS = 5;
/** Virtual milliseconds {@linkcode runUntil} waits unless an option says otherwise. */
export const DEFAULT_LIMIT_MS = 30_000;

/** How the clock moves. */
export interface StepOptions {
  /** Virtual ms of one tick (default: `stepMs` when given, else {@linkcode DEFAULT_TICK_MS}). */
  tickMs?: number;
  /** How pending work runs after each tick (default {@linkcode DEFAULT_SETTLE} microtask rounds). */
  settle?: Settle;
  /** Also let pending work run once before the first tick (default false). */
  settleFirst?: boolean;
}

/** How {@linkcode runUntil} steps and when it gives up. */
export interface RunUntilOptions extends StepOptions {
  /** Virtual ms after which it gives up (default {@linkcode DEFAULT_LIMIT_MS}). */
  limitMs?: number;
  /** Virtual ms between two checks of the condition, in ticks of `tickMs` (default: one tick). */
  stepMs?: number;
  /** What is awaited, for the error at the limit; a function is called then. */
  what?: string | (() => string);
  /**
   * At the limit, throw (default) or, when false, resolve with -1 (for a caller that goes on either way, as
   * a test that then lets the cluster run longer and checks the outcome itself).
   */
  failAtLimit?: boolean;
}

/** Resolves on a zero-delay real timer: every queued microtask, and any chain of them, has run by then. */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Lets pending work run as `how` says (nothing to await when `how` is 0). */
export function settle(how: Settle = DEFAULT_SETTLE): Promise<void> | undefined {
  if (typeof how === "function") return how();
  if (how === "macrotask") return macrotask();
  if (how <= 0) return undefined;
  return (async () => {
    for (let i = 0; i < how; i++) await Promise.resolve();
  })();
}

/**
 * Advances the clock by `ms` in ticks of `tickMs` (the last one shorter if `ms` is not a multiple), letting
 * pending work run after each tick.
 *
 * @example
 * ```ts ignore
 * await advance(sim, 2_000); // 400 ticks of 5 ms, 40 microtask rounds after each
 * ```
 */
export async function advance(source: ClockSource, ms: number, options: StepOptions = {}): Promise<void> {
  const clock = clockOf(source);
  const tickMs = options.tickMs ?? DEFAULT_TICK_MS;
  const how = options.settle ?? DEFAULT_SETTLE;
  if (options.settleFirst) await settle(how);
  for (let t = 0; t < ms; t += tickMs) {
    clock.advance(Math.min(tickMs, ms - t));
    const pending = settle(how);
    if (pending) await pending;
  }
}

/**
 * Advances the clock until `condition` holds, checked every `stepMs`; resolves with the virtual ms that took.
 * The condition is checked before the first step and after every step until more than `limitMs` have
 * passed; then it throws (or resolves with -1 when `failAtLimit` is false).
 *
 * @example
 * ```ts ignore
 * const took = await runUntil(sim, () => agreed(sim), { limitMs: 60_000, stepMs: 50, what: "50 nodes agree" });
 * ```
 */
export async function runUntil(
  source: ClockSource,
  condition: () => boolean | Promise<boolean>,
  options?: RunUntilOptions,
): Promise<number>;
/**
 * Advances the clock until `promise` settles (checked after every tick); resolves or rejects as it does.
 * Throws if it is still pending after `limitMs`.
 *
 * @example
 * ```ts ignore
 * const value = await runUntil(sim, client.get("k"));
 * ```
 */
export async function runUntil<T>(source: ClockSource, promise: Promise<T>, options?: RunUntilOptions): Promise<T>;
export async function runUntil<T>(
  source: ClockSource,
  target: (() => boolean | Promise<boolean>) | Promise<T>,
  options: RunUntilOptions = {},
): Promise<number | T> {
  if (!(target instanceof Promise)) return await stepUntil(clockOf(source), target, options, "the condition");
  let settled = false;
  target.then(() => settled = true, () => settled = true);
  await stepUntil(clockOf(source), () => settled, { ...options, failAtLimit: true }, "the promise to settle");
  return await target;
}

async function stepUntil(
  clock: VirtualClock,
  condition: () => boolean | Promise<boolean>,
  options: RunUntilOptions,
  fallback: string,
): Promise<number> {
  const limitMs = options.limitMs ?? DEFAULT_LIMIT_MS;
  const stepMs = options.stepMs ?? options.tickMs ?? DEFAULT_TICK_MS;
  const tickMs = options.tickMs ?? stepMs;
  const how = options.settle ?? DEFAULT_SETTLE;
  const start = clock.now();
  if (options.settleFirst) await settle(how);
  for (;;) {
    // A synchronous condition is not awaited: stepping with `settle: 0` stays synchronous.
    const held = condition();
    if (held instanceof Promise ? await held : held) return clock.now() - start;
    if (clock.now() - start > limitMs) {
      if (options.failAtLimit === false) return -1;
      const what = typeof options.what === "function" ? options.what() : options.what ?? fallback;
      throw new Error(`not within ${limitMs} ms of virtual time: ${what}`);
    }
    for (let t = 0; t < stepMs; t += tickMs) {
      clock.advance(Math.min(tickMs, stepMs - t));
      const pending = settle(how);
      if (pending) await pending;
    }
  }
}

function clockOf(source: ClockSource): VirtualClock {
  return "clock" in source ? source.clock : source;
}
