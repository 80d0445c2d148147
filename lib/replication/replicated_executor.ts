/**
 * Dynamo-style replication: any node coordinates any client request. Writes
 * go to the key's N preference-list nodes and answer after W acks; reads ask
 * the N owners, answer with the newest of the first R replies and repair stale
 * owners afterwards. A replica that does not answer is replaced by a stand-in
 * (the next node on the ring) that keeps the write as a hint.
 *
 * @module
 */
import { toHex } from "../base/bytes.ts";
import type { TimerId } from "../base/clock.ts";
import type { ExecResult, Executor } from "../node/executor.ts";
import { compareVersions, type Version } from "../storage/hlc.ts";
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
import { type PutStatus, ReplicaCommand } from "./replica_protocol.ts";
import { decodeReplicaGetReply, decodeReplicaPutReply, replicaPutWriter } from "./replica_codec.ts";
import type { PayloadWriter } from "../wire/frame.ts";
import { jittered, type ReplicationConfig, replicationConfigFor } from "./replication_config.ts";
import { keyPosition } from "./ring.ts";

const OK: ExecResult = { code: ErrorCode.Success };
const MISSING: ExecResult = { code: ErrorCode.NonExistentKey };
const FULL: ExecResult = { code: ErrorCode.OutOfSpace };
const FAIL: ExecResult = { code: ErrorCode.InternalFailure };
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
      this.stats.tombstonesCollected += this.replica.collect();
      this.#background(this.antiEntropy.run());
    });
    this.#closers.push(this.placement.onRingChange(() => {
      this.handoff.markDirty();
      this.#scheduleRebalance();
    }));
    this.#closers.push(() => this.placement.close());
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
   * Sends `entry` to the key's owners and answers after W acks. If an owner
   * holds a newer version than the coordinator's clock produced (clock skew
   * between coordinators), the clock observes it and the write is issued once
   * more with a newer version, so a client's later write is never silently older.
   */
  #write(key: Uint8Array, entry: Entry, remove: boolean, mayReissue = true): ExecResult | Promise<ExecResult> {
    const { self, rpc, stats, config } = this.#deps;
    const position = keyPosition(key);
    const owners = this.placement.ownersAt(position);
    if (owners.length === 1 && owners[0] === self) return this.#writeLocally(key, entry, remove, mayReissue);
    const w = Math.min(config.w, owners.length);
    let plain: PayloadWriter | undefined; // made on the first send to another node, never for a local-only write
    const options = replicaCallOptions(config);
    let acks = 0, full = 0, pending = 0, existed = false, started = false;
    let newer: Version | undefined;
    let result: ExecResult | Promise<ExecResult> | undefined;
    let resolve: ((r: ExecResult | Promise<ExecResult>) => void) | undefined;
    const decide = () => {
      if (result || !started) return;
      if (acks >= w && newer && mayReissue) {
        this.replica.hlc.observe(newer);
        stats.reissued++;
        result = this.#write(key, { ...entry, version: this.replica.hlc.next() }, remove, false);
      } else if (acks >= w) result = remove && !existed ? MISSING : OK;
      else if (acks + pending < w) result = full > 0 ? FULL : FAIL;
      else return;
      if (result === OK || result === MISSING) stats.writesOk++;
      else if (!(result instanceof Promise)) stats.writesFailed++;
      resolve?.(result);
    };
    const answer = (s: PutStatus, ex: boolean, held?: Version) => {
      if (s === "full") full++;
      else acks++;
      existed ||= ex;
      if (s === "stale" && held && compareVersions(held, entry.version) > 0) {
        if (!newer || compareVersions(held, newer) > 0) newer = held;
      }
      decide();
    };
    let standIns: Address[] | undefined;
    const nextStandIn = () => (standIns ??= this.#standInsAt(position, owners)).shift();
    const send = (to: Address, hintFor?: Address) => {
      if (to === self) {
        let r: { status: PutStatus; existed: boolean };
        if (hintFor) this.handoff.record(toHex(key), hintFor);
        if (remove && !hintFor) r = this.replica.remove(key, entry);
        else r = { status: this.replica.apply(key, entry), existed: false };
        // The held version matters only to a stale write (the store builds an entry per read).
        answer(r.status, r.existed, r.status === "stale" ? this.#deps.store.getEntry(key)?.version : undefined);
        return;
      }
      pending++;
      stats.pendingReplicaWrites++;
      // One writer per destination kind: the value is copied into each datagram, nowhere else.
      const payload = hintFor
        ? replicaPutWriter(key, entry, false, hintFor)
        : (plain ??= replicaPutWriter(key, entry, remove));
      rpc.request(to, ReplicaCommand.Put, payload, options, (reply) => {
        pending--;
        stats.pendingReplicaWrites--;
        if (reply === undefined) {
          const standIn = this.#closed ? undefined : nextStandIn();
          if (standIn) {
            stats.standIns++;
            send(standIn, hintFor ?? to);
          }
          decide();
          return;
        }
        const r = decodeReplicaPutReply(reply);
        if (typeof r === "string") {
          stats.rejectedReplicaMessages++;
          decide();
        } else answer(r.status, r.existed, r.held);
      });
    };
    for (const o of owners) send(o);
    started = true;
    decide();
    return result ?? new Promise((r) => resolve = r);
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
   * Reads `key` from R of its owners (this node first when it is one); the newest version wins.
   * The other owners are asked only when one of the R fails, or before answering "not found".
   */
  get(key: Uint8Array): ExecResult | Promise<ExecResult> {
    const { self, rpc, stats, config } = this.#deps;
    const position = keyPosition(key);
    const owners = this.placement.ownersAt(position);
    if (owners.length === 1 && owners[0] === self) {
      // The only owner: read it here (nothing to repair).
      const e = this.replica.read(key);
      stats.readsOk++;
      return e && !e.tombstone ? { code: ErrorCode.Success, value: e.value } : MISSING;
    }
    const r = Math.min(config.r, owners.length);
    const options = replicaCallOptions(config);
    const replies = new Map<Address, Entry | undefined>();
    let pending = 0, started = false;
    let result: ExecResult | undefined;
    let resolve: ((r: ExecResult) => void) | undefined;
    const newest = (): Entry | undefined => {
      let best: Entry | undefined;
      for (const e of replies.values()) if (e && (!best || compareVersions(e.version, best.version) > 0)) best = e;
      return best;
    };
    // This node first (its copy costs no datagram), then the preference list.
    const unasked = owners.includes(self) ? [self, ...owners.filter((o) => o !== self)] : owners.slice();
    const decide = () => {
      if (!started) return;
      if (!result) {
        const e = replies.size >= r ? newest() : undefined;
        // "Not found" waits for every owner: right after a ring change the new owners are
        // empty until repair moves the key, and the one that still holds it may answer last.
        if (replies.size >= r && !e && pending === 0 && unasked.length > 0) {
          for (const o of unasked.splice(0)) ask(o);
          if (pending > 0) return;
        }
        if (replies.size >= r && (e || pending === 0)) {
          result = e && !e.tombstone ? { code: ErrorCode.Success, value: e.value } : MISSING;
          stats.readsOk++;
        } else if (replies.size + pending < r) {
          result = FAIL;
          stats.readsFailed++;
        }
        if (result) resolve?.(result);
      }
      if (pending === 0) this.#readRepair(key, owners, replies, newest());
    };
    let standIns: Address[] | undefined;
    const nextStandIn = () => (standIns ??= this.#standInsAt(position, owners)).shift();
    const ask = (to: Address) => {
      if (to === self) {
        replies.set(self, this.replica.read(key));
        return;
      }
      pending++;
      rpc.request(to, ReplicaCommand.Get, key, options, (reply) => {
        pending--;
        if (reply === undefined) {
          const owner = this.#closed ? undefined : unasked.shift();
          const standIn = this.#closed || owner ? undefined : nextStandIn();
          if (owner) ask(owner);
          else if (standIn) {
            stats.standIns++;
            ask(standIn);
          }
          decide();
          return;
        }
        const e = decodeReplicaGetReply(reply);
        if (typeof e === "string") stats.rejectedReplicaMessages++;
        else {
          if (e) this.replica.hlc.observe(e.version);
          replies.set(to, e && !this.replica.expired(e) ? e : undefined);
        }
        decide();
      });
    };
    for (const o of unasked.splice(0, r)) ask(o);
    started = true;
    decide();
    return result ?? new Promise((res) => resolve = res);
  }

  /** Sends the newest entry to every owner that answered with an older one or none. */
  #readRepair(
    key: Uint8Array,
    owners: readonly Address[],
    replies: Map<Address, Entry | undefined>,
    best?: Entry,
  ): void {
    if (!best || this.#closed) return;
    let payload: PayloadWriter | undefined;
    for (const o of owners) {
      if (!replies.has(o)) continue;
      const e = replies.get(o);
      if (e && compareVersions(e.version, best.version) >= 0) continue;
      this.stats.readRepairs++;
      if (o === this.#deps.self) {
        this.replica.apply(key, best);
        continue;
      }
      payload ??= replicaPutWriter(key, best, false);
      this.#deps.rpc.castRaw(o, ReplicaCommand.Put, payload);
    }
  }

  /** Stops background work (idempotent). Pending replica calls end when the node's rpc closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#rebalanceTimer !== undefined) this.#deps.clock.clearTimeout(this.#rebalanceTimer);
    for (const c of this.#closers.splice(0)) c();
  }
}
