/**
 * What the rollout (lib/admin/rollout.ts) needs from its node, and the message
 * it sends (0x58).
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import type { CatchUpStatus } from "../replication/catch_up.ts";
import type { MemberView } from "../node/members.ts";
import type { Rpc } from "../wire/rpc.ts";
import type { Address } from "../net/transport.ts";
import type { RunSpec } from "./command.ts";
import type { AdminConfig } from "./config.ts";
import type { NodeResult } from "./protocol.ts";

/** Restarts this process in place (see lib/admin/restart.ts). */
export interface Restarter {
  /** Resolves with why the restart failed; on success the process exits instead. */
  restart(options: RestartOptions): Promise<string>;
}

/** What a restart switches to (nothing: the same program again). */
export interface RestartOptions {
  /** The program (bundle or binary) the new process runs. */
  program?: string;
  /** The Deno runtime the new process runs the bundle on (an unpacked release's). */
  runtime?: string;
  /** How long the new process has to take over. */
  waitMs: number;
}

/** What the rollout needs from its node's admin service. */
export interface RolloutHost {
  /** This node. */
  self: Address;
  /** Internal endpoint. */
  rpc: Rpc;
  /** Time source. */
  clock: Clock;
  /** Tunables. */
  config: AdminConfig;
  /** Members (this node's view must hold every node of the order before it is back). */
  members: MemberView;
  /** Records and publishes a result. */
  report(result: NodeResult): void;
  /** Runs the script in the node's queue; resolves with its result (not reported). */
  runScript(base: ResultBase, run: RunSpec): Promise<NodeResult>;
  /** Waits for reported results to reach the monitor (bounded). */
  flushReports(maxWaitMs: number): Promise<void>;
  /** Restarts the process (absent: not started by `kvstore node`). */
  restarter?: Restarter;
  /** Durable state (needed: the restarted process must know it restarted). */
  stateDir?: string;
  /** Where pushed programs are. */
  adminDir?: string;
  /** The fleet's admin public key (checks a release archive's signature). */
  publicKey?: Promise<CryptoKey | undefined>;
  /** This node's catch-up (absent without replication: back once seen alive). */
  catchUp?: () => CatchUpStatus | undefined;
}

/** The fields every result of a command carries. */
export type ResultBase = Pick<NodeResult, "id" | "node" | "command">;

/** A rollout message (0x58). */
export interface RolloutEvent {
  id: string;
  event: "back" | "halted";
  position: number;
  haltedAt?: string;
  reason?: string;
}

/**
 * Whether a received header is a well-formed rollout message.
 *
 * @example
 * ```ts
 * console.log(isRolloutEvent({ id: "ab".repeat(16), event: "back", position: 0 })); // true
 * ```
 */
export function isRolloutEvent(h: unknown): h is RolloutEvent {
  const e = h as RolloutEvent | null;
  return !!e && typeof e.id === "string" && /^[0-9a-f]{32}$/.test(e.id) &&
    (e.event === "back" || e.event === "halted") &&
    Number.isInteger(e.position) && e.position >= 0 && (e.reason === undefined || typeof e.reason === "string") &&
    (e.haltedAt === undefined || typeof e.haltedAt === "string");
}
