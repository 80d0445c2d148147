/**
 * Group commit on the node's side: while the durable store holds writes of the current turn, the
 * turn's client replies are held; at the end of the turn the writes are committed once and the
 * replies sent. When the commit fails, the successful writes of the turn are answered (and cached)
 * as failed instead: never acknowledged unless stored.
 *
 * @module
 */
import { type Clock, deferOn } from "../base/clock.ts";
import { encodeReply, ErrorCode } from "../wire/client_protocol.ts";
import { type Durability, durabilityFailure } from "../storage/durability.ts";
import type { Address } from "../net/transport.ts";
import type { ReplyCache } from "./reply_cache.ts";

/** A client reply waiting for its turn's commit. */
export interface HeldReply {
  /** Request id (a view of the request). */
  id: Uint8Array;
  /** The encoded reply. */
  reply: Uint8Array;
  /** Its reply code. */
  code: number;
  /** The client. */
  from: Address;
  /** Whether the request changed the store. */
  mutating: boolean;
  /** Low word of the request's digest (for the reply cache). */
  lo: number;
  /** High word of the request's digest. */
  hi: number;
}

/** What {@linkcode GroupCommit} needs of its node. */
export interface GroupCommitOptions {
  /** The durable store committed once per turn. */
  durability: Durability;
  /** Time source (its turn ends with a deferred call). */
  clock: Clock;
  /** The node's reply cache (a failed write's cached answer becomes the failure). */
  replyCache: ReplyCache;
  /** Buffers for the failure replies. */
  alloc: (length: number) => Uint8Array;
  /** Sends a client reply (within the reply budget). */
  out: (reply: Uint8Array, to: Address) => void;
}

/**
 * The replies of one node held for its turn's commit.
 *
 * @example
 * ```ts ignore
 * const commit = new GroupCommit({ durability, clock, replyCache, alloc, out });
 * if (commit.pending) commit.hold({ id, reply, code, from, mutating, lo, hi });
 * else out(reply, from);
 * ```
 */
export class GroupCommit {
  #options: GroupCommitOptions;
  #held: HeldReply[] = [];
  #errors = 0;
  #defer: (fn: () => void) => void;

  /** Holds nothing yet. */
  constructor(options: GroupCommitOptions) {
    this.#options = options;
    this.#defer = deferOn(options.clock);
  }

  /** Whether a reply must wait: the durable store has uncommitted writes. */
  get pending(): boolean {
    return this.#options.durability.dirty;
  }

  /** Holds `h` until the end of the turn. */
  hold(h: HeldReply): void {
    this.#held.push(h);
    if (this.#held.length === 1) this.#defer(this.#release);
  }

  #release = (): void => {
    const { durability, replyCache, clock, alloc, out } = this.#options;
    const held = this.#held;
    this.#held = [];
    let failure: number | undefined;
    try {
      durability.commit();
    } catch (e) {
      failure = durabilityFailure(e, this.#errors++ === 0);
    }
    for (const h of held) {
      if (failure !== undefined && h.mutating && h.code === ErrorCode.Success) {
        // Not stored: never acknowledged. The cached answer becomes the failure too.
        const reply = encodeReply(h.id, failure, undefined, alloc);
        replyCache.put(h.id, reply, clock.now(), true, h.lo, h.hi);
        out(reply, h.from);
      } else out(h.reply, h.from);
    }
  };
}
