/**
 * What the API and the page show of a node: its state, problems and stats,
 * plus formatting of stat values by unit and the problems-first order.
 *
 * @module
 */
import type { Monitor } from "./monitor.ts";
import type { ProbeOutcome } from "./probe.ts";
import { formatBytes, type NodeDeparture, type NodeRecord, type NodeState } from "./registry.ts";
import type { Stat, StatMap } from "../report.ts";
import type { RoundSummary } from "./rounds.ts";

/** A node as the JSON API returns it. */
export interface NodeView {
  /** Address (host:port). */
  id: string;
  /** ok, late, waiting (no report yet), not_responding, or left (its peers say it left on purpose). */
  state: NodeState;
  /** Its peers' word of its going (dead or left, and when), if newer than its last report. */
  departure?: NodeDeparture;
  /** Whether the node's last report is at most K-1 rounds old. */
  up: boolean;
  /** 0 = fine … 4 = not responding. */
  severity: number;
  /** Problems, most severe first. */
  problems: string[];
  /** Closed rounds since its last report. */
  missedRounds: number;
  /** Listed in nodes.yaml. */
  inFleet: boolean;
  /** When its last report arrived (ms since epoch). */
  lastReportAt?: number;
  /** Round id of its last report. */
  lastRound?: string;
  /** Hops the last round took to reach it. */
  hops?: number;
  /** Reports received. */
  reports: number;
  /** Increase of `errors` in the last report. */
  errorsDelta: number;
  /** Probe outcome while not responding. */
  probe?: ProbeOutcome;
  /** Latest stats (open map). */
  stats: StatMap;
}

/** Cluster-wide counts for the page header and the API. */
export interface ClusterSummary {
  /** Cluster name. */
  name: string;
  /** Known nodes. */
  total: number;
  /** Nodes whose state is ok or late. */
  responding: number;
  /** Nodes not responding. */
  notResponding: number;
  /** Nodes that left on purpose (their peers say so). */
  left: number;
  /** Nodes with at least one problem of their own (a peer seeing a dead node does not count: that is one problem). */
  withProblems: number;
  /** The newest round. */
  round?: RoundSummary;
  /** The newest round whose window is over. */
  lastClosed?: RoundSummary;
  /** Coverage of the last closed rounds, oldest first (0–1). */
  recentCoverage: number[];
}

/** Builds the view of `n`. */
export function nodeView(monitor: Monitor, n: NodeRecord): NodeView {
  const a = monitor.registry.assess(n, monitor.rounds.index);
  return {
    id: n.id,
    state: a.state,
    ...(a.departure ? { departure: a.departure } : {}),
    up: a.state === "ok" || a.state === "late",
    severity: a.severity,
    problems: a.problems,
    missedRounds: a.missedRounds,
    inFleet: n.inFleet,
    lastReportAt: n.lastReportAt,
    lastRound: n.lastRoundId,
    hops: n.hops,
    reports: n.reports,
    errorsDelta: n.errorsDelta,
    probe: n.probe,
    stats: n.stats,
  };
}

/** Every node's view, problems first (severity, then address). */
export function nodeViews(monitor: Monitor): NodeView[] {
  return monitor.registry.all().map((n) => nodeView(monitor, n)).sort(problemsFirst);
}

/** Orders views by severity (highest first), then address. */
export function problemsFirst(a: NodeView, b: NodeView): number {
  return b.severity - a.severity || compareAddresses(a.id, b.id);
}

/** Orders addresses naturally (127.0.0.1:4000 before 127.0.0.1:10000). */
export function compareAddresses(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** Cluster-wide counts. */
export function clusterSummary(monitor: Monitor, views: NodeView[] = nodeViews(monitor)): ClusterSummary {
  return {
    name: monitor.name,
    total: views.length,
    responding: views.filter((v) => v.up).length,
    notResponding: views.filter((v) => v.state === "not_responding").length,
    left: views.filter((v) => v.state === "left").length,
    withProblems: views.filter((v) => v.severity > 0).length,
    round: monitor.rounds.latest(),
    lastClosed: monitor.rounds.lastClosed(),
    recentCoverage: monitor.rounds.list(41).slice(1).reverse().map((r) => r.coverage), // closed rounds only
  };
}

/**
 * A stat value for people, by unit: bytes, seconds, %, req/s, ms, or plain.
 *
 * @example
 * ```ts
 * console.log(formatStat({ value: 2048, unit: "bytes" })); // "2.0 KiB"
 * console.log(formatStat({ value: 3_725, unit: "s" })); // "1h 2m"
 * ```
 */
export function formatStat(stat: Stat | undefined): string {
  if (!stat) return "";
  const v = stat.value;
  if (typeof v === "string") return v;
  switch (stat.unit) {
    case "bytes":
      return formatBytes(v);
    case "s":
      return formatDuration(v * 1000);
    case "ms":
      return v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
    case "%":
      return `${v.toFixed(v < 10 ? 1 : 0)}%`;
    case "req/s":
      return v >= 100 ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, "");
    default: {
      const s = Number.isInteger(v) ? v.toLocaleString("en-US") : String(Math.round(v * 100) / 100);
      return stat.unit ? `${s} ${stat.unit}` : s;
    }
  }
}

/**
 * A duration in ms as "45s", "3m 20s", "1h 2m", "2d 4h".
 *
 * @example
 * ```ts
 * console.log(formatDuration(200_000)); // "3m 20s"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Stats shown in their own table columns or on the detail page only (not as "other" chips). */
export const KNOWN_STATS = new Set([
  "uptime",
  "version",
  "build",
  "keys",
  "bytes_stored",
  "capacity",
  "capacity_used",
  "rps",
  "errors",
  "overloaded",
  "dropped",
  "replayed",
  "in_flight",
  "reply_cache_entries",
  "reply_cache_bytes",
  "rpc_malformed",
  "rpc_timeouts",
  "wire_auth",
  "wire_rejected",
  "members_alive",
  "members_suspect",
  "members_dead",
  "load_1m",
  "load_5m",
  "load_15m",
  "rss",
  "heap_used",
  "heap_total",
  "mem_total",
  "mem_available",
  "disk_free",
  "disk_total",
  "round_hops",
  "round_wait",
]);

/** Name prefixes of stat families shown on the detail page (per command, per error code). */
export const GROUPED_PREFIXES = ["rps.", "errors."];

/** Stats of `stats` that have no column: shown as small chips in the row. */
export function otherStats(stats: StatMap): [string, Stat][] {
  return Object.entries(stats)
    .filter(([name]) => !KNOWN_STATS.has(name) && !GROUPED_PREFIXES.some((p) => name.startsWith(p)))
    .sort(([a], [b]) => a.localeCompare(b));
}
