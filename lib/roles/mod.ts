/**
 * Embedding a KVStore node: {@linkcode startNode} starts one (on UDP, or on any
 * {@linkcode Transport}), with membership, replication, the monitoring agent and admin attached,
 * and returns what it is made of.
 *
 * @example
 * ```ts ignore
 * import { startNode } from "@kvstore/kvstore/node";
 * const running = await startNode({ port: 0 });
 * console.log(running.node.address, running.members.alive());
 * running.close();
 * ```
 *
 * @module
 */
export { DEFAULT_MAX_BYTES, startNode } from "./start_node.ts";
export type { RunningNode, StartNodeOptions, SubsystemOptions } from "./start_node.ts";
export { ConfigError, loadFleet, parseFleet } from "../config/fleet_file.ts";

// The types the API above refers to (`deno doc --lint` checks that none is left out).
export type * from "./referenced_types.ts";
export type { Clock } from "../base/clock.ts";
export type { Random } from "../base/random.ts";
export type { TimerId } from "../base/clock.ts";
