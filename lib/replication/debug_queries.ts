/**
 * Debug queries (commands 0x60–0x6F): which keys a node holds with their
 * versions, its replication counters, and the members it knows with their
 * states (`kvctl members`). Used by kvctl, tests and the bench helper to look
 * at a node from outside; read-only, and authenticated like all internal traffic.
 *
 * @module
 */
import type { InternalMessage } from "../wire/envelope.ts";
import type { Rpc, RpcAnswer } from "../wire/rpc.ts";
import { RpcSocket } from "../wire/rpc_socket.ts";
import type { MemoryStore } from "../storage/store.ts";
import type { Address } from "../net/transport.ts";
import { DebugCommand } from "./replica_protocol.ts";
import {
  type HeldKey,
  keysPageHeader,
  type MemberRow,
  type MembershipCounters,
  membersPageHeader,
  parseKeysPage,
  parseKeysPageRequest,
  parseMembersPage,
  parseReplicationDebugStats,
  type ReplicationDebugStats,
} from "./debug_messages.ts";
import type { MemberView } from "../node/members.ts";
import type { Placement } from "./placement.ts";
import type { ReplicationConfig } from "./replication_config.ts";
import type { ReplicationStats } from "./local_replica.ts";

export type { HeldKey, MemberRow, ReplicationDebugStats } from "./debug_messages.ts";

/**
 * The members query: every member the node knows with its state (the command after
 * `DebugCommand.Stats`). Reply `{members: [[address, state, incarnation, forMs]], more}`.
 *
 * @example
 * ```ts
 * console.log(DEBUG_MEMBERS); // 99 (0x63)
 * ```
 */
export const DEBUG_MEMBERS: number = DebugCommand.Members;

/**
 * Most members one reply lists (≈ 45 B each in JSON, inside a datagram); `more` counts the rest.
 *
 * @example
 * ```ts
 * console.log(DEBUG_MEMBERS_MAX); // 1000
 * ```
 */
export const DEBUG_MEMBERS_MAX = 1000;

/**
 * Answers the members query on `rpc` with `members()` (sorted by address here).
 *
 * @example
 * ```ts ignore
 * registerMembersHandler(node.rpc, () => [{ address: node.address, state: "alive", incarnation: 0, forMs: 0 }]);
 * ```
 */
export function registerMembersHandler(rpc: Rpc, members: () => MemberRow[]): void {
  rpc.handle(DEBUG_MEMBERS, () => {
    const all = members().sort((a, b) => a.address < b.address ? -1 : a.address > b.address ? 1 : 0);
    const listed = all.slice(0, DEBUG_MEMBERS_MAX);
    return { header: membersPageHeader({ members: listed, more: all.length - listed.length }) };
  });
}

/** What the handlers need from the executor (a `ReplicatedExecutor`). */
export interface DebugSource {
  /** This node's address. */
  readonly self: Address;
  /** The members keys are placed on. */
  readonly members: MemberView;
  /** The local replica (its store). */
  readonly replica: { readonly store: MemoryStore };
  /** Owners of keys. */
  readonly placement: Placement;
  /** Hints held for other owners. */
  readonly handoff: { readonly hintCount: number };
  /** Replication settings. */
  readonly config: ReplicationConfig;
  /** Counters. */
  readonly stats: ReplicationStats;
}

/**
 * Sizes and counters of the replication layer, for the debug query: keys, entries, tombstones,
 * keys this node owns and holds without owning, hints, and every counter.
 *
 * @example
 * ```ts ignore
 * console.log(replicationDebugStats(executor).owned);
 * ```
 */
export function replicationDebugStats(source: DebugSource): ReplicationDebugStats {
  let tombstones = 0, owned = 0, notOwned = 0;
  const store = source.replica.store, self = source.self;
  for (const [k, e] of store.entries()) {
    if (e.tombstone) tombstones++;
    if (source.placement.ownersHex(k).includes(self)) owned++;
    else notOwned++;
  }
  const c = source.config;
  const membership = (source.members as { stats?: MembershipCounters }).stats;
  return {
    self,
    keys: store.liveKeys,
    entries: store.size,
    tombstones,
    owned,
    notOwned,
    hints: source.handoff.hintCount,
    bytes: store.bytes,
    members: source.members.alive(),
    n: source.placement.n(),
    config: { n: c.n, w: c.w, r: c.r, virtualNodes: c.virtualNodes },
    ...(membership ? { membership } : {}),
    storage: store.memory(),
    ...source.stats,
  };
}

/**
 * Keys per debug page (≈ 120 B each in JSON, well inside a datagram).
 *
 * @example
 * ```ts
 * console.log(DEBUG_PAGE_KEYS); // 400
 * ```
 */
export const DEBUG_PAGE_KEYS = 400;

/**
 * Registers the debug handlers on `rpc`.
 *
 * @example
 * ```ts
 * // registerDebugHandlers(node.rpc, executor); // executor: a ReplicatedExecutor
 * console.log(typeof registerDebugHandlers); // "function"
 * ```
 */
export function registerDebugHandlers(rpc: Rpc, source: DebugSource): void {
  rpc.handle(DebugCommand.Keys, (m) => onKeys(m, source.replica.store));
  rpc.handle(DebugCommand.Stats, () => ({ header: replicationDebugStats(source) }));
}

function onKeys(m: InternalMessage, store: MemoryStore): RpcAnswer {
  const request = parseKeysPageRequest(m.header);
  const after = request.after, limit = Math.min(request.limit ?? DEBUG_PAGE_KEYS, DEBUG_PAGE_KEYS);
  const keys: string[] = [];
  for (const k of store.entries()) if (k[0] > after) keys.push(k[0]);
  keys.sort();
  const page = keys.slice(0, limit).map((key): HeldKey => {
    const e = store.getEntry(key)!;
    return { key, t: e.version.t, n: e.version.n, tombstone: e.tombstone };
  });
  return { header: keysPageHeader({ keys: page, next: keys.length > limit ? keys[limit - 1] : null }) };
}

/** Per-attempt timeout of a debug query (ms). */
const DEBUG_TIMEOUT_MS = 500;
/** Retries of a debug query. */
const DEBUG_RETRIES = 3;

/**
 * Client for the debug queries over its own UDP socket (opened by {@linkcode RpcSocket.open}: an
 * ephemeral port of `host`, frames tagged with `auth`, nodes' internal ports from `addresses`).
 *
 * @example
 * ```ts ignore
 * const dbg = await ClusterDebugClient.open();
 * const held = await dbg.keys("127.0.0.1:4000");
 * console.log(held.length, (await dbg.stats("127.0.0.1:4000")).owned);
 * dbg.close();
 * ```
 */
export class ClusterDebugClient extends RpcSocket {
  /** Every key `node` holds (tombstones included), sorted by key. */
  async keys(node: Address, options: { timeoutMs?: number; retries?: number } = {}): Promise<HeldKey[]> {
    const out: HeldKey[] = [];
    let after = "";
    for (;;) {
      const r = await this.#call(node, DebugCommand.Keys, { after }, options);
      const page = parseKeysPage(r.header);
      if (!page) throw new TypeError(`Malformed debug reply from ${node}`);
      out.push(...page.keys);
      if (page.next === null) return out;
      after = page.next;
    }
  }

  /** Replication counters and sizes of `node`. */
  async stats(node: Address, options: { timeoutMs?: number; retries?: number } = {}): Promise<ReplicationDebugStats> {
    const r = await this.#call(node, DebugCommand.Stats, {}, options);
    const stats = parseReplicationDebugStats(r.header);
    if (!stats) throw new TypeError(`Malformed debug stats from ${node}`);
    return stats;
  }

  /** The members `node` knows with their states, sorted by address; `more` counts members left out. */
  async members(
    node: Address,
    options: { timeoutMs?: number; retries?: number } = {},
  ): Promise<{ members: MemberRow[]; more: number }> {
    const r = await this.#call(node, DEBUG_MEMBERS, {}, options);
    const page = parseMembersPage(r.header);
    if (!page) throw new TypeError(`Malformed members reply from ${node}`);
    return page;
  }

  /** One query, with the debug timeout and retries unless `options` sets them. */
  #call(node: Address, command: number, header: unknown, options: { timeoutMs?: number; retries?: number }) {
    return this.rpc.call(node, command, header, undefined, {
      timeoutMs: options.timeoutMs ?? DEBUG_TIMEOUT_MS,
      retries: options.retries ?? DEBUG_RETRIES,
    });
  }
}
