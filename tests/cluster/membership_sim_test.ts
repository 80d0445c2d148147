/**
 * SWIM membership on simulated clusters (real nodes, in-memory network, virtual time).
 * Bounds are virtual time; the measured figure is printed next to each.
 * Replication is switched off so only membership traffic runs.
 */
import assert from "node:assert/strict";
import { Simulation, type SimulationOptions } from "../../lib/testing/simulation.ts";
import { SimCluster } from "../support/sim_cluster.ts";
import type { Swim } from "../../lib/membership/swim.ts";
import type { MemberEvent } from "../../lib/membership/membership_table.ts";
import type { Address } from "../../lib/net/transport.ts";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { LAN_CONFIG, WAN_CONFIG } from "../../lib/membership/swim_config.ts";

/** 50 LAN nodes started together agree on the full membership within this (measured ≤ 1.6 s over 20 seeds). */
const CONVERGE_50_MS = 5_000;
/** Every other node declares a killed node dead within this (measured 8.3–10.3 s over 20 seeds). */
const DETECT_50_MS = 15_000;
/** After heal, a 2|3 partition is one group of 5 again within this (measured: see test output). */
const HEAL_5_MS = 25_000;
/** A graceful leave reaches everyone within this (one message delay, no suspicion period). */
const LEAVE_MS = 100;

const STEP = 50;

/**
 * Runs of the seeded tests below: 1 by default; `MEMBERSHIP_SEEDS=20` (what `deno task bench:membership`
 * sets) repeats each with 20 seeds and prints the range, which is where docs/membership.md's figures come from.
 */
const SEED_RUNS = Math.max(1, Number(Deno.env.get("MEMBERSHIP_SEEDS") ?? "1") || 1);

/** The seeds of a test whose first seed is `first`. */
function seedsFrom(first: number): number[] {
  return Array.from({ length: SEED_RUNS }, (_, i) => first + 1_000 * i);
}

/** Figures of the current test, by name, over its seeds. */
const measured = new Map<string, number[]>();

/** Prints each figure's range over the seeds run (only when there was more than one) and forgets them. */
function printRanges(): void {
  if (SEED_RUNS > 1) {
    for (const [name, values] of measured) {
      console.log(`  over ${values.length} seeds: ${name}: ${Math.min(...values)}–${Math.max(...values)} ms`);
    }
  }
  measured.clear();
}

/**
 * A cluster with replication off. Its `until` checks every STEP ms and lets no promise continuation run
 * between ticks (membership runs on timers alone): the stepping is synchronous.
 */
function sim(options: SimulationOptions = {}): SimCluster {
  return new SimCluster({
    ...options,
    nodeOptions: { ...options.nodeOptions, subsystemOptions: { replication: false } },
    time: { until: { stepMs: STEP, settle: 0 } },
  });
}

function swimOf(s: SimCluster, a: Address): Swim {
  return s.nodes.get(a)!.members as Swim;
}

function stateOf(s: SimCluster, observer: Address, a: Address): string {
  return swimOf(s, observer).members().find((m) => m.address === a)?.state ?? "unknown";
}

/** Whether every running node sees exactly the running nodes as its live members. */
function agreed(s: SimCluster): boolean {
  const want = s.addresses().sort().join(",");
  return s.addresses().every((a) => swimOf(s, a).alive().join(",") === want);
}

/** Records every member event of every running node. */
function recordEvents(s: SimCluster): { observer: Address; e: MemberEvent }[] {
  const out: { observer: Address; e: MemberEvent }[] = [];
  for (const a of s.addresses()) swimOf(s, a).onEvent((e) => out.push({ observer: a, e }));
  return out;
}

function within(name: string, ms: number, bound: number): void {
  console.log(`  measured: ${name} in ${ms} ms of virtual time (bound ${bound} ms)`);
  measured.set(name, [...measured.get(name) ?? [], ms]);
  assert.ok(ms <= bound, `${name} took ${ms} ms, bound ${bound} ms`);
}

Deno.test("50 LAN nodes: converge, then detect a killed node", async () => {
  for (const seed of seedsFrom(11)) await convergeThenDetect(seed);
  printRanges();
});

async function convergeThenDetect(seed: number): Promise<void> {
  const s = sim({ seed });
  try {
    await s.addNodes(50);
    within("50 nodes agree on all 50 members", await s.until(() => agreed(s), { limitMs: 60_000 }), CONVERGE_50_MS);
    assert.equal(s.nodes.get(Simulation.address(17))!.node.executor.membershipCount(), 50);
    const victim = Simulation.address(23);
    s.kill(victim);
    const others = s.addresses();
    const detect = await s.until(() => others.every((a) => stateOf(s, a, victim) === "dead"), { limitMs: 60_000 });
    within("all 49 others declare the killed node dead", detect, DETECT_50_MS);
    assert.ok(others.every((a) => swimOf(s, a).alive().length === 49));
    assert.equal(s.nodes.get(Simulation.address(5))!.node.executor.membershipCount(), 49);
  } finally {
    s.close();
  }
}

/** At 100 nodes, every survivor declares 10 nodes killed at once dead within this (issue 24). */
const DETECT_100_MS = 15_000;

Deno.test("100 LAN nodes: 10 killed at once are declared dead by every survivor", async () => {
  for (const seed of seedsFrom(13)) await killTenOfHundred(seed);
  printRanges();
});

async function killTenOfHundred(seed: number): Promise<void> {
  const s = sim({ seed });
  try {
    await s.addNodes(100);
    await s.until(() => agreed(s), { limitMs: 60_000 });
    const events = recordEvents(s);
    s.clock.advance(60_000);
    const quiet = events.filter((x) => x.e.state !== "alive").length;
    assert.equal(quiet, 0, "no suspicion in a quiet minute without loss");
    const victims = Array.from({ length: 10 }, (_, i) => Simulation.address(7 + 9 * i));
    for (const v of victims) s.kill(v);
    const others = s.addresses();
    const detect = await s.until(
      () => others.every((a) => victims.every((v) => stateOf(s, a, v) === "dead")),
      { limitMs: 120_000 },
    );
    within("all 90 survivors declare the 10 killed dead", detect, DETECT_100_MS);
    const wrong = events.filter((x) => x.e.state === "dead" && !victims.includes(x.e.address));
    assert.deepEqual(wrong.map((x) => `${x.observer} declared ${x.e.address} dead`), []);
  } finally {
    s.close();
  }
}

Deno.test("50 LAN nodes with 10% message loss: no live node is declared dead in 10 minutes", async () => {
  for (const seed of seedsFrom(12)) await noFalseDeathsUnderLoss(seed);
  printRanges();
});

async function noFalseDeathsUnderLoss(seed: number): Promise<void> {
  const s = sim({ seed, conditions: { loss: 0.1 } });
  try {
    await s.addNodes(50);
    within("50 nodes agree (10% loss)", await s.until(() => agreed(s), { limitMs: 60_000 }), CONVERGE_50_MS);
    const events = recordEvents(s);
    s.clock.advance(10 * 60_000);
    const suspicions = events.filter((x) => x.e.state === "suspect").length;
    const deaths = events.filter((x) => x.e.state === "dead" || x.e.state === "left");
    const refutes = s.addresses().reduce((n, a) => n + swimOf(s, a).stats.refutes, 0);
    console.log(`  measured: ${suspicions} suspicions, ${refutes} refutations, ${deaths.length} deaths in 10 min`);
    assert.ok(suspicions > 0, "10% loss must cause some (false) suspicions, or this test proves nothing");
    assert.ok(refutes > 0);
    assert.deepEqual(deaths.map((x) => `${x.observer} declared ${x.e.address} ${x.e.state}`), []);
    assert.ok(agreed(s), "everyone still sees all 50");
    // Real failures are still detected under loss.
    const victim = Simulation.address(31);
    s.kill(victim);
    const others = s.addresses();
    const detect = await s.until(() => others.every((a) => stateOf(s, a, victim) === "dead"), { limitMs: 60_000 });
    within("a killed node declared dead by all (10% loss)", detect, DETECT_50_MS);
  } finally {
    s.close();
  }
}

Deno.test("partition 2|3 then heal: one group of 5, everyone alive", async () => {
  for (const seed of seedsFrom(13)) await partitionThenHeal(seed);
  printRanges();
});

async function partitionThenHeal(seed: number): Promise<void> {
  const s = sim({ seed });
  try {
    await s.addNodes(5);
    await s.until(() => agreed(s), { limitMs: 10_000, what: "the nodes to agree" });
    const [a, b] = [s.addresses().slice(0, 2), s.addresses().slice(2)];
    s.network.partition(a, b);
    const split = await s.until(
      () => a.every((x) => b.every((y) => stateOf(s, x, y) === "dead" && stateOf(s, y, x) === "dead")),
      { limitMs: 120_000, what: "each side to declare the other dead" },
    );
    console.log(`  measured: each side declared the other dead after ${split} ms`);
    measured.set("each side declares the other dead", [
      ...measured.get("each side declares the other dead") ?? [],
      split,
    ]);
    assert.ok(split > 0);
    assert.ok(a.every((x) => swimOf(s, x).alive().length === 2) && b.every((y) => swimOf(s, y).alive().length === 3));
    s.network.heal();
    const allAlive = () => agreed(s) && s.addresses().every((x) => swimOf(s, x).counts().alive === 5);
    within("healed partition converges to 5 alive", await s.until(allAlive, { limitMs: 120_000 }), HEAL_5_MS);
    for (const x of s.addresses()) assert.deepEqual(swimOf(s, x).counts(), { alive: 5, suspect: 0, dead: 0 });
  } finally {
    s.close();
  }
}

Deno.test("refutation: a suspected but live node refutes with a higher incarnation and is never declared dead", async () => {
  const s = sim({ seed: 14 });
  try {
    await s.addNodes(5);
    await s.until(() => agreed(s), { limitMs: 10_000, what: "the nodes to agree" });
    const x = Simulation.address(3);
    const others = s.addresses().filter((a) => a !== x);
    const events = recordEvents(s);
    const before = swimOf(s, x).incarnation;
    // Cut x off briefly (shorter than the 4 s minimum suspicion timeout of 5 nodes).
    for (const o of others) {
      s.network.block(o, x);
      s.network.block(x, o);
    }
    const suspected = await s.until(() => others.some((o) => stateOf(s, o, x) === "suspect"), {
      limitMs: 3_000,
      stepMs: 10,
      what: "someone to suspect the unreachable node",
    });
    s.network.heal();
    const refuted = await s.until(
      () =>
        others.every((o) =>
          stateOf(s, o, x) === "alive" && swimOf(s, o).members().find((m) => m.address === x)!.incarnation > before
        ),
      { limitMs: 10_000, stepMs: 10, what: "every other node to see the refutation" },
    );
    console.log(
      `  measured: suspected after ${suspected} ms; refutation seen by all ${refuted} ms after the link healed`,
    );
    assert.ok(swimOf(s, x).incarnation > before, "x bumped its incarnation");
    assert.ok(swimOf(s, x).stats.refutes > 0);
    s.clock.advance(60_000);
    assert.deepEqual(events.filter((r) => r.e.state === "dead").map((r) => `${r.observer}: ${r.e.address}`), []);
    assert.ok(agreed(s));
  } finally {
    s.close();
  }
});

Deno.test("restart: a killed node restarted on the same address is accepted back", async () => {
  const s = sim({ seed: 15 });
  try {
    await s.addNodes(5);
    await s.until(() => agreed(s), { limitMs: 10_000, what: "the nodes to agree" });
    const x = Simulation.address(2);
    s.kill(x);
    const others = s.addresses();
    await s.until(() => others.every((o) => stateOf(s, o, x) === "dead"), {
      limitMs: 60_000,
      what: "the others to declare the killed node dead",
    });
    const deadInc = swimOf(s, others[0]).members().find((m) => m.address === x)!.incarnation;
    const fresh = await s.restart(x);
    assert.equal((fresh.members as Swim).incarnation, 0, "a restarted process starts from incarnation 0");
    const back = await s.until(() => agreed(s), { limitMs: 30_000, what: "the restarted node to be accepted by all" });
    console.log(`  measured: restarted node accepted by all in ${back} ms`);
    assert.ok(back <= 5_000, `rejoin took ${back} ms`);
    assert.ok((fresh.members as Swim).incarnation > deadInc, "it refuted its old death with a higher incarnation");
  } finally {
    s.close();
  }
});

Deno.test("join through a non-first seed; a graceful leave is seen by all at once", async () => {
  const s = sim({ seed: 16 });
  try {
    await s.addNodes(4);
    await s.until(() => agreed(s), { limitMs: 10_000, what: "the nodes to agree" });
    // The newcomer knows only node 2 (and an address nobody answers on).
    const newcomer = await s.addNode({ seeds: ["10.9.9.9:4000", Simulation.address(2)] });
    const joined = await s.until(() => agreed(s), { limitMs: 30_000, what: "the join to spread to all" });
    console.log(`  measured: join via a non-first seed spread to all in ${joined} ms`);
    assert.ok(joined <= 5_000, `join took ${joined} ms`);
    assert.equal(newcomer.members.alive().length, 5);

    const events = recordEvents(s);
    const leaver = Simulation.address(1);
    s.nodes.get(leaver)!.close(); // close() announces a graceful leave
    s.nodes.delete(leaver);
    const others = s.addresses();
    const seen = await s.until(() => others.every((o) => stateOf(s, o, leaver) === "left"), {
      limitMs: 1_000,
      stepMs: 5,
    });
    within("graceful leave seen by all", seen, LEAVE_MS);
    assert.deepEqual(
      events.filter((r) => r.e.address === leaver && r.e.state === "suspect"),
      [],
      "no suspicion period",
    );
    assert.ok(others.every((o) => swimOf(s, o).alive().length === 4));
    assert.equal(s.nodes.get(Simulation.address(0))!.node.executor.membershipCount(), 4);
  } finally {
    s.close();
  }
});

Deno.test("the fleet file's preset reaches SWIM: wan nodes probe at the WAN interval, lan nodes at the LAN one", async () => {
  const probesIn = async (preset: "lan" | "wan", ms: number) => {
    const fleet = parseFleet(`preset: ${preset}\nnodes: ["${Simulation.address(0)}"]\n`, "nodes.yaml");
    const s = sim({ seed: 21, nodeOptions: { fleet } });
    try {
      await s.addNodes(3);
      await s.until(() => agreed(s), { limitMs: 60_000, what: `${preset}: 3 nodes agree` });
      const swim = swimOf(s, Simulation.address(1));
      const before = swim.stats.probes;
      s.clock.advance(ms);
      return { config: swim.config, probes: swim.stats.probes - before };
    } finally {
      s.close();
    }
  };
  const window = 60_000;
  const wan = await probesIn("wan", window);
  const lan = await probesIn("lan", window);
  assert.equal(wan.config.probeIntervalMs, WAN_CONFIG.probeIntervalMs);
  assert.equal(lan.config.probeIntervalMs, LAN_CONFIG.probeIntervalMs);
  console.log(`  measured: probes in ${window / 1000} s: wan ${wan.probes}, lan ${lan.probes}`);
  const expected = (c: { probeIntervalMs: number }) => window / c.probeIntervalMs;
  assert.ok(
    Math.abs(wan.probes - expected(WAN_CONFIG)) <= 2,
    `wan probes ${wan.probes}, expected ~${expected(WAN_CONFIG)}`,
  );
  assert.ok(
    Math.abs(lan.probes - expected(LAN_CONFIG)) <= 2,
    `lan probes ${lan.probes}, expected ~${expected(LAN_CONFIG)}`,
  );
});
