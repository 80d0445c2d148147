/**
 * The types of the internal RPC endpoint (`rpc.ts`): handlers, callbacks, options, counters and
 * the timeout error.
 *
 * @module
 */
import type { Address } from "../net/transport.ts";
import type { InternalMessage } from "./envelope.ts";
import type { FrameAuth, Payload, RejectReason } from "./frame.ts";

/** What a JSON handler answers: a header and optional body, or nothing (no reply). */
export type RpcAnswer = { header: unknown; body?: Uint8Array } | undefined;

/** Handles one JSON-family internal command. */
export type RpcHandler = (message: InternalMessage, from: Address) => RpcAnswer | Promise<RpcAnswer>;

/** Handles one binary internal command: the reply's payload, or nothing. */
export type RawHandler = (
  payload: Uint8Array,
  from: Address,
) => Payload | undefined | Promise<Payload | undefined>;

/** Receives a request's reply payload, or `undefined` after the last retry timed out. */
export type ReplyCallback = (reply: Uint8Array | undefined) => void;

/** Raised when a call gets no reply after all retries. */
export class RpcTimeoutError extends Error {
  /** Creates the error for a call to `to`. */
  constructor(to: Address, command: number) {
    super(`No reply from ${to} to internal command 0x${command.toString(16)}`);
    this.name = "RpcTimeoutError";
  }
}

/** Options of one call. */
export interface CallOptions {
  /** Timeout of the first attempt in ms (doubles each retry). Default 200. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 2. */
  retries?: number;
}

/** How an endpoint sends. */
export interface RpcOptions {
  /** Signs outgoing frames and checks incoming ones; without it frames are untagged (insecure). */
  auth?: FrameAuth;
  /**
   * Runs the flush of queued messages (default: the transport's `afterBurst`, so what handling a
   * burst of datagrams queues leaves together, else {@linkcode deferOn} the clock: the end of the turn).
   */
  defer?: (flush: () => void) => void;
  /** Bytes a batched frame may reach before it leaves (default {@linkcode DEFAULT_BATCH_BYTES}). */
  batchBytes?: number;
  /** Calls waiting for a reply at most; a call beyond it fails at once (default {@linkcode MAX_PENDING_CALLS}). */
  maxPendingCalls?: number;
  /**
   * Runs before queued messages leave (durable nodes commit there, so no ack precedes its write).
   * If it throws, what is queued is dropped, unsent: requests are retried by their timers, acks not given.
   */
  beforeSend?: () => void;
  /**
   * Maps peers' identities (client addresses) to where their internal frames go and frames'
   * sources back (`net/internal_address.ts`); default: none, addresses are used as they are.
   */
  addresses?: AddressMap;
  /** Window (ms) of a tagged frame's time around this clock (default `DEFAULT_FRESHNESS_WINDOW_MS`, 30 s). */
  freshnessWindowMs?: number;
}

/** Identity ⇄ internal address of peers (`net/internal_address.ts` `InternalAddressBook`). */
export interface AddressMap {
  /** Where the internal frames for `identity` go. */
  toInternal(identity: Address): Address;
  /** The identity of the sender of a frame from `source`. */
  toIdentity(source: Address): Address;
}

/** Frames batch up to one Ethernet MTU of payload, so batching never makes a datagram fragment. */
export const DEFAULT_BATCH_BYTES = 1_400;
/** Calls waiting for replies at once, at most. */
export const MAX_PENDING_CALLS = 65_536;

/** Counters of the wire (monitoring shows them). */
export interface RpcStats {
  /** Messages whose JSON header could not be read. */
  malformed: number;
  /** Messages with a command nobody handles. */
  unknown: number;
  /** Handlers that threw. */
  handlerErrors: number;
  /** Calls that got no reply after every retry. */
  timeouts: number;
  /** Datagrams dropped, by reason (never answered). */
  rejected: Record<RejectReason, number>;
  /** Frames sent. */
  framesSent: number;
  /** Messages sent (framesSent / messagesSent is the batching). */
  messagesSent: number;
  /** Turns whose queued messages were dropped because the commit before them failed. */
  unsentAfterFailedCommit: number;
  /** Offset (ms, sender minus this clock) of the last frame dropped as stale; 0 before any. */
  lastClockSkewMs: number;
}
