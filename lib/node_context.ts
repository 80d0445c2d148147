/**
 * What the subsystems attached to a node (membership, replication, monitoring
 * agent, admin) receive when the node starts.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { FleetConfig } from "./config.ts";
import type { HybridLogicalClock } from "./hlc.ts";
import type { KVNode } from "./node.ts";
import type { Random } from "./random.ts";
import type { MemoryStore } from "./store.ts";
import type { Address } from "./transport.ts";

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
