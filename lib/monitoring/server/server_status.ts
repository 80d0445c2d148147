/**
 * The status server's own health, for the page and `/metrics`: the HTTP listener's refusals by
 * reason, open connections against the cap, the descriptor limit, and how often the monitor was
 * restarted by its supervisor (`kvstore cluster`).
 *
 * @module
 */
import type { HttpListener } from "../../net/http_listener.ts";

/** What the monitor knows about its own server. */
export interface ServerStatus {
  /** The HTTP listener: limits, refusals, open connections. */
  http: Pick<HttpListener, "limits" | "refusals" | "connections">;
  /** Times the supervisor restarted this monitor after an unexpected exit. */
  restarts: number;
}

/**
 * One line for the page: connections, refusals by reason, descriptor limit, restarts.
 *
 * @example
 * ```ts ignore
 * console.log(renderServerLine(status)); // "Server: 3 of 19744 connections; …"
 * ```
 */
export function renderServerLine(s: ServerStatus, esc: (x: unknown) => string): string {
  const { limits, refusals } = s.http;
  const d = limits.descriptors;
  const fmt = (n: number | null) => (n === null ? "unlimited" : String(n));
  const refused = refusals.entries().map(([r, n]) => `${r} ${n}`).join(", ");
  return `<p class="note" id="server">Server: ${s.http.connections} of ${limits.maxConnections} connections; ` +
    `refused ${refusals.total === 0 ? "none" : esc(refused)}; descriptor limit ${
      !d
        ? "unknown"
        : d.source === "probe"
        ? `${d.atLeast ? "at least " : "about "}${fmt(d.soft)} (probed)`
        : `${fmt(d.soft)} (hard ${fmt(d.hard)})`
    }; header timeout ${limits.headerTimeoutMs / 1000} s; restarts ${s.restarts}.</p>`;
}

/**
 * Prometheus lines: `http_refused_total{reason}`, open connections, the cap, the descriptor limit
 * and the restarts.
 *
 * @example
 * ```ts ignore
 * console.log(serverMetrics(status).join("\n"));
 * ```
 */
export function serverMetrics(s: ServerStatus): string[] {
  const { limits, refusals } = s.http;
  const out = [
    "# HELP http_refused_total HTTP connections or requests refused or cut by the status server, by reason",
    "# TYPE http_refused_total counter",
    ...refusals.entries().map(([reason, n]) => `http_refused_total{reason="${reason}"} ${n}`),
  ];
  const gauges: [string, string, string, number | null | undefined][] = [
    ["kvstore_monitor_http_connections", "gauge", "open HTTP connections", s.http.connections],
    ["kvstore_monitor_http_max_connections", "gauge", "cap on open HTTP connections", limits.maxConnections],
    ["kvstore_monitor_descriptor_limit", "gauge", "open-file limit (soft)", limits.descriptors?.soft],
    ["kvstore_monitor_restarts_total", "counter", "restarts by the supervisor", s.restarts],
  ];
  for (const [name, type, help, v] of gauges) {
    if (v !== null && v !== undefined) out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${v}`);
  }
  return out;
}
