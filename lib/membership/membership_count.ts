/**
 * Makes the node's get-membership-count answer come from the member view:
 * the node asks its executor, so the executor is wrapped.
 *
 * @module
 */
import type { ExecResult, Executor } from "../node/executor.ts";
import type { MemberView } from "../node/members.ts";

/**
 * An executor that delegates data commands to `inner` and answers
 * `membershipCount()` with the number of live members of `members`.
 *
 * @example
 * ```ts
 * import { StaticMembers } from "../node/members.ts";
 * const inner = { put: () => ({ code: 0 }), get: () => ({ code: 1 }), remove: () => ({ code: 1 }), membershipCount: () => 1 };
 * const ex = new MemberCountingExecutor(inner, new StaticMembers("10.0.0.1:4000", ["10.0.0.2:4000"]));
 * console.log(ex.membershipCount()); // 2
 * ```
 */
export class MemberCountingExecutor implements Executor {
  /** The executor that runs data commands. */
  readonly inner: Executor;
  /** Where the count comes from. */
  readonly members: MemberView;

  /** Wraps `inner`, counting `members`. */
  constructor(inner: Executor, members: MemberView) {
    this.inner = inner;
    this.members = members;
  }

  put(key: Uint8Array, value: Uint8Array): ExecResult | Promise<ExecResult> {
    return this.inner.put(key, value);
  }

  get(key: Uint8Array): ExecResult | Promise<ExecResult> {
    return this.inner.get(key);
  }

  remove(key: Uint8Array): ExecResult | Promise<ExecResult> {
    return this.inner.remove(key);
  }

  /** Live members (alive or suspect), self included. */
  membershipCount(): number {
    return this.members.alive().length;
  }
}
