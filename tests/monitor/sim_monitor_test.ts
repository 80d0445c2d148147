/**
 * The monitor and simulated nodes on one in-memory network (virtual time):
 * rounds reach everyone, a killed node turns "late" then "not responding"
 * after K rounds, nodes missing from the monitor's file appear (also ones
 * that join the cluster later, through SWIM), a node known only from member
 * lists is "waiting" then "not responding", and probes tell a node that
 * answers UDP from one that is gone.
 */
import assert from "node:assert/strict";
import { Simulation } from "../../lib/testing/simulation.ts";
import { SimCluster, type SimTime } from "../support/sim_cluster.ts";
import { FunctionReportSink } from "../../lib/monitoring/agent/report_sender.ts";
import { Monitor, type MonitorChange } from "../../lib/monitoring/server/monitor.ts";
import { startMonitor } from "../../lib/roles/start_monitor.ts";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { seededRandom } from "../../lib/base/random.ts";
import type { NodeReport } from "../../lib/monitoring/report.ts";

const N = 12;
const INTERVAL = 1_000;
const K = 3;

/**
 * Virtual time in 50 ms ticks, each followed by a zero-delay timer that drains microtasks and the sink's
 * promises, so asynchronous report building runs in between; conditions are checked every tick.
 */
const TIME: SimTime = { advance: { tickMs: 50, settle: "macrotask" }, until: { stepMs: 50, settle: "macrotask" } };

function setup(dropFrom = new Set<string>()) {
  const addresses = Array.from({ length: N }, (_, i) => Simulation.address(i));
  const to: { monitor?: Monitor } = {};
  const sink = new FunctionReportSink((_url, r: NodeReport) => {
    if (!dropFrom.has(r.node)) to.monitor!.acceptReports([r]);
  });
  const sim = new SimCluster({
    seed: 7,
    nodeOptions: {
      seeds: addresses,
      subsystemOptions: { staticMembers: true, replication: false, monitoring: { system: false, sink } },
    },
    time: TIME,
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
    await sim.advance(2 * INTERVAL - 50);
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
    await sim.advance(2 * INTERVAL);
    const victim = addresses[3];
    const muted = addresses[5]; // runs and answers UDP, but its reports never arrive
    sim.kill(victim);
    mute.add(muted);
    const states: string[] = [];
    for (let round = 1; round <= K + 1; round++) {
      await sim.advance(INTERVAL);
      states.push(monitor.assess(victim)!.state);
    }
    assert.deepEqual(states.slice(0, K - 1), Array(K - 1).fill("late"), `states by round: ${states}`);
    assert.equal(states[K], "not_responding", `states by round: ${states}`);
    assert.equal(monitor.assess(muted)!.state, "not_responding");
    for (const a of addresses) {
      if (a !== victim && a !== muted) assert.equal(monitor.assess(a)!.state, "ok", `${a} still ok`);
    }
    await sim.advance(500); // probe timeout
    assert.equal(monitor.registry.get(victim)!.probe?.result, "silent");
    assert.equal(monitor.registry.get(muted)!.probe?.result, "answers");
    assert.match(monitor.assess(muted)!.problems.join(" "), /answers UDP, reports lost/);
    // The muted node's reports get through again: ok at once.
    mute.delete(muted);
    await sim.advance(INTERVAL);
    assert.equal(monitor.assess(muted)!.state, "ok");
  } finally {
    await monitor.close();
    sim.close();
  }
});

Deno.test("simulated cluster: a node outside the monitor's file joins later and shows in /api/nodes; one known only from member lists is waiting, then not responding", async () => {
  // Real SWIM membership (no static member lists): the late nodes join through node 0.
  const muted = new Set<string>();
  const to: { monitor?: Monitor } = {};
  const sink = new FunctionReportSink((_url, r: NodeReport) => {
    if (!muted.has(r.node)) to.monitor!.acceptReports([r]);
  });
  const sim = new SimCluster({
    seed: 9,
    nodeOptions: { subsystemOptions: { replication: false, monitoring: { system: false, sink } } },
    time: TIME,
  });
  const first = [0, 1, 2].map((i) => Simulation.address(i));
  const joined = Simulation.address(3); // joins later and reports
  const silent = Simulation.address(4); // joins later, its reports never arrive
  const m = await startMonitor({
    port: 0,
    transport: sim.network.createTransport("10.250.0.1:9000"),
    clock: sim.clock,
    random: seededRandom(3),
    fleet: parseFleet(`name: sim\nnodes: [${first.join(", ")}]\n`, "nodes.yaml"),
    autoStart: false,
    tcpProbe: null,
    config: { intervalMs: INTERVAL, notRespondingRounds: K, probeTimeoutMs: 200 },
  });
  to.monitor = m.monitor;
  // State of the silent node at the start of every round, and the first change event after it became known.
  const silentStates: { state: string; missed: number; problems: string[] }[] = [];
  let learnedEvent: MonitorChange | undefined;
  m.monitor.onChange((c) => {
    if (!m.monitor.registry.get(silent)) return;
    learnedEvent ??= c;
    if (c.round) {
      const a = m.monitor.assess(silent)!;
      silentStates.push({ state: a.state, missed: a.missedRounds, problems: a.problems });
    }
  });
  const api = async (path: string) => await (await m.app.request(path)).json();
  try {
    await sim.addNodes(first.length);
    m.monitor.start();
    await sim.until(
      () => first.every((a) => m.monitor.assess(a)?.state === "ok"),
      { limitMs: 3 * INTERVAL, what: "the file's nodes report" },
    );
    assert.equal(m.monitor.registry.size, first.length);

    muted.add(silent);
    assert.equal((await sim.addNode()).node.address, joined);
    assert.equal((await sim.addNode()).node.address, silent);
    let sawWaiting = false;
    await sim.until(
      async () => {
        if (!sawWaiting && m.monitor.registry.get(silent)) {
          // As soon as a member list names it, the API shows it, "waiting".
          const s = await api(`/api/nodes/${silent}`);
          assert.equal(s.state, "waiting", JSON.stringify(s));
          sawWaiting = true;
        }
        return m.monitor.assess(joined)?.state === "ok" && m.monitor.assess(silent)?.state === "not_responding";
      },
      { limitMs: (K + 8) * INTERVAL, what: "the joined node ok and the silent one not responding" },
    );
    assert.ok(sawWaiting, "the silent node was seen waiting in the API");

    // The joined node: in /api/nodes with its own stats, though the monitor's file never listed it.
    const all = await api("/api/nodes");
    assert.deepEqual(
      all.nodes.map((n: { id: string }) => n.id).sort(),
      [...first, joined, silent].sort(),
    );
    const j = all.nodes.find((n: { id: string }) => n.id === joined);
    assert.equal(j.inFleet, false);
    assert.equal(j.state, "ok");
    assert.ok(j.reports >= 1);
    assert.equal(j.stats.members_alive.value, 5, "its own view: all five nodes alive");
    assert.equal(typeof j.stats.keys.value, "number");
    assert.equal(typeof j.stats.round_hops.value, "number");
    assert.equal(all.cluster.total, 5);

    // The silent node: learned from member lists only, never reported.
    const s = all.nodes.find((n: { id: string }) => n.id === silent);
    assert.equal(s.inFleet, false);
    assert.equal(s.reports, 0);
    assert.equal(s.lastReportAt, undefined);
    assert.deepEqual(s.stats, {});
    assert.equal(s.state, "not_responding");
    assert.equal(s.missedRounds, K);
    assert.equal(all.cluster.notResponding, 1);
    // Learning it from a member list was announced at once (a new row for the live page), not at the next round.
    assert.ok(learnedEvent, "a change event after it became known");
    assert.equal(learnedEvent.round, false, "the event of the report that named it");
    assert.ok(learnedEvent.nodes.includes(silent), `the new node is in that event: ${learnedEvent.nodes}`);
    // Round by round: "waiting" until K rounds passed without a report, then "not responding".
    const states = silentStates.map((x) => x.state);
    const down = states.indexOf("not_responding");
    assert.ok(down >= 1, `waiting first: ${states}`);
    assert.deepEqual(states.slice(0, down), Array(down).fill("waiting"), `states by round: ${states}`);
    assert.equal(
      silentStates[down].missed,
      K,
      `not responding after exactly K rounds: ${JSON.stringify(silentStates)}`,
    );
    for (const x of silentStates.slice(0, down)) {
      assert.deepEqual(x.problems, x.missed > 0 ? [`no report yet (${x.missed} rounds)`] : []);
    }
    // Its UDP port answers, so the probe says the reports are what is lost.
    await sim.until(() => m.monitor.registry.get(silent)!.probe !== undefined, {
      limitMs: 2 * INTERVAL,
      what: "a probe",
    });
    assert.match(m.monitor.assess(silent)!.problems.join(" · "), /answers UDP, reports lost/);
  } finally {
    sim.close();
    await m.close();
  }
});
