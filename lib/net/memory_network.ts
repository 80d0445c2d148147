/**
 * An in-memory datagram network on virtual time: loss, delay, duplication and
 * partitions, deterministic for a given seed. Runs the same node code as UDP.
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import { type Random, seededRandom } from "../base/random.ts";
import type { Address, DatagramHandler, Transport } from "./transport.ts";

/** Tunable faults of a {@linkcode MemoryNetwork}. */
export interface NetworkConditions {
  /** Probability that a datagram is dropped (0–1). */
  loss: number;
  /** Probability that a delivered datagram is delivered twice (0–1). */
  duplicate: number;
  /** Minimum one-way delay in ms. */
  minDelay: number;
  /** Maximum one-way delay in ms. */
  maxDelay: number;
}

/** Default conditions: a clean LAN with 1–5 ms delay. */
export const DEFAULT_CONDITIONS: NetworkConditions = { loss: 0, duplicate: 0, minDelay: 1, maxDelay: 5 };

/**
 * A simulated network. Create one transport per simulated host.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../base/clock.ts";
 * const clock = new VirtualClock();
 * const net = new MemoryNetwork(clock, { seed: 1 });
 * const a = net.createTransport("a:1"), b = net.createTransport("b:1");
 * b.onReceive((d) => console.log(d.length));
 * a.send(new Uint8Array(3), "b:1");
 * clock.advance(10); // logs 3
 * ```
 */
export class MemoryNetwork {
  /** Virtual time the network delivers on. */
  readonly clock: Clock;
  /** Seeded randomness for loss, duplication and delay. */
  readonly random: Random;
  /** Current faults; may be changed during a simulation. */
  conditions: NetworkConditions;
  #hosts = new Map<Address, MemoryTransport>();
  #blocked = new Set<string>();
  // Transports that share another's host (a node's internal socket): blocks apply to the host.
  #hostOf = new Map<Address, Address>();
  /** Counters for what the network did. */
  readonly stats = { sent: 0, delivered: 0, dropped: 0, bytes: 0 };

  /** Creates a network on `clock`, seeded by `seed`. */
  constructor(clock: Clock, options: { seed?: number } & Partial<NetworkConditions> = {}) {
    this.clock = clock;
    this.random = seededRandom(options.seed ?? 1);
    this.conditions = { ...DEFAULT_CONDITIONS, ...options };
  }

  /**
   * Creates (or replaces) the transport at `address`; with `host`, a second socket of the host at
   * `host` (a node's internal port): blocks and partitions of `host` apply to it too.
   */
  createTransport(address: Address, host?: Address): MemoryTransport {
    const t = new MemoryTransport(this, address);
    this.#hosts.set(address, t);
    if (host !== undefined && host !== address) this.#hostOf.set(address, host);
    return t;
  }

  /** Drops traffic from `from` to `to` (one way). */
  block(from: Address, to: Address): void {
    this.#blocked.add(`${from}>${to}`);
  }

  /** Splits the network: no traffic between any member of `a` and any of `b`, both ways. */
  partition(a: readonly Address[], b: readonly Address[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  /** Removes every partition and block. */
  heal(): void {
    this.#blocked.clear();
  }

  /** @internal Routes one datagram. */
  deliver(data: Uint8Array, from: Address, to: Address): void {
    this.stats.sent++;
    this.stats.bytes += data.length;
    const c = this.conditions;
    const blocked = this.#blocked.size > 0 &&
      this.#blocked.has(`${this.#hostOf.get(from) ?? from}>${this.#hostOf.get(to) ?? to}`);
    if (blocked || this.random() < c.loss) {
      this.stats.dropped++;
      return;
    }
    const copies = this.random() < c.duplicate ? 2 : 1;
    const payload = data.slice();
    for (let i = 0; i < copies; i++) {
      const delay = c.minDelay + this.random() * (c.maxDelay - c.minDelay);
      this.clock.setTimeout(() => {
        const host = this.#hosts.get(to);
        if (!host || host.isClosed) {
          this.stats.dropped++;
          return;
        }
        this.stats.delivered++;
        host.receive(payload, from);
      }, delay);
    }
  }

  /** @internal */
  remove(t: MemoryTransport): void {
    if (this.#hosts.get(t.address) === t) this.#hosts.delete(t.address);
  }
}

/** A {@linkcode Transport} on a {@linkcode MemoryNetwork}. */
export class MemoryTransport implements Transport {
  readonly address: Address;
  #network: MemoryNetwork;
  #handler: DatagramHandler = () => {};
  #closed = false;

  /** @internal Use {@linkcode MemoryNetwork.createTransport}. */
  constructor(network: MemoryNetwork, address: Address) {
    this.#network = network;
    this.address = address;
  }

  /** Whether {@linkcode MemoryTransport.close} was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  send(data: Uint8Array, to: Address): void {
    if (!this.#closed) this.#network.deliver(data, this.address, to);
  }

  onReceive(handler: DatagramHandler): void {
    this.#handler = handler;
  }

  /** @internal */
  receive(data: Uint8Array, from: Address): void {
    try {
      this.#handler(data, from);
    } catch (e) {
      throw new Error(`Handler at ${this.address} threw on a datagram from ${from}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  close(): void {
    this.#closed = true;
    this.#network.remove(this);
  }
}
