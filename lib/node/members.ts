/**
 * What a node knows of the other members: the seam between membership
 * (gossip) and the parts that use it (replication, monitoring rounds, admin).
 *
 * @module
 */
import type { Address } from "../net/transport.ts";

/** Member counts by state, as this node sees them. */
export interface MemberCounts {
  /** Members believed alive (self included). */
  alive: number;
  /** Members suspected of having failed. */
  suspect: number;
  /** Members declared dead. */
  dead: number;
}

/** A member this node knows as gone: declared dead (a crash, or the protocol's shutdown) or left on purpose. */
export interface Departure {
  /** Its address. */
  address: Address;
  /** dead (crashed, or stopped without a word) or left (announced its leave: SIGTERM, SIGINT, a drain). */
  state: "dead" | "left";
  /** How long ago it went, ms. */
  forMs: number;
}

/** A node's view of the membership. */
export interface MemberView {
  /** This node's own address. */
  readonly self: Address;
  /** Addresses of members believed alive, self included, sorted. */
  alive(): Address[];
  /** Counts by state. */
  counts(): MemberCounts;
  /** Calls `listener` after every change of the alive set; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Members known as dead or left (other than self), when the view tells them apart (gossip does). */
  departed?(): Departure[];
}

/**
 * A fixed membership: self plus a static list (single node, or fleet file without gossip).
 *
 * @example
 * ```ts
 * const m = new StaticMembers("127.0.0.1:4000", ["127.0.0.1:4001"]);
 * console.log(m.alive()); // ["127.0.0.1:4000", "127.0.0.1:4001"]
 * ```
 */
export class StaticMembers implements MemberView {
  readonly self: Address;
  #all: Address[];

  /** Creates a view of `self` and `others`. */
  constructor(self: Address, others: readonly Address[] = []) {
    this.self = self;
    this.#all = [...new Set([self, ...others])].sort();
  }

  alive(): Address[] {
    return this.#all.slice();
  }

  counts(): MemberCounts {
    return { alive: this.#all.length, suspect: 0, dead: 0 };
  }

  onChange(_listener: () => void): () => void {
    return () => {};
  }
}
