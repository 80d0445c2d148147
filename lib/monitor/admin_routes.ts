/**
 * Admin-command results on the status server (routes under /api/admin and the
 * /admin page). (Stub until the admin issue lands.)
 *
 * @module
 */
import type { Hono } from "hono";

/** What the admin routes need from the monitor. */
export interface AdminRoutesOptions {
  /** Cluster key for verifying node reports (signed_request.ts); none = accept unsigned. */
  clusterKey?: CryptoKey;
}

/** Registers the admin routes on the monitor app. */
export function registerAdminRoutes(_app: Hono, _options: AdminRoutesOptions): void {}
