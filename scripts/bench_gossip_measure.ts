/**
 * Gossip figures of one simulated cluster (real node code on a {@linkcode MemoryNetwork}
 * with virtual time, replication off, deterministic for a seed): how fast SWIM spreads a
 * join, how fast it detects a killed node, how a monitoring round spreads, and what
 * membership costs in steady state. Used by `deno task bench:gossip` (scripts/bench_gossip.ts).
 *
 * The cluster is n − 1 nodes pre-seeded with every address (each joins through
 * `joinFanout` random seeds), so starting 1,000 does not funnel through one node; SWIM
 * membership runs (no `staticMembers`). The n-th node then joins through one seed.
 *
 * @module
 */
import { internalAddressOf } from "../lib/net/internal_address.ts";
import { Simulation } from "../lib/testing/simulation.ts";
import type { MemoryNetwork } from "../lib/net/memory_network.ts";
import type { Swim } from "../lib/membership/swim.ts";
import type { MemberEvent } from "../lib/membership/membership_table.ts";
import { MembershipCommand } from "../lib/membership/membership_codec.ts";
import { pushPullScale, suspicionBounds, type SwimConfig } from "../lib/membership/swim_config.ts";
import { FunctionReportSink } from "../lib/monitoring/agent/report_sender.ts";
import { MonitoringCommand, type RoundHeader } from "../lib/monitoring/round_message.ts";
import type { RoundEvent } from "../lib/monitoring/agent/round_gossip.ts";
import { encodeJsonFrame } from "../lib/wire/envelope.ts";
import { FRAME_HEADER_BYTES } from "../lib/wire/frame.ts";
import { randomInt, seededRandom } from "../lib/base/random.ts";
import type { Address } from "../lib/net/transport.ts";

/** What one cluster size measured. Times are virtual milliseconds; periods are probe intervals. */
export interface GossipFigures {
  /** Cluster size. */
  n: number;
  /** The SWIM config the nodes ran (LAN preset). */
  config: SwimConfig;
  /** Cold start: the n − 1 pre-seeded nodes all agree on all n − 1. */
  startMs: number;
  /** A fresh node joining through one seed becomes known (alive) by every other node. */
  join: { ms: number; periods: number; reached: number; of: number };
  /** A killed node: first suspicion (or death) anywhere, and declared dead by every live node. */
  detection: {
    firstMs: number;
    firstPeriods: number;
    allMs: number;
    allPeriods: number;
    dead: number;
    of: number;
    suspicionMinMs: number;
    suspicionMaxMs: number;
    /** Every live node's fleet table reads the killed node "not responding" (ms after the kill). */
    fleetDownMs: number;
  };
  /** One monitoring round sent to one node: node-to-node hops until the last node had it, messages pushed per node. */
  round: { coverage: number; hops: number; msgsPerNode: number; ms: number };
  /** Membership traffic with nothing happening, over one (scaled) push-pull interval. */
  steady: { bytesPerNodePerSec: number; datagramsPerNodePerSec: number; pushPullShare: number; windowMs: number };
  /** Wall-clock milliseconds per phase (what the simulation cost to run; not deterministic). */
  wallMs: Record<string, number>;
}

/** Options of {@linkcode measureGossip}. */
export interface MeasureOptions {
  /** Seed of the network, the nodes and the bench's own choices. */
  seed?: number;
  /** Called often while virtual time runs (phase name, virtual ms into the phase). */
  onProgress?: (phase: string, virtualMs: number) => void;
}

/** Upper bound of virtual time for any one phase. */
const PHASE_LIMIT_MS = 600_000;
const STEP_MS = 50;
const MONITOR: Address = "10.250.0.1:9000";

const isLive = (s: string) => s === "alive" || s === "suspect";

/**
 * Per-command datagram and byte counters, by wrapping the network's delivery. A datagram is a
 * frame that may batch several messages: it counts under the command of its first message.
 */
function countTraffic(network: MemoryNetwork, clock: { now(): number }) {
  const t = { bytes: new Map<number, number>(), datagrams: 0, lastGossipAt: clock.now() };
  const deliver = network.deliver.bind(network);
  network.deliver = (data, from, to) => {
    const command = data[FRAME_HEADER_BYTES];
    t.bytes.set(command, (t.bytes.get(command) ?? 0) + data.length);
    t.datagrams++;
    if (command === MembershipCommand.Gossip) t.lastGossipAt = clock.now();
    deliver(data, from, to);
  };
  return t;
}

/**
 * Runs the four measurements on a simulated cluster of `n` nodes (n ≥ 3) and closes it.
 *
 * @example
 * ```ts ignore
 * const f = await measureGossip(10, { seed: 1 });
 * console.log(f.join.periods, f.detection.allMs, f.steady.bytesPerNodePerSec);
 * ```
 */
export async function measureGossip(n: number, options: MeasureOptions = {}): Promise<GossipFigures> {
  if (!Number.isInteger(n) || n < 3) throw new RangeError(`Cluster size must be a whole number ≥ 3, got ${n}`);
  const seed = options.seed ?? 1;
  const progress = options.onProgress ?? (() => {});
  const rng = seededRandom(seed * 31 + n);
  const wallMs: Record<string, number> = {};
  let wall = performance.now();
  const lap = (phase: string) => {
    const now = performance.now();
    wallMs[phase] = Math.round(now - wall);
    wall = now;
  };

  const initial = Array.from({ length: n - 1 }, (_, i) => Simulation.address(i));
  const round = { first: new Map<Address, { hops: number; at: number }>(), pushed: 0 };
  const observer = (e: RoundEvent) => {
    if (e.type === "received" && e.first) round.first.set(e.node, { hops: e.hops, at: e.at });
    if (e.type === "pushed") round.pushed += e.to;
  };
  const sim = new Simulation({
    seed,
    nodeOptions: {
      seeds: initial,
      subsystemOptions: {
        replication: false,
        monitoring: { observer, system: false, sink: new FunctionReportSink(() => {}) },
      },
    },
  });
  const traffic = countTraffic(sim.network, sim.clock);
  const monitor = sim.network.createTransport(MONITOR);
  const swimOf = (a: Address) => sim.nodes.get(a)!.members as Swim;

  // Every node's live-member count (self included), kept from member events: cheap to check at 1,000 nodes.
  const live = new Map<Address, number>();
  const watchers = new Set<(observer: Address, e: MemberEvent) => void>();
  const track = (a: Address) => {
    live.set(a, 1);
    swimOf(a).onEvent((e) => {
      if (isLive(e.previous) !== isLive(e.state)) live.set(a, live.get(a)! + (isLive(e.state) ? 1 : -1));
      for (const w of watchers) w(a, e);
    });
  };
  const run = (phase: string, done: () => boolean): number => {
    const start = sim.clock.now();
    const ms = sim.clock.advanceUntil(
      () => {
        progress(phase, sim.clock.now() - start);
        return done();
      },
      PHASE_LIMIT_MS,
      STEP_MS,
    );
    if (ms < 0) throw new Error(`n=${n}: ${phase} did not finish within ${PHASE_LIMIT_MS / 1000} s of virtual time`);
    return ms;
  };
  // Quiet: no node sent a gossip round for two gossip intervals, so every rumor queue is empty.
  const settle = (config: SwimConfig) =>
    run("settling", () => sim.clock.now() - traffic.lastGossipAt > 2 * config.gossipIntervalMs);

  try {
    for (let i = 0; i < n - 1; i++) track((await sim.addNode()).node.address);
    const config = swimOf(initial[0]).config;
    const periods = (ms: number) => ms / config.probeIntervalMs;
    lap("add nodes");

    // Cold start, then let the join storm's rumors drain.
    const startMs = run("starting", () => initial.every((a) => live.get(a) === n - 1));
    lap("start");
    settle(config);
    lap("settle");

    // 1. A fresh node joins through one seed: time until every other node lists it alive.
    const newcomer = Simulation.address(n - 1);
    const seenJoin = new Map<Address, number>();
    watchers.add((o, e) => {
      if (e.address === newcomer && isLive(e.state) && !seenJoin.has(o)) seenJoin.set(o, e.at);
    });
    const joinAt = sim.clock.now();
    track((await sim.addNode({ seeds: [initial[randomInt(rng, initial.length)]] })).node.address);
    run("join spreading", () => seenJoin.size === n - 1);
    const joinMs = Math.max(...seenJoin.values()) - joinAt;
    watchers.clear();
    settle(config);
    lap("join");

    // 4. Steady state: membership bytes over one push-pull interval (each node starts about one push-pull in it).
    const windowMs = pushPullScale(config.pushPullIntervalMs, n);
    const bytesBefore = new Map(traffic.bytes);
    const datagramsBefore = traffic.datagrams;
    const windowStart = sim.clock.now();
    while (sim.clock.now() - windowStart < windowMs) {
      sim.clock.advance(Math.min(1_000, windowMs - (sim.clock.now() - windowStart)));
      progress("steady-state window", sim.clock.now() - windowStart);
    }
    const delta = (c: number) => (traffic.bytes.get(c) ?? 0) - (bytesBefore.get(c) ?? 0);
    let membershipBytes = 0;
    for (let c = MembershipCommand.Ping; c <= MembershipCommand.Gossip; c++) membershipBytes += delta(c);
    const pushPullBytes = delta(MembershipCommand.PushPull) + delta(MembershipCommand.PushPullReply);
    const seconds = windowMs / 1_000;
    const steady = {
      bytesPerNodePerSec: membershipBytes / n / seconds,
      datagramsPerNodePerSec: (traffic.datagrams - datagramsBefore) / n / seconds,
      pushPullShare: membershipBytes > 0 ? pushPullBytes / membershipBytes : 0,
      windowMs,
    };
    lap("steady");

    // 3. One monitoring round sent by the "monitor" to one node, spread by rumor mongering over SWIM's view.
    const header: RoundHeader = {
      r: (0xb0000000 + seed).toString(16).padStart(16, "0"),
      u: "http://x/api/report",
      j: 0,
      h: 0,
    };
    const roundAt = sim.clock.now();
    monitor.send(
      encodeJsonFrame(MonitoringCommand.Round, header, undefined, undefined, sim.clock.now()),
      internalAddressOf(newcomer),
    );
    run("monitoring round", () => sim.clock.now() - roundAt >= 5_000);
    const hops = [...round.first.values()].map((x) => x.hops);
    const roundFigures = {
      coverage: round.first.size / n,
      hops: Math.max(0, ...hops),
      msgsPerNode: round.pushed / n,
      ms: Math.max(0, ...[...round.first.values()].map((x) => x.at - roundAt)),
    };
    await new Promise((r) => setTimeout(r, 0)); // reports are built in promises: let them finish
    lap("round");

    // 2. Kill a node: first suspicion anywhere, then every live node declares it dead.
    const victim = initial[randomInt(rng, initial.length)];
    let firstAt = -1;
    const deadAt = new Map<Address, number>();
    watchers.add((o, e) => {
      if (e.address !== victim) return;
      if (firstAt < 0 && (e.state === "suspect" || e.state === "dead")) firstAt = e.at;
      if (e.state === "dead") deadAt.set(o, e.at);
    });
    const killAt = sim.clock.now();
    sim.kill(victim);
    run("failure detection", () => deadAt.size === n - 1);
    const allMs = Math.max(...deadAt.values()) - killAt;
    // The fleet table of every live node reads the victim "not responding" (SWIM's verdict or K intervals).
    const fleetDown = () =>
      [...sim.nodes.values()].every((r) => !r.fleet || r.fleet.gossip.assess(victim)?.state === "not responding");
    run("fleet table: not responding", fleetDown);
    const fleetDownMs = sim.clock.now() - killAt;
    const [suspicionMinMs, suspicionMaxMs] = suspicionBounds(config, n);
    lap("detection");

    return {
      n,
      config,
      startMs,
      join: { ms: joinMs, periods: periods(joinMs), reached: seenJoin.size, of: n - 1 },
      detection: {
        firstMs: firstAt - killAt,
        firstPeriods: periods(firstAt - killAt),
        allMs,
        allPeriods: periods(allMs),
        dead: deadAt.size,
        of: n - 1,
        suspicionMinMs,
        suspicionMaxMs,
        fleetDownMs,
      },
      round: roundFigures,
      steady,
      wallMs,
    };
  } finally {
    monitor.close();
    sim.close();
    lap("close");
  }
}
