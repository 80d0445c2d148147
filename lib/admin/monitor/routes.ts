/**
 * Admin-command results on the status server:
 * - `POST /api/admin/results` — a node's result for one command (signed with
 *   the cluster key through lib/wire/signed_request.ts headers);
 * - `GET /api/admin/commands` — every command with counts by status;
 * - `GET /api/admin/commands/:id` — one command with every node's result;
 * - `GET /admin` — the page (per command, per node: status, exit, duration, output).
 *
 * @module
 */
import type { Hono } from "hono";
import { readSignedJson } from "../../monitoring/server/body.ts";
import type { NodeResult } from "../protocol.ts";
import { renderAdminPage } from "./page.ts";
import type { Refusals } from "../../net/refusals.ts";
import { AdminResults, NodeResultSchema, recordJson, type ResultsStoreLimits } from "./results_store.ts";

/** What the admin routes need from the monitor. */
export interface AdminRoutesOptions {
  /** Cluster key for verifying node reports (signed_request.ts); none = accept unsigned. */
  clusterKey?: CryptoKey | readonly CryptoKey[];
  /** Store limits (commands kept, output per result). */
  limits?: Partial<ResultsStoreLimits>;
  /** Largest result body accepted (bytes). Default 512 KiB. */
  maxBodyBytes?: number;
  /** Where body timeouts are counted. */
  refusals?: Refusals;
  /** Cluster name shown on the page. */
  title?: string;
}

/**
 * Registers the admin routes on the monitor app; returns the results store.
 *
 * @example
 * ```ts ignore
 * const app = new Hono();
 * const store = registerAdminRoutes(app, { clusterKey });
 * ```
 */
export function registerAdminRoutes(app: Hono, options: AdminRoutesOptions): AdminResults {
  const store = new AdminResults(options.limits);
  const { clusterKey } = options;
  const maxBody = options.maxBodyBytes ?? 512 * 1024;
  const rejected = { count: 0 };

  app.post("/api/admin/results", async (c) => {
    const refuse = (status: 400 | 401 | 403 | 408 | 413 | 415, error: string) => {
      rejected.count++;
      if (status === 408) options.refusals?.add("body_timeout");
      return c.json({ error }, status);
    };
    const read = await readSignedJson(c.req.raw, { maxBytes: maxBody, clusterKey, noun: "result" });
    if (!read.ok) return refuse(read.status, read.error);
    const { node } = read;
    const r = NodeResultSchema.safeParse(read.value);
    if (!r.success) {
      const i = r.error.issues[0];
      return refuse(400, `bad result: ${i.path.join(".") || "(body)"}: ${i.message}`);
    }
    if (clusterKey && r.data.node !== node) {
      return refuse(403, `the result is for ${r.data.node} but signed by ${node}`);
    }
    store.accept(r.data as NodeResult, Date.now());
    return c.json({ ok: true }, 202);
  });

  app.get(
    "/api/admin/commands",
    (c) => c.json({ commands: store.list().map((rec) => recordJson(rec, false)), rejected: rejected.count }),
  );

  app.get("/api/admin/commands/:id", (c) => {
    const rec = store.get(c.req.param("id"));
    if (!rec) return c.json({ error: `no results for command ${c.req.param("id")} yet` }, 404);
    return c.json(recordJson(rec, true));
  });

  app.get("/admin", (c) => c.html(renderAdminPage(store, options.title, c.req.query("id"))));
  return store;
}
