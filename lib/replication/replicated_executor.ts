/**
 * Dynamo-style replication: any node coordinates any client request. Writes
 * go to the key's N preference-list nodes and answer after W acks; reads ask
 * the N owners, answer with the newest of the first R replies and repair stale
 * owners afterwards. A replica that does not answer is replaced by a stand-in
 * (the next node on the ring) that keeps the write as a hint.
 *
 * @module
 */
import type { TimerId } from "../base/clock.ts";
import type { ExecResult, Executor } from "../node/executor.ts";
import { compareVersions } from "../storage/hlc.ts";
import type { ServiceContext } from "../node/context.ts";
import type { MemberView } from "../node/members.ts";
import { ErrorCode } from "../wire/client_protocol.ts";
import type { Entry } from "../storage/store.ts";
import type { Address } from "../net/transport.ts";
import { AntiEntropy } from "./anti_entropy.ts";
import { serveReplicaRequests } from "./replica_server.ts";
import { registerDebugHandlers } from "./debug_queries.ts";
import { HintedHandoff } from "./hinted_handoff.ts";
import { LocalReplica, newReplicationStats, replicaCallOptions, type ReplicaDeps } from "./local_replica.ts";
import type { ReplicationStats } from "./local_replica.ts";
import { Placement } from "./placement.ts";
import { type Coordinator, FULL, MISSING, OK } from "./coordinator.ts";
import { ReadRequest } from "./replicated_read.ts";
import { WriteRequest } from "./replicated_write.ts";
import { jittered, type ReplicationConfig, replicationConfigFor } from "./replication_config.ts";
import { keyPosition } from "./ring.ts";

const EMPTY = new Uint8Array(0);

/**
 * Executes client data commands by coordinating the key's replicas.
 *
 * @example
 * ```ts ignore
 * const executor = new ReplicatedExecutor(ctx, members);
 * const node = new KVNode({ transport, clock, store, executor, rpc: ctx.rpc }); // closes with the node
 * ```
 */
export class ReplicatedExecutor implements Executor {
  /** Tunables in effect. */
  readonly config: ReplicationConfig;
  /** Ring and effective N. */
  readonly placement: Placement;
  /** Local write application. */
  readonly replica: LocalReplica;
  /** Hinted handoff (keys held for other owners). */
  readonly handoff: HintedHandoff;
  /** Background digest comparison with the other replicas. */
  readonly antiEntropy: AntiEntropy;
  /** Counters. */
  readonly stats: ReplicationStats = newReplicationStats();
  /** This node's address. */
  readonly self: Address;
  /** The members replication places keys on. */
  readonly members: MemberView;
  #deps: ReplicaDeps;
  #coordinator: Coordinator;
  #members: MemberView;
  #closers: (() => void)[] = [];
  #rebalanceTimer: TimerId | undefined;
  #closed = false;

  /** Starts replication on `ctx.rpc` for the members of `members`; config defaults to {@linkcode replicationConfigFor}. */
  constructor(ctx: ServiceContext, members: MemberView, config: ReplicationConfig = replicationConfigFor(ctx)) {
    this.config = config;
    this.self = ctx.address;
    this.members = this.#members = members;
    this.placement = new Placement(members, config.n, config.virtualNodes);
    this.replica = new LocalReplica(ctx.store, ctx.hlc, ctx.clock, config.tombstoneGraceMs);
    this.#deps = {
      self: ctx.address,
      rpc: ctx.rpc,
      store: ctx.store,
      replica: this.replica,
      placement: this.placement,
      config,
      clock: ctx.clock,
      random: ctx.random,
      stats: this.stats,
      noteWrite: (key) => this.handoff.check(key),
    };
    this.handoff = new HintedHandoff(this.#deps);
    this.#coordinator = {
      deps: this.#deps,
      callOptions: replicaCallOptions(config),
      handoff: this.handoff,
      closed: () => this.#closed,
      standInsAt: (position, owners) => this.#standInsAt(position, owners),
      write: (key, entry, remove, mayReissue) => this.#write(key, entry, remove, mayReissue),
    };
    this.antiEntropy = new AntiEntropy(this.#deps);
    const rpc = ctx.rpc;
    serveReplicaRequests(rpc, this.replica, this.handoff, this.stats, this.#deps.self);
    this.handoff.register(rpc);
    this.antiEntropy.register(rpc);
    registerDebugHandlers(rpc, this);
    const { clock, random } = ctx;
    const every = (ms: number, fn: () => void) => {
      let id: TimerId = 0;
      const tick = () => {
        try {
          fn();
        } finally {
          if (!this.#closed) id = clock.setTimeout(tick, jittered(ms, config.jitter, random));
        }
      };
      id = clock.setTimeout(tick, jittered(ms, config.jitter, random));
      this.#closers.push(() => clock.clearTimeout(id));
    };
    every(config.handoffIntervalMs, () => this.#background(this.handoff.run()));
    every(config.antiEntropyIntervalMs, () => {
      this.antiEntropy.collectExpired(); // counted in tombstonesCollected; no scan unless some are expired
      this.#background(this.antiEntropy.run());
    });
    this.#closers.push(this.placement.onRingChange(() => {
      this.handoff.markDirty();
      this.#scheduleRebalance();
    }));
    this.#closers.push(() => this.placement.close());
    this.#closers.push(() => this.antiEntropy.close());
    ctx.onClose(() => this.close());
  }

  #background(p: Promise<unknown>): void {
    p.catch(() => {/* a failed background run is retried at the next interval */});
  }

  #scheduleRebalance(): void {
    if (this.#closed) return;
    const { clock, random, config } = this.#deps;
    if (this.#rebalanceTimer !== undefined) clock.clearTimeout(this.#rebalanceTimer);
    this.#rebalanceTimer = clock.setTimeout(() => {
      this.#rebalanceTimer = undefined;
      this.#background(this.rebalance());
    }, jittered(config.rebalanceDelayMs, config.jitter, random));
  }

  /** Hands off keys this node no longer owns, then compares digests with every replica peer. */
  async rebalance(): Promise<void> {
    await this.handoff.run();
    await this.antiEntropy.run();
  }

  /** Number of members this node believes alive. */
  membershipCount(): number {
    return this.#members.alive().length;
  }

  /** Stores `value` under `key` on the key's replicas. */
  put(key: Uint8Array, value: Uint8Array): ExecResult | Promise<ExecResult> {
    return this.#write(key, { value, version: this.replica.hlc.next(), tombstone: false }, false);
  }

  /** Writes a tombstone; 0x01 if no answering replica held the key. */
  remove(key: Uint8Array): ExecResult | Promise<ExecResult> {
    return this.#write(key, { value: EMPTY, version: this.replica.hlc.next(), tombstone: true }, true);
  }

  /**
   * Sends `entry` to the key's owners and answers after W acks (`replicated_write.ts`). If an owner
   * holds a newer version than the coordinator's clock produced (clock skew between coordinators),
   * the clock observes it and the write is issued once more with a newer version, so a client's
   * later write is never silently older.
   */
  #write(key: Uint8Array, entry: Entry, remove: boolean, mayReissue = true): ExecResult | Promise<ExecResult> {
    const position = keyPosition(key);
    const owners = this.placement.ownersAt(position);
    if (owners.length === 1 && owners[0] === this.self) return this.#writeLocally(key, entry, remove, mayReissue);
    return new WriteRequest(this.#coordinator, key, entry, remove, mayReissue, position, owners).run();
  }

  /**
   * Nodes that may stand in for failed owners, nearest first: the current ring's successors of
   * `position` that are not among `owners`. Read at the first failure, which may come after the
   * ring dropped the dead owners, so it filters by name instead of skipping `owners.length` nodes.
   */
  #standInsAt(position: number, owners: readonly Address[]): Address[] {
    return this.placement.ring().successorsAt(position).filter((a) => !owners.includes(a));
  }

  /**
   * {@linkcode ReplicatedExecutor.#write} when this node is the key's only owner (a cluster of
   * one): the same outcome without the RPC machinery (no closures, no encoded body).
   */
  #writeLocally(key: Uint8Array, entry: Entry, remove: boolean, mayReissue: boolean): ExecResult {
    const { stats, store } = this.#deps;
    const r = remove ? this.replica.remove(key, entry) : { status: this.replica.apply(key, entry), existed: false };
    if (r.status === "full") {
      stats.writesFailed++;
      return FULL;
    }
    const held = r.status === "stale" && mayReissue ? store.getEntry(key)?.version : undefined;
    if (held && compareVersions(held, entry.version) > 0) {
      this.replica.hlc.observe(held);
      stats.reissued++;
      return this.#write(key, { ...entry, version: this.replica.hlc.next() }, remove, false) as ExecResult;
    }
    stats.writesOk++;
    return remove && !r.existed ? MISSING : OK;
  }

  /**
   * Reads `key` from R of its owners (this node first when it is one); the newest version wins
   * (`replicated_read.ts`). The other owners are asked only when one of the R fails, or before
   * answering "not found".
   */
  get(key: Uint8Array): ExecResult | Promise<ExecResult> {
    const { self, stats } = this.#deps;
    const position = keyPosition(key);
    const owners = this.placement.ownersAt(position);
    if (owners.length === 1 && owners[0] === self) {
      // The only owner: read it here (nothing to repair).
      const e = this.replica.read(key);
      stats.readsOk++;
      return e && !e.tombstone ? { code: ErrorCode.Success, value: e.value } : MISSING;
    }
    return new ReadRequest(this.#coordinator, key, position, owners).run();
  }

  /** Stops background work (idempotent). Pending replica calls end when the node's rpc closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#rebalanceTimer !== undefined) this.#deps.clock.clearTimeout(this.#rebalanceTimer);
    for (const c of this.#closers.splice(0)) c();
  }
}
