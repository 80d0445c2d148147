/**
 * The monitor's view model fed from a node's fleet table, so a node serves the same page as the
 * monitor (page.ts, view.ts, metrics.ts unchanged): a {@linkcode Monitor} that never starts a round
 * (its transport sends nothing), whose registry holds one record per fleet row and reads each
 * row's state from the table (ok, late, not responding, left) instead of from rounds.
 *
 * @module
 */
import type { Clock } from "../../base/clock.ts";
import type { Address, Transport } from "../../net/transport.ts";
import type { FleetSnapshot } from "../fleet/attach.ts";
import type { FleetNodeView } from "../fleet/table.ts";
import { putStat, type StatMap } from "../report.ts";
import { Monitor } from "./monitor.ts";
import type { Assessment, NodeRecord } from "./registry.ts";

/** A transport that sends nothing and receives nothing (the adapter's monitor never starts rounds). */
class SilentTransport implements Transport {
  readonly address: Address = "0.0.0.0:0";
  send(): void {}
  onReceive(): void {}
  close(): void {}
}

/**
 * Keeps a monitor's registry in step with a node's fleet table.
 *
 * @example
 * ```ts ignore
 * const adapter = new FleetMonitorAdapter(() => fleet.snapshot(), clock, "kvstore");
 * adapter.sync();
 * renderIndex(adapter.monitor, parseSort(undefined, undefined));
 * ```
 */
export class FleetMonitorAdapter {
  /** The monitor the page renders. */
  readonly monitor: Monitor;
  /** The snapshot of the last sync. */
  last: FleetSnapshot;
  #read: () => FleetSnapshot;
  #clock: Clock;
  #views = new Map<string, FleetNodeView>();
  #versions = new Map<string, number>();

  /** An adapter reading snapshots from `read`; `name` is the fleet's name. */
  constructor(read: () => FleetSnapshot, clock: Clock, name = "kvstore") {
    this.#read = read;
    this.#clock = clock;
    this.last = read();
    this.monitor = new Monitor({
      transport: new SilentTransport(),
      clock,
      reportUrl: "",
      name: `${name} · answered by ${this.last.answeredBy}`,
      tcpProbe: null,
      config: { intervalMs: this.last.intervalMs, notRespondingRounds: this.last.notRespondingIntervals },
    });
    const registry = this.monitor.registry;
    const base = registry.assess.bind(registry);
    registry.assess = (n: NodeRecord, current: number) => this.#assess(n, base(n, current));
  }

  /** Reads the table again; returns the addresses whose row or state changed. */
  sync(): string[] {
    const snap = this.last = this.#read();
    const registry = this.monitor.registry;
    const changed: string[] = [];
    const now = this.#clock.now();
    for (const v of snap.nodes) {
      const before = this.#views.get(v.node);
      this.#views.set(v.node, v);
      const rec = registry.learn(v.node, 0, true);
      if (!rec) continue;
      if (v.version > 0 && this.#versions.get(v.node) !== v.version) {
        this.#versions.set(v.node, v.version);
        rec.stats = statsOf(v);
        rec.reports++;
        rec.lastReportAt = v.updatedAt;
        rec.history.record(now, rec.stats);
        changed.push(v.node);
      } else if (before?.state !== v.state) {
        changed.push(v.node);
      }
    }
    return changed;
  }

  #assess(n: NodeRecord, base: Assessment): Assessment {
    const v = this.#views.get(n.id);
    if (!v) return base;
    const problems = base.problems.filter((p) => !p.startsWith("no report yet") && !p.startsWith("late"));
    let state = base.state === "waiting" && v.version > 0 ? "ok" : base.state;
    let severity = base.severity;
    if (v.state === "left") {
      // The same words as the monitor's page: "left" with its time, not a problem of its own.
      const at = this.#clock.now() - v.silentMs;
      return { state: "left", missedRounds: 0, problems: [], severity: 0, departure: { state: "left", at, by: n.id } };
    }
    if (v.state === "not responding") {
      state = "not_responding";
      problems.unshift(v.reason ?? v.state);
      severity = 4;
    } else if (v.state === "late") {
      state = "late";
      problems.unshift(v.reason ?? "late");
      severity = Math.max(severity, 1);
    } else if (v.state === "waiting") {
      state = "waiting";
    }
    return { state, missedRounds: 0, problems, severity: problems.length > 0 ? severity : 0 };
  }
}

/** A fleet row as the monitor's open stats map (the names the page's columns read). */
export function statsOf(v: FleetNodeView): StatMap {
  const s: StatMap = {};
  const [version, build] = v.program.match(/^(\S+)(?: \((.*)\))?$/)?.slice(1) ?? [];
  putStat(s, "uptime", v.uptimeS, "s");
  if (version) putStat(s, "version", version);
  if (build) putStat(s, "build", build);
  putStat(s, "keys", v.keys);
  putStat(s, "bytes_stored", v.bytesStored, "bytes");
  putStat(s, "capacity_used", round2(v.capacityUsed), "%");
  putStat(s, "rps", round2(v.rps), "req/s");
  putStat(s, "errors_per_s", round2(v.errorsPerSec), "1/s");
  putStat(s, "load_1m", round2(v.load));
  putStat(s, "rss", v.rss, "bytes");
  putStat(s, "disk_free", v.diskFree, "bytes");
  putStat(s, "members_alive", v.alive);
  putStat(s, "members_suspect", v.suspect);
  putStat(s, "members_dead", v.dead);
  putStat(s, "row_version", v.version);
  return s;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
