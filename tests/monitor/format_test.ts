/** How the monitor writes a stat, by its unit, and a duration. */
import assert from "node:assert/strict";
import { formatDuration, formatStat } from "../../lib/monitoring/server/view.ts";

Deno.test("formatting by unit", () => {
  assert.equal(formatStat({ value: 1536, unit: "bytes" }), "1.5 KiB");
  assert.equal(formatStat({ value: 90, unit: "s" }), "1m 30s");
  assert.equal(formatStat({ value: 12.345, unit: "%" }), "12%");
  assert.equal(formatStat({ value: 1234567 }), "1,234,567");
  assert.equal(formatStat({ value: "text" }), "text");
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatDuration(3 * 3_600_000), "3h");
});
