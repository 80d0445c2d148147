/**
 * The benchmark tool's pure parts: histogram accuracy and merging, splitting
 * load over generators, flag parsing; and one short real run against a node
 * (figures are printed by the tool, never asserted as timings here).
 */
import { defaultInternalPort } from "../../lib/net/internal_address.ts";
import { freeUdpPorts } from "../../lib/roles/process_launcher.ts";
import assert from "node:assert/strict";
import { LatencyHistogram } from "../../lib/bench/histogram.ts";
import { DEFAULT_BENCH_OPTIONS, generatorConfigs, runBench } from "../../lib/bench/run.ts";
import { parseBenchArgs } from "../../lib/bench/bench.ts";
import { UsageError } from "../../lib/base/cli_args.ts";
import { startNode } from "../../lib/roles/start_node.ts";
import { benchKey } from "../../lib/bench/worker.ts";
import { type CaseResult, formatPairedRatios } from "../../scripts/bench_table.ts";
import { serveFloor } from "../../scripts/wire_floor_server.ts";
import { UdpTransport } from "../../lib/net/udp_transport.ts";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { KVClient } from "../../lib/client/client.ts";

Deno.test("histogram: exact below 128 µs, within 1.6% above, mergeable, JSON round trip", () => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 100; i++) h.record(i);
  assert.equal(h.percentile(50), 50);
  assert.equal(h.percentile(100), 100);
  assert.equal(h.count, 100);
  for (const v of [128, 1_000, 12_345, 987_654, 30_000_000]) {
    const one = new LatencyHistogram();
    one.record(v);
    const p = one.percentile(50);
    assert.ok(Math.abs(p - v) / v <= 0.016, `${v} reported as ${p}`);
  }
  const other = new LatencyHistogram();
  for (let i = 0; i < 100; i++) other.record(10_000);
  h.merge(other);
  assert.equal(h.count, 200);
  assert.ok(h.percentile(99) > 9_800 && h.percentile(99) <= 10_000);
  const back = LatencyHistogram.fromJSON(JSON.parse(JSON.stringify(h.toJSON())));
  assert.equal(back.count, h.count);
  assert.equal(back.percentile(25), h.percentile(25));
  assert.equal(back.percentile(99.9), h.percentile(99.9));
  assert.throws(() => LatencyHistogram.fromJSON({ buckets: [[99_999, 1]], sum: 0, max: 0 }), TypeError);
  assert.throws(() => LatencyHistogram.fromJSON(null), TypeError);
  assert.equal(new LatencyHistogram().percentile(99), 0);
});

Deno.test("load split: clients and keys spread over generators, preload ranges disjoint and complete", () => {
  const configs = generatorConfigs({ ...DEFAULT_BENCH_OPTIONS, clients: 10, window: 3, processes: 3, keyspace: 1_000 });
  assert.deepEqual(configs.map((c) => c.sockets), [4, 3, 3]);
  assert.deepEqual(configs.map((c) => c.slots), [12, 9, 9]);
  let next = 0;
  for (const c of configs) {
    assert.equal(c.preloadFrom, next);
    next = c.preloadTo;
  }
  assert.equal(next, 1_000);
  assert.equal(new Set(configs.map((c) => c.seed)).size, 3, "distinct request-id tags");
  const echo = generatorConfigs({ ...DEFAULT_BENCH_OPTIONS, echo: true, processes: 2 });
  assert.ok(echo.every((c) => c.preloadTo === c.preloadFrom), "nothing to preload on an echo server");
  assert.notDeepEqual(benchKey(1), benchKey(2));
  assert.equal(benchKey(7).length, 32);
});

Deno.test("bench flags: sizes, ratios and durations parsed; mistakes are usage errors", () => {
  const { options } = parseBenchArgs([
    "--target",
    "127.0.0.1:4000,127.0.0.1:4001",
    "--value-size",
    "10-200",
    "--gets",
    "0.9",
    "--duration",
    "2s",
    "--clients",
    "8",
  ]);
  assert.deepEqual(options.targets, ["127.0.0.1:4000", "127.0.0.1:4001"]);
  assert.equal(options.valueMin, 10);
  assert.equal(options.valueMax, 200);
  assert.equal(options.getRatio, 0.9);
  assert.equal(options.durationMs, 2_000);
  assert.equal(options.clients, 8);
  for (
    const bad of [
      ["--gets", "1.5"],
      ["--value-size", "20000"],
      ["--value-size", "50-10"],
      ["--target", "nohost"],
      ["--duration", "0s"],
      ["--clients", "0"],
      ["extra"],
    ]
  ) {
    assert.throws(() => parseBenchArgs(bad), UsageError, bad.join(" "));
  }
});

Deno.test("a short in-process run against a real node completes requests and counts replies", async () => {
  const running = await startNode({ port: 0, subsystemOptions: { staticMembers: true, replication: false } });
  try {
    const r = await runBench({
      targets: [running.node.address],
      processes: 0,
      clients: 2,
      window: 2,
      keyspace: 50,
      warmupMs: 0,
      durationMs: 300,
      reportMs: 100,
    });
    assert.ok(r.ops > 0, "requests completed");
    assert.equal(r.failed, 0);
    assert.equal(r.codes["00"], r.ops, "every get finds a preloaded key; every put succeeds");
    assert.ok(r.p50Ms > 0 && r.p50Ms <= r.p99Ms && r.p99Ms <= r.p999Ms);
    assert.equal(running.store.liveKeys, 50, "preload put every key");
  } finally {
    running.close();
  }
});

Deno.test("bench:compare pairs each case with the echo of its own round", () => {
  const row = (name: string, opsPerSec: number) => ({ name, opsPerSec }) as CaseResult;
  const text = formatPairedRatios([
    [row("(a) Deno UDP echo", 100), row("(b) single node", 80), row("(c) cluster", 10)],
    [row("(a) Deno UDP echo", 50), row("(b) single node", 45), row("(c) cluster", 6)],
    [row("(a) Deno UDP echo", 70), row("(b) single node", 49), row("(c) cluster", 7)],
    [row("(b) single node", 1)], // a round without echo has nothing to pair with
  ]);
  assert.equal(text, "(b) single node: 80% 90% 70% (median 80%)\n(c) cluster: 10% 12% 10% (median 10%)");
  assert.equal(formatPairedRatios([[row("(b) single node", 80)]]), "");
});

Deno.test("wire floor: five floor servers answer puts and gets like a cluster, over tagged frames", async () => {
  const transports = await Promise.all(
    freeUdpPorts(5).map((p) => UdpTransport.listen("127.0.0.1", p)),
  );
  const internals = await Promise.all(
    transports.map((t) => UdpTransport.listen("127.0.0.1", defaultInternalPort(t.port))),
  );
  const peers = transports.map((t) => t.address);
  const auth = ClusterKeyring.fromHex(["cd".repeat(32)]);
  const stops = transports.map((t, i) => serveFloor(t, internals[i], peers, auth));
  const client = await KVClient.connect(peers[2], { timeoutMs: 500, retries: 1 });
  try {
    for (let i = 0; i < 20; i++) {
      await client.put(`floor-${i}`, "x".repeat(100)); // resolves only on a 0x00 reply after W acks
      assert.equal((await client.get(`floor-${i}`)).length, 100);
    }
  } finally {
    client.close();
    for (const stop of stops) stop();
    await Promise.all([...transports, ...internals].map((t) => t.closed));
  }
});
