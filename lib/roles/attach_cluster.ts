/**
 * Attaches cluster membership (SWIM gossip) and replication to a node, with
 * the join gate (data requests wait until the node has joined) and the
 * catch-up tracker (whether a restarted node holds its data again).
 *
 * @module
 */
import { addStatsSource } from "../monitoring/agent/stats.ts";
import type { NodeContext } from "../node/context.ts";
import { type MemberView, StaticMembers } from "../node/members.ts";
import { registerMembersHandler } from "../replication/debug_queries.ts";
import { putStat } from "../monitoring/report.ts";
import { CatchUp, type CatchUpConfig, DEFAULT_CATCH_UP_CONFIG } from "../replication/catch_up.ts";
import { JoinGate } from "../replication/join_gate.ts";
import { MemberCountingExecutor } from "../membership/membership_count.ts";
import { ReplicatedExecutor } from "../replication/replicated_executor.ts";
import { Swim } from "../membership/swim.ts";
import { resolveSwimConfig } from "../membership/swim_config.ts";

/** What the cluster layer of a node is made of (`RunningNode.cluster`). */
export interface ClusterParts {
  /** Membership (a Swim, or a static view). */
  members: MemberView;
  /** Replication, unless turned off. */
  replication?: ReplicatedExecutor;
  /** The catch-up tracker. */
  catchUp: CatchUp;
  /** The join gate, when the node has seeds to join through. */
  joinGate?: JoinGate;
}

/**
 * Starts membership for the node and returns its view of the members.
 * `ctx.options.staticMembers === true` gives a fixed view (self + seeds) without gossip;
 * `ctx.options.membership` overrides fields of the preset's config (see `SwimConfig`);
 * `ctx.options.catchUp` those of {@linkcode CatchUpConfig}.
 *
 * @example
 * ```ts ignore
 * const members = attachCluster(ctx);
 * console.log(members.alive());
 * ```
 */
export function attachCluster(ctx: NodeContext): ClusterParts {
  const members = ctx.options.staticMembers === true
    ? new StaticMembers(ctx.node.address, ctx.seeds)
    : startMembership(ctx);
  // The members query (`kvctl members`): each member with its state; a static view has only live ones.
  registerMembersHandler(ctx.node.rpc, () => {
    const now = ctx.clock.now();
    return members instanceof Swim
      ? members.members().map((m) => ({ ...m, forMs: now - m.since }))
      : members.alive().map((address) => ({ address, state: "alive", incarnation: 0, forMs: 0 }));
  });
  const catchUpConfig: CatchUpConfig = {
    ...DEFAULT_CATCH_UP_CONFIG,
    ...(ctx.fleet?.preset === "wan" ? { joinWaitMs: 15_000 } : {}),
    ...(ctx.options.catchUp as Partial<CatchUpConfig> | undefined),
  };
  let replication: ReplicatedExecutor | undefined;
  let joinGate: JoinGate | undefined;
  // Replication (docs/cluster.md); `ctx.options.replication` tunes it, `false` keeps local execution.
  if (ctx.options.replication !== false) {
    replication = new ReplicatedExecutor(ctx, members);
    ctx.node.executor = replication;
    ctx.node.onClose(() => replication!.close());
    if (members instanceof Swim && ctx.seeds.length > 0) {
      // Until it knows the ring, a node would coordinate as if it were alone: hold data requests.
      const gate = joinGate = new JoinGate(replication, () => members.joined, ctx.clock, catchUpConfig.joinWaitMs);
      ctx.node.executor = gate;
      ctx.node.onClose(() => gate.close());
    }
  }
  // Executors that replace the node's executor (replication) are installed above this line;
  // the wrapper keeps get-membership-count answering the live member count.
  ctx.node.executor = new MemberCountingExecutor(ctx.node.executor, members);
  const catchUp = new CatchUp({
    rpc: ctx.node.rpc,
    self: ctx.node.address,
    members,
    clock: ctx.clock,
    executor: replication,
  }, catchUpConfig);
  catchUp.start();
  const removeStats = addStatsSource(ctx.node, () => {
    const s = catchUp.stats();
    if (joinGate) putStat(s, "join_held", joinGate.stats.held);
    return s;
  });
  ctx.node.onClose(() => {
    removeStats();
    catchUp.close();
  });
  return { members, replication, catchUp, joinGate };
}

/**
 * Starts SWIM for the node (preset from the fleet file, default LAN); a graceful
 * leave is announced when the node closes.
 *
 * @example
 * ```ts ignore
 * const swim = startMembership(ctx);
 * console.log(swim.members());
 * ```
 */
export function startMembership(ctx: NodeContext): Swim {
  const config = resolveSwimConfig(ctx.fleet?.preset ?? "lan", ctx.options.membership);
  const swim = new Swim({
    rpc: ctx.node.rpc,
    self: ctx.node.address,
    clock: ctx.clock,
    random: ctx.random,
    config,
    seeds: ctx.seeds,
  });
  swim.start();
  ctx.node.onClose(() => swim.leave());
  return swim;
}
