/**
 * Testing and simulating KVStore: many real nodes in one process on an in-memory network with
 * virtual time, deterministic for a seed, with loss, delay, duplication and partitions.
 *
 * @example
 * ```ts ignore
 * import { Simulation } from "@kvstore/kvstore/testing";
 * const sim = new Simulation({ seed: 7, conditions: { loss: 0.05 } });
 * await sim.addNodes(5);
 * sim.clock.advance(10_000);
 * sim.close();
 * ```
 *
 * @module
 */
export { Simulation } from "./simulation.ts";
export type { SimulationOptions } from "./simulation.ts";
export { DEFAULT_CONDITIONS, MemoryNetwork, MemoryTransport } from "../net/memory_network.ts";
export type { NetworkConditions } from "../net/memory_network.ts";
export { type Clock, realClock, type TimerId, VirtualClock } from "../base/clock.ts";
export { type Random, seededRandom } from "../base/random.ts";

// The types the API above refers to (`deno doc --lint` checks that none is left out).
export type * from "../roles/referenced_types.ts";
export type { RunningNode } from "../roles/start_node.ts";
export type { StartNodeOptions } from "../roles/start_node.ts";
export type { SubsystemOptions } from "../roles/start_node.ts";
