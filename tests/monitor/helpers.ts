/**
 * Shared helpers of the monitoring tests.
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

/** Reads an SSE response until `pattern` appears in the text (or `timeoutMs`); returns the text read. */
export async function readSseUntil(res: Response, pattern: RegExp, timeoutMs: number): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (!pattern.test(text)) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<null>((r) => timer = setTimeout(() => r(null), left)),
      ]);
      clearTimeout(timer);
      if (chunk === null || chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    await reader.cancel();
  }
  return text;
}
