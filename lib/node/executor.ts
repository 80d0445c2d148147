/**
 * What executes client data commands: locally on one node, or (cluster) by
 * coordinating replicas. The node's request handling does not care which.
 *
 * @module
 */
import { toHex } from "../base/bytes.ts";
import { ErrorCode } from "../wire/client_protocol.ts";
import type { HybridLogicalClock } from "../storage/hlc.ts";
import type { MemoryStore } from "../storage/store.ts";
import type { MemberView } from "./members.ts";

/** Result of a data command: an error code and, for get, the value. */
export interface ExecResult {
  /** Protocol error code. */
  code: number;
  /** Value for a successful get. */
  value?: Uint8Array;
}

/** Executes data commands; may answer synchronously or asynchronously. */
export interface Executor {
  /** Stores `value` under `key`. */
  put(key: Uint8Array, value: Uint8Array): ExecResult | Promise<ExecResult>;
  /** Reads `key`. */
  get(key: Uint8Array): ExecResult | Promise<ExecResult>;
  /** Removes `key` (code 0x01 if absent). */
  remove(key: Uint8Array): ExecResult | Promise<ExecResult>;
  /** Number of members this node believes alive. */
  membershipCount(): number;
}

const OK: ExecResult = { code: ErrorCode.Success };
const MISSING: ExecResult = { code: ErrorCode.NonExistentKey };
const FULL: ExecResult = { code: ErrorCode.OutOfSpace };

/**
 * Executes commands against the local store only (a single node, or a cluster without
 * replication), and counts `members` when given (1 otherwise).
 *
 * @example
 * ```ts
 * import { MemoryStore } from "../storage/store.ts";
 * import { HybridLogicalClock } from "../storage/hlc.ts";
 * import { realClock } from "../base/clock.ts";
 * const ex = new LocalExecutor(new MemoryStore(1 << 20), new HybridLogicalClock(realClock, "n1"));
 * ex.put(new Uint8Array(32), new Uint8Array([1]));
 * console.log(ex.get(new Uint8Array(32)).value); // Uint8Array [1]
 * ```
 */
export class LocalExecutor implements Executor {
  /** The local store. */
  readonly store: MemoryStore;
  /** Issues write versions. */
  readonly hlc: HybridLogicalClock;
  /** The member view get-membership-count answers from, if any. */
  readonly members?: MemberView;

  /** Creates an executor over `store`, versioning writes with `hlc`, counting `members` if given. */
  constructor(store: MemoryStore, hlc: HybridLogicalClock, members?: MemberView) {
    this.store = store;
    this.hlc = hlc;
    this.members = members;
  }

  put(key: Uint8Array, value: Uint8Array): ExecResult {
    const r = this.store.force(toHex(key), { value, version: this.hlc.next(), tombstone: false });
    return r === "full" ? FULL : OK;
  }

  get(key: Uint8Array): ExecResult {
    const v = this.store.getValue(toHex(key));
    return v ? { code: ErrorCode.Success, value: v } : MISSING;
  }

  remove(key: Uint8Array): ExecResult {
    const k = toHex(key);
    if (this.store.getValue(k) === undefined) return MISSING;
    this.store.delete(k);
    return OK;
  }

  /** Live members of `members` (self included), or 1 without a view. */
  membershipCount(): number {
    return this.members?.alive().length ?? 1;
  }
}
