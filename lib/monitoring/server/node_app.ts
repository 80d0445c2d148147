/**
 * The status routes a node serves from its own fleet table (`--status-port`): the monitor's page
 * and detail pages (through {@linkcode FleetMonitorAdapter}), `/api/nodes` as
 * `{ answeredBy, nodes: [{ node, state, ageMs, … }] }`, `/metrics` with each row's age, and live
 * updates. Nothing here accepts reports or admin commands: a node's page only reads.
 *
 * @module
 */
import { Hono } from "hono";
import type { Clock, TimerId } from "../../base/clock.ts";
import type { FleetSnapshot } from "../fleet/attach.ts";
import { createMonitorApp } from "./app.ts";
import { EventHub } from "./events.ts";
import { FleetMonitorAdapter } from "./fleet_adapter.ts";
import { renderMetrics } from "./metrics.ts";
import { renderRowById, renderSummary } from "./page.ts";

/** Live-update limits of a node's page (named like the monitor's). */
export const NODE_PAGE_LIMITS = { maxSseClients: 16, sseKeepAliveMs: 15_000, liveUpdateMs: 1_000 } as const;

/** A node's status app and what it holds. */
export interface NodeStatusApp {
  /** The Hono app (`app.request()` in tests). */
  app: Hono;
  /** Stops the live-update timer and closes the streams. */
  close(): void;
}

/**
 * Builds the routes of a node's status server reading `read()` (the node's fleet table).
 *
 * @example
 * ```ts ignore
 * const { app } = createNodeStatusApp(() => running.fleet!.snapshot(), realClock, "kvstore");
 * const res = await app.request("/api/nodes");
 * ```
 */
export function createNodeStatusApp(read: () => FleetSnapshot, clock: Clock, name?: string): NodeStatusApp {
  const adapter = new FleetMonitorAdapter(read, clock, name);
  const monitor = adapter.monitor;
  const hub = new EventHub(
    { maxClients: NODE_PAGE_LIMITS.maxSseClients, keepAliveMs: NODE_PAGE_LIMITS.sseKeepAliveMs },
    clock,
  );
  const inner = createMonitorApp({ monitor, hub });
  const app = new Hono();
  // Live updates while someone watches: the changed rows every second, no timer while nobody does.
  let timer: TimerId | undefined;
  let closed = false;
  const watch = () => {
    if (!closed && timer === undefined && hub.clients > 0) {
      timer = clock.setTimeout(tick, NODE_PAGE_LIMITS.liveUpdateMs);
    }
  };
  const tick = () => {
    timer = undefined;
    if (closed || hub.clients === 0) return;
    const ids = adapter.sync();
    const rows = ids.map((id) => ({ id, html: renderRowById(monitor, id) })).filter((r) => r.html !== "");
    const summary: [string, unknown] = ["summary", { html: renderSummary(monitor) }];
    hub.publishAll(rows.length > 0 ? [["rows", rows], summary] : [summary]);
    watch();
  };
  // Each request reads the table first, so what it shows is as fresh as the node's table; an event stream opened
  // by it starts the live updates.
  app.use("*", async (_c, next) => {
    adapter.sync();
    await next();
    watch();
  });
  app.post("/api/report", (c) => c.json({ error: "this is a node's status server; reports go to the monitor" }, 404));
  app.get("/api/nodes", (c) => c.json(adapter.last));
  app.get("/api/rounds", (c) => c.json({ error: "a node has no rounds; the monitor has them" }, 404));
  app.get("/metrics", (c) => {
    const snap = adapter.last;
    const lines = [
      "# HELP kvstore_fleet_answered_by the node whose fleet table this is",
      "# TYPE kvstore_fleet_answered_by gauge",
      `kvstore_fleet_answered_by{node="${snap.answeredBy}"} 1`,
      "# HELP kvstore_fleet_row_age_seconds age of each row of the fleet table (now minus its origin's time)",
      "# TYPE kvstore_fleet_row_age_seconds gauge",
      ...snap.nodes.filter((v) => v.version > 0).map((v) =>
        `kvstore_fleet_row_age_seconds{node="${v.node}"} ${v.ageMs / 1000}`
      ),
    ];
    return c.text(renderMetrics(monitor) + lines.join("\n") + "\n", 200, {
      "content-type": "text/plain; version=0.0.4",
    });
  });
  app.get(
    "/healthz",
    (c) => c.json({ ok: true, answeredBy: adapter.last.answeredBy, nodes: adapter.last.nodes.length }),
  );
  app.route("/", inner);

  return {
    app,
    close: () => {
      closed = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      hub.close();
      void monitor.close();
    },
  };
}
