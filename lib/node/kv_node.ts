/**
 * A KVStore node: answers the client protocol on a transport, with an
 * at-most-once reply cache and overload protection, and routes internal
 * messages (0x20–0xFF) to its {@linkcode Rpc} endpoint.
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import type { ExecResult, Executor } from "./executor.ts";
import { Rpc, type RpcOptions } from "../wire/rpc.ts";
import { idKey } from "../wire/client_protocol.ts";
import {
  Command,
  COMMAND_OFFSET,
  decodeRequest,
  encodeReply,
  encodeU32Payload,
  encodeValueReply,
  ErrorCode,
  FIRST_INTERNAL_COMMAND,
  HEADER_LENGTH,
  ID_LENGTH,
  isMutating,
  type Request,
} from "../wire/client_protocol.ts";
import { ReplyCache } from "./reply_cache.ts";
import type { ReplyBudget } from "./reply_budget.ts";
import type { Durability } from "../storage/durability.ts";
import { GroupCommit } from "./group_commit.ts";
import { SlabAllocator } from "../base/slab.ts";
import type { MemoryStore } from "../storage/store.ts";
import type { Address, Transport } from "../net/transport.ts";
import { CODE_HEX, COMMAND_NAMES, DEFAULT_NODE_CONFIG, type NodeConfig, type NodeCounters } from "./node_config.ts";

export { DEFAULT_NODE_CONFIG, type NodeConfig, type NodeCounters };

/** Everything a node needs, injected. */
export interface NodeOptions {
  /** Where datagrams come and go. */
  transport: Transport;
  /** Time source. */
  clock: Clock;
  /** Local store (wipeout clears it). */
  store: MemoryStore;
  /** Executes put/get/remove. */
  executor: Executor;
  /** Called after the shutdown reply was sent: stop at once, as if crashed. */
  onShutdown?: () => void;
  /** Process id reported by get-pid. */
  pid?: number;
  /** Tunables (defaults in {@linkcode DEFAULT_NODE_CONFIG}). */
  config?: Partial<NodeConfig>;
  /**
   * The internal endpoint: one made beforehand with {@linkcode nodeEndpoint} (so that the executor
   * using it exists before the node), or how to make one (authentication, batching).
   */
  rpc?: Rpc | RpcOptions;
  /**
   * Whether the shutdown or wipeout `packet` from `from` may run (its source, or a proof it carries:
   * `destructive_guard.ts`; default: anyone); refused ones get 0x04.
   */
  allowDestructive?: (from: Address, packet: Uint8Array) => boolean;
  /** Limits client replies per source prefix (`reply_budget.ts`); none: every reply is sent. */
  replyBudget?: ReplyBudget;
  /** Durable storage committed once per turn, before that turn's replies leave (group commit). */
  durability?: Durability;
  /**
   * The internal socket (`net/internal_address.ts`): node-to-node frames arrive there, and internal
   * frames reaching the client transport are dropped (counted in `internalOnClientPort`). Without
   * it, one transport carries both.
   */
  internalTransport?: Transport;
}

/**
 * The internal endpoint of a node on `transport`: with durable storage, what a turn queues leaves
 * only after that turn's writes are committed, so a replica's acks never precede their writes.
 *
 * @example
 * ```ts ignore
 * const rpc = nodeEndpoint(transport, realClock, { auth }, persistence);
 * const node = new KVNode({ transport, clock: realClock, store, executor, rpc, durability: persistence });
 * ```
 */
export function nodeEndpoint(
  transport: Transport,
  clock: Clock,
  options: RpcOptions = {},
  durability?: Durability,
): Rpc {
  return new Rpc(transport, clock, { ...options, beforeSend: durability ? () => durability.commit() : undefined });
}

/**
 * Serves the client protocol.
 *
 * @example
 * ```ts ignore
 * const node = new KVNode({ transport, clock: realClock, store, executor });
 * // node now answers datagrams arriving on transport
 * node.close();
 * ```
 */
export class KVNode {
  /** Where datagrams come and go. */
  readonly transport: Transport;
  /** Time source. */
  readonly clock: Clock;
  /** Local store (wipeout clears it). */
  readonly store: MemoryStore;
  /** Internal request/reply endpoint (commands 0x20–0xFF). */
  readonly rpc: Rpc;
  /** Tunables in force. */
  readonly config: NodeConfig;
  /** At-most-once reply cache. */
  readonly replyCache: ReplyCache;
  /** Request and reply counters. */
  readonly counters: NodeCounters = {
    requests: {},
    replies: {},
    dropped: 0,
    replayed: 0,
    overloaded: 0,
    idReuse: 0,
    refusedDestructive: 0,
    handedOver: 0,
    internalOnClientPort: 0,
  };
  /** Clock time at start. */
  readonly startedAt: number;
  /** Executes put/get/remove (local or replicated). */
  readonly executor: Executor;
  /** The reply budget in force, if any. */
  readonly replyBudget: ReplyBudget | undefined;
  /** The internal socket, when apart from the client one. */
  readonly internalTransport: Transport | undefined;
  // Requests executing asynchronously: id (as idKey) → the low word of their digest.
  #inFlight = new Map<string, number>();
  // Digest of the request being answered (set per datagram, and again when an async one finishes).
  #digestLo = 0;
  #digestHi = 0;
  #onShutdown: () => void;
  #pid: number;
  #allowDestructive: (from: Address, packet: Uint8Array) => boolean;
  /** Replies held for their turn's commit (with durable storage). */
  #groupCommit: GroupCommit | undefined;
  #closed = false;
  #refusingClients = false;
  #closers: (() => void)[] = [];
  // Replies are small and many: carve them out of slabs rather than allocating a buffer each.
  #slab = new SlabAllocator();
  #alloc = (length: number) => this.#slab.alloc(length);

  /** Creates a node and starts answering datagrams on the transport. */
  constructor(options: NodeOptions) {
    this.transport = options.transport;
    this.clock = options.clock;
    this.store = options.store;
    this.executor = options.executor;
    this.config = { ...DEFAULT_NODE_CONFIG, ...options.config };
    this.replyCache = new ReplyCache({ ttlMs: this.config.replyCacheTtlMs, maxBytes: this.config.replyCacheMaxBytes });
    this.rpc = options.rpc instanceof Rpc
      ? options.rpc
      : nodeEndpoint(this.transport, this.clock, options.rpc, options.durability);
    this.#onShutdown = options.onShutdown ?? (() => this.close());
    this.#pid = options.pid ?? 0;
    this.#allowDestructive = options.allowDestructive ?? (() => true);
    this.replyBudget = options.replyBudget;
    this.#groupCommit = options.durability && new GroupCommit({
      durability: options.durability,
      clock: this.clock,
      replyCache: this.replyCache,
      alloc: this.#alloc,
      out: (reply, to) => this.#out(reply, to),
    });
    this.startedAt = this.clock.now();
    this.internalTransport = options.internalTransport;
    this.transport.onReceive((data, from) => this.receive(data, from));
    this.internalTransport?.onReceive((data, from) => {
      if (!this.#closed) this.rpc.receive(data, from);
    });
  }

  /** This node's address (its id in the cluster). */
  get address(): Address {
    return this.transport.address;
  }

  /** Requests executing now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Registers cleanup to run on {@linkcode KVNode.close} (timers of attached subsystems). */
  onClose(fn: () => void): void {
    this.#closers.push(fn);
  }

  /** Handles one datagram. Never throws; malformed input never changes the store. */
  receive(packet: Uint8Array, from: Address): void {
    if (this.#closed) return;
    if (packet.length < HEADER_LENGTH) {
      this.counters.dropped++;
      return;
    }
    if (packet[COMMAND_OFFSET] >= FIRST_INTERNAL_COMMAND) {
      if (this.internalTransport) this.counters.internalOnClientPort++;
      else this.rpc.receive(packet, from);
      return;
    }
    if (this.#refusingClients) {
      this.counters.handedOver++;
      return;
    }
    if (this.replyBudget && !this.replyBudget.allowsRequest(from)) return;
    const now = this.clock.now();
    // A retry is the same request again; another request under a cached id is executed anew.
    const decoded = decodeRequest(packet);
    const lo = this.#digestLo = decoded.digest.lo, hi = this.#digestHi = decoded.digest.hi;
    const cache = this.replyCache, reusesBefore = cache.idReuses;
    const cached = cache.get(packet.subarray(0, ID_LENGTH), now, lo, hi);
    if (cached) {
      this.counters.replayed++;
      if (!this.replyBudget || this.replyBudget.allowsResend(from, packet.subarray(0, ID_LENGTH))) {
        this.#out(cached, from);
      }
      return;
    }
    if (cache.idReuses !== reusesBefore) this.counters.idReuse++;
    // A retry of a request still executing: its reply is coming. Another request under that id
    // gets 0x03: the client retries it once the first one's reply is cached, and it is then
    // executed as the new request it is. (Only asynchronous executions are in flight, so the id
    // string is made only when some are.)
    if (this.#inFlight.size > 0) {
      const running = this.#inFlight.get(idKey(packet.subarray(0, ID_LENGTH)));
      if (running === lo) return;
      if (running !== undefined) {
        this.counters.idReuse++;
        this.counters.overloaded++;
        this.#out(encodeReply(packet.subarray(0, ID_LENGTH), ErrorCode.Overload), from);
        return;
      }
    }
    if (!decoded.ok) {
      if (decoded.id) this.#reply(decoded.id, decoded.code, undefined, from, false);
      return;
    }
    const req = decoded.request;
    const name = COMMAND_NAMES[req.command];
    this.counters.requests[name] = (this.counters.requests[name] ?? 0) + 1;
    const mutating = isMutating(req.command);
    if (this.#inFlight.size >= this.config.maxInFlight || (mutating && !this.replyCache.hasRoom(64, now))) {
      this.counters.overloaded++;
      this.#out(encodeReply(req.id, ErrorCode.Overload), from);
      return;
    }
    this.#execute(req, from, mutating, packet);
  }

  #execute(req: Request, from: Address, mutating: boolean, packet: Uint8Array): void {
    const id = req.id; // a view of the datagram, which is ours to keep (DatagramHandler)
    switch (req.command) {
      case Command.IsAlive:
        return this.#reply(id, ErrorCode.Success, undefined, from, false);
      case Command.GetPid:
        return this.#reply(id, ErrorCode.Success, encodeU32Payload(this.#pid), from, false);
      case Command.GetMembershipCount:
        return this.#reply(id, ErrorCode.Success, encodeU32Payload(this.executor.membershipCount()), from, false);
      case Command.Wipeout:
        if (this.#refusedDestructive(id, from, packet)) return;
        this.store.clear();
        return this.#reply(id, ErrorCode.Success, undefined, from, true);
      case Command.Shutdown: {
        if (this.#refusedDestructive(id, from, packet)) return;
        this.#reply(id, ErrorCode.Success, undefined, from, true);
        const flushed = this.transport.flush?.() ?? Promise.resolve();
        flushed.finally(() => this.#onShutdown());
        return;
      }
    }
    let result: ExecResult | Promise<ExecResult>;
    try {
      result = req.command === Command.Put
        ? this.executor.put(req.key, req.value)
        : req.command === Command.Get
        ? this.executor.get(req.key)
        : this.executor.remove(req.key);
    } catch {
      result = { code: ErrorCode.InternalFailure };
    }
    if (result instanceof Promise) {
      const key = idKey(id);
      const lo = this.#digestLo, hi = this.#digestHi;
      this.#inFlight.set(key, lo);
      result.then(
        (r) => this.#finishLater(key, id, r, from, mutating, lo, hi),
        () => this.#finishLater(key, id, { code: ErrorCode.InternalFailure }, from, mutating, lo, hi),
      );
    } else this.#finish(id, result, from, mutating);
  }

  /** Answers 0x04 (and counts it) when `from` may not send shutdown or wipeout; the answer is cached as any other. */
  #refusedDestructive(id: Uint8Array, from: Address, packet: Uint8Array): boolean {
    if (this.#allowDestructive(from, packet)) return false;
    this.counters.refusedDestructive++;
    this.#reply(id, ErrorCode.InternalFailure, undefined, from, true);
    return true;
  }

  #finishLater(
    key: string,
    id: Uint8Array,
    r: ExecResult,
    from: Address,
    mutating: boolean,
    digestLo: number,
    digestHi: number,
  ): void {
    this.#inFlight.delete(key);
    this.#digestLo = digestLo;
    this.#digestHi = digestHi;
    this.#finish(id, r, from, mutating);
  }

  #finish(id: Uint8Array, r: ExecResult, from: Address, mutating: boolean): void {
    if (this.#closed) return;
    if (r.code === ErrorCode.Success && r.value) {
      this.#send(id, encodeValueReply(id, r.value, this.#alloc), r.code, from, mutating);
    } else this.#reply(id, r.code, undefined, from, mutating);
  }

  #reply(
    id: Uint8Array,
    code: number,
    payload: Uint8Array | undefined,
    from: Address,
    mutating: boolean,
  ): void {
    this.#send(id, encodeReply(id, code, payload, this.#alloc), code, from, mutating);
  }

  #send(id: Uint8Array, reply: Uint8Array, code: number, from: Address, mutating: boolean): void {
    const hex = CODE_HEX[code];
    this.counters.replies[hex] = (this.counters.replies[hex] ?? 0) + 1;
    // Mutating replies are always cached (room was checked before executing, so the
    // overshoot is bounded by maxInFlight small replies); others when room allows. The
    // cache keeps a copy: `reply` is the transport's until sent.
    this.replyCache.put(id, reply, this.clock.now(), mutating, this.#digestLo, this.#digestHi);
    if (this.#groupCommit?.pending) {
      this.#groupCommit.hold({ id, reply, code, from, mutating, lo: this.#digestLo, hi: this.#digestHi });
    } else this.#out(reply, from);
  }

  /** Sends a client reply within the sender's reply budget (over budget: dropped, counted there). */
  #out(reply: Uint8Array, to: Address): void {
    if (!this.replyBudget || this.replyBudget.charge(to, reply.length)) this.transport.send(reply, to);
  }

  /**
   * Leaves client requests unanswered from now on (internal messages still flow): the node is
   * handing its port to a new process, where the clients' retries of these requests will land.
   */
  refuseClientRequests(): void {
    this.#refusingClients = true;
  }

  /** Stops answering and runs registered cleanups. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#closers.splice(0)) {
      try {
        fn();
      } catch { /* keep closing */ }
    }
    this.rpc.close();
    this.transport.close();
    this.internalTransport?.close();
  }

  /** Whether {@linkcode KVNode.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }
}
