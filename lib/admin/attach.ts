/**
 * Attaches the epidemic admin executor to a node.
 * (Stub until the admin issue lands.)
 *
 * @module
 */
import type { NodeContext } from "../node_context.ts";
import type { MemberView } from "../peers.ts";

/** Starts the admin subsystem for the node. */
export function attachAdmin(_ctx: NodeContext, _members: MemberView): void {}
