/**
 * The table of `deno task bench:compare`: one row per case, medians over the rounds, and each
 * case's ratio to a reference measured in the same round.
 *
 * @module
 */

/** One row of the table. */
export interface CaseResult {
  /** Row label. */
  name: string;
  /** Requests per second. */
  opsPerSec: number;
  /** Latency percentiles (ms); NaN when the tool does not report one. */
  p50Ms: number;
  /** 99th percentile (ms). */
  p99Ms: number;
  /** 99.9th percentile (ms). */
  p999Ms: number;
  /** Timed-out attempts. */
  timeouts: number;
  /** Server CPU per request (µs), all server processes together. */
  serverCpuUs: number;
  /** Generator CPU in cores. */
  generatorCores: number;
  /** A remark (for example, how many members the cluster saw). */
  note: string;
}

/** The row with the median ops/s of a case's rounds. */
export function median(rows: CaseResult[]): CaseResult {
  const sorted = rows.slice().sort((a, b) => a.opsPerSec - b.opsPerSec);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Each case's ratio to the echo ceiling (or to the case named `reference`; only cases whose name
 * starts with `only`) measured in the same round, round by round, and their
 * median: on a machine whose speed drifts between rounds, a case and the echo run just before it
 * compare better than medians taken over all rounds apart.
 *
 * @example
 * ```ts
 * const row = (name: string, opsPerSec: number) => ({ name, opsPerSec } as CaseResult);
 * console.log(formatPairedRatios([[row("(a) echo", 100), row("(b) node", 80)], [row("(a) echo", 50), row("(b) node", 45)]]));
 * // (b) node: 80% 90% (median 85%)
 * ```
 */
export function formatPairedRatios(rounds: CaseResult[][], reference = "(a)", only = ""): string {
  const ratios = new Map<string, number[]>();
  for (const round of rounds) {
    const echo = round.find((r) => r.name === reference || (reference === "(a)" && r.name.startsWith("(a)")));
    if (!echo) continue;
    for (const r of round) {
      if (r === echo || r.name.startsWith("(e)") || !r.name.startsWith(only)) continue; // latency rows: no ceiling
      ratios.set(r.name, [...(ratios.get(r.name) ?? []), r.opsPerSec / echo.opsPerSec]);
    }
  }
  const percent = (x: number) => `${(100 * x).toFixed(0)}%`;
  return [...ratios].map(([name, xs]) => {
    const sorted = xs.slice().sort((a, b) => a - b);
    const mid = sorted.length / 2;
    const med = sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
    return `${name}: ${xs.map(percent).join(" ")} (median ${percent(med)})`;
  }).join("\n");
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

/** Renders the comparison table (markdown, so it can go straight into docs/performance.md). */
export function formatTable(rows: CaseResult[]): string {
  const echo = rows.find((r) => r.name.startsWith("(a)"));
  const redis = rows.find((r) => r.name.startsWith("(d)"));
  const head = "| case | ops/s | p50 ms | p99 ms | p99.9 ms | timeouts | server CPU µs/req | " +
    "generator cores | vs echo | vs redis | note |";
  const lines = [head, "|" + "---|".repeat(11)];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${Math.round(r.opsPerSec).toLocaleString("en-US")} | ${fmt(r.p50Ms, 3)} | ${fmt(r.p99Ms, 3)} | ${
        fmt(r.p999Ms, 3)
      } | ${r.timeouts} | ${fmt(r.serverCpuUs, 1)} | ${fmt(r.generatorCores)} | ${
        echo ? `${fmt((100 * r.opsPerSec) / echo.opsPerSec, 0)}%` : "-"
      } | ${redis ? `${fmt((100 * r.opsPerSec) / redis.opsPerSec, 0)}%` : "-"} | ${r.note} |`,
    );
  }
  return lines.join("\n");
}
