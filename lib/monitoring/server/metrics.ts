/**
 * Prometheus text exposition (version 0.0.4): one gauge per numeric stat with
 * a `node` label, string stats as `_info` series, `kvstore_node_up`, and the
 * monitor's own counters.
 *
 * @module
 */
import type { Monitor } from "./monitor.ts";
import { nodeViews } from "./view.ts";
import { serverMetrics } from "./server_status.ts";

const UNIT_SUFFIX: Record<string, string> = { bytes: "_bytes", s: "_seconds", ms: "_milliseconds", "%": "_percent" };

/**
 * A Prometheus metric name for stat `name` with `unit`.
 *
 * @example
 * ```ts
 * console.log(metricName("rps.put", "req/s")); // "kvstore_rps_put"
 * console.log(metricName("rss", "bytes")); // "kvstore_rss_bytes"
 * ```
 */
export function metricName(name: string, unit?: string): string {
  let m = "kvstore_" + name.replace(/[^a-zA-Z0-9_]/g, "_");
  const suffix = unit ? UNIT_SUFFIX[unit] : undefined;
  if (suffix && !m.endsWith(suffix)) m += suffix;
  return m;
}

/** Escapes a label value. */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function value(v: number): string {
  return Number.isFinite(v) ? String(v) : "NaN";
}

/** The whole exposition. */
export function renderMetrics(monitor: Monitor): string {
  const views = nodeViews(monitor);
  const gauges = new Map<string, { help: string; lines: string[] }>();
  const add = (name: string, help: string, line: string) => {
    let g = gauges.get(name);
    if (!g) gauges.set(name, g = { help, lines: [] });
    g.lines.push(line);
  };
  for (const v of views) {
    const node = label(v.id);
    add(
      "kvstore_node_up",
      "1 if the node reported within the last K-1 rounds, else 0",
      `kvstore_node_up{node="${node}"} ${v.up ? 1 : 0}`,
    );
    add(
      "kvstore_node_missed_rounds",
      "closed rounds since the node's last report",
      `kvstore_node_missed_rounds{node="${node}"} ${v.missedRounds}`,
    );
    if (!v.up && v.reports > 0) continue; // stale stats of a silent node are not exported as current
    for (const [name, s] of Object.entries(v.stats)) {
      if (typeof s.value === "number") {
        const m = metricName(name, s.unit);
        add(m, `node stat "${name}"${s.unit ? ` (${s.unit})` : ""}`, `${m}{node="${node}"} ${value(s.value)}`);
      } else {
        const m = metricName(name) + "_info";
        add(m, `node stat "${name}" (text)`, `${m}{node="${node}",value="${label(s.value)}"} 1`);
      }
    }
  }
  const out: string[] = [];
  for (const [name, g] of gauges) {
    out.push(`# HELP ${name} ${g.help.replace(/\n/g, " ")}`, `# TYPE ${name} gauge`, ...g.lines);
  }
  const r = monitor.rounds.lastClosed();
  const own: [string, string, string, number][] = [
    ["kvstore_monitor_nodes", "gauge", "known nodes", views.length],
    ["kvstore_monitor_rounds_total", "counter", "rounds started", monitor.rounds.index],
    ["kvstore_monitor_reports_accepted_total", "counter", "reports applied", monitor.stats.reportsAccepted],
    ["kvstore_monitor_reports_rejected_total", "counter", "reports refused", monitor.stats.reportsRejected],
    ["kvstore_monitor_round_messages_total", "counter", "round messages sent", monitor.stats.roundMessages],
    [
      "kvstore_monitor_round_coverage",
      "gauge",
      "fraction of known nodes that reported the last closed round",
      r?.coverage ?? 0,
    ],
  ];
  for (const [name, type, help, v] of own) out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${v}`);
  if (monitor.server) out.push(...serverMetrics(monitor.server));
  return out.join("\n") + "\n";
}
