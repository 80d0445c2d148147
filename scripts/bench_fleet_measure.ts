/**
 * Fleet-table figures from a pure-table simulation: only the fleet gossip layer
 * (`lib/monitoring/fleet/gossip.ts`, the code nodes run) on the in-memory network with virtual
 * time and loss, no SWIM, no store. A 1,000-node simulation of whole nodes costs minutes per run;
 * this one about 10-40 s of CPU, so it runs 10 seeds per size. Used by `deno task bench:gossip`.
 *
 * Per run: every table starts filled (the state after convergence, not simulated) and the fleet
 * gossips for two row intervals; bytes per node per second over the next row interval, half way
 * through which one node rewrites its row out of turn: the time until 99 % and 100 % of the other
 * tables hold it; 10 nodes are killed and the time until every remaining table reads them "not
 * responding" by the K-interval rule alone (no SWIM verdict here: scripts/bench_fleet_swim.ts has
 * it), computed from each table's `seenAt` once their last rows have spread; the table's memory.
 *
 * @module
 */
import { VirtualClock } from "../lib/base/clock.ts";
import { seededRandom } from "../lib/base/random.ts";
import { MemoryNetwork, type MemoryTransport } from "../lib/net/memory_network.ts";
import type { Address } from "../lib/net/transport.ts";
import { FleetGossip, type FleetGossipDeps } from "../lib/monitoring/fleet/gossip.ts";
import { FleetCommand } from "../lib/monitoring/fleet/protocol.ts";
import type { FleetRow } from "../lib/monitoring/fleet/row.ts";
import { assessEntry } from "../lib/monitoring/fleet/table.ts";
import { FRAME_HEADER_BYTES, MESSAGE_HEADER_BYTES, TAG_BYTES } from "../lib/wire/frame.ts";
import { Simulation } from "../lib/testing/simulation.ts";

/** Figures of one size, over several runs (medians and p99 over runs). */
export interface FleetFigures {
  /** Fleet size. */
  n: number;
  /** Runs (seeds). */
  runs: number;
  /** Loss rate of the network. */
  loss: number;
  /** Row interval in force (ms). */
  rowIntervalMs: number;
  /** Time for a changed row to reach 99 % of the other nodes: median and p99 over runs (ms). */
  spread99: { median: number; p99: number };
  /** Time to reach all of them (ms). */
  spreadAll: { median: number; p99: number };
  /** Bytes sent per node per second in steady state (frames with header and tag), median. */
  bytesPerNodePerSec: number;
  /** The same, p99 over runs. */
  bytesPerNodePerSecP99: number;
  /** 10 killed nodes read "not responding" in every remaining table (ms after the kill): median, p99. */
  killed: { count: number; median: number; p99: number };
  /** Estimated table memory of one node (bytes, rows held as objects). */
  tableBytes: number;
}

/** Options of {@linkcode measureFleet}. */
export interface MeasureFleetOptions {
  /** Runs (default 10). */
  runs?: number;
  /** Loss rate (default 0.01). */
  loss?: number;
  /** First seed (default 1). */
  seed?: number;
  /** Called now and then while it runs. */
  onProgress?: (what: string) => void;
}

/** The measurements' step: readings are checked every this many virtual ms. */
export const FLEET_STEP_MS = 100;
const LIMIT_MS = 300_000;
/** Bytes on the wire per fleet message besides its payload (each counted as its own frame). */
const OVERHEAD = FRAME_HEADER_BYTES + MESSAGE_HEADER_BYTES + TAG_BYTES;

/**
 * Measures a fleet of `n` nodes.
 *
 * @example
 * ```ts ignore
 * const f = await measureFleet(100, { runs: 3 });
 * console.log(f.spreadAll.median, f.bytesPerNodePerSec);
 * ```
 */
export async function measureFleet(n: number, options: MeasureFleetOptions = {}): Promise<FleetFigures> {
  const runs = options.runs ?? 10;
  const loss = options.loss ?? 0.01;
  const seed = options.seed ?? 1;
  const results: RunResult[] = [];
  for (let r = 0; r < runs; r++) {
    options.onProgress?.(`fleet n=${n} run ${r + 1}/${runs}`);
    results.push(oneRun(n, seed + r, loss));
    await betweenRuns();
  }
  const pick = (f: (x: RunResult) => number) => stats(results.map(f));
  return {
    n,
    runs,
    loss,
    rowIntervalMs: results[0].rowIntervalMs,
    spread99: pick((x) => x.spread99),
    spreadAll: pick((x) => x.spreadAll),
    bytesPerNodePerSec: pick((x) => x.bytesPerNodePerSec).median,
    bytesPerNodePerSecP99: pick((x) => x.bytesPerNodePerSec).p99,
    killed: { count: Math.min(10, Math.floor(n / 3)), ...pick((x) => x.killedMs) },
    tableBytes: pick((x) => x.tableBytes).median,
  };
}

interface RunResult {
  rowIntervalMs: number;
  spread99: number;
  spreadAll: number;
  bytesPerNodePerSec: number;
  killedMs: number;
  tableBytes: number;
}

/** One simulated fleet: the nodes' gossip and transports, the clock, and bytes sent so far. */
export interface FleetSim {
  /** Virtual time. */
  clock: VirtualClock;
  /** The network. */
  network: MemoryNetwork;
  /** Every node's gossip by address (killed ones removed). */
  nodes: Map<Address, FleetGossip>;
  /** Every node's transport by address. */
  transports: Map<Address, MemoryTransport>;
  /** Fleet bytes sent so far (payload + frame header + tag per message). */
  bytes: { sent: number };
}

/** What a simulation adds to the fleet nodes (the SWIM simulation passes its membership). */
export interface FleetSimExtras {
  /** The clock (default a new one). */
  clock?: VirtualClock;
  /** The network (default a new one with the seed and loss). */
  network?: MemoryNetwork;
  /** Transports already made, by address (the others are made). */
  transports?: Map<Address, MemoryTransport>;
  /** A node's peers, verdict and known members, and where its datagrams other than fleet ones go. */
  deps?: (self: Address) => Partial<FleetGossipDeps> & { other?: (d: Uint8Array, from: Address) => void };
}

/**
 * Builds `n` fleet-table nodes on a network with `loss`, starts them and fills every table with
 * every node's first row (the state after convergence, without simulating it).
 */
export function startFleet(n: number, seed: number, loss: number, extras: FleetSimExtras = {}): FleetSim {
  const clock = extras.clock ?? new VirtualClock();
  const network = extras.network ?? new MemoryNetwork(clock, { seed, loss });
  const addresses = Array.from({ length: n }, (_, i) => Simulation.address(i));
  const transports = extras.transports ?? new Map<Address, MemoryTransport>();
  const sim: FleetSim = { clock, network, nodes: new Map(), transports, bytes: { sent: 0 } };
  for (const [i, self] of addresses.entries()) {
    const transport = sim.transports.get(self) ?? network.createTransport(self);
    sim.transports.set(self, transport);
    const random = seededRandom(seed * 1_000_003 + i);
    const { other, ...deps } = extras.deps?.(self) ?? {};
    const gossip = new FleetGossip({}, {
      self,
      clock,
      random,
      send: (to, command, payload) => {
        const d = new Uint8Array(payload.length + 1);
        d[0] = command;
        d.set(payload, 1);
        sim.bytes.sent += payload.length + OVERHEAD;
        transport.send(d, to);
      },
      peers: () => addresses,
      summary: () => fakeSummary(random, n),
      ...deps,
    });
    transport.onReceive((d, from) => {
      if (d[0] >= FleetCommand.Digest && d[0] <= FleetCommand.Rows) gossip.receive(d[0], d.subarray(1), from);
      else other?.(d, from);
    });
    sim.nodes.set(self, gossip);
  }
  for (const g of sim.nodes.values()) g.start();
  const first = [...sim.nodes.values()].map((g) => g.table.get(g.table.self)!.row);
  for (const g of sim.nodes.values()) for (const row of first) g.table.merge(row, clock.now());
  return sim;
}

/**
 * Advances `clock` in steps of `stepMs` until `done` holds; returns the virtual ms it took.
 * Throws when it does not hold within `limitMs`: a measurement that never completes is reported,
 * not taken for a result.
 */
export function advanceUntil(clock: VirtualClock, done: () => boolean, what: string, limitMs = LIMIT_MS): number {
  const ms = clock.advanceUntil(done, limitMs, FLEET_STEP_MS);
  if (ms < 0) throw new FleetMeasureError(`${what} did not happen within ${limitMs / 1000} s of virtual time`);
  return ms;
}

/** A measurement that did not complete (a row that never arrived, a node never reported down). */
export class FleetMeasureError extends Error {
  override name = "FleetMeasureError";
}

/** How many of `nodes` hold `row` (that version or a newer one). */
export function holders(nodes: Iterable<FleetGossip>, row: { node: Address; version: number }): number {
  let count = 0;
  for (const g of nodes) if ((g.table.get(row.node)?.row.version ?? 0) >= row.version) count++;
  return count;
}

/**
 * When the K-interval rule alone (no SWIM verdict) makes every one of `observers` read every one of
 * `victims` "not responding", in ms after `killAt`. Exact once every observer holds each victim's
 * final row (checked: throws otherwise): from then on no row of a victim advances, so each
 * observer's reading turns at its `seenAt` + K row intervals, as {@linkcode assessEntry} decides.
 */
export function kRuleDownMs(observers: Iterable<FleetGossip>, victims: readonly FleetRow[], killAt: number): number {
  let last = killAt;
  for (const g of observers) {
    const window = g.config.notRespondingIntervals * g.rowIntervalMs;
    for (const v of victims) {
      const e = g.table.get(v.node);
      if (!e || e.row.version !== v.version) {
        throw new FleetMeasureError(`${g.table.self} does not hold the final row of ${v.node} yet`);
      }
      const at = e.seenAt + window;
      const view = assessEntry(e, g.table.self, at, g.rowIntervalMs, g.config.notRespondingIntervals, undefined);
      if (view.state !== "not responding") throw new FleetMeasureError(`K rule: ${v.node} still ${view.state}`);
      last = Math.max(last, at);
    }
  }
  return last - killAt;
}

/**
 * Kills `count` nodes other than `keep` (chosen by `rng`), lets what they sent before arrive, and
 * returns their final rows: the newest version any live table holds (a row a victim wrote just
 * before it died and never sent is lost with it). Only the victims wrote them, so they stay final.
 */
export function killSome(sim: FleetSim, count: number, rng: () => number, keep: Address): FleetRow[] {
  const victims = [...sim.nodes.keys()].filter((a) => a !== keep).sort(() => rng() - 0.5).slice(0, count);
  killVictims(sim, victims);
  sim.clock.advance(sim.network.conditions.maxDelay + 1);
  return victims.map((v) => {
    let newest: FleetRow | undefined;
    for (const g of sim.nodes.values()) {
      const row = g.table.get(v)?.row;
      if (row && row.version > (newest?.version ?? 0)) newest = row;
    }
    if (!newest) throw new FleetMeasureError(`no live table holds a row of ${v}`);
    return newest;
  });
}

/** Stops the fleet gossip of `victims` and closes their transports (as kill -9). */
export function killVictims(sim: FleetSim, victims: Iterable<Address>): void {
  for (const v of victims) {
    sim.nodes.get(v)!.stop();
    sim.transports.get(v)!.close();
    sim.nodes.delete(v);
  }
}

function oneRun(n: number, seed: number, loss: number): RunResult {
  const sim = startFleet(n, seed, loss);
  const { clock, nodes } = sim;
  const rng = seededRandom(seed * 7 + n);
  const interval = nodes.get(Simulation.address(0))!.rowIntervalMs;
  const label = `fleet n=${n} seed ${seed}`;
  // Warm-up: two row intervals (from filled tables, the bytes per interval settle by the second).
  clock.advance(2 * interval);

  // Steady state: bytes over one row interval (every node rewrites once in it). Half way through
  // it, one node rewrites its row out of turn: the time until 99 % / all other tables hold it.
  const b0 = sim.bytes.sent, t0 = clock.now();
  clock.advance(interval / 2);
  const origin = nodes.get(Simulation.address(randomIndex(rng, n)))!;
  const row = origin.setOwn({ ...origin.table.get(origin.table.self)!.row, keys: 424_242 });
  const others = [...nodes.values()].filter((g) => g !== origin);
  let bytesPerNodePerSec = NaN;
  const spread = (share: number) => () => {
    if (Number.isNaN(bytesPerNodePerSec) && clock.now() - t0 >= interval) {
      bytesPerNodePerSec = (sim.bytes.sent - b0) / n / ((clock.now() - t0) / 1000);
    }
    return holders(others, row) >= Math.ceil(share * others.length);
  };
  const spread99 = advanceUntil(clock, spread(0.99), `${label}: 99 % spread`);
  const spreadAll = spread99 + advanceUntil(clock, spread(1), `${label}: full spread`);
  if (clock.now() - t0 < interval) clock.advance(t0 + interval - clock.now());
  if (Number.isNaN(bytesPerNodePerSec)) bytesPerNodePerSec = (sim.bytes.sent - b0) / n / ((clock.now() - t0) / 1000);

  // Ten nodes killed (a third of a small fleet): the K-interval rule once their last rows spread.
  const killAt = clock.now();
  const victims = killSome(sim, Math.min(10, Math.floor(n / 3)), rng, row.node);
  advanceUntil(clock, () => victims.every((v) => holders(nodes.values(), v) === nodes.size), `${label}: last rows`);
  const killedMs = kRuleDownMs(nodes.values(), victims, killAt);
  const tableBytes = estimateTableBytes(nodes.get(row.node)!);
  for (const g of nodes.values()) g.stop();
  return { rowIntervalMs: interval, spread99, spreadAll, bytesPerNodePerSec, killedMs, tableBytes };
}

function fakeSummary(random: () => number, n: number) {
  return {
    program: "0.1.0 (source)",
    uptimeS: Math.floor(random() * 1e6),
    keys: Math.floor(random() * 1e6),
    bytesStored: Math.floor(random() * 1e9),
    capacityUsed: random() * 100,
    rps: random() * 1000,
    errorsPerSec: 0,
    load: random() * 4,
    rss: Math.floor(random() * 1e9),
    diskFree: Math.floor(random() * 1e12),
    alive: n,
    suspect: 0,
    dead: 0,
  };
}

/** Table memory of one node: rows as JS objects (17 fields, two strings) plus the maps, measured by a rough model. */
function estimateTableBytes(g: FleetGossip): number {
  let total = 0;
  for (const e of g.table.entries()) {
    // Object header + 17 properties (8 B each, doubles boxed: 16 B) + strings + the entry object and map slots.
    total += 24 + 17 * 8 + 13 * 16 + 2 * (16 + e.row.node.length + e.row.program.length) + 48 + 2 * 32;
  }
  return total;
}

function randomIndex(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

/**
 * Lets the event loop turn between two runs. A node's row loop leaves a settled promise's handler
 * queued as a microtask, and it holds the node (and so the whole simulated fleet) until microtasks
 * run: runs done back to back without a turn kept every earlier fleet alive (the 1,000-node run
 * ran out of its 4 GB heap at the 9th seed).
 */
export function betweenRuns(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Median and p99 of `xs` (nearest rank). */
export function stats(xs: number[]): { median: number; p99: number } {
  const s = xs.slice().sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { median: at(0.5), p99: at(0.99) };
}
