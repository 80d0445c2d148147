/**
 * Attaches the fleet table to a node: its own row from the node's stats, the gossip on the
 * node's internal endpoint (commands 0x41–0x43, authenticated and batched like all internal
 * traffic), and a snapshot for the status server and `kvctl status`.
 *
 * Options (`startNode({ subsystemOptions: { fleet: {...} } })`): the tunables of
 * {@linkcode FleetConfig}, `system` (collect host stats, default true), `verdict` (SWIM's, given by
 * the roles layer), or `false` to run without a fleet table.
 *
 * @module
 */
import type { NodeContext } from "../../node/context.ts";
import type { MemberView } from "../../node/members.ts";
import type { Address } from "../../net/transport.ts";
import type { StatMap } from "../report.ts";
import { StatsCollector, type StatsSources } from "../agent/stats.ts";
import { type FleetConfig, FleetGossip } from "./gossip.ts";
import { FleetCommand } from "./protocol.ts";
import { registerFleetDump } from "./dump.ts";
import { type FleetRow, ROW_LIMITS } from "./row.ts";
import type { FleetNodeView, Verdict } from "./table.ts";

/** Options of the fleet table of a node. */
export interface FleetOptions extends Partial<FleetConfig> {
  /** Collect host stats (load, RSS, disk). Default true. */
  system?: boolean;
  /** SWIM's verdict about a member (the roles layer passes the membership's). */
  verdict?: (address: Address) => Verdict | undefined;
}

/** What `/api/nodes` of a node and `kvctl status --json` return. */
export interface FleetSnapshot {
  /** The node that answered (host:port). */
  answeredBy: string;
  /** When it answered (its clock, ms since epoch). */
  at: number;
  /** The row interval in force (ms): a row older than two is late. */
  intervalMs: number;
  /** K: not responding after K intervals without an update. */
  notRespondingIntervals: number;
  /** One entry per node, sorted by address. */
  nodes: FleetNodeView[];
}

/** The fleet table service of a node. */
export interface FleetService {
  /** The gossip and its table. */
  gossip: FleetGossip;
  /** The table as it reads now. */
  snapshot(): FleetSnapshot;
}

/**
 * Starts the fleet table of the node in `ctx`.
 *
 * @example
 * ```ts ignore
 * const fleet = attachFleet(ctx, members, { gossipIntervalMs: 500 }, sources);
 * console.log(fleet.snapshot().nodes.length);
 * ```
 */
export function attachFleet(
  ctx: NodeContext,
  members: MemberView,
  options: FleetOptions = {},
  sources?: StatsSources,
): FleetService {
  const { node, clock, random } = ctx;
  const collector = new StatsCollector(ctx, members, { system: options.system, sources });
  let lastErrors: { at: number; errors: number } | undefined;
  const summary = async () => {
    const s = await collector.collect();
    const now = clock.now();
    const errors = num(s, "errors");
    const perSec = lastErrors && now > lastErrors.at ? (errors - lastErrors.errors) / ((now - lastErrors.at) / 1000) : 0;
    lastErrors = { at: now, errors };
    return summaryOf(s, Math.max(0, perSec));
  };
  const gossip = new FleetGossip(options, {
    self: node.address,
    clock,
    random,
    send: (to, command, payload) => ctx.rpc.castRaw(to, command, payload),
    peers: () => members.alive(),
    summary,
    verdict: options.verdict,
  });
  for (const command of Object.values(FleetCommand)) {
    ctx.rpc.handleRaw(command, (payload, from) => {
      gossip.receive(command, payload, from);
      return undefined;
    });
  }
  gossip.start();
  ctx.onClose(() => {
    gossip.leave();
    gossip.stop();
  });
  const snapshot = (): FleetSnapshot => ({
    answeredBy: node.address,
    at: clock.now(),
    intervalMs: gossip.rowIntervalMs,
    notRespondingIntervals: gossip.config.notRespondingIntervals,
    nodes: gossip.view(members.alive()).sort((a, b) => a.node.localeCompare(b.node, "en", { numeric: true })),
  });
  registerFleetDump(ctx.rpc, snapshot);
  return { gossip, snapshot };
}

/** A row's summary fields from a node's stats map. */
export function summaryOf(s: StatMap, errorsPerSec: number): Omit<FleetRow, "node" | "version" | "updatedAt" | "state"> {
  const version = s.version?.value, build = s.build?.value;
  const program = version === undefined ? "" : build === undefined ? String(version) : `${version} (${build})`;
  return {
    program: program.slice(0, ROW_LIMITS.maxProgramBytes / 2),
    uptimeS: num(s, "uptime"),
    keys: num(s, "keys"),
    bytesStored: num(s, "bytes_stored"),
    capacityUsed: num(s, "capacity_used"),
    rps: num(s, "rps"),
    errorsPerSec,
    load: num(s, "load_1m"),
    rss: num(s, "rss"),
    diskFree: num(s, "disk_free"),
    alive: num(s, "members_alive"),
    suspect: num(s, "members_suspect"),
    dead: num(s, "members_dead"),
  };
}

function num(s: StatMap, name: string): number {
  const v = s[name]?.value;
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : NaN;
}
