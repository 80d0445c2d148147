/**
 * The monitor's known nodes (from nodes.yaml, reports and reported member
 * lists), their latest stats and history, and how each is doing: responding,
 * late, not responding, and which problems it shows.
 *
 * @module
 */
import type { MonitorConfig } from "./config.ts";
import { type HistorySnapshot, NodeHistory } from "./history.ts";
import type { ProbeOutcome } from "./probe.ts";
import type { NodeReport, StatMap } from "../report.ts";

/**
 * How a node is doing, from the monitor's side: `left` when its peers say it left on purpose (SIGTERM,
 * SIGINT, a drain) after its last report; `not_responding` after K silent rounds, or at once when its
 * peers declared it dead (a crash, or the protocol's shutdown 0x04).
 */
export type NodeState = "ok" | "late" | "not_responding" | "waiting" | "left";

/** What a node's peers last said of it going away (from the `gone` lists of their reports). */
export interface NodeDeparture {
  /** dead or left. */
  state: "dead" | "left";
  /** When it went, by the monitor's clock (ms since epoch). */
  at: number;
  /** The peer that said so. */
  by: string;
}

/** One known node. */
export interface NodeRecord {
  /** Address (host:port): the node's id. */
  id: string;
  /** Listed in nodes.yaml. */
  inFleet: boolean;
  /** Round index when the monitor learned of it. */
  learnedRound: number;
  /** Round index of its last report (0 = never). */
  reportRound: number;
  /** Round index when it last reported or was named in a member list. */
  seenRound: number;
  /** When its last report arrived (ms). */
  lastReportAt?: number;
  /** Id of the round of its last report. */
  lastRoundId?: string;
  /** Hops the last round took to reach it. */
  hops?: number;
  /** Latest stats. */
  stats: StatMap;
  /** Increase of the `errors` stat between its last two reports. */
  errorsDelta: number;
  /** Reports received. */
  reports: number;
  /** Members it reported last (a sample in large clusters). */
  members: string[];
  /** History of numeric stats. */
  history: NodeHistory;
  /** Last probe result, while not responding. */
  probe?: ProbeOutcome;
  /** What its peers last said of it going away (cleared by a newer report of its own, or a peer seeing it alive). */
  departure?: NodeDeparture;
}

/** A node's state and problems, most severe first. */
export interface Assessment {
  /** State. */
  state: NodeState;
  /** Closed rounds since its last report (or since it became known). */
  missedRounds: number;
  /** Human-readable problems, most severe first. */
  problems: string[];
  /** 0 = fine … 4 = not responding; the page sorts by it. */
  severity: number;
  /** Its peers' word of its going, when newer than its last report. */
  departure?: NodeDeparture;
}

/** Saved form of a node. */
export type NodeSnapshot = Omit<NodeRecord, "history"> & { history: HistorySnapshot };

/**
 * Known nodes and their latest reports.
 *
 * @example
 * ```ts ignore
 * const reg = new NodeRegistry(DEFAULT_MONITOR_CONFIG);
 * reg.learn("127.0.0.1:4000", 0, true);
 * reg.apply(report, 3, Date.now());
 * console.log(reg.assess(reg.get("127.0.0.1:4000")!, 4).state); // "ok"
 * ```
 */
export class NodeRegistry {
  #config: MonitorConfig;
  #nodes = new Map<string, NodeRecord>();

  /** Creates an empty registry. */
  constructor(config: MonitorConfig) {
    this.#config = config;
  }

  /** Number of known nodes. */
  get size(): number {
    return this.#nodes.size;
  }

  /** The node with `id`. */
  get(id: string): NodeRecord | undefined {
    return this.#nodes.get(id);
  }

  /** Every known node. */
  all(): NodeRecord[] {
    return [...this.#nodes.values()];
  }

  /** Adds a node if unknown (false when full); marks it seen in round `round`. */
  learn(id: string, round: number, inFleet = false): NodeRecord | undefined {
    let n = this.#nodes.get(id);
    if (!n) {
      if (this.#nodes.size >= this.#config.maxNodes) return undefined;
      n = {
        id,
        inFleet,
        learnedRound: round,
        reportRound: 0,
        seenRound: round,
        stats: {},
        errorsDelta: 0,
        reports: 0,
        members: [],
        history: this.#newHistory(),
      };
      this.#nodes.set(id, n);
    }
    if (inFleet) n.inFleet = true;
    n.seenRound = Math.max(n.seenRound, round);
    return n;
  }

  #newHistory(): NodeHistory {
    const c = this.#config;
    return new NodeHistory({
      resolutionMs: Math.max(1, c.historyWindowMs / c.historyPoints),
      points: c.historyPoints,
      maxSeries: c.maxSeriesPerNode,
    });
  }

  /** Applies a validated report for round index `round`, received at `at`. */
  apply(report: NodeReport, round: number, at: number): NodeRecord | undefined {
    const n = this.learn(report.node, round);
    if (!n) return undefined;
    const prevErrors = n.stats.errors?.value;
    const errors = report.stats.errors?.value;
    const prevUptime = n.stats.uptime?.value;
    const uptime = report.stats.uptime?.value;
    const restarted = typeof prevUptime === "number" && typeof uptime === "number" && uptime < prevUptime;
    n.errorsDelta = typeof errors === "number"
      ? typeof prevErrors === "number" && !restarted ? Math.max(0, errors - prevErrors) : n.reports > 0 ? errors : 0
      : 0;
    n.stats = report.stats;
    n.reportRound = Math.max(n.reportRound, round);
    n.lastReportAt = at;
    n.lastRoundId = report.round;
    n.hops = report.hops;
    n.reports++;
    n.probe = undefined;
    if (report.members) n.members = report.members;
    n.history.record(at, report.stats);
    const gone = new Set<string>();
    for (const g of report.gone ?? []) {
      if (g.node === report.node) continue;
      gone.add(g.node);
      const r = this.learn(g.node, round);
      const when = at - g.forMs;
      // A report of its own after it went means it is back; "left" (its own word) wins over "dead".
      if (!r || (r.lastReportAt !== undefined && r.lastReportAt >= when)) continue;
      if (!r.departure || g.state === "left" || r.departure.state !== "left") {
        r.departure = { state: g.state, at: Math.min(r.departure?.at ?? when, when), by: report.node };
      }
    }
    for (const m of report.members ?? []) {
      const r = this.learn(m, round);
      if (r?.departure && !gone.has(m)) r.departure = undefined; // a peer sees it alive again
    }
    n.departure = undefined;
    return n;
  }

  /** Rounds closed since the node last reported, with `current` the newest round index. */
  missedRounds(n: NodeRecord, current: number): number {
    const closed = current - 1;
    return Math.max(0, closed - Math.max(n.reportRound, n.learnedRound));
  }

  /** State and problems of `n` when `current` is the newest round index. */
  assess(n: NodeRecord, current: number): Assessment {
    const c = this.#config;
    const missed = this.missedRounds(n, current);
    const problems: [number, string][] = [];
    let state: NodeState = "ok";
    const gone = n.departure;
    if (gone?.state === "left") {
      // It left on purpose: no problem of its own, and its last values are history.
      return { state: "left", missedRounds: missed, problems: [], severity: 0, departure: gone };
    }
    if (gone?.state === "dead" || missed >= c.notRespondingRounds) {
      state = "not_responding";
      problems.push([
        4,
        gone ? `dead since ${clockTime(gone.at)} (its peers say)` : `not responding (${missed} rounds)`,
      ]);
      if (n.probe) {
        const what = {
          answers: "answers UDP, reports lost",
          port_closed: "host up, port closed",
          silent: "host silent",
        };
        problems.push([4, what[n.probe.result]]);
      }
      problems.sort((a, b) => b[0] - a[0]);
      // A node that is gone shows only what is still true: not its last report's problems.
      return { state, missedRounds: missed, problems: problems.map((p) => p[1]), severity: 4, departure: gone };
    } else if (n.reports === 0) {
      state = "waiting";
      if (missed > 0) problems.push([1, `no report yet (${missed} rounds)`]);
    } else if (missed > 0) {
      state = "late";
      problems.push([1, `late (${missed} round${missed > 1 ? "s" : ""})`]);
    }
    if (n.reports > 0) {
      const s = n.stats;
      const num = (name: string) => (typeof s[name]?.value === "number" ? s[name].value as number : undefined);
      const free = num("disk_free");
      const total = num("disk_total");
      if (free !== undefined && (free < c.lowDiskBytes || (total && free / total < c.lowDiskFraction))) {
        problems.push([3, `low disk (${formatBytes(free)} free)`]);
      }
      const used = num("capacity_used");
      if (used !== undefined && used >= c.capacityWarnPercent) problems.push([3, `store ${Math.round(used)}% full`]);
      if (n.errorsDelta > 0) problems.push([3, `errors +${n.errorsDelta}`]);
      // Peers it sees suspect or dead are their problem, shown once on their own rows (not here).
    }
    problems.sort((a, b) => b[0] - a[0]);
    return {
      state,
      missedRounds: missed,
      problems: problems.map((p) => p[1]),
      severity: problems.length > 0 ? problems[0][0] : 0,
    };
  }

  /** Forgets nodes outside the fleet file that nobody mentioned for `forgetAfterRounds`; returns their ids. */
  forgetStale(current: number): string[] {
    const gone: string[] = [];
    for (const n of this.#nodes.values()) {
      if (!n.inFleet && current - Math.max(n.seenRound, n.reportRound) > this.#config.forgetAfterRounds) {
        this.#nodes.delete(n.id);
        gone.push(n.id);
      }
    }
    return gone;
  }

  /** Saved form of every node. */
  snapshot(): NodeSnapshot[] {
    return this.all().map((n) => ({ ...n, history: n.history.snapshot() }));
  }

  /** Restores saved nodes (replacing any with the same id). */
  restore(nodes: NodeSnapshot[]): void {
    for (const s of nodes) {
      if (this.#nodes.size >= this.#config.maxNodes) break;
      const history = this.#newHistory();
      history.restore(s.history);
      this.#nodes.set(s.id, { ...s, members: s.members ?? [], stats: s.stats ?? {}, history });
    }
  }
}

/**
 * A time of day, HH:MM:SS (local time of the monitor).
 *
 * @example
 * ```ts
 * console.log(/^\d\d:\d\d:\d\d$/.test(clockTime(Date.now()))); // true
 * ```
 */
export function clockTime(at: number): string {
  return new Date(at).toTimeString().slice(0, 8);
}

/**
 * Bytes in a short human form (binary units).
 *
 * @example
 * ```ts
 * console.log(formatBytes(1536)); // "1.5 KiB"
 * ```
 */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
