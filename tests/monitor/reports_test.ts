/** What a node reports: the report's validation, and the stats collector behind it. */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { putStat } from "../../lib/monitoring/report.ts";
import { parseReportBody } from "../../lib/monitoring/report_schema.ts";
import { startNode } from "../../lib/roles/start_node.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { KVSTORE_VERSION, StatsCollector } from "../../lib/monitoring/agent/stats.ts";
import { report } from "./signed_reports.ts";

Deno.test("report validation: open stat map, limits", () => {
  const ok = parseReportBody(
    report("127.0.0.1:4000", "0011223344556677", { any_new_stat: { value: 1, unit: "widgets" } }),
  );
  assert.ok(ok.ok);
  const bad = parseReportBody(report("127.0.0.1:4000", "0011223344556677", { x: { value: Number.NaN } }));
  assert.equal(bad.ok, false);
  assert.equal(parseReportBody({ reports: [] }).ok, false);
  assert.equal(parseReportBody(null).ok, false);
  assert.throws(() => putStat({}, "bad name", 1), TypeError);
  assert.deepEqual(putStat({}, "skip", Number.POSITIVE_INFINITY), {});
});

Deno.test("stats collector: store, rates, errors, members, host, extra sources", async () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 3 });
  const running = await startNode({
    transport: net.createTransport("10.0.0.1:4000"),
    clock,
    maxBytes: 10_000,
    subsystemOptions: { staticMembers: true, replication: false },
  });
  try {
    const collector = new StatsCollector(running.context, running.members, { system: true, sources: running.stats });
    const remove = running.stats.add(() => ({ widgets: { value: 3, unit: "pcs" } }));
    running.node.counters.requests.put = 20;
    running.node.counters.replies["02"] = 4;
    clock.advance(10_000);
    const s = await collector.collect({ round_hops: { value: 2 } });
    assert.equal(s.version.value, KVSTORE_VERSION);
    assert.equal(s.capacity.value, 10_000);
    assert.equal(s.uptime.value, 10);
    assert.equal(s["rps.put"].value, 2, "20 puts in 10 s");
    assert.equal(s.errors.value, 4);
    assert.equal(s["errors.out_of_space"].value, 4);
    assert.equal(s.members_alive.value, 1);
    assert.equal(s.widgets.value, 3);
    assert.equal(s.round_hops.value, 2);
    assert.equal(typeof s.rss.value, "number");
    assert.ok(typeof s.disk_free.value === "number" && s.disk_free.value > 0, "disk free of the data dir (or cwd)");
    remove();
    clock.advance(5_000);
    const s2 = await collector.collect();
    assert.equal(s2["rps.put"].value, 0, "rates are since the previous report");
    assert.equal(s2.widgets, undefined);
  } finally {
    running.close();
  }
});
