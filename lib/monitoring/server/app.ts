/**
 * The monitor's HTTP routes (Hono): report intake, the page, the JSON API,
 * Prometheus metrics, the SSE stream, and the routes other subsystems add (the admin results, by
 * the monitor role: `lib/roles/start_monitor.ts`).
 *
 * @module
 */
import { Hono } from "hono";
import { html } from "hono/html";
import { readSignedJson } from "./body.ts";
import type { EventHub } from "./events.ts";
import { renderMetrics } from "./metrics.ts";
import type { Monitor } from "./monitor.ts";
import { parseSort, renderDetail, renderIndex } from "./page.ts";
import { REPORT_LIMITS } from "../report.ts";
import { parseReportBody } from "../report_schema.ts";
import { clusterSummary, nodeView, nodeViews } from "./view.ts";
import type { Refusals } from "../../net/refusals.ts";

/** What the routes need. */
export interface MonitorAppOptions {
  /** The monitor's logic. */
  monitor: Monitor;
  /** Live-update streams. */
  hub: EventHub;
  /** Cluster key: reports must be signed with it (none = accept unsigned, for trying out). */
  clusterKey?: CryptoKey | readonly CryptoKey[];
  /** Largest request body accepted (bytes). */
  maxBodyBytes?: number;
  /** Where refused requests are counted (body timeouts, full event streams). */
  refusals?: Refusals;
  /** Adds the routes of other subsystems (before the not-found handler). */
  extraRoutes?: (app: Hono) => void;
}

/**
 * Builds the Hono app.
 *
 * @example
 * ```ts ignore
 * const app = createMonitorApp({ monitor, hub, clusterKey });
 * const res = await app.request("/api/nodes");
 * ```
 */
export function createMonitorApp(options: MonitorAppOptions): Hono {
  const app = new Hono();
  reportRoute(app, options);
  pageRoutes(app, options.monitor);
  apiRoutes(app, options);
  options.extraRoutes?.(app);
  app.notFound((c) =>
    c.req.path.startsWith("/api/")
      ? c.json({ error: `no route ${c.req.path}` }, 404)
      : c.html(notFound(c.req.path), 404)
  );
  app.onError((e, c) => {
    console.error(`monitor: ${c.req.method} ${c.req.path} failed: ${e.message}`);
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

/** POST /api/report: a node's signed report (or a batch), checked and handed to the monitor. */
function reportRoute(app: Hono, options: MonitorAppOptions): void {
  const { monitor, clusterKey } = options;
  const maxBody = options.maxBodyBytes ?? REPORT_LIMITS.maxBodyBytes;
  app.post("/api/report", async (c) => {
    const refuse = (status: 400 | 401 | 403 | 408 | 409 | 413 | 415, error: string) => {
      monitor.countRejected();
      if (status === 408) options.refusals?.add("body_timeout");
      return c.json({ error }, status);
    };
    const read = await readSignedJson(c.req.raw, { maxBytes: maxBody, clusterKey, noun: "report" });
    if (!read.ok) return refuse(read.status, read.error);
    const { node, value: parsed } = read;
    const r = parseReportBody(parsed);
    if (!r.ok) return refuse(400, r.error);
    if (clusterKey && !("reports" in (parsed as object)) && r.reports[0].node !== node) {
      return refuse(403, `the report is for ${r.reports[0].node} but signed by ${node}`);
    }
    const result = monitor.acceptReports(r.reports);
    if (result.accepted === 0) {
      return c.json({ error: result.rejected[0]?.reason ?? "nothing accepted", ...result }, 409);
    }
    return c.json(result, 202);
  });
}

/** The HTML pages: the node table and a node's detail (or its fragment for live updates). */
function pageRoutes(app: Hono, monitor: Monitor): void {
  app.get("/", (c) => c.html(renderIndex(monitor, parseSort(c.req.query("sort"), c.req.query("dir")))));

  app.get("/nodes/:id", (c) => {
    const id = c.req.param("id");
    const page = renderDetail(monitor, id, c.req.query("fragment") === "1");
    return page === null ? c.html(notFound(id), 404) : c.html(page);
  });
}

/** The JSON API, Prometheus metrics, the live-update stream and the health check. */
function apiRoutes(app: Hono, options: MonitorAppOptions): void {
  const { monitor, hub } = options;
  app.get("/api/nodes", (c) => {
    const views = nodeViews(monitor);
    return c.json({ cluster: clusterSummary(monitor, views), nodes: views });
  });

  app.get("/api/nodes/:id", (c) => {
    const n = monitor.registry.get(c.req.param("id"));
    if (!n) return c.json({ error: `unknown node ${c.req.param("id")}` }, 404);
    return c.json({ ...nodeView(monitor, n), members: n.members, history: n.history.snapshot() });
  });

  app.get("/api/rounds", (c) => {
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 60) || 60, 1), monitor.config.keepRounds);
    return c.json({
      intervalMs: monitor.config.intervalMs,
      notRespondingRounds: monitor.config.notRespondingRounds,
      current: monitor.rounds.latest() ?? null,
      rounds: monitor.rounds.list(limit),
    });
  });

  app.get("/metrics", (c) => c.text(renderMetrics(monitor), 200, { "content-type": "text/plain; version=0.0.4" }));

  app.get("/events", () => {
    const stream = hub.connect();
    if (stream) return stream;
    options.refusals?.add("sse_cap");
    return new Response("too many live clients; reload later", { status: 503 });
  });

  app.get("/healthz", (c) => c.json({ ok: true, round: monitor.rounds.index, nodes: monitor.registry.size }));
}

/** The 404 page (hono/html escapes `what`). */
function notFound(what: string): ReturnType<typeof html> {
  return html`
    <!doctype html>
    <meta charset="utf-8">
    <title>Not found</title>
    <p>Nothing at ${what}. <a href="/">Back to the nodes</a></p>
  `;
}
