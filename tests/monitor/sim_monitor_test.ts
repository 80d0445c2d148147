/**
 * The monitor and simulated nodes on one in-memory network (virtual time):
 * rounds reach everyone, a killed node turns "late" then "not responding"
 * after K rounds, nodes missing from the monitor's file appear, and probes
 * tell a node that answers UDP from one that is gone.
 */
import assert from "node:assert/strict";
import { Simulation } from "../../lib/simulation.ts";
import { FunctionReportSink } from "../../lib/agent/report_sender.ts";
import { Monitor } from "../../lib/monitor/monitor.ts";
import { seededRandom } from "../../lib/random.ts";
import type { NodeReport } from "../../lib/monitor/report.ts";

const N = 12;
const INTERVAL = 1_000;
const K = 3;

/** Advances virtual time in small steps, letting asynchronous report building run in between. */
async function advance(sim: Simulation, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 50) {
    sim.advance(50);
    await new Promise((r) => setTimeout(r, 0)); // drain microtasks and the sink's promises
  }
}

function setup(dropFrom = new Set<string>()) {
  const addresses = Array.from({ length: N }, (_, i) => Simulation.address(i));
  const to: { monitor?: Monitor } = {};
  const sink = new FunctionReportSink((_url, r: NodeReport) => {
    if (!dropFrom.has(r.node)) to.monitor!.acceptReports([r]);
  });
  const sim = new Simulation({
    seed: 7,
    nodeOptions: {
      seeds: addresses,
      subsystemOptions: { staticMembers: true, replication: false, monitoring: { system: false, sink } },
    },
  });
  const monitor = to.monitor = new Monitor({
    transport: sim.network.createTransport("10.250.0.1:9000"),
    clock: sim.clock,
    random: seededRandom(3),
    reportUrl: "http://monitor.test/api/report",
    fleetNodes: addresses.slice(0, N - 2), // the last two "joined later": not in the monitor's file
    config: { intervalMs: INTERVAL, notRespondingRounds: K, probeTimeoutMs: 200 },
    tcpProbe: null,
  });
  return { sim, monitor, addresses };
}

Deno.test("simulated cluster: all nodes appear within 2 rounds, joined ones included", async () => {
  const { sim, monitor, addresses } = setup();
  try {
    await sim.addNodes(N);
    assert.equal(monitor.registry.size, N - 2);
    monitor.start();
    await advance(sim, 2 * INTERVAL - 50);
    assert.equal(monitor.rounds.index, 2);
    for (const a of addresses) {
      const n = monitor.registry.get(a);
      assert.ok(n, `${a} known`);
      assert.ok(n.reports >= 1, `${a} reported`);
      assert.equal(monitor.assess(a)?.state, "ok");
      assert.equal(n.stats.members_alive.value, N);
      assert.equal(typeof n.stats.round_hops.value, "number");
    }
    assert.equal(monitor.registry.get(addresses[N - 1])!.inFleet, false);
    const [r2, r1] = monitor.rounds.list();
    assert.equal(r1.expected, N - 2, "round 1 started knowing only the file's nodes");
    assert.equal(r1.reported, N, "…and every node reported, the joined ones too");
    assert.equal(r2.expected, N);
    assert.equal(r2.reported, N);
    assert.equal(r2.coverage, 1);
  } finally {
    await monitor.close();
    sim.close();
  }
});

Deno.test("simulated cluster: a killed node is late, then not responding after K rounds; probes tell why", async () => {
  const mute = new Set<string>();
  const { sim, monitor, addresses } = setup(mute);
  try {
    await sim.addNodes(N);
    monitor.start();
    await advance(sim, 2 * INTERVAL);
    const victim = addresses[3];
    const muted = addresses[5]; // runs and answers UDP, but its reports never arrive
    sim.kill(victim);
    mute.add(muted);
    const states: string[] = [];
    for (let round = 1; round <= K + 1; round++) {
      await advance(sim, INTERVAL);
      states.push(monitor.assess(victim)!.state);
    }
    assert.deepEqual(states.slice(0, K - 1), Array(K - 1).fill("late"), `states by round: ${states}`);
    assert.equal(states[K], "not_responding", `states by round: ${states}`);
    assert.equal(monitor.assess(muted)!.state, "not_responding");
    for (const a of addresses) {
      if (a !== victim && a !== muted) assert.equal(monitor.assess(a)!.state, "ok", `${a} still ok`);
    }
    await advance(sim, 500); // probe timeout
    assert.equal(monitor.registry.get(victim)!.probe?.result, "silent");
    assert.equal(monitor.registry.get(muted)!.probe?.result, "answers");
    assert.match(monitor.assess(muted)!.problems.join(" "), /answers UDP, reports lost/);
    // The muted node's reports get through again: ok at once.
    mute.delete(muted);
    await advance(sim, INTERVAL);
    assert.equal(monitor.assess(muted)!.state, "ok");
  } finally {
    await monitor.close();
    sim.close();
  }
});
