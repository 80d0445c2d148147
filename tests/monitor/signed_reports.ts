/**
 * Reports as nodes send them to the monitor, for the monitoring and admin-route tests: the test cluster key
 * (and a stranger's), a node's report with plausible stats, and a POST signed as a node signs it.
 *
 * @module
 */
import { signedHeaders } from "../../lib/wire/signed_request.ts";
import { importClusterKey } from "../../lib/wire/http_key.ts";
import type { NodeReport, StatMap } from "../../lib/monitoring/report.ts";

/** A fixed test cluster key (hex). */
export const KEY_HEX = "5eed".repeat(16);
/** Another key: what a stranger would sign with. */
export const WRONG_KEY_HEX = "bad0".repeat(16);

/** The imported test key. */
export function testKey(hex = KEY_HEX): Promise<CryptoKey> {
  return importClusterKey(hex);
}

/** A report of `node` for `round` with `stats` (defaults to a few plausible ones). */
export function report(node: string, round: string, stats: StatMap = defaultStats(), extra: Partial<NodeReport> = {}) {
  return { node, round, hops: 1, waitMs: 10, stats, ...extra } satisfies NodeReport;
}

/** A small stat map. */
export function defaultStats(keys = 5): StatMap {
  return {
    uptime: { value: 12, unit: "s" },
    version: { value: "0.1.0" },
    keys: { value: keys },
    bytes_stored: { value: keys * 100, unit: "bytes" },
    errors: { value: 0 },
    rps: { value: 1.5, unit: "req/s" },
    members_alive: { value: 3 },
    members_suspect: { value: 0 },
    members_dead: { value: 0 },
  };
}

/** A signed POST request init for `body` from `node`. */
export async function signedPost(
  key: CryptoKey | undefined,
  node: string,
  body: string,
): Promise<RequestInit> {
  return { method: "POST", headers: await signedHeaders(key, node, body), body };
}
