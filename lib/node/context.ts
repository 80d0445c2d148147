/**
 * What the subsystems attached to a node (membership, replication, monitoring
 * agent, admin) receive when the node starts.
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import type { FleetConfig } from "../config/fleet_file.ts";
import type { HybridLogicalClock } from "../storage/hlc.ts";
import type { KVNode } from "./kv_node.ts";
import type { Random } from "../base/random.ts";
import type { MemoryStore } from "../storage/store.ts";
import type { Address } from "../net/transport.ts";

/** Shared context handed to each attach function. */
export interface NodeContext {
  /** The protocol server (its `rpc` carries internal messages; `onClose` registers cleanup). */
  node: KVNode;
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
  /** Free-form per-subsystem options from the caller (flags, tests). */
  options: Record<string, unknown>;
}
