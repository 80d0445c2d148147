/**
 * Fleet-table figures from a pure-table simulation: only the fleet gossip layer
 * (`lib/monitoring/fleet/gossip.ts`, the code nodes run) on the in-memory network with virtual
 * time and loss, no SWIM, no store. A 1,000-node simulation of whole nodes costs minutes per run;
 * this one costs seconds, so it runs 10 seeds per size. Used by `deno task bench:gossip`.
 *
 * Per run: the fleet converges; bytes per node per second over two row intervals in steady state;
 * one node rewrites its row and the time until 99 % and 100 % of the other tables hold it;
 * 10 nodes are killed and the time until every remaining table reads them "not responding" (by
 * the K-interval rule alone: no SWIM verdict here); the table's memory per node.
 *
 * @module
 */
import { VirtualClock } from "../lib/base/clock.ts";
import { seededRandom } from "../lib/base/random.ts";
import { MemoryNetwork } from "../lib/net/memory_network.ts";
import type { Address } from "../lib/net/transport.ts";
import { FleetGossip } from "../lib/monitoring/fleet/gossip.ts";
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

const STEP_MS = 100;
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
export function measureFleet(n: number, options: MeasureFleetOptions = {}): FleetFigures {
  const runs = options.runs ?? 10;
  const loss = options.loss ?? 0.01;
  const seed = options.seed ?? 1;
  const results: RunResult[] = [];
  for (let r = 0; r < runs; r++) {
    options.onProgress?.(`fleet n=${n} run ${r + 1}/${runs}`);
    results.push(oneRun(n, seed + r, loss));
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

function oneRun(n: number, seed: number, loss: number): RunResult {
  const clock = new VirtualClock();
  const network = new MemoryNetwork(clock, { seed, loss });
  const addresses = Array.from({ length: n }, (_, i) => Simulation.address(i));
  let bytes = 0;
  const nodes = new Map<Address, FleetGossip>();
  const transports = new Map<Address, { close(): void }>();
  const rng = seededRandom(seed * 7 + n);
  for (const [i, self] of addresses.entries()) {
    const transport = network.createTransport(self);
    transports.set(self, transport);
    const random = seededRandom(seed * 1_000_003 + i);
    const gossip: FleetGossip = new FleetGossip({}, {
      self,
      clock,
      random,
      send: (to, command, payload) => {
        const d = new Uint8Array(payload.length + 1);
        d[0] = command;
        d.set(payload, 1);
        bytes += payload.length + OVERHEAD;
        transport.send(d, to);
      },
      peers: () => addresses,
      summary: () => fakeSummary(random, n),
    });
    transport.onReceive((d, from) => gossip.receive(d[0], d.subarray(1), from));
    nodes.set(self, gossip);
  }
  for (const g of nodes.values()) g.start();
  const advanceUntil = (done: () => boolean, what: string) => {
    const ms = clock.advanceUntil(done, LIMIT_MS, STEP_MS);
    if (ms < 0) throw new Error(`fleet n=${n} seed ${seed}: ${what} did not happen within ${LIMIT_MS / 1000} s`);
    return ms;
  };
  advanceUntil(() => [...nodes.values()].every((g) => g.table.size === n), "convergence");
  const interval = nodes.get(addresses[0])!.rowIntervalMs;
  clock.advance(2 * interval);

  // Steady state: bytes over two row intervals.
  const b0 = bytes;
  clock.advance(2 * interval);
  const bytesPerNodePerSec = (bytes - b0) / n / (2 * interval / 1000);

  // One change: a node rewrites its row (between two of its own rewrites).
  const origin = nodes.get(addresses[randomIndex(rng, n)])!;
  const row = origin.setOwn({ ...origin.table.get(origin.table.self)!.row, keys: 424_242 });
  const others = [...nodes.values()].filter((g) => g !== origin);
  const has = () => others.filter((g) => (g.table.get(row.node)?.row.version ?? 0) >= row.version).length;
  const spread99 = advanceUntil(() => has() >= Math.ceil(0.99 * others.length), "99 % spread");
  const spreadAll = spread99 + advanceUntil(() => has() === others.length, "full spread");

  // Ten nodes killed (a third of a small fleet).
  const victims = addresses.filter((a) => a !== row.node).sort(() => rng() - 0.5).slice(0, Math.min(10, n / 3));
  for (const v of victims) {
    nodes.get(v)!.stop();
    transports.get(v)!.close();
    nodes.delete(v);
  }
  const downEverywhere = () =>
    [...nodes.values()].every((g) => victims.every((v) => g.assess(v)?.state === "not responding"));
  const killedMs = clock.advanceUntil(downEverywhere, LIMIT_MS, 500);
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

function stats(xs: number[]): { median: number; p99: number } {
  const s = xs.slice().sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { median: at(0.5), p99: at(0.99) };
}
