/**
 * Membership over real UDP between real node processes: a fleet file of 3,
 * a 4th host that joins with only `--seed`, a SIGKILLed node, a SIGTERMed (leaving) node.
 */
import assert from "node:assert/strict";
import { ProcessCluster } from "../support/process_cluster.ts";

/** LAN detection bound for a small cluster (min suspicion 4 s + probe and gossip delays). */
const DETECT_MS = 15_000;
/** Startup convergence bound (processes start one after the other on a busy box). */
const CONVERGE_MS = 20_000;

Deno.test("real UDP: 3 fleet nodes + 1 joined by --seed converge; SIGKILL is detected, SIGTERM leaves", async () => {
  // 4 addresses, 3 in the fleet file; membership counts are asked every 100 ms.
  const c = await ProcessCluster.create({ size: 4, fleetSize: 3, dirPrefix: "kvstore-membership-" });
  const [a0, a1, a2, newcomer] = c.addresses;
  const members = (count: number, of: string[], timeoutMs: number, what: string) =>
    c.waitForMembers(count, { of, timeoutMs, intervalMs: 100, what });
  try {
    // The newcomer's own file: the cluster key and itself only (it is in nobody's fleet file).
    const newcomerFleet = `${c.dir}/newcomer.yaml`;
    await Deno.writeTextFile(newcomerFleet, `clusterKey: "${c.clusterKeys[0]}"\nnodes:\n  - ${newcomer}\n`);
    for (const a of c.fleetAddresses) await c.startNode(a);
    const three = await members(3, [a0, a1, a2], CONVERGE_MS, "the fleet nodes to converge to 3 members");
    console.log(`  measured: 3 processes agree on 3 members ${three} ms after the last started`);

    // A host that is in nobody's fleet file joins through one seed.
    await c.startNode(newcomer, ["--seed", a1], { config: newcomerFleet });
    const four = await members(4, [a0, a1, a2, newcomer], CONVERGE_MS, "everyone to accept the --seed newcomer");
    console.log(`  measured: the --seed newcomer is counted by all 4 in ${four} ms`);

    await c.kill(a2);
    const dropped = await members(3, [a0, a1, newcomer], DETECT_MS + 10_000, "the SIGKILLed node to be dropped");
    console.log(`  measured: SIGKILLed node dropped by all in ${dropped} ms (bound ${DETECT_MS} ms)`);
    assert.ok(dropped <= DETECT_MS, `detection took ${dropped} ms`);

    // SIGTERM is a graceful leave: no suspicion period.
    await c.stop(newcomer, "SIGTERM");
    const left = await members(2, [a0, a1], 5_000, "the SIGTERMed node to be dropped");
    console.log(`  measured: SIGTERMed node dropped by all in ${left} ms`);
    assert.ok(left <= 2_000, `graceful leave took ${left} ms`);
  } finally {
    await c.close();
  }
});
