/**
 * `deno task bench:gossip` (scripts/bench_gossip.ts): its measuring function on a
 * 10-node simulation gives sane figures, deterministic for a seed; its flags and table.
 */
import assert from "node:assert/strict";
import {
  formatFleetTable,
  formatGossipTable,
  measureGossip,
  parseBenchGossipArgs,
} from "../../scripts/bench_gossip.ts";
import { measureFleet } from "../../scripts/bench_fleet_measure.ts";
import { UsageError } from "../../lib/base/cli_args.ts";

Deno.test("bench:gossip measures sane figures for 10 nodes, the same for the same seed", async () => {
  const f = await measureGossip(10, { seed: 3 });
  console.log(`  measured:\n${formatGossipTable([f], 3)}`);
  assert.equal(f.join.reached, f.join.of, "the joined node became known by every other node");
  assert.equal(f.join.of, 9);
  assert.ok(f.join.ms > 0 && f.join.periods > 0);
  assert.equal(f.detection.dead, f.detection.of, "every live node declared the killed node dead");
  assert.ok(f.detection.fleetDownMs >= f.detection.allMs, "the fleet tables read it down once SWIM declared it dead");
  assert.ok(f.detection.firstMs > 0, "first suspicion after the kill");
  assert.ok(f.detection.allMs >= f.detection.firstMs);
  assert.ok(f.detection.allMs >= f.detection.suspicionMinMs, "nobody declares death before the suspicion timeout");
  assert.equal(f.round.coverage, 1, "the monitoring round reached every node");
  assert.ok(f.round.hops >= 1 && f.round.msgsPerNode > 0);
  assert.ok(f.steady.bytesPerNodePerSec > 0 && f.steady.datagramsPerNodePerSec > 0);
  assert.ok(f.steady.pushPullShare > 0 && f.steady.pushPullShare < 1);

  const again = await measureGossip(10, { seed: 3 });
  const { wallMs: _a, ...first } = f;
  const { wallMs: _b, ...second } = again;
  assert.deepEqual(second, first, "deterministic for a seed");
});

Deno.test("bench:gossip flags: sizes, seed, help; bad flags are usage errors", () => {
  const defaults = { fleetRuns: 10, noNodes: false, help: false };
  assert.deepEqual(parseBenchGossipArgs([]), {
    sizes: [10, 100, 1_000],
    fleetSizes: [10, 100, 1_000],
    seed: 1,
    ...defaults,
  });
  assert.deepEqual(parseBenchGossipArgs(["--sizes", "10,50", "--seed", "7"]), {
    sizes: [10, 50],
    fleetSizes: [10, 50],
    seed: 7,
    ...defaults,
  });
  assert.deepEqual(
    parseBenchGossipArgs(["--fleet-sizes", "30", "--fleet-runs", "2", "--no-nodes"]).fleetSizes,
    [30],
  );
  assert.equal(parseBenchGossipArgs(["--help"]).help, true);
  for (
    const bad of [
      ["--fleet-runs", "0"],
      ["--fleet-sizes", "1"],
      ["--sizes", "10,x"],
      ["--sizes", "2"],
      ["--seed", "-1"],
      ["--bogus"],
      ["extra"],
    ]
  ) {
    assert.throws(() => parseBenchGossipArgs(bad), UsageError, bad.join(" "));
  }
});

Deno.test("bench:gossip fleet table: 30 nodes, 1 % loss: a change reaches every table, killed nodes read not responding", () => {
  const f = measureFleet(30, { runs: 2, seed: 5 });
  console.log(`  measured:\n${formatFleetTable([f])}`);
  assert.equal(f.runs, 2);
  assert.ok(f.spread99.median > 0 && f.spreadAll.median >= f.spread99.median, "all after 99 %");
  assert.ok(f.spreadAll.p99 < 20_000, `a change reached every table within 20 s (${f.spreadAll.p99} ms)`);
  assert.equal(f.killed.count, 10);
  const k = 3 * f.rowIntervalMs;
  assert.ok(f.killed.median >= k, `not before K intervals without an update (${f.killed.median} ms ≥ ${k})`);
  assert.ok(f.killed.p99 < k + 20_000, `and soon after (${f.killed.p99} ms)`);
  assert.ok(f.bytesPerNodePerSec > 0 && f.tableBytes > 0);
  assert.deepEqual(measureFleet(30, { runs: 2, seed: 5 }), f, "deterministic for a seed");
});
