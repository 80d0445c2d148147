/**
 * What guards a node's client port against an outsider, made from the node's
 * options and fleet file: the destructive-command guard (shutdown and wipeout
 * from the unproven networks, or with a proof made with a cluster key) and the
 * reply budget (no reflection), with the stats they report.
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import type { FleetConfig } from "../config/fleet_file.ts";
import { type Address, parseAddress } from "../net/transport.ts";
import { SourceNetworks } from "../net/source_networks.ts";
import { DestructiveGuard } from "../node/destructive_guard.ts";
import { ReplyBudget, type ReplyBudgetConfig } from "../node/reply_budget.ts";
import type { FrameAuth } from "../wire/frame.ts";
import { putStat, type StatMap } from "../monitoring/report.ts";

/** The hosts `fleet` stands for in a source-network list: the fleet's nodes and monitor. */
export function fleetHosts(fleet: FleetConfig | undefined): string[] {
  const hosts = (fleet?.nodes ?? []).map((a) => parseAddress(a).hostname);
  if (fleet?.monitor?.url) hosts.push(new URL(fleet.monitor.url).hostname.replace(/^\[|\]$/g, ""));
  if (fleet?.monitor?.udp) hosts.push(parseAddress(fleet.monitor.udp).hostname);
  return hosts;
}

/**
 * The destructive-command guard of a node at `self`: `entries` may send shutdown and wipeout
 * without a proof (`fleet` standing for the fleet's hosts); proofs are checked with `auth`.
 * `undefined` entries: anyone (embedded and simulated nodes).
 */
export function destructiveGuard(
  entries: readonly string[] | undefined,
  fleet: FleetConfig | undefined,
  self: Address,
  auth: FrameAuth | undefined,
): DestructiveGuard | undefined {
  if (!entries) return undefined;
  const networks = SourceNetworks.parse(entries, fleetHosts(fleet));
  return new DestructiveGuard({ unprovenFrom: (from) => networks.allows(from), self, auth });
}

/** The reply budget exempting `trusted` (`undefined`: no budget at all, for embedded and simulated nodes). */
export function replyBudget(
  clock: Clock,
  trusted: readonly string[] | undefined,
  fleet: FleetConfig | undefined,
  config: Partial<ReplyBudgetConfig> = {},
): ReplyBudget | undefined {
  if (!trusted) return undefined;
  const networks = SourceNetworks.parse(trusted, fleetHosts(fleet));
  return new ReplyBudget(clock, (from) => networks.allows(from), config);
}

/** The stats of the guards: refusals by reason, proofs accepted, reply-budget drops. */
export function clientGuardStats(guard: DestructiveGuard | undefined, budget: ReplyBudget | undefined): StatMap {
  const s: StatMap = {};
  if (guard) {
    const g = guard.stats;
    putStat(s, "refused_destructive_unproven", g.unproven);
    putStat(s, "refused_destructive_bad_proof", g.badProof);
    putStat(s, "refused_destructive_stale", g.stale);
    putStat(s, "refused_destructive_replayed", g.replayed);
    putStat(s, "destructive_proven", g.proven);
  }
  putStat(s, "reply_budget_dropped", budget?.stats.dropped ?? 0);
  putStat(s, "reply_resends_dropped", budget?.stats.resendsDropped ?? 0);
  if (budget) putStat(s, "reply_budget_prefixes", budget.prefixes);
  return s;
}
