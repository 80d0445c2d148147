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
import { readLimited } from "../../monitoring/server/body.ts";
import { NODE_HEADER, SIGNATURE_HEADER, verifySignedBody } from "../../wire/signed_request.ts";
import type { NodeResult } from "../protocol.ts";
import { renderAdminPage } from "./page.ts";
import { AdminResults, NodeResultSchema, recordJson, type ResultsStoreLimits } from "./results_store.ts";

/** What the admin routes need from the monitor. */
export interface AdminRoutesOptions {
  /** Cluster key for verifying node reports (signed_request.ts); none = accept unsigned. */
  clusterKey?: CryptoKey | readonly CryptoKey[];
  /** Store limits (commands kept, output per result). */
  limits?: Partial<ResultsStoreLimits>;
  /** Largest result body accepted (bytes). Default 512 KiB. */
  maxBodyBytes?: number;
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
    const refuse = (status: 400 | 401 | 403 | 413 | 415, error: string) => {
      rejected.count++;
      return c.json({ error }, status);
    };
    if (!/^application\/json\b/i.test(c.req.header("content-type") ?? "")) {
      return refuse(415, "send the result as application/json");
    }
    const body = await readLimited(c.req.raw, maxBody);
    if (body === null) return refuse(413, `the body is larger than ${maxBody} bytes`);
    const node = c.req.header(NODE_HEADER);
    const signature = c.req.header(SIGNATURE_HEADER);
    if (clusterKey && (!node || !signature)) {
      return refuse(401, `sign the result with the cluster key (${NODE_HEADER} and ${SIGNATURE_HEADER} headers)`);
    }
    if (!(await verifySignedBody(clusterKey, node, signature, body))) {
      return refuse(403, "the signature does not match: wrong cluster key or altered body");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return refuse(400, "the body is not valid JSON");
    }
    const r = NodeResultSchema.safeParse(parsed);
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
