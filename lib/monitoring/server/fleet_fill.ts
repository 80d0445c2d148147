/**
 * A monitor coming back fills its view from a node's fleet table before its first round: every
 * row becomes the node's latest stats (with the row's time as its last report), so the page shows
 * the whole fleet at once instead of after a round of reports.
 *
 * @module
 */
import type { FleetSnapshot } from "../fleet/attach.ts";
import { statsOf } from "./fleet_adapter.ts";
import type { Monitor } from "./monitor.ts";

/**
 * Applies the rows of `snapshot` that are newer than what the monitor holds; returns how many.
 *
 * @example
 * ```ts ignore
 * const filled = fillFromFleet(monitor, await client.fetch("127.0.0.1:4000"));
 * ```
 */
export function fillFromFleet(monitor: Monitor, snapshot: FleetSnapshot): number {
  let filled = 0;
  const round = monitor.rounds.index;
  for (const v of snapshot.nodes) {
    if (v.version <= 0 || v.state === "left") continue;
    const rec = monitor.registry.learn(v.node, round);
    if (!rec || (rec.lastReportAt ?? 0) >= v.updatedAt) continue;
    rec.stats = statsOf(v);
    rec.lastReportAt = v.updatedAt;
    rec.reportRound = Math.max(rec.reportRound, round);
    rec.reports++;
    rec.history.record(v.updatedAt, rec.stats);
    filled++;
  }
  return filled;
}
