/**
 * `deno task bench:gossip` (scripts/bench_gossip.ts): its measuring function on a
 * 10-node simulation gives sane figures, deterministic for a seed; its flags and table.
 */
import assert from "node:assert/strict";
import { formatGossipTable, measureGossip, parseBenchGossipArgs } from "../../scripts/bench_gossip.ts";
import { UsageError } from "../../lib/base/cli_args.ts";

Deno.test("bench:gossip measures sane figures for 10 nodes, the same for the same seed", async () => {
  const f = await measureGossip(10, { seed: 3 });
  console.log(`  measured:\n${formatGossipTable([f], 3)}`);
  assert.equal(f.join.reached, f.join.of, "the joined node became known by every other node");
  assert.equal(f.join.of, 9);
  assert.ok(f.join.ms > 0 && f.join.periods > 0);
  assert.equal(f.detection.dead, f.detection.of, "every live node declared the killed node dead");
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
  assert.deepEqual(parseBenchGossipArgs([]), { sizes: [10, 100, 1_000], seed: 1, help: false });
  assert.deepEqual(parseBenchGossipArgs(["--sizes", "10,50", "--seed", "7"]), {
    sizes: [10, 50],
    seed: 7,
    help: false,
  });
  assert.equal(parseBenchGossipArgs(["--help"]).help, true);
  for (const bad of [["--sizes", "10,x"], ["--sizes", "2"], ["--seed", "-1"], ["--bogus"], ["extra"]]) {
    assert.throws(() => parseBenchGossipArgs(bad), UsageError, bad.join(" "));
  }
});
