/**
 * "10 nodes killed" with SWIM's verdict, at scale: every node runs the real SWIM membership
 * (`lib/membership/swim.ts`, LAN preset) and the fleet-table gossip (`lib/monitoring/fleet/gossip.ts`)
 * on one in-memory network with loss and virtual time, without the store and replication layers
 * (a whole node costs minutes per run at 1,000). The fleet gossips with SWIM's live members and
 * reads SWIM's verdict, as a node does (`lib/roles/start_node.ts`). Used by `deno task bench:gossip`.
 *
 * Per run: SWIM converges from seeds and its join rumors drain; the fleet tables start filled and
 * gossip for two intervals; 10 nodes are killed; the time until every live node's SWIM declares
 * each dead, and until every live node's fleet table reads each "not responding".
 *
 * @module
 */
import { utf8Decoder, utf8Encoder } from "../lib/base/bytes.ts";
import { seededRandom } from "../lib/base/random.ts";
import type { Address } from "../lib/net/transport.ts";
import { Swim } from "../lib/membership/swim.ts";
import { resolveSwimConfig, suspicionBounds } from "../lib/membership/swim_config.ts";
import type { InternalMessage } from "../lib/wire/envelope.ts";
import { Simulation } from "../lib/testing/simulation.ts";
import { VirtualClock } from "../lib/base/clock.ts";
import { MemoryNetwork, type MemoryTransport } from "../lib/net/memory_network.ts";
import { MembershipCommand } from "../lib/membership/membership_codec.ts";
import type { MemberEvent } from "../lib/membership/membership_table.ts";
import {
  advanceUntil,
  betweenRuns,
  FLEET_STEP_MS,
  type FleetSim,
  killVictims,
  startFleet,
  stats,
} from "./bench_fleet_measure.ts";

/** Figures of one size over several runs (median and p99 over runs, ms after the kill). */
export interface FleetSwimFigures {
  /** Fleet size. */
  n: number;
  /** Runs (seeds). */
  runs: number;
  /** Nodes killed per run. */
  killed: number;
  /** Row interval of the fleet table (ms). */
  rowIntervalMs: number;
  /** Gossip interval of the fleet table (ms). */
  gossipIntervalMs: number;
  /** SWIM's suspicion timeout bounds at this size (ms). */
  suspicionMs: [number, number];
  /** Every live node's SWIM declared every killed node dead. */
  swimAll: { median: number; p99: number };
  /** Every live node's fleet table reads every killed node "not responding". */
  fleetAll: { median: number; p99: number };
  /** fleetAll − swimAll per run: the largest over runs (ms). */
  lagMaxMs: number;
  /** Share of (node, killed node) readings that turned by SWIM's verdict (the rest by the K-interval rule). */
  byVerdict: number;
}

/** Options of {@linkcode measureFleetSwim}. */
export interface MeasureFleetSwimOptions {
  /** Runs (default 10). */
  runs?: number;
  /** Loss rate (default 0.01). */
  loss?: number;
  /** First seed (default 1). */
  seed?: number;
  /** Called now and then while it runs. */
  onProgress?: (what: string) => void;
}

/** The step of the measurement: readings are checked every this many virtual ms. */
export const SWIM_STEP_MS = FLEET_STEP_MS;

/**
 * Measures "10 killed → not responding" with SWIM's verdict in a fleet of `n` nodes.
 *
 * @example
 * ```ts ignore
 * const f = await measureFleetSwim(200, { runs: 3 });
 * console.log(f.swimAll.median, f.fleetAll.median);
 * ```
 */
export async function measureFleetSwim(n: number, options: MeasureFleetSwimOptions = {}): Promise<FleetSwimFigures> {
  const runs = options.runs ?? 10;
  const results: SwimRun[] = [];
  for (let r = 0; r < runs; r++) {
    options.onProgress?.(`fleet+SWIM n=${n} run ${r + 1}/${runs}`);
    results.push(swimRun(n, (options.seed ?? 1) + r, options.loss ?? 0.01));
    await betweenRuns();
  }
  const config = resolveSwimConfig("lan");
  return {
    n,
    runs,
    killed: results[0].killed,
    rowIntervalMs: results[0].rowIntervalMs,
    gossipIntervalMs: results[0].gossipIntervalMs,
    suspicionMs: suspicionBounds(config, n),
    swimAll: stats(results.map((x) => x.swimAllMs)),
    fleetAll: stats(results.map((x) => x.fleetAllMs)),
    lagMaxMs: Math.max(...results.map((x) => x.fleetAllMs - x.swimAllMs)),
    byVerdict: results.reduce((s, x) => s + x.byVerdict, 0) / runs,
  };
}

interface SwimRun {
  killed: number;
  rowIntervalMs: number;
  gossipIntervalMs: number;
  swimAllMs: number;
  fleetAllMs: number;
  byVerdict: number;
}

const EMPTY = new Uint8Array(0);
const isLive = (s: string) => s === "alive" || s === "suspect";

/** A SWIM RPC endpoint over a simulated transport: `[command] + JSON header` per datagram. */
function swimRpc(transport: MemoryTransport) {
  const handlers = new Map<number, (m: InternalMessage, from: Address) => undefined>();
  return {
    rpc: {
      handle: (command: number, h: (m: InternalMessage, from: Address) => undefined) => void handlers.set(command, h),
      cast: (to: Address, command: number, header: unknown) => {
        const json = utf8Encoder.encode(JSON.stringify(header));
        const d = new Uint8Array(json.length + 1);
        d[0] = command;
        d.set(json, 1);
        transport.send(d, to);
      },
    },
    receive: (d: Uint8Array, from: Address) => {
      const h = handlers.get(d[0]);
      if (h) h({ command: d[0], header: JSON.parse(utf8Decoder.decode(d.subarray(1))), body: EMPTY }, from);
    },
  };
}

/** Starts SWIM on `n` nodes (seeded with every address, so a join does not funnel through one node). */
function startSwim(n: number, seed: number, loss: number) {
  const clock = new VirtualClock();
  const network = new MemoryNetwork(clock, { seed, loss });
  const addresses = Array.from({ length: n }, (_, i) => Simulation.address(i));
  const transports = new Map<Address, MemoryTransport>();
  const nodes = new Map<Address, { swim: Swim; receive: (d: Uint8Array, from: Address) => void; live: number }>();
  const watchers: ((observer: Address, e: MemberEvent) => void)[] = [];
  const state = { lastGossipAt: clock.now() };
  for (const [i, self] of addresses.entries()) {
    const transport = network.createTransport(self);
    transports.set(self, transport);
    const { rpc, receive } = swimRpc(transport);
    const random = seededRandom(seed * 7_919 + i);
    const swim = new Swim({ rpc, self, clock, random, config: resolveSwimConfig("lan"), seeds: addresses });
    const node = { swim, receive, live: 1 };
    nodes.set(self, node);
    swim.onEvent((e) => {
      if (isLive(e.previous) !== isLive(e.state)) node.live += isLive(e.state) ? 1 : -1;
      for (const w of watchers) w(self, e);
    });
    transport.onReceive((d, from) => {
      if (d[0] === MembershipCommand.Gossip) state.lastGossipAt = clock.now();
      receive(d, from);
    });
  }
  for (const { swim } of nodes.values()) swim.start();
  return { clock, network, addresses, transports, nodes, watchers, state };
}

function swimRun(n: number, seed: number, loss: number): SwimRun {
  const label = `fleet+SWIM n=${n} seed ${seed}`;
  const s = startSwim(n, seed, loss);
  const config = resolveSwimConfig("lan");
  advanceUntil(s.clock, () => [...s.nodes.values()].every((x) => x.live === n), `${label}: SWIM convergence`);
  // The join rumors drain: no gossip round for two gossip intervals.
  advanceUntil(s.clock, () => s.clock.now() - s.state.lastGossipAt > 2 * config.gossipIntervalMs, `${label}: settle`);
  const sim = attachFleet(s, n, seed, loss);
  const any = sim.nodes.get(s.addresses[0])!;
  s.clock.advance(2 * any.config.gossipIntervalMs);
  const count = Math.min(10, Math.floor(n / 3));
  const watched = killAndWatch(s, sim, count, seededRandom(seed * 13 + n), label);
  for (const g of sim.nodes.values()) g.stop();
  for (const { swim } of s.nodes.values()) swim.stop();
  return { killed: count, rowIntervalMs: any.rowIntervalMs, gossipIntervalMs: any.config.gossipIntervalMs, ...watched };
}

/** Fleet gossip on every SWIM node, as a node runs it: SWIM's live members as peers (cached until they change), its verdict. */
function attachFleet(s: ReturnType<typeof startSwim>, n: number, seed: number, loss: number): FleetSim {
  return startFleet(n, seed, loss, {
    clock: s.clock,
    network: s.network,
    transports: s.transports,
    deps: (self) => {
      const { swim, receive } = s.nodes.get(self)!;
      let alive: Address[] | undefined;
      swim.onChange(() => alive = undefined);
      // Members SWIM knows (none is forgotten within a run: that takes reconnectTimeoutMs, 24 h).
      const known = new Set(swim.members().map((m) => m.address));
      swim.onEvent((e) => known.add(e.address));
      return {
        peers: () => alive ??= swim.alive(),
        verdict: (a) => swim.member(a),
        known: (a) => known.has(a),
        other: (d, from) => {
          if (d[0] === MembershipCommand.Gossip) s.state.lastGossipAt = s.clock.now();
          receive(d, from);
        },
      };
    },
  });
}

/**
 * Kills `count` nodes (fleet and SWIM), then watches every (live node, victim) pair: when the
 * node's SWIM declares the victim dead, and when its fleet table first reads it "not responding".
 */
function killAndWatch(
  s: ReturnType<typeof startSwim>,
  sim: FleetSim,
  count: number,
  rng: () => number,
  label: string,
): Pick<SwimRun, "swimAllMs" | "fleetAllMs" | "byVerdict"> {
  const victims = new Set([...sim.nodes.keys()].sort(() => rng() - 0.5).slice(0, count));
  const deadAt = new Map<string, number>();
  s.watchers.push((o, e) => {
    const key = `${o}>${e.address}`;
    if (e.state === "dead" && victims.has(e.address) && !deadAt.has(key)) deadAt.set(key, e.at);
  });
  const killAt = s.clock.now();
  for (const v of victims) s.nodes.get(v)!.swim.stop();
  killVictims(sim, victims);
  const downAt = new Map<string, { at: number; verdict: boolean }>();
  const pending = new Set<string>();
  for (const o of sim.nodes.keys()) for (const v of victims) pending.add(`${o}>${v}`);
  const allDown = () => {
    const now = s.clock.now();
    for (const key of pending) {
      const [o, v] = key.split(">");
      const g = sim.nodes.get(o)!, e = g.table.get(v);
      // Neither SWIM's verdict nor K silent intervals yet: it cannot read "not responding" (checked below when either holds).
      if (e && !deadAt.has(key) && now - e.seenAt < g.config.notRespondingIntervals * g.rowIntervalMs) continue;
      const view = g.assess(v);
      if (view?.state === "not responding") {
        downAt.set(key, { at: s.clock.now(), verdict: view.reason?.includes("SWIM") ?? false });
        pending.delete(key);
      }
    }
    return pending.size === 0 && deadAt.size === sim.nodes.size * victims.size;
  };
  advanceUntil(s.clock, allDown, `${label}: killed nodes down everywhere`);
  return {
    swimAllMs: Math.max(...deadAt.values()) - killAt,
    fleetAllMs: Math.max(...[...downAt.values()].map((x) => x.at)) - killAt,
    byVerdict: [...downAt.values()].filter((x) => x.verdict).length / downAt.size,
  };
}
