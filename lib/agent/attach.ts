/**
 * Attaches the monitoring agent (round gossip + stats reports) to a node.
 * (Stub until the monitoring issue lands.)
 *
 * @module
 */
import type { NodeContext } from "../node_context.ts";
import type { MemberView } from "../peers.ts";

/** Starts the monitoring agent for the node. */
export function attachMonitoringAgent(_ctx: NodeContext, _members: MemberView): void {}
