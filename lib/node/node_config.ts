/**
 * The request path's tunables with their named defaults, and the counters a node keeps.
 *
 * @module
 */

/** Tunables of the request path, with named defaults. */
export interface NodeConfig {
  /** How long replies are kept for at-most-once answers (ms). */
  replyCacheTtlMs: number;
  /** Memory bound of the reply cache (bytes). */
  replyCacheMaxBytes: number;
  /** Requests executing at once before new ones get 0x03 overload. */
  maxInFlight: number;
}

/** Defaults: 5 s reply cache bounded at 64 MiB, 1,024 requests in flight. */
export const DEFAULT_NODE_CONFIG: NodeConfig = {
  replyCacheTtlMs: 5_000,
  replyCacheMaxBytes: 64 * 1024 * 1024,
  maxInFlight: 1_024,
};

/** Counters a node keeps (monitoring reads them). */
export interface NodeCounters {
  /** Requests by command name. */
  requests: Record<string, number>;
  /** Replies by error code (hex string). */
  replies: Record<string, number>;
  /** Datagrams too short to answer (< 17 bytes). */
  dropped: number;
  /** Retries answered from the reply cache. */
  replayed: number;
  /** Requests refused with 0x03. */
  overloaded: number;
  /** Requests that reused the id of a different cached or running request (a client numbering badly). */
  idReuse: number;
  /** Shutdown and wipeout requests refused (0x04): from outside the listed networks without a valid, fresh, unused proof. */
  refusedDestructive: number;
  /** Client requests left unanswered while the node hands its port to its new process (clients retry there). */
  handedOver: number;
  /** Internal frames that reached the client port of a node with an internal port (dropped unread). */
  internalOnClientPort: number;
}

/** Counter names of the client commands, by command code. */
export const COMMAND_NAMES: Record<number, string> = {
  1: "put",
  2: "get",
  3: "remove",
  4: "shutdown",
  5: "wipeout",
  6: "is_alive",
  7: "get_pid",
  8: "get_membership_count",
};

/** Reply-counter names by code ("00"…"ff"), so counting a reply allocates no string. */
export const CODE_HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
