/**
 * Rollout results as the tests meet them: made up for a three-node order (the units of the rollout's
 * progress, records and pages), and the monitor's results of a command by node (the process tests).
 *
 * @module
 */
import type { NodeResult, RolloutInfo } from "../../lib/admin/protocol.ts";

/** The signed order of the made-up rollout. */
export const ORDER = ["10.0.0.1:4000", "10.0.0.2:4000", "10.0.0.3:4000"];
/** The made-up command's id. */
export const ID = "ab".repeat(16);

/** `node`'s result of the made-up rollout: `status`, its rollout fields and any other. */
export function rolloutResult(
  node: string,
  status: NodeResult["status"],
  rollout: Partial<RolloutInfo>,
  extra: Partial<NodeResult> = {},
): NodeResult {
  const position = ORDER.indexOf(node);
  return {
    id: ID,
    node,
    status,
    startedAt: 1_700_000_000_000,
    command: {
      id: ID,
      kind: "run",
      selector: "all",
      issuedAt: 1_700_000_000_000,
      expiresAt: 1_700_003_600_000,
      script: "true",
      timeoutMs: 60_000,
      restart: true,
      rollout: { order: ORDER },
    },
    rollout: { position, total: ORDER.length, phase: "waiting", ...rollout },
    ...extra,
  } as NodeResult;
}

/** Results of a command on the monitor, by node. */
export function byNode(results: NodeResult[] | null): Map<string, NodeResult> {
  return new Map((results ?? []).map((r) => [r.node, r]));
}
