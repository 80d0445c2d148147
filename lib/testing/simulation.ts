/**
 * Runs many real nodes (the same code as production) in one process on a
 * {@linkcode MemoryNetwork} with virtual time: deterministic for a seed.
 *
 * @module
 */
import { VirtualClock } from "../base/clock.ts";
import { MemoryNetwork, type NetworkConditions } from "../net/memory_network.ts";
import { seededRandom } from "../base/random.ts";
import { type RunningNode, startNode, type StartNodeOptions } from "../roles/start_node.ts";
import type { Address } from "../net/transport.ts";
import { internalAddressOf } from "../net/internal_address.ts";

/** Options of a simulation. */
export interface SimulationOptions {
  /** Seed for the network and every node's random source. */
  seed?: number;
  /** Network faults. */
  conditions?: Partial<NetworkConditions>;
  /** Options passed to every node (subsystemOptions, nodeConfig, maxBytes, fleet …). */
  nodeOptions?: Partial<StartNodeOptions>;
}

/**
 * A simulated cluster.
 *
 * @example
 * ```ts ignore
 * const sim = new Simulation({ seed: 7 });
 * await sim.addNodes(10);
 * sim.clock.advance(5_000);
 * sim.close();
 * ```
 */
export class Simulation {
  /** Virtual time of the simulation. */
  readonly clock: VirtualClock;
  /** The simulated network. */
  readonly network: MemoryNetwork;
  /** Running nodes by address. */
  readonly nodes = new Map<Address, RunningNode>();
  /** Seed of the network and node randomness. */
  readonly seed: number;
  #options: SimulationOptions;
  #counter = 0;
  #restarts = 0;

  /** Creates an empty simulation. */
  constructor(options: SimulationOptions = {}) {
    this.seed = options.seed ?? 1;
    this.clock = new VirtualClock();
    this.network = new MemoryNetwork(this.clock, { seed: this.seed, ...options.conditions });
    this.#options = options;
  }

  /** Address of the i-th node ever created. */
  static address(i: number): Address {
    return `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:4000`;
  }

  /**
   * Starts a node. Seeds default to the first node created (so all join one cluster).
   * Returns the running node.
   */
  async addNode(options: Partial<StartNodeOptions> = {}): Promise<RunningNode> {
    const i = this.#counter++;
    const address = Simulation.address(i);
    const base = this.#options.nodeOptions ?? {};
    const running = await startNode({
      ...base,
      ...options,
      transport: this.network.createTransport(address),
      internalTransport: this.network.createTransport(internalAddressOf(address), address),
      clock: this.clock,
      random: seededRandom(this.seed * 1_000_003 + i),
      seeds: options.seeds ?? base.seeds ?? (i === 0 ? [] : [Simulation.address(0)]),
      subsystemOptions: { ...base.subsystemOptions, ...options.subsystemOptions },
    });
    this.nodes.set(address, running);
    return running;
  }

  /** Starts `n` nodes; returns them. */
  async addNodes(n: number, options: Partial<StartNodeOptions> = {}): Promise<RunningNode[]> {
    const out: RunningNode[] = [];
    for (let k = 0; k < n; k++) out.push(await this.addNode(options));
    return out;
  }

  /** Stops a node abruptly (as kill -9): it stops answering at once and says no goodbye. */
  kill(address: Address): void {
    const n = this.nodes.get(address);
    if (!n) throw new RangeError(`No simulated node at ${address}`);
    n.node.transport.close(); // first, so nothing sent while closing (a graceful leave) gets out
    n.node.internalTransport?.close();
    n.close();
    this.nodes.delete(address);
  }

  /** Starts a fresh node (empty state, new random stream) at the address of a killed one: a restart. */
  async restart(address: Address, options: Partial<StartNodeOptions> = {}): Promise<RunningNode> {
    if (this.nodes.has(address)) throw new RangeError(`${address} is running; kill it before restarting it`);
    const base = this.#options.nodeOptions ?? {};
    const running = await startNode({
      ...base,
      ...options,
      transport: this.network.createTransport(address),
      internalTransport: this.network.createTransport(internalAddressOf(address), address),
      clock: this.clock,
      random: seededRandom(this.seed * 7_919 + 104_729 * ++this.#restarts),
      seeds: options.seeds ?? base.seeds ?? [Simulation.address(0)],
      subsystemOptions: { ...base.subsystemOptions, ...options.subsystemOptions },
    });
    this.nodes.set(address, running);
    return running;
  }

  /** Advances virtual time by `ms`. */
  advance(ms: number): void {
    this.clock.advance(ms);
  }

  /** Addresses of running nodes. */
  addresses(): Address[] {
    return [...this.nodes.keys()];
  }

  /**
   * Stops every node. Transports close first: at the end of a simulation nobody is left to hear
   * graceful leaves, and n nodes telling n members would cost n² datagrams.
   */
  close(): void {
    for (const n of this.nodes.values()) n.node.transport.close();
    for (const n of this.nodes.values()) n.close();
    this.nodes.clear();
  }
}
