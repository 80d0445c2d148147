/**
 * Attaches cluster membership and replication to a node.
 * (Stub until the cluster issue lands: static membership, local execution.)
 *
 * @module
 */
import type { NodeContext } from "../node_context.ts";
import { type MemberView, StaticMembers } from "../peers.ts";

/** Starts membership for the node and returns its view of the members. */
export function attachCluster(ctx: NodeContext): MemberView {
  return new StaticMembers(ctx.node.address, ctx.seeds);
}
