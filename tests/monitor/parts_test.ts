/** Unit tests of the monitoring parts: history, rounds, gossip, stats, persistence, CLI. */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { NodeHistory } from "../../lib/monitoring/server/history.ts";
import { RoundBook } from "../../lib/monitoring/server/rounds.ts";
import { parseReportBody, putStat } from "../../lib/monitoring/report.ts";
import { RoundGossip } from "../../lib/monitoring/agent/round_gossip.ts";
import { parseRoundHeader, type RoundHeader, signRound, verifyRound } from "../../lib/monitoring/round_message.ts";
import { StaticMembers } from "../../lib/node/members.ts";
import { seededRandom } from "../../lib/base/random.ts";
import { startNode } from "../../lib/roles/start_node.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { addStatsSource, KVSTORE_VERSION, StatsCollector } from "../../lib/monitoring/agent/stats.ts";
import { Monitor } from "../../lib/monitoring/server/monitor.ts";
import { loadSnapshot, saveSnapshot, SNAPSHOT_FILE } from "../../lib/monitoring/server/persist.ts";
import { renderMetrics } from "../../lib/monitoring/server/metrics.ts";
import { formatDuration, formatStat } from "../../lib/monitoring/server/view.ts";
import { RoleProcess } from "../../lib/roles/process_launcher.ts";
import { report, testKey } from "./helpers.ts";
import { waitUntil } from "../support/real_time.ts";

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

Deno.test("round book: coverage, arrival times, spread, accept window", () => {
  const book = new RoundBook({ keep: 3, accept: 2 });
  const r1 = book.start("00000000000000a1", 1_000, 4, ["n1"], 0);
  assert.equal(r1.index, 1);
  assert.ok(book.record(r1.id, 1_100, 1, 50));
  assert.ok(book.record(r1.id, 1_300, 3, 100));
  assert.ok(book.record(r1.id, 1_200, 2, 0));
  let s = book.latest()!;
  assert.equal(s.reported, 3);
  assert.equal(s.coverage, 0.75);
  assert.equal(s.t50, 200, "2 of 4 after 200 ms");
  assert.equal(s.t90, undefined, "90 % never reached");
  assert.equal(s.tAll, undefined);
  assert.equal(s.spreadMax, 200);
  assert.equal(s.hopsMax, 3);
  assert.equal(s.hopsMean, 2);
  book.record(r1.id, 1_400, 1, 0);
  assert.equal(book.latest()!.tAll, 400);
  book.start("00000000000000a2", 2_000, 4, [], 0);
  assert.ok(book.open(r1.id), "still accepted one round later");
  book.start("00000000000000a3", 3_000, 4, [], 0);
  assert.equal(book.open(r1.id), undefined, "closed after `accept` newer rounds");
  assert.equal(book.record(r1.id, 3_100, 1, 0), false);
  s = book.list().at(-1)!;
  assert.equal(s.id, r1.id);
  assert.equal(s.tAll, 400, "summary kept after closing");
  book.start("00000000000000a4", 4_000, 4, [], 0);
  assert.equal(book.list().length, 3, "bounded");
  assert.equal(book.lastClosed()!.id, "00000000000000a3");
});

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

Deno.test("round header: parsing rejects malformed fields; MAC covers id, URL and jitter", async () => {
  const h: RoundHeader = { r: "0011223344556677", u: "http://127.0.0.1:8080/api/report", j: 100, h: 2 };
  assert.deepEqual(parseRoundHeader(h), h);
  for (
    const bad of [{ ...h, r: "xyz" }, { ...h, u: "ftp://x" }, { ...h, j: -1 }, { ...h, h: 1.5 }, { ...h, m: "00" }, 7]
  ) {
    assert.equal(parseRoundHeader(bad), null, JSON.stringify(bad));
  }
  const key = await testKey();
  const signed = await signRound(key, h);
  assert.equal(await verifyRound(key, signed), true);
  assert.equal(await verifyRound(key, { ...signed, h: 9 }), true, "hop count is not covered");
  assert.equal(await verifyRound(key, { ...signed, j: 101 }), false);
});

Deno.test("rumor mongering: first receipt reports once, duplicates ignored, seen set bounded, stops", async () => {
  const clock = new VirtualClock();
  const members = new StaticMembers("a:1", ["b:1", "c:1", "d:1", "e:1"]);
  const sent: [string, RoundHeader][] = [];
  const firsts: string[] = [];
  const g = new RoundGossip({ fanout: 2, stopProbability: 0.5, stepIntervalMs: 10, seenRounds: 3 }, {
    members,
    clock,
    random: seededRandom(1),
    send: (to, header) => sent.push([to, header]),
    onFirstReceipt: (header) => firsts.push(header.r),
  });
  const h = (r: string): RoundHeader => ({ r, u: "http://m/api/report", j: 0, h: 4 });
  g.receive(h("00000001"), "b:1");
  g.receive(h("00000001"), "c:1");
  assert.deepEqual(firsts, ["00000001"]);
  assert.equal(g.stats.duplicates, 1);
  assert.equal(sent.length, 2, "first push: fan-out 2 at once");
  assert.ok(sent.every(([to, hd]) => to !== "a:1" && to !== "b:1" && hd.h === 5), "not to self or sender; hop + 1");
  clock.advance(10_000);
  assert.ok(sent.length % 2 === 0 && sent.length <= 2 * g.config.maxSteps, "stops after a few steps");
  const afterStop = sent.length;
  clock.advance(10_000);
  assert.equal(sent.length, afterStop, "no pushes once stopped");
  for (const r of ["00000002", "00000003", "00000004"]) g.receive(h(r), "b:1");
  g.receive(h("00000001"), "b:1");
  assert.equal(firsts.filter((r) => r === "00000001").length, 2, "forgotten once more than seenRounds newer ids");
  // With a verifier, a forged round (bad MAC) is dropped.
  const key = await testKey();
  const verified: string[] = [];
  const v = new RoundGossip({}, {
    members,
    clock,
    random: seededRandom(2),
    send: () => {},
    verify: (hd) => verifyRound(key, hd),
    onFirstReceipt: (hd) => verified.push(hd.r),
  });
  v.receive(h("000000aa"), "b:1");
  v.receive(await signRound(key, h("000000bb")), "b:1");
  // WebCrypto verifies asynchronously: poll until both datagrams are decided.
  await waitUntil(() => v.stats.rejected + v.stats.rounds === 2, { timeoutMs: 2_000, what: "both rounds verified" });
  assert.deepEqual(verified, ["000000bb"]);
  assert.equal(v.stats.rejected, 1);
  g.close();
  v.close();
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
    const collector = new StatsCollector(running.context, running.members, { system: true });
    const remove = addStatsSource(running.node, () => ({ widgets: { value: 3, unit: "pcs" } }));
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

Deno.test("formatting by unit", () => {
  assert.equal(formatStat({ value: 1536, unit: "bytes" }), "1.5 KiB");
  assert.equal(formatStat({ value: 90, unit: "s" }), "1m 30s");
  assert.equal(formatStat({ value: 12.345, unit: "%" }), "12%");
  assert.equal(formatStat({ value: 1234567 }), "1,234,567");
  assert.equal(formatStat({ value: "text" }), "text");
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatDuration(3 * 3_600_000), "3h");
});

Deno.test("kvstore monitor: --help, and clear usage errors", async () => {
  const help = new RoleProcess("monitor-help", "monitor", ["--help"]);
  assert.equal((await help.exited()).code, 0);
  assert.match(help.output.join("\n"), /--not-responding-rounds K/);
  const bad = new RoleProcess("monitor-bad", "monitor", ["--interval", "soon"]);
  assert.equal((await bad.exited()).code, 2);
  assert.match(bad.output.join("\n"), /--interval: "soon" is not a duration/);
  const missing = new RoleProcess("monitor-missing", "monitor", ["--config", "/nonexistent/nodes.yaml"]);
  assert.equal((await missing.exited()).code, 1);
  assert.match(missing.output.join("\n"), /no such file; pass --config/);
});
