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
export { DEFAULT_CLIENT_OPTIONS, KVClient, newRequestId } from "./lib/client/client.ts";
export type { ClientOptions } from "./lib/client/client.ts";
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
} from "./lib/client/errors.ts";
export { hexKey, toKey } from "./lib/client/keys.ts";
export type { KeyInput } from "./lib/client/keys.ts";
export * from "./lib/wire/client_protocol.ts";
export { type Clock, realClock, type TimerId, VirtualClock } from "./lib/base/clock.ts";
export type { Address, DatagramHandler, Transport } from "./lib/net/transport.ts";
export { UdpTransport } from "./lib/net/udp_transport.ts";
export { DEFAULT_CONDITIONS, MemoryNetwork, MemoryTransport } from "./lib/net/memory_network.ts";
export type { NetworkConditions } from "./lib/net/memory_network.ts";
export { type Random, seededRandom } from "./lib/base/random.ts";
export { LocalExecutor } from "./lib/node/executor.ts";
export type { ExecResult, Executor } from "./lib/node/executor.ts";
export { ReplyCache } from "./lib/node/reply_cache.ts";
export { MemoryStore } from "./lib/storage/store.ts";
export type { ApplyResult, Entry, StoreListener } from "./lib/storage/store.ts";
export { compareVersions, HybridLogicalClock } from "./lib/storage/hlc.ts";
export type { Version } from "./lib/storage/hlc.ts";
export { Rpc, RpcTimeoutError } from "./lib/wire/rpc.ts";
export type { CallOptions, RpcAnswer, RpcHandler } from "./lib/wire/rpc.ts";
export type { InternalMessage } from "./lib/wire/envelope.ts";
export { type MemberCounts, type MemberView, StaticMembers } from "./lib/node/members.ts";
export { Simulation } from "./lib/testing/simulation.ts";
export type { SimulationOptions } from "./lib/testing/simulation.ts";
export type { NodeContext } from "./lib/node/context.ts";
export { DEFAULT_NODE_CONFIG, KVNode } from "./lib/node/kv_node.ts";
export type { NodeConfig, NodeCounters, NodeOptions } from "./lib/node/kv_node.ts";
export { startNode } from "./lib/roles/start_node.ts";
export type { RunningNode, StartNodeOptions } from "./lib/roles/start_node.ts";
export { ConfigError, loadFleet, parseFleet } from "./lib/config/fleet_file.ts";
export type { FleetConfig } from "./lib/config/fleet_file.ts";
