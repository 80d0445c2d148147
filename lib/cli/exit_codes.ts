/**
 * kvctl's exit codes, one meaning each, so a script can tell a missing key from an unreachable
 * node. The table below is the one README.md and docs/admin.md print.
 *
 * | code | meaning                                                                    |
 * | ---- | -------------------------------------------------------------------------- |
 * | 0    | success                                                                    |
 * | 1    | the node answered "no": key not found, out of space, refused, a node failed |
 * | 2    | usage or configuration: bad flag or argument, fleet file or key unreadable |
 * | 3    | no answer: the node is unreachable or timed out after every retry          |
 *
 * @module
 */
import { UsageError } from "../base/cli_args.ts";
import { KVTimeoutError } from "../client/errors.ts";
import { ConfigError } from "../config/fleet_file.ts";
import { RpcTimeoutError } from "../wire/rpc.ts";

/**
 * The exit codes of kvctl (see the module's table).
 *
 * @example
 * ```ts
 * console.log(EXIT.notFound, EXIT.usage, EXIT.noAnswer); // 1 2 3
 * ```
 */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** The node answered "no": not found, out of space, refused, a command failed on a node. */
  notFound: 1,
  /** Same code as {@linkcode EXIT.notFound}: any "no" from a node. */
  refused: 1,
  /** Usage or configuration mistake. */
  usage: 2,
  /** No answer: unreachable, or timed out after every retry. */
  noAnswer: 3,
} as const;

/**
 * The exit-code table as text (kvctl --help prints it).
 *
 * @example
 * ```ts
 * console.log(EXIT_CODE_HELP.includes("3  no answer")); // true
 * ```
 */
export const EXIT_CODE_HELP = `Exit codes:
  0  success
  1  the node answered "no" (key not found, out of space, refused, a command failed)
  2  usage or configuration (bad flag, unreadable fleet file or key)
  3  no answer (node unreachable or timed out after every retry)
`;

/** An error after which no node answered: exit code 3. */
export class NoAnswerError extends Error {
  /** Always {@linkcode EXIT.noAnswer}. */
  readonly exitCode: number = EXIT.noAnswer;
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "NoAnswerError";
  }
}

/**
 * The exit code an error stands for: 2 for usage and configuration, 3 when nothing answered, 1 otherwise
 * (a node said no). An `exitCode` number on the error wins.
 *
 * @example
 * ```ts
 * console.log(exitCodeOf(new NoAnswerError("x")), exitCodeOf(new Error("key not found"))); // 3 1
 * ```
 */
export function exitCodeOf(e: unknown): number {
  const own = (e as { exitCode?: unknown })?.exitCode;
  if (typeof own === "number") return own;
  if (e instanceof UsageError || e instanceof ConfigError) return EXIT.usage;
  if (e instanceof KVTimeoutError || e instanceof RpcTimeoutError || e instanceof NoAnswerError) return EXIT.noAnswer;
  if (e instanceof Deno.errors.NetworkUnreachable || e instanceof Deno.errors.ConnectionRefused) return EXIT.noAnswer;
  return EXIT.refused;
}

/**
 * Gives `e` the exit code it stands for (an `exitCode` property runCli honours); returns it for `throw`.
 *
 * @example
 * ```ts
 * const e = withExitCode(new NoAnswerError("nobody"));
 * console.log((e as Error & { exitCode: number }).exitCode); // 3
 * ```
 */
export function withExitCode(e: unknown): unknown {
  if (e instanceof UsageError || !(e instanceof Error)) return e;
  try {
    Object.defineProperty(e, "exitCode", { value: exitCodeOf(e), configurable: true });
  } catch { /* frozen: the default applies */ }
  return e;
}
