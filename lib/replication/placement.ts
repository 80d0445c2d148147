/**
 * Placement as this node sees it: the ring over the alive members (rebuilt
 * when the membership changes) and the effective replication factor.
 *
 * @module
 */
import type { MemberView } from "../node/members.ts";
import type { Address } from "../net/transport.ts";
import { keyPosition, keyPositionHex, Ring } from "./ring.ts";

/**
 * The current ring of a node, kept in step with its {@linkcode MemberView}.
 *
 * @example
 * ```ts
 * import { StaticMembers } from "../node/members.ts";
 * const p = new Placement(new StaticMembers("a:1", ["b:1"]), 3, 64);
 * console.log(p.n()); // 2 (only two members alive)
 * p.close();
 * ```
 */
export class Placement {
  /** This node. */
  readonly self: Address;
  /** Configured replicas per key (before capping at the member count). */
  readonly replicas: number;
  /** Tokens per member. */
  readonly virtualNodes: number;
  #members: MemberView;
  #ring: Ring | undefined;
  #unsubscribe: () => void;
  #listeners = new Set<() => void>();
  #aliveKey: string;

  /** Tracks `members`; `replicas` is the configured N. */
  constructor(members: MemberView, replicas: number, virtualNodes: number) {
    this.self = members.self;
    this.replicas = replicas;
    this.virtualNodes = virtualNodes;
    this.#members = members;
    this.#aliveKey = this.#currentKey();
    // The ring is rebuilt lazily (next request or rebalance), not on every membership event.
    this.#unsubscribe = members.onChange(() => {
      const key = this.#currentKey();
      if (key === this.#aliveKey) return;
      this.#aliveKey = key;
      this.#ring = undefined;
      for (const l of this.#listeners) l();
    });
  }

  #currentKey(): string {
    return this.#members.alive().sort().join();
  }

  /** The ring over the alive members (self always included). */
  ring(): Ring {
    if (!this.#ring) {
      const alive = this.#members.alive();
      if (!alive.includes(this.self)) alive.push(this.self);
      this.#ring = new Ring(alive, this.virtualNodes);
    }
    return this.#ring;
  }

  /** Effective N: the configured replicas capped at the number of alive members. */
  n(): number {
    return Math.min(this.replicas, this.ring().size);
  }

  /** Owners (preference list) of the key at ring `position`. */
  ownersAt(position: number): readonly Address[] {
    return this.ring().preferenceListAt(position, this.n());
  }

  /** Owners of a 32-byte key. */
  owners(key: Uint8Array): readonly Address[] {
    return this.ownersAt(keyPosition(key));
  }

  /** Owners of a hex key (the store's form). */
  ownersHex(key: string): readonly Address[] {
    return this.ownersAt(keyPositionHex(key));
  }

  /** Number of members believed alive. */
  aliveCount(): number {
    return this.ring().size;
  }

  /** Calls `listener` when the ring's member set changed; returns an unsubscribe function. */
  onRingChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops tracking the membership. */
  close(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }
}
