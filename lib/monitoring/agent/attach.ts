/**
 * Attaches the monitoring agent to a node: it answers round messages (0x40),
 * spreads them by rumor mongering, and on the first receipt of a round id
 * reports the node's stats to the monitor after a random jitter.
 *
 * Options (`startNode({ subsystemOptions: { monitoring: {...} } })`, all optional):
 * gossip tunables ({@linkcode RoundGossipConfig}), `sink` (a {@linkcode ReportSink};
 * HTTP by default), `system` (collect host stats, default true), `observer`
 * (round events, for simulations).
 *
 * @module
 */
import { importClusterKeys } from "../../wire/http_key.ts";
import { clusterKeysOf } from "../../config/fleet_config.ts";
import type { NodeContext } from "../../node/context.ts";
import type { MemberView } from "../../node/members.ts";
import { type Random, sample } from "../../base/random.ts";
import { type NodeReport, putStat, REPORT_LIMITS } from "../report.ts";
import type { Address } from "../../net/transport.ts";
import { DEFAULT_ROUND_GOSSIP_CONFIG, type RoundEvent, RoundGossip, type RoundGossipConfig } from "./round_gossip.ts";
import { MonitoringCommand, parseRoundHeader, type RoundHeader, verifyRound } from "../round_message.ts";
import { HttpReportSink, type ReportSink } from "./report_sender.ts";
import { StatsCollector, type StatsSources } from "./stats.ts";

/** Options of the monitoring agent (all optional). */
export interface AgentOptions extends Partial<RoundGossipConfig> {
  /** Where reports go (default: HTTP POST signed with the cluster key). */
  sink?: ReportSink;
  /** Collect host stats (load, memory, disk). Default true. */
  system?: boolean;
  /** Observer of round events (simulations). */
  observer?: (event: RoundEvent) => void;
  /** Upper bound on the jitter a round may ask for (ms). Default 60 s. */
  maxJitterMs?: number;
}

/** What the agent of a node exposes (tests, other subsystems). */
export interface MonitoringAgent {
  /** The round spreader. */
  gossip: RoundGossip;
  /** Report URL learned from the last authentic round (or the fleet file). */
  monitorUrl(): string | undefined;
  /** Counters: reports sent, rounds ignored for lack of a URL. */
  stats: { reports: number; noUrl: number };
}

/**
 * Starts the monitoring agent for the node; reports include the extra stats of `sources`.
 *
 * @example
 * ```ts ignore
 * const agent = attachMonitoringAgent(ctx, members, { fanout: 3 }, sources);
 * console.log(agent.monitorUrl());
 * ```
 */
export function attachMonitoringAgent(
  ctx: NodeContext,
  members: MemberView,
  options: AgentOptions = {},
  sources?: StatsSources,
): MonitoringAgent {
  const { node, clock, random, fleet } = ctx;
  const keyHexes = fleet ? clusterKeysOf(fleet) : [];
  const keys = keyHexes.length > 0 ? importClusterKeys(keyHexes) : undefined;
  const key = keys?.then((k) => k[0]);
  const fleetUrl = fleet?.monitor?.url ? reportUrl(fleet.monitor.url) : undefined;
  const sink = options.sink ?? new HttpReportSink(key, node.address);
  const collector = new StatsCollector(ctx, members, { system: options.system, sources });
  const maxJitterMs = options.maxJitterMs ?? 60_000;
  const timers = new Set<ReturnType<typeof clock.setTimeout>>();
  let lastUrl = fleetUrl;
  const stats = { reports: 0, noUrl: 0 };

  // Without a cluster key nothing is authenticated: then only the fleet file's URL is
  // trusted when there is one (so a stray datagram cannot point nodes elsewhere).
  const verify = keys ? async (h: RoundHeader) => await verifyRound(await keys, h) : undefined;

  const report = async (header: RoundHeader, waitMs: number) => {
    const url = key ? header.u : fleetUrl ?? header.u;
    lastUrl = url;
    const extra = putStat({}, "round_hops", header.h);
    putStat(extra, "round_wait", Math.round(waitMs), "ms");
    const r = nodeReport(node.address, members, random, header, waitMs, await collector.collect(extra));
    if (node.closed) return;
    stats.reports++;
    await sink.send(url, r);
  };

  const gossip = new RoundGossip(options, {
    members,
    clock,
    random,
    verify,
    observer: options.observer,
    send: (to: Address, header: RoundHeader) => {
      node.rpc.cast(to, MonitoringCommand.Round, header);
    },
    onFirstReceipt: (header) => {
      const waitMs = random() * Math.min(header.j, maxJitterMs);
      const timer = clock.setTimeout(() => {
        timers.delete(timer);
        report(header, waitMs).catch(() => {});
      }, waitMs);
      timers.add(timer);
    },
  });

  node.rpc.handle(MonitoringCommand.Round, (message, from) => {
    const header = parseRoundHeader(message.header);
    if (header) gossip.receive(header, from);
    return undefined;
  });
  node.onClose(() => {
    gossip.close();
    for (const t of timers) clock.clearTimeout(t);
    timers.clear();
    sink.close();
  });
  return { gossip, monitorUrl: () => lastUrl, stats };
}

/**
 * The report of round `header`: `stats`, and the members this node sees alive (a sample when there
 * are more than half the limit) and gone.
 */
function nodeReport(
  self: Address,
  members: MemberView,
  random: Random,
  header: RoundHeader,
  waitMs: number,
  stats: NodeReport["stats"],
): NodeReport {
  const alive = members.alive().filter((a) => a !== self);
  const r: NodeReport = {
    node: self,
    round: header.r,
    hops: header.h,
    waitMs: Math.round(waitMs),
    stats,
    members: alive.length <= REPORT_LIMITS.maxMembers / 2 ? alive : sample(random, alive, REPORT_LIMITS.maxMembers / 2),
  };
  const gone = (members.departed?.() ?? []).slice(0, REPORT_LIMITS.maxMembers)
    .map((d) => ({ node: d.address, state: d.state, forMs: Math.max(0, Math.round(d.forMs)) }));
  if (gone.length > 0) r.gone = gone;
  return r;
}

/** The report endpoint of a monitor base URL (`http://h:p` → `http://h:p/api/report`). */
export function reportUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, "");
  return trimmed.endsWith("/api/report") ? trimmed : `${trimmed}/api/report`;
}

export { DEFAULT_ROUND_GOSSIP_CONFIG };
