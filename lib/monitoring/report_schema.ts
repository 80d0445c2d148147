/**
 * The monitor's check of the reports it receives (zod schemas of {@linkcode NodeReport}); kept apart
 * from `report.ts`, which nodes load, so a node does not load zod (docs/performance.md, "Idle node cost").
 *
 * @module
 */
import { z } from "zod";
import { addressSchema } from "../net/address_schema.ts";
import { type NodeReport, REPORT_LIMITS, ROUND_ID, STAT_NAME } from "./report.ts";

const address = addressSchema(64);

const StatSchema = z.strictObject({
  value: z.union([z.number().finite(), z.string().max(REPORT_LIMITS.maxStringLength)]),
  unit: z.string().max(REPORT_LIMITS.maxUnitLength).optional(),
});

const StatMapSchema = z.record(
  z.string().max(REPORT_LIMITS.maxNameLength).regex(STAT_NAME, {
    message: "stat names start with a letter or _ and use letters, digits, _ . : -",
  }),
  StatSchema,
).refine((m) => Object.keys(m).length <= REPORT_LIMITS.maxStats, {
  message: `at most ${REPORT_LIMITS.maxStats} stats per report`,
});

/** Schema of one report. */
export const ReportSchema = z.object({
  node: address,
  round: z.string().regex(ROUND_ID, { message: "expected a hex round id" }),
  hops: z.number().int().min(0).max(1_000),
  waitMs: z.number().min(0).max(3_600_000),
  stats: StatMapSchema,
  members: z.array(address).max(REPORT_LIMITS.maxMembers).optional(),
  gone: z.array(z.strictObject({
    node: address,
    state: z.enum(["dead", "left"]),
    forMs: z.number().int().min(0).max(365 * 86_400_000),
  })).max(REPORT_LIMITS.maxMembers).optional(),
});

/** Schema of a request body: one report, or a batch `{ reports: [...] }`. */
export const ReportBodySchema = z.union([
  ReportSchema,
  z.object({ reports: z.array(ReportSchema).min(1).max(REPORT_LIMITS.maxBatch) }),
]);

/**
 * Validates a parsed request body; returns the reports or a sentence saying what is wrong.
 *
 * @example
 * ```ts
 * const r = parseReportBody({ node: "127.0.0.1:4000", round: "00112233", hops: 1, waitMs: 5, stats: {} });
 * console.log(r.ok && r.reports.length); // 1
 * ```
 */
export function parseReportBody(
  body: unknown,
): { ok: true; reports: NodeReport[] } | { ok: false; error: string } {
  const r = ReportBodySchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const at = issue.path.length > 0 ? ` at "${issue.path.join(".")}"` : "";
    return { ok: false, error: `invalid report${at}: ${issue.message}` };
  }
  const reports = "reports" in r.data ? r.data.reports : [r.data];
  return { ok: true, reports: reports as NodeReport[] };
}
