/**
 * The fixture for simulated clusters: nodes on one in-memory network with virtual time, built on
 * {@linkcode Simulation} (lib/testing/simulation.ts), with clients on the same network, virtual time stepped
 * by `virtual_time.ts`, and one `close()` for all of it.
 *
 * Two kinds of node:
 *
 * - **nodes** ({@linkcode SimCluster.addNodes}): the production node (`startNode`, every subsystem, real SWIM
 *   membership or `staticMembers`), started by the simulation;
 * - **replicas** ({@linkcode SimCluster.startReplicas}): the replication layer alone (a `KVNode` with a
 *   `ReplicatedExecutor`) whose membership the test sets by hand ({@linkcode SimCluster.setView}), with
 *   background repair off unless asked for, so a test decides when views change and repair runs.
 *
 * @example
 * ```ts ignore
 * const c = await SimCluster.start(5, { seed: 42, converge: { limitMs: 30_000 } });
 * try {
 *   await c.run(c.client(c.addresses()[0]).put("k", "v"));
 *   c.kill(c.addresses()[3]);
 *   await c.waitForMembers(4, { limitMs: 30_000 });
 * } finally {
 *   c.close();
 * }
 * ```
 *
 * @module
 */
import type { FrameAuth } from "../../lib/wire/frame.ts";
import { type ClientOptions, KVClient } from "../../lib/client/client.ts";
import { HybridLogicalClock } from "../../lib/storage/hlc.ts";
import type { MemoryTransport } from "../../lib/net/memory_network.ts";
import { KVNode, nodeEndpoint } from "../../lib/node/kv_node.ts";
import type { ServiceContext } from "../../lib/node/context.ts";
import type { MemberCounts, MemberView } from "../../lib/node/members.ts";
import { seededRandom } from "../../lib/base/random.ts";
import { MemoryStore } from "../../lib/storage/store.ts";
import type { Address } from "../../lib/net/transport.ts";
import { ReplicatedExecutor } from "../../lib/replication/replicated_executor.ts";
import { type ReplicationConfig, replicationConfig } from "../../lib/replication/replication_config.ts";
import { keyPositionHex, Ring } from "../../lib/replication/ring.ts";
import type { RunningNode, StartNodeOptions } from "../../lib/roles/start_node.ts";
import { Simulation, type SimulationOptions } from "../../lib/testing/simulation.ts";
import type { VirtualClock } from "../../lib/base/clock.ts";
import { advance, runUntil, type RunUntilOptions, type StepOptions } from "./virtual_time.ts";

/**
 * How a cluster steps virtual time unless a call says otherwise, for each of its three ways to step. An
 * object given here replaces that way's defaults (what it leaves out takes the defaults of
 * `virtual_time.ts`); a call's options are merged over it.
 */
export interface SimTime {
  /** {@linkcode SimCluster.run} (default: 5 ms ticks, pending work let run before the first, 30 s limit). */
  run?: RunUntilOptions;
  /** {@linkcode SimCluster.until} (default: checked every 50 ms in 5 ms ticks). */
  until?: RunUntilOptions;
  /** {@linkcode SimCluster.advance} (default: 5 ms ticks). */
  advance?: StepOptions;
}

/** Options of the replicas ({@linkcode SimCluster.startReplicas}). */
export interface ReplicaOptions {
  /** Replication settings over the defaults; anti-entropy and hand-off stay off (hourly) unless set here. */
  config?: Partial<ReplicationConfig>;
  /** Store capacity of each replica (default 16 MiB). */
  maxBytes?: number;
  /** Authenticates the replicas' frames (default: untagged). */
  auth?: FrameAuth;
}

/** Options of a {@linkcode SimCluster}: the simulation's (seed, network conditions, node options) and more. */
export interface SimClusterOptions extends SimulationOptions {
  /** How virtual time is stepped unless a call says otherwise. */
  time?: SimTime;
  /** Options of the replicas. */
  replicas?: ReplicaOptions;
}

/** Options of the `k`-th node of an {@linkcode SimCluster.addNodes} call, which will be at `address`. */
export type NodeOptionsOf = (k: number, address: Address) => Partial<StartNodeOptions>;

/** Options of {@linkcode SimCluster.start}. */
export interface SimClusterStartOptions extends SimClusterOptions {
  /** Options of each node (merged over `nodeOptions` as {@linkcode Simulation.addNode} does). */
  node?: Partial<StartNodeOptions> | NodeOptionsOf;
  /** Then step time (as {@linkcode SimCluster.waitForMembers}) until every node sees all `n` alive. */
  converge?: RunUntilOptions;
}

/** A membership view the test sets by hand (the membership of a replica). */
export class TestMembers implements MemberView {
  readonly self: Address;
  #alive: Address[];
  #listeners = new Set<() => void>();

  /** A view of `alive` as seen by `self`. */
  constructor(self: Address, alive: readonly Address[]) {
    this.self = self;
    this.#alive = [...new Set(alive)].sort();
  }

  /** The alive set, sorted. */
  alive(): Address[] {
    return this.#alive.slice();
  }

  /** Everyone in the view is alive. */
  counts(): MemberCounts {
    return { alive: this.#alive.length, suspect: 0, dead: 0 };
  }

  /** Calls `listener` after every {@linkcode TestMembers.set}. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Replaces the alive set and notifies listeners. */
  set(alive: readonly Address[]): void {
    this.#alive = [...new Set(alive)].sort();
    for (const l of [...this.#listeners]) l();
  }
}

/** One replica: the replication layer of a node, with a membership the test sets. */
export interface Replica {
  address: Address;
  node: KVNode;
  store: MemoryStore;
  members: TestMembers;
  executor: ReplicatedExecutor;
}

/** Address of replica `i` (10.1.0.x:4000; nodes are at {@linkcode Simulation.address}). */
export function addr(i: number): Address {
  return `10.1.0.${i + 1}:4000`;
}

const DEFAULT_TIME: Required<SimTime> = {
  run: { tickMs: 5, settleFirst: true, limitMs: 30_000 },
  until: { stepMs: 50, tickMs: 5 },
  advance: { tickMs: 5 },
};

/** A simulated cluster: see the module documentation. */
export class SimCluster {
  /** The simulation: clock, network, and the nodes it started. */
  readonly sim: Simulation;
  /** The replicas by address. */
  readonly replicas = new Map<Address, Replica>();
  /** Replication settings of the replicas. */
  readonly replicaConfig: ReplicationConfig;
  #time: Required<SimTime>;
  #replicaOptions: ReplicaOptions;
  #closeables: { close(): void }[] = [];
  #clientCount = 0;
  #nodesAdded = 0;

  /** An empty cluster. */
  constructor(options: SimClusterOptions = {}) {
    this.sim = new Simulation(options);
    this.#time = { ...DEFAULT_TIME, ...options.time };
    this.#replicaOptions = options.replicas ?? {};
    // Background work is off unless a test asks for it, so tests control when repair runs.
    this.replicaConfig = replicationConfig({
      antiEntropyIntervalMs: 3_600_000,
      handoffIntervalMs: 3_600_000,
      ...options.replicas?.config,
    });
  }

  /**
   * A cluster of `n` nodes started one after the other (node 0 first: the others join through it), and with
   * `converge`, once every node sees all `n` alive.
   */
  static async start(n: number, options: SimClusterStartOptions = {}): Promise<SimCluster> {
    const c = new SimCluster(options);
    try {
      await c.addNodes(n, options.node);
      if (options.converge) await c.waitForMembers(n, options.converge);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  /** Virtual time of the cluster. */
  get clock(): VirtualClock {
    return this.sim.clock;
  }

  /** The in-memory network. */
  get network(): Simulation["network"] {
    return this.sim.network;
  }

  /** The running nodes by address (replicas are in {@linkcode SimCluster.replicas}). */
  get nodes(): Map<Address, RunningNode> {
    return this.sim.nodes;
  }

  /** Addresses of the running nodes. */
  addresses(): Address[] {
    return this.sim.addresses();
  }

  /** The running node at `a`. */
  node(a: Address): RunningNode {
    const n = this.sim.nodes.get(a);
    if (!n) throw new RangeError(`no running node at ${a}`);
    return n;
  }

  /** Starts a node (see {@linkcode Simulation.addNode}). */
  addNode(options: Partial<StartNodeOptions> = {}): Promise<RunningNode> {
    this.#nodesAdded++;
    return this.sim.addNode(options);
  }

  /**
   * Starts `n` nodes one after the other (as {@linkcode Simulation.addNodes}), each with `options`, or with
   * what `options(k, address)` gives the `k`-th of them; returns them.
   */
  async addNodes(n: number, options: Partial<StartNodeOptions> | NodeOptionsOf = {}): Promise<RunningNode[]> {
    const out: RunningNode[] = [];
    for (let k = 0; k < n; k++) {
      out.push(await this.addNode(typeof options === "function" ? options(k, this.nextAddress()) : options));
    }
    return out;
  }

  /** Address of the next node {@linkcode SimCluster.addNode} starts. */
  nextAddress(): Address {
    return Simulation.address(this.#nodesAdded);
  }

  /** Stops a node abruptly, as kill -9 (see {@linkcode Simulation.kill}). */
  kill(a: Address): void {
    this.sim.kill(a);
  }

  /** Starts a fresh node at the address of a killed one (see {@linkcode Simulation.restart}). */
  restart(a: Address, options: Partial<StartNodeOptions> = {}): Promise<RunningNode> {
    return this.sim.restart(a, options);
  }

  /**
   * Steps time (as {@linkcode SimCluster.until}) until each node of `of` (default: every running node) sees
   * `count` members alive; resolves with the virtual ms that took.
   */
  waitForMembers(count: number, options: RunUntilOptions & { of?: Address[] } = {}): Promise<number> {
    const of = options.of ?? this.addresses();
    return this.until(() => of.every((a) => this.node(a).members.alive().length === count), {
      what: () => `${count} members alive on each of ${of.length} nodes`,
      ...options,
    });
  }

  /** A transport on the cluster's network (closed with the cluster); default address 10.9.0.N:5000. */
  transport(address: Address = `10.9.0.${++this.#clientCount}:5000`): MemoryTransport {
    return this.track(this.network.createTransport(address));
  }

  /** A client of `target` on the cluster's network and clock (closed with the cluster). */
  client(target: Address, options: Partial<ClientOptions> = {}, address?: Address): KVClient {
    const transport = this.network.createTransport(address ?? `10.9.0.${++this.#clientCount}:5000`);
    return this.track(new KVClient(transport, target, options, this.clock));
  }

  /** Closes `x` when the cluster closes (before the nodes); returns it. */
  track<T extends { close(): void }>(x: T): T {
    this.#closeables.push(x);
    return x;
  }

  /** Steps time until `p` settles (see `runUntil`, with the cluster's `time.run` options). */
  run<T>(p: Promise<T>, options: RunUntilOptions = {}): Promise<T> {
    return runUntil(this.clock, p, { ...this.#time.run, ...options });
  }

  /**
   * Steps time until `condition` holds; resolves with the virtual ms that took (see `runUntil`, with the
   * cluster's `time.until` options).
   */
  until(condition: () => boolean | Promise<boolean>, options: RunUntilOptions = {}): Promise<number> {
    return runUntil(this.clock, condition, { ...this.#time.until, ...options });
  }

  /** Advances time by `ms` (see `advance`, with the cluster's `time.advance` options). */
  advance(ms: number, options: StepOptions = {}): Promise<void> {
    return advance(this.clock, ms, { ...this.#time.advance, ...options });
  }

  /** Starts replicas at `addresses`, each seeing `view` (default: every replica, these included). */
  startReplicas(addresses: Address[], view?: Address[]): Replica[] {
    const all = view ?? [...new Set([...this.replicas.keys(), ...addresses])];
    return addresses.map((a, i) => {
      const store = new MemoryStore(this.#replicaOptions.maxBytes ?? 1 << 24);
      const transport = this.network.createTransport(a);
      const hlc = new HybridLogicalClock(this.clock, a);
      const rpc = nodeEndpoint(transport, this.clock, { auth: this.#replicaOptions.auth });
      const members = new TestMembers(a, all);
      const closers: (() => void)[] = [];
      const ctx: ServiceContext = {
        address: a,
        rpc,
        store,
        hlc,
        clock: this.clock,
        random: seededRandom(this.sim.seed * 7919 + this.replicas.size + i),
        seeds: [],
        onClose: (fn) => closers.push(fn),
      };
      const executor = new ReplicatedExecutor(ctx, members, this.replicaConfig);
      const node = new KVNode({ transport, clock: this.clock, store, executor, rpc });
      node.onClose(() => closers.splice(0).forEach((fn) => fn()));
      const r: Replica = { address: a, node, store, members, executor };
      this.replicas.set(a, r);
      return r;
    });
  }

  /** The replica at `a`. */
  replica(a: Address): Replica {
    const r = this.replicas.get(a);
    if (!r) throw new RangeError(`no replica ${a}`);
    return r;
  }

  /** Sets the membership view of the given replicas (default: all) to `alive`. */
  setView(alive: Address[], of: Address[] = [...this.replicas.keys()]): void {
    for (const a of of) this.replicas.get(a)?.members.set(alive);
  }

  /** Stops a replica abruptly. */
  killReplica(a: Address): void {
    this.replica(a).node.close();
    this.replicas.delete(a);
  }

  /** The ring every replica should agree on, over `members` (default: the running replicas). */
  ring(members: Address[] = [...this.replicas.keys()]): Ring {
    return new Ring(members, this.replicaConfig.virtualNodes);
  }

  /** Replicas whose store holds `key` (hex) at version time `t` (any version when omitted), sorted. */
  holders(key: string, t?: number): Address[] {
    const out: Address[] = [];
    for (const [a, r] of this.replicas) {
      const e = r.store.getEntry(key);
      if (e && (t === undefined || e.version.t === t)) out.push(a);
    }
    return out.sort();
  }

  /** Keys held anywhere that do not sit exactly on their owners (by `ring`) with one version. */
  placementErrors(ring: Ring = this.ring(), n: number = Math.min(this.replicaConfig.n, ring.size)): string[] {
    const keys = new Set<string>();
    for (const r of this.replicas.values()) for (const [k] of r.store.entries()) keys.add(k);
    const errors: string[] = [];
    for (const k of keys) {
      const owners = [...ring.preferenceListAt(keyPositionHex(k), n)].sort();
      const holders = this.holders(k);
      if (owners.join() !== holders.join()) errors.push(`${k.slice(0, 8)}: owners ${owners} holders ${holders}`);
      const versions = new Set(holders.map((h) => this.replica(h).store.getEntry(k)!.version.t));
      if (versions.size > 1) errors.push(`${k.slice(0, 8)}: ${versions.size} versions`);
    }
    return errors;
  }

  /** Closes clients and tracked transports, then the replicas, then the simulation's nodes. */
  close(): void {
    for (const x of this.#closeables.splice(0)) x.close();
    for (const r of this.replicas.values()) r.node.close();
    this.replicas.clear();
    this.sim.close();
  }
}
