/**
 * KVStore public API: the client, the protocol codec, and the building blocks
 * to embed or simulate nodes.
 *
 * @example
 * ```ts ignore
 * import { KVClient } from "./mod.ts";
 * const client = await KVClient.connect("127.0.0.1:4000");
 * await client.put("greeting", "hello");
 * console.log(new TextDecoder().decode(await client.get("greeting")));
 * client.close();
 * ```
 *
 * @module
 */
export { DEFAULT_CLIENT_OPTIONS, KVClient, newRequestId } from "./lib/client.ts";
export type { ClientOptions } from "./lib/client.ts";
export {
  errorForCode,
  InternalFailureError,
  InvalidKeyError,
  InvalidValueLengthError,
  KeyNotFoundError,
  KVError,
  KVTimeoutError,
  OutOfSpaceError,
  OverloadError,
  UnrecognizedCommandError,
} from "./lib/errors.ts";
export { hexKey, toKey } from "./lib/keys.ts";
export type { KeyInput } from "./lib/keys.ts";
export * from "./lib/protocol.ts";
export { type Clock, realClock, type TimerId, VirtualClock } from "./lib/clock.ts";
export type { Address, DatagramHandler, Transport } from "./lib/transport.ts";
export { UdpTransport } from "./lib/udp_transport.ts";
export { DEFAULT_CONDITIONS, MemoryNetwork, MemoryTransport } from "./lib/memory_network.ts";
export type { NetworkConditions } from "./lib/memory_network.ts";
export { type Random, seededRandom } from "./lib/random.ts";
export { LocalExecutor } from "./lib/executor.ts";
export type { ExecResult, Executor } from "./lib/executor.ts";
export { ReplyCache } from "./lib/reply_cache.ts";
export { MemoryStore } from "./lib/store.ts";
export type { ApplyResult, Entry, StoreListener } from "./lib/store.ts";
export { compareVersions, HybridLogicalClock } from "./lib/hlc.ts";
export type { Version } from "./lib/hlc.ts";
export { Rpc, RpcTimeoutError } from "./lib/rpc.ts";
export type { CallOptions, RpcAnswer, RpcHandler } from "./lib/rpc.ts";
export type { InternalMessage } from "./lib/envelope.ts";
export { type MemberCounts, type MemberView, StaticMembers } from "./lib/peers.ts";
export { Simulation } from "./lib/simulation.ts";
export type { SimulationOptions } from "./lib/simulation.ts";
export type { NodeContext } from "./lib/node_context.ts";
export { DEFAULT_NODE_CONFIG, KVNode } from "./lib/node.ts";
export type { NodeConfig, NodeCounters, NodeOptions } from "./lib/node.ts";
export { startNode } from "./lib/server.ts";
export type { RunningNode, StartNodeOptions } from "./lib/server.ts";
export { ConfigError, loadFleet, parseFleet } from "./lib/config.ts";
export type { FleetConfig } from "./lib/config.ts";
