/**
 * Attaches cluster membership (SWIM gossip) and replication to a node, with
 * the join gate (data requests wait until the node has joined) and the
 * catch-up tracker (whether a restarted node holds its data again).
 *
 * @module
 */
import { assertionsFailed } from "../base/assert.ts";
import type { StatsSources } from "../monitoring/agent/stats.ts";
import type { ServiceContext } from "../node/context.ts";
import { type Executor, LocalExecutor } from "../node/executor.ts";
import { type MemberView, StaticMembers } from "../node/members.ts";
import { registerMembersHandler } from "../replication/debug_queries.ts";
import { putStat } from "../monitoring/report.ts";
import { CatchUp, type CatchUpConfig, DEFAULT_CATCH_UP_CONFIG } from "../replication/catch_up.ts";
import { JoinGate } from "../replication/join_gate.ts";
import { ReplicatedExecutor } from "../replication/replicated_executor.ts";
import { Swim } from "../membership/swim.ts";
import { resolveSwimConfig, type SwimConfig } from "../membership/swim_config.ts";
import { type ReplicationConfig, replicationConfigFor } from "../replication/replication_config.ts";

/** Options of the cluster layer (all optional; tests and embedding tune them). */
export interface ClusterOptions {
  /** A fixed view (this node + its seeds) without gossip. */
  staticMembers?: boolean;
  /** Overrides of the preset's membership settings. */
  membership?: Partial<SwimConfig>;
  /** Overrides of the catch-up tracker's settings. */
  catchUp?: Partial<CatchUpConfig>;
  /** Overrides of the replication settings, or `false` to execute locally (no replication). */
  replication?: Partial<ReplicationConfig> | false;
}

/** What the cluster layer of a node is made of (`RunningNode.cluster`). */
export interface ClusterParts {
  /** Membership (a Swim, or a static view). */
  members: MemberView;
  /**
   * What executes the node's put/get/remove and answers get-membership-count from `members`:
   * replication (behind the join gate), or a local executor counting `members` when replication is off.
   */
  executor: Executor;
  /** Replication, unless turned off. */
  replication?: ReplicatedExecutor;
  /** The catch-up tracker. */
  catchUp: CatchUp;
  /** The join gate, when the node has seeds to join through. */
  joinGate?: JoinGate;
}

/**
 * Starts membership, replication (unless `options.replication` is `false`), the join gate and
 * the catch-up tracker for a node that does not exist yet, and returns them with the executor the
 * node is to be made with (over `local`'s store and clock when replication is off); they close with the node.
 *
 * @example
 * ```ts ignore
 * const cluster = attachCluster(ctx, { membership: { probeIntervalMs: 500 } }, local, stats);
 * const node = new KVNode({ transport, clock, store, executor: cluster.executor, rpc: ctx.rpc });
 * ```
 */
export function attachCluster(
  ctx: ServiceContext,
  options: ClusterOptions,
  local: LocalExecutor,
  stats: StatsSources,
): ClusterParts {
  const members = options.staticMembers === true
    ? new StaticMembers(ctx.address, ctx.seeds)
    : startMembership(ctx, options.membership);
  // The members query (`kvctl members`): each member with its state; a static view has only live ones.
  registerMembersHandler(ctx.rpc, () => {
    const now = ctx.clock.now();
    return members instanceof Swim
      ? members.members().map((m) => ({ ...m, forMs: now - m.since }))
      : members.alive().map((address) => ({ address, state: "alive", incarnation: 0, forMs: 0 }));
  });
  const catchUpConfig: CatchUpConfig = {
    ...DEFAULT_CATCH_UP_CONFIG,
    ...(ctx.fleet?.preset === "wan" ? { joinWaitMs: 15_000 } : {}),
    ...options.catchUp,
  };
  let replication: ReplicatedExecutor | undefined;
  let joinGate: JoinGate | undefined;
  // Each executor answers get-membership-count from `members` itself (no wrapper).
  let executor: Executor = new LocalExecutor(local.store, local.hlc, members);
  // Replication (docs/cluster.md); `options.replication` tunes it, `false` keeps local execution.
  if (options.replication !== false) {
    replication = executor = new ReplicatedExecutor(ctx, members, replicationConfigFor(ctx, options.replication));
    if (members instanceof Swim && ctx.seeds.length > 0) {
      // Until it knows the ring, a node would coordinate as if it were alone: hold data requests.
      const gate = joinGate = new JoinGate(replication, () => members.joined, ctx.clock, catchUpConfig.joinWaitMs);
      executor = gate;
      ctx.onClose(() => gate.close());
    }
  }
  const catchUp = new CatchUp({
    rpc: ctx.rpc,
    self: ctx.address,
    members,
    clock: ctx.clock,
    executor: replication,
  }, catchUpConfig);
  catchUp.start();
  const removeStats = stats.add(() => {
    const s = catchUp.stats();
    if (joinGate) putStat(s, "join_held", joinGate.stats.held);
    // Invariants broken in this process (base/assert.ts): 0 unless KVStore has a bug.
    putStat(s, "assertions_failed", assertionsFailed());
    if (members instanceof Swim) {
      putStat(s, "swim_suspicions", members.stats.suspicions);
      putStat(s, "swim_deaths", members.stats.deaths);
      putStat(s, "swim_refutes", members.stats.refutes);
    }
    return s;
  });
  ctx.onClose(() => {
    removeStats();
    catchUp.close();
  });
  return { members, executor, replication, catchUp, joinGate };
}

/**
 * Starts SWIM for the node (preset from the fleet file, default LAN); a graceful
 * leave is announced when the node closes.
 *
 * @example
 * ```ts ignore
 * const swim = startMembership(ctx, { probeIntervalMs: 500 });
 * console.log(swim.members());
 * ```
 */
export function startMembership(ctx: ServiceContext, overrides?: Partial<SwimConfig>): Swim {
  const config = resolveSwimConfig(ctx.fleet?.preset ?? "lan", overrides);
  const swim = new Swim({
    rpc: ctx.rpc,
    self: ctx.address,
    clock: ctx.clock,
    random: ctx.random,
    config,
    seeds: ctx.seeds,
  });
  swim.start();
  ctx.onClose(() => swim.leave());
  return swim;
}
