/**
 * What a coordinated request (`replicated_write.ts`, `replicated_read.ts`) needs from the
 * `ReplicatedExecutor` that runs it, and the answers they share.
 *
 * @module
 */
import type { ExecResult } from "../node/executor.ts";
import type { Address } from "../net/transport.ts";
import type { Entry } from "../storage/store.ts";
import { ErrorCode } from "../wire/client_protocol.ts";
import type { HintedHandoff } from "./hinted_handoff.ts";
import type { ReplicaDeps } from "./local_replica.ts";

/** Success. */
export const OK: ExecResult = { code: ErrorCode.Success };
/** The key does not exist (a read found none, a remove removed none). */
export const MISSING: ExecResult = { code: ErrorCode.NonExistentKey };
/** A replica was full and too few others acknowledged. */
export const FULL: ExecResult = { code: ErrorCode.OutOfSpace };
/** Too few replicas answered. */
export const FAIL: ExecResult = { code: ErrorCode.InternalFailure };

/**
 * The coordinator of requests: the replication parts, and the two things only the executor knows.
 *
 * @example
 * ```ts ignore
 * const request = new WriteRequest(coordinator, key, entry, false, true, position, owners);
 * return request.run();
 * ```
 */
export interface Coordinator {
  /** The replication parts (rpc, store, replica, placement, config, stats…). */
  readonly deps: ReplicaDeps;
  /** Options of every replica call (`replicaCallOptions` of the config, made once). */
  readonly callOptions: { timeoutMs: number; retries: number };
  /** Hinted handoff: a stand-in keeps the write as a hint for the owner it replaces. */
  readonly handoff: HintedHandoff;
  /** Whether replication is closed (no replica is asked any more). */
  closed(): boolean;
  /** Nodes that may stand in for failed owners of `position`, nearest first. */
  standInsAt(position: number, owners: readonly Address[]): Address[];
  /** Starts a write (the reissue of a write whose version an owner had already passed). */
  write(key: Uint8Array, entry: Entry, remove: boolean, mayReissue: boolean): ExecResult | Promise<ExecResult>;
}
