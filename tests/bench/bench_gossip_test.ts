/**
 * `deno task bench:gossip` (scripts/bench_gossip.ts): its measuring function on a
 * 10-node simulation gives sane figures, deterministic for a seed; its flags and table; the fleet
 * measurements report what never happens as a failure, and the computed K-rule time matches the tables.
 */
import assert from "node:assert/strict";
import {
  formatFleetTable,
  formatGossipTable,
  measureGossip,
  parseBenchGossipArgs,
} from "../../scripts/bench_gossip.ts";
import {
  advanceUntil,
  FleetMeasureError,
  holders,
  killSome,
  kRuleDownMs,
  measureFleet,
  startFleet,
} from "../../scripts/bench_fleet_measure.ts";
import { measureFleetSwim } from "../../scripts/bench_fleet_swim.ts";
import { Simulation } from "../../lib/testing/simulation.ts";
import { seededRandom } from "../../lib/base/random.ts";
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
    swimSizes: [10, 100, 1_000],
    seed: 1,
    ...defaults,
  });
  assert.deepEqual(parseBenchGossipArgs(["--sizes", "10,50", "--seed", "7"]), {
    sizes: [10, 50],
    fleetSizes: [10, 50],
    swimSizes: [10, 50],
    seed: 7,
    ...defaults,
  });
  assert.deepEqual(
    parseBenchGossipArgs(["--fleet-sizes", "30", "--fleet-runs", "2", "--no-nodes"]).fleetSizes,
    [30],
  );
  assert.deepEqual(parseBenchGossipArgs(["--fleet-sizes", "30", "--swim-sizes", "20,40"]).swimSizes, [20, 40]);
  assert.equal(parseBenchGossipArgs(["--help"]).help, true);
  for (
    const bad of [
      ["--fleet-runs", "0"],
      ["--fleet-sizes", "1"],
      ["--swim-sizes", "2"],
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

Deno.test("bench:gossip fleet table: 30 nodes, 1 % loss: a change reaches every table, killed nodes read not responding", async () => {
  const f = await measureFleet(30, { runs: 2, seed: 5 });
  const w = await measureFleetSwim(30, { runs: 1, seed: 5 });
  console.log(`  measured:\n${formatFleetTable([f], [w])}`);
  assert.equal(f.runs, 2);
  assert.ok(f.spread99.median > 0 && f.spreadAll.median >= f.spread99.median, "all after 99 %");
  assert.ok(f.spreadAll.p99 < 20_000, `a change reached every table within 20 s (${f.spreadAll.p99} ms)`);
  assert.equal(f.killed.count, 10);
  // K intervals after a table last saw a killed node's row advance: its last row arrived within about
  // one row interval before the kill, or spread on after it.
  const k = 3 * f.rowIntervalMs;
  assert.ok(f.killed.median >= k - f.rowIntervalMs - 1_000, `not long before K intervals (${f.killed.median} ms)`);
  assert.ok(f.killed.p99 < k + 20_000, `and soon after (${f.killed.p99} ms)`);
  assert.ok(f.bytesPerNodePerSec > 0 && f.bytesPerNodePerSecP99 >= f.bytesPerNodePerSec && f.tableBytes > 0);
  assert.deepEqual(await measureFleet(30, { runs: 2, seed: 5 }), f, "deterministic for a seed");

  assert.equal(w.killed, 10);
  assert.ok(
    w.swimAll.median >= w.suspicionMs[0],
    `SWIM declares death after its suspicion timeout (${w.swimAll.median})`,
  );
  assert.ok(
    w.fleetAll.p99 <= w.swimAll.p99 + w.gossipIntervalMs,
    `every table reads them down within SWIM's time + one interval (${w.fleetAll.p99} ≤ ${w.swimAll.p99} + 1 s)`,
  );
});

Deno.test("bench:gossip fleet measurements fail when what they wait for never happens", async () => {
  // 100 % loss: the changed row never reaches another table; the measurement says so, it reports no time.
  await assert.rejects(measureFleet(6, { runs: 1, seed: 2, loss: 1 }), FleetMeasureError, "99 % spread did not happen");

  const sim = startFleet(6, 3, 1);
  const origin = sim.nodes.get(Simulation.address(0))!;
  const row = origin.setOwn({ ...origin.table.get(origin.table.self)!.row, keys: 7 });
  const others = [...sim.nodes.values()].filter((g) => g !== origin);
  assert.equal(holders(others, row), 0);
  assert.throws(() => advanceUntil(sim.clock, () => holders(others, row) === 5, "spread", 5_000), FleetMeasureError);
  // A table that lacks a killed node's last row: the K-rule time cannot be computed yet, and is not.
  assert.throws(() => kRuleDownMs(others, [row], sim.clock.now()), FleetMeasureError, "final row");
  for (const g of sim.nodes.values()) g.stop();
});

Deno.test("bench:gossip fleet: the computed K-rule time is when the simulated tables turn 'not responding'", () => {
  const sim = startFleet(12, 4, 0.01);
  sim.clock.advance(2 * sim.nodes.get(Simulation.address(0))!.rowIntervalMs + 300);
  const killAt = sim.clock.now();
  const victims = killSome(sim, 3, seededRandom(9), Simulation.address(0));
  advanceUntil(sim.clock, () => victims.every((v) => holders(sim.nodes.values(), v) === sim.nodes.size), "last rows");
  const downMs = kRuleDownMs(sim.nodes.values(), victims, killAt);
  const allDown = () =>
    [...sim.nodes.values()].every((g) => victims.every((v) => g.assess(v.node)?.state === "not responding"));
  sim.clock.advance(killAt + downMs - 1 - sim.clock.now());
  assert.equal(allDown(), false, "one table still reads a killed node up 1 ms before");
  sim.clock.advance(1.001); // virtual times are fractional ms: a hair over the computed time
  assert.equal(allDown(), true, `every table reads them down at the computed ${downMs} ms`);
  for (const g of sim.nodes.values()) g.stop();
});

Deno.test("bench:gossip fleet: the event loop turns between runs (queued row-loop handlers hold a whole fleet until it does)", async () => {
  let turns = 0;
  const timer = setInterval(() => turns++, 0);
  try {
    await measureFleet(6, { runs: 3, seed: 1 });
  } finally {
    clearInterval(timer);
  }
  assert.ok(turns >= 2, `a timer ran between the runs (${turns} times)`);
});
