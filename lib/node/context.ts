/**
 * What the subsystems of a node receive when it starts. Membership and replication get a
 * {@linkcode ServiceContext}: they make the node's executor, so they come before the node and see
 * its address and internal endpoint, not the node. The monitoring agent and admin, which read
 * the node's counters and act on it, get a {@linkcode NodeContext}. Each subsystem takes its own
 * typed options beside the context (`lib/roles/start_node.ts` passes them).
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import type { Random } from "../base/random.ts";
import type { FleetConfig } from "../config/fleet_file.ts";
import type { Address } from "../net/transport.ts";
import type { HybridLogicalClock } from "../storage/hlc.ts";
import type { MemoryStore } from "../storage/store.ts";
import type { Rpc } from "../wire/rpc.ts";
import type { KVNode } from "./kv_node.ts";

/** What a subsystem that serves the node (membership, replication) needs of it. */
export interface ServiceContext {
  /** This node's address (its id in the cluster). */
  address: Address;
  /** The node's internal request/reply endpoint (commands 0x20–0xFF). */
  rpc: Rpc;
  /** Local store. */
  store: MemoryStore;
  /** Version clock. */
  hlc: HybridLogicalClock;
  /** Time source (virtual in simulations). */
  clock: Clock;
  /** Random source (seeded in simulations). */
  random: Random;
  /** The fleet file, if the node was started with one. */
  fleet?: FleetConfig;
  /** Seed addresses to join through (from the fleet file or flags), self excluded. */
  seeds: Address[];
  /** Directory for durable state, if any. */
  dataDir?: string;
  /** Registers cleanup to run when the node closes. */
  onClose(fn: () => void): void;
}

/** What a subsystem that acts on the node itself (monitoring agent, admin) receives. */
export interface NodeContext extends ServiceContext {
  /** The protocol server. */
  node: KVNode;
}
