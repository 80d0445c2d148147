/**
 * Test harness for replication: real nodes (KVNode + ReplicatedExecutor) on a
 * simulated network with virtual time and a membership the test controls.
 *
 * @module
 */
import type { FrameAuth } from "../../lib/wire/frame.ts";
import { VirtualClock } from "../../lib/base/clock.ts";
import { type ClientOptions, KVClient } from "../../lib/client/client.ts";
import { HybridLogicalClock } from "../../lib/storage/hlc.ts";
import { MemoryNetwork, type NetworkConditions } from "../../lib/net/memory_network.ts";
import { KVNode, nodeEndpoint } from "../../lib/node/kv_node.ts";
import type { ServiceContext } from "../../lib/node/context.ts";
import type { MemberCounts, MemberView } from "../../lib/node/members.ts";
import { seededRandom } from "../../lib/base/random.ts";
import { MemoryStore } from "../../lib/storage/store.ts";
import type { Address } from "../../lib/net/transport.ts";
import { ReplicatedExecutor } from "../../lib/replication/replicated_executor.ts";
import { type ReplicationConfig, replicationConfig } from "../../lib/replication/replication_config.ts";
import { keyPositionHex, Ring } from "../../lib/replication/ring.ts";
import { toHex } from "../../lib/base/bytes.ts";
import assert from "node:assert/strict";
import { compareVersions, type Version } from "../../lib/storage/hlc.ts";

/** A membership view the test sets by hand. */
export class TestMembers implements MemberView {
  readonly self: Address;
  #alive: Address[];
  #listeners = new Set<() => void>();

  constructor(self: Address, alive: readonly Address[]) {
    this.self = self;
    this.#alive = [...new Set(alive)].sort();
  }

  alive(): Address[] {
    return this.#alive.slice();
  }

  counts(): MemberCounts {
    return { alive: this.#alive.length, suspect: 0, dead: 0 };
  }

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

/** One simulated node. */
export interface TestNode {
  address: Address;
  node: KVNode;
  store: MemoryStore;
  members: TestMembers;
  executor: ReplicatedExecutor;
}

/** Options of a {@linkcode TestCluster}. */
export interface TestClusterOptions {
  seed?: number;
  conditions?: Partial<NetworkConditions>;
  config?: Partial<ReplicationConfig>;
  maxBytes?: number;
  /** Authenticates the nodes' frames (default: untagged). */
  auth?: FrameAuth;
}

/** Address of test node `i`. */
export function addr(i: number): Address {
  return `10.1.0.${i + 1}:4000`;
}

/** N replication nodes on one simulated network. */
export class TestCluster {
  readonly clock = new VirtualClock();
  readonly network: MemoryNetwork;
  readonly nodes = new Map<Address, TestNode>();
  readonly config: ReplicationConfig;
  #options: TestClusterOptions;
  #clients: KVClient[] = [];
  #clientCount = 0;

  constructor(options: TestClusterOptions = {}) {
    this.#options = options;
    this.network = new MemoryNetwork(this.clock, { seed: options.seed ?? 1, ...options.conditions });
    // Background work is off unless a test asks for it, so tests control when repair runs.
    this.config = replicationConfig({
      antiEntropyIntervalMs: 3_600_000,
      handoffIntervalMs: 3_600_000,
      ...options.config,
    });
  }

  /** Starts nodes at `addresses`, each seeing `view` (default: every node of the cluster). */
  start(addresses: Address[], view?: Address[]): TestNode[] {
    const all = view ?? [...new Set([...this.nodes.keys(), ...addresses])];
    return addresses.map((a, i) => {
      const store = new MemoryStore(this.#options.maxBytes ?? 1 << 24);
      const transport = this.network.createTransport(a);
      const hlc = new HybridLogicalClock(this.clock, a);
      const rpc = nodeEndpoint(transport, this.clock, { auth: this.#options.auth });
      const members = new TestMembers(a, all);
      const closers: (() => void)[] = [];
      const ctx: ServiceContext = {
        address: a,
        rpc,
        store,
        hlc,
        clock: this.clock,
        random: seededRandom((this.#options.seed ?? 1) * 7919 + this.nodes.size + i),
        seeds: [],
        onClose: (fn) => closers.push(fn),
      };
      const executor = new ReplicatedExecutor(ctx, members, this.config);
      const node = new KVNode({ transport, clock: this.clock, store, executor, rpc });
      node.onClose(() => closers.splice(0).forEach((fn) => fn()));
      const t: TestNode = { address: a, node, store, members, executor };
      this.nodes.set(a, t);
      return t;
    });
  }

  /** The node at `a`. */
  get(a: Address): TestNode {
    const n = this.nodes.get(a);
    if (!n) throw new RangeError(`no test node ${a}`);
    return n;
  }

  /** Sets the membership view of the given nodes (default: all) to `alive`. */
  setView(alive: Address[], of: Address[] = [...this.nodes.keys()]): void {
    for (const a of of) this.nodes.get(a)?.members.set(alive);
  }

  /** Stops a node abruptly. */
  kill(a: Address): void {
    this.get(a).node.close();
    this.nodes.delete(a);
  }

  /** A client on the simulated network talking to `target`. */
  client(target: Address, options: Partial<ClientOptions> = {}): KVClient {
    const transport = this.network.createTransport(`10.9.0.${++this.#clientCount}:5000`);
    const c = new KVClient(transport, target, options, this.clock);
    this.#clients.push(c);
    return c;
  }

  /** Advances virtual time by `ms` in steps, letting promise continuations run between steps. */
  async advance(ms: number, step = 5): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(Math.min(step, ms - t));
      await flush();
    }
  }

  /** Advances time until `p` settles (at most `limitMs` virtual ms) and returns its result. */
  async run<T>(p: Promise<T>, limitMs = 30_000): Promise<T> {
    let done = false;
    p.then(() => done = true, () => done = true);
    await flush();
    for (let t = 0; t < limitMs && !done; t += 5) {
      this.clock.advance(5);
      await flush();
    }
    return await p;
  }

  /** Advances until `predicate` holds; returns the virtual ms it took, or -1 after `limitMs`. */
  async until(predicate: () => boolean, limitMs: number, step = 50): Promise<number> {
    const start = this.clock.now();
    while (this.clock.now() - start <= limitMs) {
      if (predicate()) return this.clock.now() - start;
      await this.advance(step);
    }
    return predicate() ? this.clock.now() - start : -1;
  }

  /** The ring every node should agree on, over `members` (default: running nodes). */
  ring(members: Address[] = [...this.nodes.keys()]): Ring {
    return new Ring(members, this.config.virtualNodes);
  }

  /** Nodes whose store holds `key` (hex) at exactly `version` (or any version when omitted). */
  holders(key: string, t?: number): Address[] {
    const out: Address[] = [];
    for (const [a, n] of this.nodes) {
      const e = n.store.getEntry(key);
      if (e && (t === undefined || e.version.t === t)) out.push(a);
    }
    return out.sort();
  }

  /** Whether every key held anywhere sits exactly on its owners (by `ring`) with one version. */
  placementErrors(ring = this.ring(), n = Math.min(this.config.n, ring.size)): string[] {
    const keys = new Set<string>();
    for (const t of this.nodes.values()) for (const [k] of t.store.entries()) keys.add(k);
    const errors: string[] = [];
    for (const k of keys) {
      const owners = [...ring.preferenceListAt(keyPositionHex(k), n)].sort();
      const holders = this.holders(k);
      if (owners.join() !== holders.join()) errors.push(`${k.slice(0, 8)}: owners ${owners} holders ${holders}`);
      const versions = new Set(holders.map((h) => this.get(h).store.getEntry(k)!.version.t));
      if (versions.size > 1) errors.push(`${k.slice(0, 8)}: ${versions.size} versions`);
    }
    return errors;
  }

  close(): void {
    for (const c of this.#clients) c.close();
    for (const n of this.nodes.values()) n.node.close();
    this.nodes.clear();
  }
}

/** Lets pending promise continuations run (no timers involved). */
export async function flush(rounds = 40): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** A 32-byte test key from text. */
export function key(text: string): Uint8Array {
  const k = new Uint8Array(32);
  new TextEncoder().encodeInto(text, k);
  return k;
}

/** Hex form of {@linkcode key}. */
export function hexOf(text: string): string {
  return toHex(key(text));
}

/**
 * Writes `k-0`…`k-29` on both sides of a 2|3 partition, `gapMs` apart: every third key last on the
 * minority side, the others last on the majority side, and checks each later write carries the
 * newer version. `write` must reject unless acknowledged and resolve with the stored version.
 */
export async function writeConflictingKeys(
  write: (side: "minority" | "majority", name: string, value: string) => Promise<Version>,
  advance: (ms: number) => Promise<void>,
  gapMs: number,
): Promise<{ minorityLast: string[]; majorityLast: string[] }> {
  const minorityLast: string[] = [], majorityLast: string[] = [];
  for (let i = 0; i < 30; i++) {
    const name = `k-${i}`;
    const minorityWinsThis = i % 3 === 0;
    const [first, second] = minorityWinsThis
      ? [{ side: "majority" as const, v: `right-${i}` }, { side: "minority" as const, v: `left-${i}` }]
      : [{ side: "minority" as const, v: `left-${i}` }, { side: "majority" as const, v: `right-${i}` }];
    const older = await write(first.side, name, first.v);
    await advance(gapMs);
    const newer = await write(second.side, name, second.v);
    assert.ok(compareVersions(newer, older) > 0, `${name}: the later write does not carry the newer version`);
    (minorityWinsThis ? minorityLast : majorityLast).push(name);
  }
  assert.equal(minorityLast.length, 10, "conflicting keys written last (and acknowledged) on the minority side");
  assert.equal(majorityLast.length, 20, "conflicting keys written last on the majority side");
  return { minorityLast, majorityLast };
}
