/**
 * A node's history on the monitor: a bounded window per series, and (`--data-dir`) the history, the
 * rounds and the nodes surviving a monitor restart through a saved snapshot.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { NodeHistory } from "../../lib/monitoring/server/history.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { Monitor } from "../../lib/monitoring/server/monitor.ts";
import { loadSnapshot, saveSnapshot, SNAPSHOT_FILE } from "../../lib/monitoring/server/persist.ts";
import { renderMetrics } from "../../lib/monitoring/server/metrics.ts";
import { report } from "./signed_reports.ts";

Deno.test("history keeps a bounded window per series and drops what falls out of it", () => {
  const h = new NodeHistory({ resolutionMs: 1_000, points: 5, maxSeries: 2 });
  for (let t = 0; t < 20; t++) {
    h.record(t * 1_000, { a: { value: t }, b: { value: -t }, c: { value: 1 }, s: { value: "x" } });
  }
  assert.deepEqual(h.series("a").v, [15, 16, 17, 18, 19], "only the last 5 buckets");
  assert.deepEqual(h.series("a").t, [15_000, 16_000, 17_000, 18_000, 19_000]);
  assert.deepEqual(h.names(), ["a", "b"], "at most maxSeries series; strings never");
  h.record(19_500, { a: { value: 99 } });
  assert.equal(h.series("a").v.at(-1), 99, "last value wins within a bucket");
  h.record(30_000, { a: { value: 1 } });
  assert.deepEqual(h.series("a").v, [1], "a gap longer than the window clears it");
  h.record(1_000, { a: { value: 5 } });
  assert.deepEqual(h.series("a").v, [1], "points older than the window are ignored");
  const copy = new NodeHistory({ resolutionMs: 1_000, points: 5, maxSeries: 2 });
  copy.restore(h.snapshot());
  assert.deepEqual(copy.snapshot(), h.snapshot());
});

Deno.test("--data-dir: the monitor's history survives a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-monitor-persist-" });
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const make = () =>
    new Monitor({
      transport: net.createTransport("10.0.0.9:9000"),
      clock,
      reportUrl: "http://m/api/report",
      config: { historyWindowMs: 60_000, historyPoints: 60 },
      tcpProbe: null,
    });
  try {
    const a = make();
    for (let i = 0; i < 3; i++) {
      const r = await a.startRound();
      a.acceptReports([report("127.0.0.1:4000", r.id, { keys: { value: i } })]);
      clock.advance(1_000);
    }
    await saveSnapshot(dir, a.snapshot());
    await a.close();
    const b = make();
    b.restore((await loadSnapshot(dir))!);
    assert.deepEqual(b.registry.get("127.0.0.1:4000")!.history.series("keys").v, [0, 1, 2]);
    assert.equal(b.rounds.index, 3);
    assert.equal((await b.startRound()).index, 4, "round numbers continue");
    assert.equal(b.assess("127.0.0.1:4000")!.state, "ok");
    assert.match(renderMetrics(b), /^kvstore_keys\{node="127.0.0.1:4000"\} 2$/m);
    await b.close();
    await Deno.writeTextFile(`${dir}/${SNAPSHOT_FILE}`, "{broken");
    await assert.rejects(loadSnapshot(dir), /not valid JSON; move it away/);
    assert.equal(await loadSnapshot(`${dir}/none`), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
