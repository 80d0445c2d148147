/**
 * Rumors waiting to be piggybacked (memberlist's TransmitLimitedQueue): one
 * rumor per member (a newer one replaces the older), least-sent first, each
 * sent a bounded number of times.
 *
 * @module
 */
import type { Address } from "../net/transport.ts";
import { encodeUpdate, type MemberUpdate, type WireUpdate } from "./membership_codec.ts";

interface Entry {
  update: MemberUpdate;
  wire: WireUpdate;
  size: number;
  transmits: number;
  id: number;
}

/**
 * A transmit-limited rumor queue.
 *
 * @example
 * ```ts
 * const q = new BroadcastQueue();
 * q.enqueue({ address: "10.0.0.1:4000", state: "alive", incarnation: 1 });
 * console.log(q.take(1_000, 2).length, q.take(1_000, 2).length, q.take(1_000, 2).length); // 1 1 0
 * ```
 */
export class BroadcastQueue {
  #items = new Map<Address, Entry>();
  #next = 0;
  #onEnqueue: () => void;

  /** Creates an empty queue; `onEnqueue` is called after every rumor queued (to start gossip rounds). */
  constructor(onEnqueue: () => void = () => {}) {
    this.#onEnqueue = onEnqueue;
  }

  /** Rumors still queued. */
  get size(): number {
    return this.#items.size;
  }

  /** Queues `u`, replacing any queued rumor about the same member. */
  enqueue(u: MemberUpdate): void {
    const wire = encodeUpdate(u);
    this.#items.delete(u.address);
    this.#items.set(u.address, {
      update: u,
      wire,
      size: JSON.stringify(wire).length + 1,
      transmits: 0,
      id: this.#next++,
    });
    this.#onEnqueue();
  }

  /**
   * Returns rumors fitting in `budget` bytes of JSON, least-transmitted (then newest) first,
   * and counts them as sent; a rumor sent `limit` times is dropped.
   */
  take(budget: number, limit: number): WireUpdate[] {
    if (this.#items.size === 0) return [];
    const entries = [...this.#items.values()].sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const out: WireUpdate[] = [];
    let used = 0;
    for (const e of entries) {
      if (used + e.size > budget) continue;
      used += e.size;
      out.push(e.wire);
      if (++e.transmits >= limit) this.#items.delete(e.update.address);
      if (budget - used < 16) break;
    }
    return out;
  }

  /** The queued rumor about `address`, if any. */
  peek(address: Address): MemberUpdate | undefined {
    return this.#items.get(address)?.update;
  }

  /** Drops every queued rumor. */
  clear(): void {
    this.#items.clear();
  }
}
