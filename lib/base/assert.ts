/**
 * Invariant checks that stay on in production (TigerBeetle keeps its assertions on): a broken
 * invariant is a bug, found where it happens rather than as wrong data later. A failure is counted
 * ({@linkcode assertionsFailed}, the `assertions_failed` stat of every node) and thrown as an
 * {@linkcode InvariantError}; the caller at the edge of a request fails that request with it (the
 * node answers 0x04), so one bad request never takes the node down.
 *
 * @module
 */

/** How many failures are printed to stderr; later ones are only counted (a bug repeating would flood the log). */
const PRINTED_FAILURES = 5;

let failed = 0;
let last = "";

/**
 * A broken invariant: a bug in KVStore, not bad input (bad input gets a `TypeError`/`RangeError`).
 *
 * @example
 * ```ts
 * try {
 *   assert(1 > 2, "one above two");
 * } catch (e) {
 *   console.log(e instanceof InvariantError); // true
 * }
 * ```
 */
export class InvariantError extends Error {
  /** Makes the error; `message` names the invariant that broke. */
  constructor(message: string) {
    super(`invariant broken: ${message}`);
    this.name = "InvariantError";
  }
}

/**
 * Throws an {@linkcode InvariantError} (after counting it) unless `condition` holds. `message`
 * names the invariant; build it only when it is cheap (a literal), as it is evaluated every call.
 *
 * @example
 * ```ts
 * const acks = 2, asked = 3;
 * assert(acks <= asked, "acks never above the replicas asked");
 * ```
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (condition) return;
  failed++;
  last = message;
  if (failed <= PRINTED_FAILURES) console.error(`kvstore: invariant broken: ${message} (a bug; please report it)`);
  throw new InvariantError(message);
}

/**
 * How many assertions failed in this process (a simulation's nodes share one process, so one count).
 *
 * @example
 * ```ts
 * console.log(assertionsFailed() >= 0); // true
 * ```
 */
export function assertionsFailed(): number {
  return failed;
}

/**
 * The message of the last assertion that failed in this process, or `""`.
 *
 * @example
 * ```ts
 * console.log(typeof lastAssertionFailure()); // "string"
 * ```
 */
export function lastAssertionFailure(): string {
  return last;
}
