/**
 * Shared command-line helpers: flag parsing with clear errors, sizes, durations.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A mistake in how a command was called; printed as one sentence with exit code 2. */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Option definitions as accepted by `node:util` parseArgs. */
export type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `args` against `options`, turning parseArgs' errors into {@linkcode UsageError}
 * that name the command and point at `--help`.
 *
 * @example
 * ```ts
 * const { values } = parseFlags("node", ["--port", "4001"], { port: { type: "string" } });
 * console.log(values.port); // "4001"
 * ```
 */
export function parseFlags<O extends Options>(command: string, args: string[], options: O) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    // parseArgs ends some messages with a full stop, others not: end it with ours only.
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "").replace(/\.$/, "");
    throw new UsageError(`${command}: ${msg}. Run with --help to see the options.`);
  }
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a byte size such as `64MiB`, `500k` or `1048576`.
 *
 * @example
 * ```ts
 * console.log(parseSize("64MiB", "--max-bytes")); // 67108864
 * ```
 */
export function parseSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(
      `${flag}: "${text}" is not a size; use a number of bytes or a unit such as 64MiB, 500KB, 1GiB`,
    );
  }
  return Math.floor(Number(m[1]) * unit);
}

/**
 * Parses a duration such as `5s`, `250ms`, `2m`, `1h` (bare numbers are ms).
 *
 * @example
 * ```ts
 * console.log(parseDuration("2m", "--timeout")); // 120000
 * ```
 */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: "${text}" is not a duration; use for example 250ms, 5s, 2m or 1h`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "ms"]!;
  return Math.round(Number(m[1]) * mult);
}

/** Parses a positive integer flag. */
export function parseInteger(text: string, flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) {
    throw new UsageError(`${flag}: "${text}" is not a whole number between ${min} and ${max}`);
  }
  return n;
}

/**
 * Runs a command's main function and turns every error into one line on stderr
 * and an exit code (2 for usage errors, the error's own numeric `exitCode` if it has one, 1 otherwise) —
 * never a stack trace.
 * Set `KVSTORE_DEBUG=1` to see stacks.
 */
export async function runCli(main: () => Promise<number | void>): Promise<never> {
  let code = 0;
  try {
    code = (await main()) ?? 0;
  } catch (e) {
    const err = e as Error;
    let debug = false;
    try {
      debug = Deno.env.get("KVSTORE_DEBUG") === "1";
    } catch { /* no env permission */ }
    console.error(`error: ${err?.message ?? String(e)}`);
    if (debug && err?.stack) console.error(err.stack);
    const own = (e as { exitCode?: unknown })?.exitCode;
    code = e instanceof UsageError ? 2 : typeof own === "number" ? own : 1;
  }
  Deno.exit(code);
}
