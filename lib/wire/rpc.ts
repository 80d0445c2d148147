/**
 * Request/reply between nodes over the frames of `wire/frame.ts`: handlers by
 * command, calls with timeout and retries (same call id), replies routed by
 * call id, and batching: the messages queued for one peer in the same turn of
 * the event loop leave as one datagram, so under load many replica writes and
 * acks share a datagram (and its tag), while a lone message leaves at the end
 * of its turn, without waiting for anything.
 *
 * Payloads are bytes; {@linkcode Rpc.handle}/{@linkcode Rpc.call}/{@linkcode Rpc.cast}
 * carry a JSON header and a binary body (the rare, human-facing families:
 * membership, admin, debug, monitoring), {@linkcode Rpc.handleRaw}/{@linkcode Rpc.request}
 * carry binary payloads (replication).
 *
 * @module
 */
import { type Clock, deferOn } from "../base/clock.ts";
import { DeadlineQueue } from "../base/deadline_queue.ts";
import { decodeJsonPayload, encodeJsonPayload, InternalCommand, type InternalMessage } from "./envelope.ts";
import type { Address, Transport } from "../net/transport.ts";
import { SlabAllocator } from "../base/slab.ts";
import { DEFAULT_FRESHNESS_WINDOW_MS, FreshnessGuard } from "./freshness.ts";
import {
  type FrameAuth,
  type FrameGuard,
  frameSize,
  MAX_PAYLOAD_BYTES,
  MESSAGE_HEADER_BYTES,
  nextStamp,
  type Payload,
  payloadSize,
  randomSession,
  readFrame,
  REJECT_REASONS,
  type RejectReason,
  sealFrame,
  writeFrameHeader,
  writeMessage,
} from "./frame.ts";
import {
  type AddressMap,
  type CallOptions,
  DEFAULT_BATCH_BYTES,
  MAX_PENDING_CALLS,
  type RawHandler,
  type ReplyCallback,
  type RpcAnswer,
  type RpcHandler,
  type RpcOptions,
  type RpcStats,
  RpcTimeoutError,
} from "./rpc_types.ts";

export {
  type AddressMap,
  type CallOptions,
  DEFAULT_BATCH_BYTES,
  MAX_PENDING_CALLS,
  type RawHandler,
  type ReplyCallback,
  type RpcAnswer,
  type RpcHandler,
  type RpcOptions,
  type RpcStats,
  RpcTimeoutError,
};
const MAX_MESSAGE_BYTES = MESSAGE_HEADER_BYTES + MAX_PAYLOAD_BYTES;
/** At most one line per this many ms says that frames arrive from outside the freshness window. */
export const STALE_LOG_INTERVAL_MS = 10_000;
const SAME_ADDRESS: AddressMap = { toInternal: (a) => a, toIdentity: (a) => a };

interface Pending {
  to: Address;
  command: number;
  payload: Payload;
  callback: ReplyCallback;
  /** When the current attempt times out (the deadline queue's entry for it). */
  deadline: number;
  /** Timeout of the current attempt (ms); doubles each retry. */
  timeoutMs: number;
  retriesLeft: number;
}

interface Outgoing {
  /** Nonce of the frames to this destination: a random session and a sequence in it. */
  session: number;
  sequence: number;
  commands: number[];
  callIds: number[];
  payloads: Payload[];
  bytes: number;
}

/**
 * Internal RPC endpoint over a transport.
 *
 * @example
 * ```ts ignore
 * rpc.handle(0x30, (m) => ({ header: { ok: true } }));
 * const reply = await rpc.call("127.0.0.1:4001", 0x30, { key: "00" });
 * ```
 */
export class Rpc {
  #transport: Pick<Transport, "send" | "afterBurst">;
  #clock: Clock;
  #auth: FrameAuth | undefined;
  #defer: (flush: () => void) => void;
  #batchBytes: number;
  #maxPending: number;
  #beforeSend: (() => void) | undefined;
  #addresses: AddressMap;
  #freshness: FreshnessGuard;
  #guard: FrameGuard;
  #lastStaleLog = -Infinity;
  #handlers = new Map<number, RawHandler>();
  #pending = new Map<number, Pending>();
  #deadlines: DeadlineQueue;
  #nextCallId = (Math.random() * 0x1_0000_0000) >>> 0;
  #queues = new Map<Address, Outgoing>();
  #slab = new SlabAllocator();
  #flushScheduled = false;
  #closed = false;
  /** Counters. */
  readonly stats: RpcStats = {
    malformed: 0,
    unknown: 0,
    handlerErrors: 0,
    timeouts: 0,
    rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
    framesSent: 0,
    messagesSent: 0,
    unsentAfterFailedCommit: 0,
    lastClockSkewMs: 0,
  };

  /** Creates an endpoint sending through `transport`. */
  constructor(transport: Pick<Transport, "send" | "afterBurst">, clock: Clock, options: RpcOptions = {}) {
    this.#transport = transport;
    this.#clock = clock;
    this.#auth = options.auth;
    this.#defer = options.defer ??
      (transport.afterBurst ? (flush) => transport.afterBurst!(flush) : deferOn(clock));
    this.#batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.#maxPending = options.maxPendingCalls ?? MAX_PENDING_CALLS;
    this.#beforeSend = options.beforeSend;
    this.#addresses = options.addresses ?? SAME_ADDRESS;
    this.#freshness = new FreshnessGuard(options.freshnessWindowMs ?? DEFAULT_FRESHNESS_WINDOW_MS);
    this.#guard = (time, session, sequence) => {
      const v = this.#freshness.check(time, session, sequence, this.#clock.now());
      return v === "fresh" ? undefined : v;
    };
    this.#deadlines = new DeadlineQueue(clock, this.#expired);
  }

  /** Whether frames are authenticated (the node has a cluster key). */
  get authenticated(): boolean {
    return this.#auth !== undefined;
  }

  /** Replaces the keyring (key rotation); `undefined` turns authentication off. */
  setAuth(auth: FrameAuth | undefined): void {
    this.#flush();
    this.#auth = auth;
  }

  /** Registers the handler of a binary `command` (replacing any). */
  handleRaw(command: number, handler: RawHandler): void {
    this.#handlers.set(command, handler);
  }

  /** Registers the handler of a JSON-family `command` (replacing any). */
  handle(command: number, handler: RpcHandler): void {
    this.handleRaw(command, (payload, from) => {
      const m = decodeJsonPayload(command, payload);
      if (!m) {
        this.stats.malformed++;
        return undefined;
      }
      const a = handler(m, from);
      return a instanceof Promise ? a.then(jsonAnswer) : jsonAnswer(a);
    });
  }

  /** Sends a binary message that expects no reply. */
  castRaw(to: Address, command: number, payload: Payload): void {
    if (!this.#closed) this.#enqueue(to, command, 0, payload);
  }

  /** Sends a JSON-family message that expects no reply. */
  cast(to: Address, command: number, header: unknown, body?: Uint8Array): void {
    this.castRaw(to, command, encodeJsonPayload(header, body));
  }

  /**
   * Sends a binary request; `callback` gets the reply payload, or `undefined` once every
   * attempt timed out (or the endpoint closed). The payload may be written more than once
   * (retries), so a writer must stay valid until the callback.
   */
  request(to: Address, command: number, payload: Payload, options: CallOptions, callback: ReplyCallback): void {
    if (this.#closed || this.#pending.size >= this.#maxPending) {
      callback(undefined);
      return;
    }
    let callId = this.#nextCallId;
    while (callId === 0 || this.#pending.has(callId)) callId = (callId + 1) >>> 0;
    this.#nextCallId = (callId + 1) >>> 0;
    const timeoutMs = options.timeoutMs ?? 200;
    const deadline = this.#clock.now() + timeoutMs;
    this.#pending.set(callId, {
      to,
      command,
      payload,
      callback,
      deadline,
      timeoutMs,
      retriesLeft: options.retries ?? 2,
    });
    this.#enqueue(to, command, callId, payload);
    this.#deadlines.add(callId, deadline);
  }

  // A deadline passed: retry the call it belongs to (same call id), or fail it after the last.
  #expired = (callId: number, deadline: number): void => {
    const p = this.#pending.get(callId);
    if (p === undefined || p.deadline !== deadline) return; // answered, or an earlier attempt's
    if (p.retriesLeft > 0 && !this.#closed) {
      p.retriesLeft--;
      p.timeoutMs *= 2;
      p.deadline = this.#clock.now() + p.timeoutMs;
      this.#enqueue(p.to, p.command, callId, p.payload);
      this.#deadlines.add(callId, p.deadline);
      return;
    }
    this.#pending.delete(callId);
    this.stats.timeouts++;
    p.callback(undefined);
  };

  /** {@linkcode Rpc.request} as a promise; rejects with {@linkcode RpcTimeoutError}. */
  callRaw(to: Address, command: number, payload: Payload, options: CallOptions = {}): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.request(to, command, payload, options, (reply) => {
        if (reply) resolve(reply);
        else reject(new RpcTimeoutError(to, command));
      });
    });
  }

  /** Sends a JSON-family request and resolves with the reply; rejects with {@linkcode RpcTimeoutError}. */
  async call(
    to: Address,
    command: number,
    header: unknown,
    body?: Uint8Array,
    options: CallOptions = {},
  ): Promise<InternalMessage> {
    const reply = await this.callRaw(to, command, encodeJsonPayload(header, body), options);
    const m = decodeJsonPayload(InternalCommand.RpcReply, reply);
    if (!m) {
      this.stats.malformed++;
      throw new RpcTimeoutError(to, command);
    }
    return m;
  }

  /** Where internal frames for `identity` go (its internal address). */
  internalAddressOf(identity: Address): Address {
    return this.#addresses.toInternal(identity);
  }

  /** Sessions whose nonces are remembered now (bounded: `wire/freshness.ts`). */
  get freshnessSessions(): number {
    return this.#freshness.sessions;
  }

  /**
   * Processes one received internal datagram (command byte ≥ 0x20) from the socket address `source`.
   * Never throws. A tagged frame outside the freshness window or seen before is dropped unanswered.
   */
  receive(packet: Uint8Array, source: Address): void {
    const from = this.#addresses.toIdentity(source);
    const reason = readFrame(
      packet,
      this.#auth,
      (command, callId, payload) => this.#dispatch(command, callId, payload, from),
      this.#guard,
    );
    if (reason === undefined) return;
    this.stats.rejected[reason]++;
    if (reason === "stale") this.#staleFrom(source);
  }

  // Frames from outside the window: say so loudly (rate-limited), since it means a clock is off.
  #staleFrom(source: Address): void {
    const skew = this.stats.lastClockSkewMs = this.#freshness.stats.lastSkewMs;
    const now = this.#clock.now();
    if (now - this.#lastStaleLog < STALE_LOG_INTERVAL_MS) return;
    this.#lastStaleLog = now;
    console.error(
      `kvstore: internal frames from ${source} are dropped: their time is ${(Math.abs(skew) / 1000).toFixed(1)} s ` +
        `${skew > 0 ? "ahead of" : "behind"} this node's clock, outside the ±${
          this.#freshness.windowMs / 1000
        } s window (${this.stats.rejected.stale} dropped so far); check that both hosts' clocks are ` +
        `synchronised (NTP)`,
    );
  }

  #dispatch(command: number, callId: number, payload: Uint8Array, from: Address): void {
    if (command === InternalCommand.RpcReply) {
      const p = this.#pending.get(callId);
      if (p === undefined) return;
      this.#pending.delete(callId);
      p.callback(payload);
      return;
    }
    const handler = this.#handlers.get(command);
    if (!handler) {
      this.stats.unknown++;
      return;
    }
    try {
      const r = handler(payload, from);
      if (r instanceof Promise) {
        r.then((a) => this.#answer(from, callId, a), () => this.stats.handlerErrors++);
      } else this.#answer(from, callId, r);
    } catch {
      this.stats.handlerErrors++;
    }
  }

  #answer(to: Address, callId: number, payload: Payload | undefined): void {
    if (payload !== undefined && callId !== 0 && !this.#closed) {
      this.#enqueue(to, InternalCommand.RpcReply, callId, payload);
    }
  }

  #enqueue(to: Address, command: number, callId: number, payload: Payload): void {
    const size = MESSAGE_HEADER_BYTES + payloadSize(payload);
    if (size > MAX_MESSAGE_BYTES) throw new RangeError(`Internal message of ${size} bytes does not fit a datagram`);
    let q = this.#queues.get(to);
    if (q === undefined) {
      q = { session: randomSession(), sequence: 0, commands: [], callIds: [], payloads: [], bytes: 0 };
      this.#queues.set(to, q);
    } else if (q.commands.length > 0 && q.bytes + size > this.#batchBytes && this.#readyToSend()) {
      this.#send(to, q);
    }
    q.commands.push(command);
    q.callIds.push(callId);
    q.payloads.push(payload);
    q.bytes += size;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#defer(this.#flush);
    }
  }

  #flush = (): void => {
    this.#flushScheduled = false;
    if (!this.#readyToSend()) return;
    for (const [to, q] of this.#queues) if (q.commands.length > 0) this.#send(to, q);
    if (this.#queues.size > 1024) this.#queues.clear();
  };

  // Runs beforeSend; if it fails, drops everything queued (not acknowledged, not sent).
  #readyToSend(): boolean {
    if (!this.#beforeSend) return true;
    try {
      this.#beforeSend();
      return true;
    } catch {
      this.stats.unsentAfterFailedCommit++;
      for (const q of this.#queues.values()) {
        q.commands.length = 0;
        q.callIds.length = 0;
        q.payloads.length = 0;
        q.bytes = 0;
      }
      return false;
    }
  }

  #send(to: Address, q: Outgoing): void {
    const auth = this.#auth;
    const n = q.commands.length;
    // Frames are carved out of slabs (no allocation per datagram); the transport sends each
    // exactly once and the slab is not written again, so the bytes stay put until they leave.
    const frame = this.#slab.alloc(frameSize(0, q.bytes, auth !== undefined));
    let o = writeFrameHeader(frame, auth, nextStamp(q, this.#clock.now()));
    for (let i = 0; i < n; i++) o = writeMessage(frame, o, q.commands[i], q.callIds[i], q.payloads[i]);
    sealFrame(frame, auth);
    q.commands.length = 0;
    q.callIds.length = 0;
    q.payloads.length = 0;
    q.bytes = 0;
    this.stats.framesSent++;
    this.stats.messagesSent += n;
    this.#transport.send(frame, this.#addresses.toInternal(to));
  }

  /** Sends what is queued, then stops sending; pending calls fail at once. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#deadlines.close();
    for (const [id, p] of [...this.#pending]) {
      this.#pending.delete(id);
      p.callback(undefined);
    }
  }
}

function jsonAnswer(a: RpcAnswer): Payload | undefined {
  return a === undefined ? undefined : encodeJsonPayload(a.header, a.body);
}
