/**
 * Assembles a running node from its parts: transport, store, persistence,
 * executor, and the subsystems attached to it.
 *
 * @module
 */
import { type Clock, realClock, type TimerId } from "../base/clock.ts";
import type { FleetConfig } from "../config/fleet_file.ts";
import { LocalExecutor } from "../node/executor.ts";
import { HybridLogicalClock } from "../storage/hlc.ts";
import { KVNode, type NodeConfig, nodeEndpoint } from "../node/kv_node.ts";
import type { FsyncPolicy } from "../storage/durability.ts";
import { LogPersistence } from "../storage/log_persistence.ts";
import { importLegacySqlite, retireLegacySqlite } from "../storage/legacy_sqlite.ts";
import { MemoryStore } from "../storage/store.ts";
import { type Address, formatAddress, parseAddress, type Transport } from "../net/transport.ts";
import { InternalAddressBook, internalAddressOf } from "../net/internal_address.ts";
import { clientGuardStats, destructiveGuard, replyBudget } from "./client_guards.ts";
import type { DestructiveGuard } from "../node/destructive_guard.ts";
import type { ReplyBudgetConfig } from "../node/reply_budget.ts";
import type { NodeContext, ServiceContext } from "../node/context.ts";
import type { MemberView } from "../node/members.ts";
import type { Random } from "../base/random.ts";
import { attachCluster, type ClusterOptions, type ClusterParts } from "./attach_cluster.ts";
import { type AgentOptions, attachMonitoringAgent, type MonitoringAgent } from "../monitoring/agent/attach.ts";
import { StatsSources } from "../monitoring/agent/stats.ts";
import { type AdminAttachOptions, attachAdmin } from "../admin/attach.ts";
import type { AdminService } from "../admin/service.ts";
import { UdpTransport } from "../net/udp_transport.ts";
import { attachFleet, type FleetOptions, type FleetService } from "../monitoring/fleet/attach.ts";
import { Swim } from "../membership/swim.ts";
import type { FrameAuth } from "../wire/frame.ts";
import { fleetKeyring } from "../wire/fleet_auth.ts";

/** Time between two expiries of the at-most-once reply cache while it holds replies (ms). */
const REPLY_EXPIRY_MS = 1_000;
/** The same while it is empty (an idle node): a request expires old replies itself. */
const REPLY_EXPIRY_IDLE_MS = 10_000;

/** Default store capacity: 64 MiB. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** How to start a node. */
export interface StartNodeOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** UDP port (default 4000; 0 picks a free one). */
  port?: number;
  /** A transport to use instead of binding UDP (simulation). */
  transport?: Transport;
  /**
   * UDP port of the internal socket (node-to-node frames; `net/internal_address.ts`). Default: the
   * fleet file's `internalAddresses` entry of this node, else the client port + 10000.
   */
  internalPort?: number;
  /**
   * The internal socket to use instead of binding UDP (simulation). With `transport` and without
   * this, the one transport carries both client and internal traffic.
   */
  internalTransport?: Transport;
  /** Window (ms) of an internal frame's time (default 30 s: `wire/freshness.ts`). */
  freshnessWindowMs?: number;
  /** Time source (default real time). */
  clock?: Clock;
  /** Store capacity in bytes. */
  maxBytes?: number;
  /** Directory for durable storage (an append-only log); in memory only when absent. */
  dataDir?: string;
  /** When durable storage syncs to disk (default `batch`). */
  fsync?: FsyncPolicy;
  /** Validated fleet file, if any. */
  fleet?: FleetConfig;
  /** Request-path tunables. */
  nodeConfig?: Partial<NodeConfig>;
  /** Process id reported by get-pid. */
  pid?: number;
  /** What shutdown does after replying (default: close the node). */
  onShutdown?: () => void;
  /** Seeds to join through (default: the fleet file's nodes). Self is dropped from the list. */
  seeds?: Address[];
  /** Random source (default Math.random; seeded in simulations). */
  random?: Random;
  /** Per-subsystem options (flags, test tuning), each passed to its subsystem. */
  subsystemOptions?: SubsystemOptions;
  /**
   * Who may send shutdown and wipeout without a proof (see `source_networks.ts`; `fleet` means the
   * fleet file's hosts); from elsewhere they need a proof made with a cluster key
   * (`wire/destructive_proof.ts`). Default: anyone (embedded and simulated nodes); the node command
   * passes the fleet file's list or [loopback].
   */
  destructiveFrom?: readonly string[];
  /**
   * Clients exempt from the reply budget (source networks; `none`: every source is budgeted).
   * Default: no budget at all (embedded and simulated nodes); the node command passes the fleet
   * file's `trustedClients` or [loopback].
   */
  trustedClients?: readonly string[];
  /** The reply budget's tunables (with {@linkcode StartNodeOptions.trustedClients}). */
  replyBudget?: Partial<ReplyBudgetConfig>;
  /** Authenticates node-to-node frames (default: the fleet file's cluster keys); untagged without any. */
  frameAuth?: FrameAuth;
}

/** The options of each subsystem of a node (all optional). */
export interface SubsystemOptions extends ClusterOptions {
  /** The monitoring agent. */
  monitoring?: AgentOptions;
  /** Epidemic admin. */
  admin?: AdminAttachOptions;
  /** The gossiped fleet table (`false`: none). */
  fleet?: FleetOptions | false;
}

/** A started node and what it is made of. */
export interface RunningNode {
  /** The protocol server. */
  node: KVNode;
  /** The local store. */
  store: MemoryStore;
  /** Version clock. */
  hlc: HybridLogicalClock;
  /** Keys loaded from the data dir at start. */
  loadedKeys: number;
  /** This node's view of the membership. */
  members: MemberView;
  /** Membership, replication, the join gate and the catch-up tracker. */
  cluster: ClusterParts;
  /** The monitoring agent. */
  agent: MonitoringAgent;
  /** The admin service (absent when its state could not be read). */
  admin?: AdminService;
  /** Who may shut down and wipe out (its keys follow a key rotation); absent: anyone. */
  destructiveGuard?: DestructiveGuard;
  /** The gossiped fleet table (absent when turned off). */
  fleet?: FleetService;
  /** Extra stats every report includes (subsystems and embedders add theirs). */
  stats: StatsSources;
  /** The context the subsystems were attached with. */
  context: NodeContext;
  /** Stops everything and closes the data dir. */
  close(): void;
}

/**
 * Starts a node.
 *
 * @example
 * ```ts ignore
 * const { node, close } = await startNode({ port: 0 });
 * console.log(node.address);
 * close();
 * ```
 */
export async function startNode(options: StartNodeOptions = {}): Promise<RunningNode> {
  const clock = options.clock ?? realClock;
  const { store, persistence, loadedKeys } = openStorage(options);
  const { transport, internal } = await openSockets(options, persistence);
  const hlc = new HybridLogicalClock(clock, transport.address);
  const sub = options.subsystemOptions ?? {};
  // Membership and replication make the node's executor, so they come first, on an endpoint
  // made for the node; they close when it closes.
  const rpcAuth = options.frameAuth ?? fleetKeyring(options.fleet);
  const closers: (() => void)[] = [];
  const services = serviceContext(options, { clock, store, hlc, transport, internal, persistence, rpcAuth }, closers);
  const stats = new StatsSources();
  const cluster = attachCluster(services, sub, new LocalExecutor(store, hlc), stats);
  const guard = destructiveGuard(options.destructiveFrom, options.fleet, services.address, rpcAuth);
  const { node, expiry } = createKvNode(options, services, { transport, internal, persistence, guard, stats, cluster });
  node.onClose(() => {
    for (const fn of closers.splice(0)) fn();
    expiry();
    persistence?.close();
  });
  const context: NodeContext = { ...services, node, onClose: (fn) => node.onClose(fn) };
  const { agent, admin, fleet } = attachSubsystems(context, sub, cluster, stats);
  return {
    node,
    store,
    hlc,
    loadedKeys,
    members: cluster.members,
    cluster,
    agent,
    admin,
    stats,
    context,
    destructiveGuard: guard,
    fleet,
    close: () => node.close(),
  };
}

/** The store, loaded from the data dir when there is one (which then listens to its writes). */
function openStorage(
  options: StartNodeOptions,
): { store: MemoryStore; persistence?: LogPersistence; loadedKeys: number } {
  const store = new MemoryStore(options.maxBytes ?? DEFAULT_MAX_BYTES);
  if (!options.dataDir) return { store, loadedKeys: 0 };
  const persistence = openDataDir(options.dataDir, options.fsync, store);
  const loadedKeys = store.size;
  store.listener = persistence;
  return { store, persistence, loadedKeys };
}

/** The client and internal sockets (those given, else bound); on a failure, closes what was opened. */
async function openSockets(
  options: StartNodeOptions,
  persistence: LogPersistence | undefined,
): Promise<{ transport: Transport; internal?: Transport }> {
  let bound: Transport | undefined, internal: Transport | undefined;
  try {
    bound = options.transport ?? await UdpTransport.listen(options.host ?? "127.0.0.1", options.port ?? 4000);
    internal = await bindInternal(options, bound);
  } catch (e) {
    persistence?.close();
    if (!options.transport) bound?.close();
    throw e;
  }
  return { transport: bound, internal };
}

/** What {@linkcode serviceContext} builds the subsystems' context from. */
interface NodeBase {
  clock: Clock;
  store: MemoryStore;
  hlc: HybridLogicalClock;
  transport: Transport;
  internal?: Transport;
  persistence?: LogPersistence;
  rpcAuth?: FrameAuth;
}

/** The context membership and replication attach with: the node's endpoint (on the internal socket) and its parts. */
function serviceContext(options: StartNodeOptions, base: NodeBase, closers: (() => void)[]): ServiceContext {
  const { clock, transport, internal } = base;
  const address = transport.address;
  const rpc = nodeEndpoint(internal ?? transport, clock, {
    auth: base.rpcAuth,
    addresses: internal ? fleetAddressBook(options.fleet, address, internal.address) : undefined,
    freshnessWindowMs: options.freshnessWindowMs ?? options.fleet?.frameWindowMs,
  }, base.persistence);
  return {
    address,
    rpc,
    store: base.store,
    hlc: base.hlc,
    clock,
    random: options.random ?? Math.random,
    fleet: options.fleet,
    seeds: (options.seeds ?? options.fleet?.nodes ?? []).filter((a) => a !== address),
    dataDir: options.dataDir,
    onClose: (fn) => closers.push(fn),
  };
}

/** The parts of the protocol server made before it. */
interface NodeParts {
  transport: Transport;
  internal?: Transport;
  persistence?: LogPersistence;
  guard?: DestructiveGuard;
  stats: StatsSources;
  cluster: ClusterParts;
}

/** The protocol server with its client guards, and the expiry of its reply cache (`expiry` stops it). */
function createKvNode(
  options: StartNodeOptions,
  services: ServiceContext,
  parts: NodeParts,
): { node: KVNode; expiry: () => void } {
  const { clock } = services;
  const { guard } = parts;
  const budget = replyBudget(clock, options.trustedClients, options.fleet, options.replyBudget);
  parts.stats.add(() => clientGuardStats(guard, budget));
  const node = new KVNode({
    transport: parts.transport,
    clock,
    store: services.store,
    executor: parts.cluster.executor,
    rpc: services.rpc,
    pid: options.pid,
    onShutdown: options.onShutdown,
    config: options.nodeConfig,
    allowDestructive: guard ? (from, packet) => guard.admit(packet, from, clock.now()) : undefined,
    replyBudget: budget,
    durability: parts.persistence,
    internalTransport: parts.internal,
  });
  // Expiry every second while replies are cached; an empty cache is looked at rarely (requests expire too).
  const expiry = setIntervalOn(
    clock,
    () => node.replyCache.expire(clock.now()),
    () => node.replyCache.size > 0 ? REPLY_EXPIRY_MS : REPLY_EXPIRY_IDLE_MS,
  );
  return { node, expiry };
}

/** The monitoring agent, the admin service and the fleet table (unless turned off). */
function attachSubsystems(
  context: NodeContext,
  sub: SubsystemOptions,
  cluster: ClusterParts,
  stats: StatsSources,
): { agent: MonitoringAgent; admin?: AdminService; fleet?: FleetService } {
  const members = cluster.members;
  const agent = attachMonitoringAgent(context, members, sub.monitoring, stats);
  const admin = attachAdmin(context, members, sub.admin, () => cluster.catchUp.status(), stats);
  const fleet = sub.fleet === false ? undefined : attachFleet(context, members, {
    ...sub.fleet,
    system: sub.fleet?.system ?? sub.monitoring?.system,
    verdict: sub.fleet?.verdict ?? (members instanceof Swim ? (a) => members.member(a) : undefined),
  }, stats);
  return { agent, admin, fleet };
}

/**
 * The internal socket: the one given, none when only a client transport was given (one transport
 * for both), else a UDP socket on the node's host at `internalPort`, the fleet file's entry, or
 * the client port + 10000.
 */
async function bindInternal(options: StartNodeOptions, client: Transport): Promise<Transport | undefined> {
  if (options.internalTransport) return options.internalTransport;
  if (options.transport) return undefined;
  const self = parseAddress(client.address);
  const at = parseAddress(
    options.internalPort !== undefined
      ? formatAddress(self.hostname, options.internalPort)
      : internalAddressOf(client.address, options.fleet?.internalAddresses?.[client.address]),
  );
  return await UdpTransport.listen(options.host ?? self.hostname, at.port, "--internal-port");
}

/** The fleet's internal addresses, this node's own as bound. */
function fleetAddressBook(fleet: FleetConfig | undefined, self: Address, internal: Address): InternalAddressBook {
  const book = new InternalAddressBook(fleet?.internalAddresses ?? {});
  book.set(self, internal);
  return book;
}

/** Opens the log in `dir` and loads it into `store` (first importing a database of the SQLite backend). */
function openDataDir(dir: string, fsync: FsyncPolicy | undefined, store: MemoryStore): LogPersistence {
  const log = LogPersistence.open(dir, fsync);
  try {
    const imported = importLegacySqlite(dir, store);
    log.loadInto(store);
    if (imported !== undefined) {
      log.snapshotNow();
      retireLegacySqlite(dir);
      console.log(`kvstore node: imported ${imported} keys from ${dir}/kvstore.db into the log`);
    }
    return log;
  } catch (e) {
    log.close();
    throw new Error(`Cannot load data dir ${dir}: ${(e as Error).message}`);
  }
}

/** Repeats `fn` every `ms` on `clock` (a function: read again after each run); returns a function that stops it. */
export function setIntervalOn(clock: Clock, fn: () => void, ms: number | (() => number)): () => void {
  const interval = typeof ms === "number" ? () => ms : ms;
  let stopped = false;
  let timer: TimerId = 0;
  const tick = () => {
    if (stopped) return;
    try {
      fn();
    } finally {
      if (!stopped) timer = clock.setTimeout(tick, interval());
    }
  };
  timer = clock.setTimeout(tick, interval());
  return () => {
    stopped = true;
    clock.clearTimeout(timer);
  };
}
