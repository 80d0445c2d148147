/**
 * Attaches cluster membership (SWIM gossip) and replication to a node.
 *
 * @module
 */
import type { NodeContext } from "../node_context.ts";
import { type MemberView, StaticMembers } from "../peers.ts";
import { registerMembersHandler } from "./debug.ts";
import { MemberCountingExecutor } from "./membership_count.ts";
import { ReplicatedExecutor } from "./replication.ts";
import { Swim } from "./swim.ts";
import { resolveSwimConfig } from "./swim_config.ts";

/**
 * Starts membership for the node and returns its view of the members.
 * `ctx.options.staticMembers === true` gives a fixed view (self + seeds) without gossip;
 * `ctx.options.membership` overrides fields of the preset's config (see `SwimConfig`).
 *
 * @example
 * ```ts ignore
 * const members = attachCluster(ctx);
 * console.log(members.alive());
 * ```
 */
export function attachCluster(ctx: NodeContext): MemberView {
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
  // Replication (docs/cluster.md); `ctx.options.replication` tunes it, `false` keeps local execution.
  if (ctx.options.replication !== false) {
    const replication = new ReplicatedExecutor(ctx, members);
    ctx.node.executor = replication;
    ctx.node.onClose(() => replication.close());
  }
  // Executors that replace the node's executor (replication) are installed above this line;
  // the wrapper keeps get-membership-count answering the live member count.
  ctx.node.executor = new MemberCountingExecutor(ctx.node.executor, members);
  return members;
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
