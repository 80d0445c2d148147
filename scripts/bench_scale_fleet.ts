/**
 * The fleet of `deno task bench:scale`: a {@linkcode ProcessCluster} of node processes on loopback joined
 * from a few seeds, with what the benchmark asks of it: membership counts of every node (one kept client
 * each), CPU time and RSS of every process (from `/proc`), each node's membership counters (debug stats
 * query), its catch-up state (view query), and the monitor's round coverage.
 *
 * @module
 */
import { realClock } from "../lib/base/clock.ts";
import { KVClient } from "../lib/client/client.ts";
import type { SwimStats } from "../lib/membership/swim_stats.ts";
import { UdpTransport } from "../lib/net/udp_transport.ts";
import { InternalAddressBook } from "../lib/net/internal_address.ts";
import { askView, type ViewAnswer } from "../lib/replication/catch_up.ts";
import { ClusterDebugClient } from "../lib/replication/debug_queries.ts";
import type { MemberRow } from "../lib/replication/debug_messages.ts";
import { Ring } from "../lib/replication/ring.ts";
import { ClusterKeyring } from "../lib/wire/keyring.ts";
import { Rpc } from "../lib/wire/rpc.ts";
import { ProcessCluster } from "../tests/support/process_cluster.ts";
import { machineCpuMs, processCpuMs, processCpuNs, type ProcessSample, sampleProcess } from "./proc_stats.ts";
import { readProcessState } from "../lib/base/process_state.ts";

/**
 * Node processes started at the same time: one per core. A start is CPU-bound (0.37 s of CPU, 0.5-0.8 s
 * of wall time alone), so more at once only make each slower: 6 at once on 2 cores took 7-55 s each.
 */
export const START_CONCURRENCY = Math.min(6, Math.max(1, navigator.hardwareConcurrency || 2));
/**
 * How long one node may take to listen. Generous: a runnable node that waits for a core (all the
 * fleet's processes share one scheduler group, which gets a fraction of the machine when others run)
 * is only slow; a stuck one is given up by {@linkcode NODE_START_WATCH} long before.
 */
const NODE_START_TIMEOUT_MS = 900_000;
/** A start that used this much CPU without listening, or slept this long without any, is stuck. */
const NODE_START_WATCH = { cpuLimitMs: 30_000, stallMs: 60_000 };
/**
 * Pacing of the starts: the next node is started only while at most this many running nodes wait
 * for a core (main thread runnable), for up to {@linkcode PACE_MAX_WAIT_MS}, looked at every
 * {@linkcode PACE_POLL_MS}. Starting more into a fleet already short of CPU made its nodes miss acks:
 * 64,890 suspicions and 5,578 false deaths while 100 started on the shared machine.
 */
const PACE_RUNNABLE = 2 * (navigator.hardwareConcurrency || 2);
/** The longest a start waits for the fleet to catch up (then it starts anyway). */
const PACE_MAX_WAIT_MS = 30_000;
/** How often the pacing looks at the nodes' states. */
const PACE_POLL_MS = 500;
/** Progress lines while nodes start or a wait lasts: at most one per this interval. */
export const PROGRESS_INTERVAL_MS = 10_000;
/** The monitor's round interval: its default (each round makes every node post a report). */
export const MONITOR_INTERVAL_MS = 10_000;
/** Timeout of one membership-count question while polling (ms; no retry: the next poll asks again). 300 ms was too short for a hundred nodes at load 100+: most polls went unanswered. */
const COUNT_TIMEOUT_MS = 1_000;
/** Timeout and retries of a debug or view query. */
const QUERY = { timeoutMs: 1_000, retries: 3 };

/** CPU time used so far by the fleet's nodes, this process (harness and monitor) and the whole machine. */
export interface CpuSnapshot {
  /** When (performance.now()). */
  at: number;
  /** The running nodes, together (ms). */
  nodesMs: number;
  /** This process (ms). */
  selfMs: number;
  /** The whole machine, busy (ms, all cores). */
  busyMs: number;
}

/**
 * Who used the CPU between two snapshots, in cores: the nodes, this process, everything else (other
 * programs on the machine; nodes that stopped meanwhile count there too).
 *
 * @example
 * ```ts ignore
 * console.log(cpuShares(a, b)); // "nodes 0.41, harness 0.01, others 1.58 of 2 cores"
 * ```
 */
export function cpuShares(a: CpuSnapshot, b: CpuSnapshot): string {
  const s = Math.max(1, b.at - a.at);
  const nodes = (b.nodesMs - a.nodesMs) / s, self = (b.selfMs - a.selfMs) / s;
  const others = Math.max(0, (b.busyMs - a.busyMs) / s - nodes - self);
  return `nodes ${nodes.toFixed(2)}, harness ${self.toFixed(2)}, others ${others.toFixed(2)} of ` +
    `${navigator.hardwareConcurrency} cores`;
}

/** Membership counters that matter for false alarms. */
export type SwimCounters = Pick<SwimStats, "suspicions" | "deaths" | "refutes">;

/** What the benchmark reads of one closed monitor round. */
export interface RoundFigures {
  /** Sequence number. */
  index: number;
  /** When the monitor started it (ms since epoch). */
  startedAt: number;
  /** Known nodes when it started. */
  expected: number;
  /** Nodes that reported for it. */
  reported: number;
  /** Time until 90 % of the reports arrived (ms), if reached. */
  t90?: number;
}

/** The machine's load averages, for progress lines. */
export function loadText(): string {
  return Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (x: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0, failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (e) {
        failed = true; // no new item once one failed
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The benchmark's fleet: see the module documentation. */
export class ScaleFleet {
  /** The underlying cluster (directory, fleet file, processes). */
  readonly cluster: ProcessCluster;
  #clients = new Map<string, KVClient>();
  #debug: ClusterDebugClient;
  #transport: UdpTransport;
  #rpc: Rpc;

  private constructor(cluster: ProcessCluster, debug: ClusterDebugClient, transport: UdpTransport) {
    this.cluster = cluster;
    this.#debug = debug;
    this.#transport = transport;
    // Nodes take internal queries (askView) at their internal port, the client port + 10000.
    this.#rpc = new Rpc(transport, realClock, {
      auth: ClusterKeyring.fromHex(cluster.clusterKeys),
      addresses: new InternalAddressBook(),
    });
    transport.onReceive((d, from) => this.#rpc.receive(d, from));
  }

  /** Makes the directory, fleet file (listing the first `seeds` addresses) and monitor; starts no node. */
  static async create(nodes: number, seeds: number): Promise<ScaleFleet> {
    const cluster = await ProcessCluster.create({
      size: nodes,
      fleetSize: Math.min(seeds, nodes),
      monitor: "in-process",
      dirPrefix: "kvstore-scale-",
      startTimeoutMs: NODE_START_TIMEOUT_MS,
      startWatch: NODE_START_WATCH,
      monitorIntervalMs: MONITOR_INTERVAL_MS,
      clientOptions: { timeoutMs: 200, retries: 4 },
    });
    try {
      const debug = await ClusterDebugClient.open("127.0.0.1", ClusterKeyring.fromHex(cluster.clusterKeys));
      return new ScaleFleet(cluster, debug, await UdpTransport.listen("127.0.0.1", 0));
    } catch (e) {
      await cluster.close();
      throw e;
    }
  }

  /** Every address of the fleet. */
  get addresses(): string[] {
    return this.cluster.addresses;
  }

  /** Addresses of the running nodes. */
  get running(): string[] {
    return [...this.cluster.procs.keys()];
  }

  /**
   * Starts the nodes at `addresses`, {@linkcode START_CONCURRENCY} at a time, printing progress; resolves
   * when all listen, with each one's start time (spawn to its listening line, ms).
   */
  async start(addresses: readonly string[]): Promise<number[]> {
    const t0 = performance.now();
    let done = 0, last = this.cpu();
    return await pool(addresses, START_CONCURRENCY, async (a) => {
      this.pacedMs += await this.#pace();
      const s = performance.now();
      await this.cluster.startNode(a);
      const now = performance.now();
      done++;
      if (now - last.at >= PROGRESS_INTERVAL_MS || done === addresses.length) {
        const cpu = this.cpu();
        console.log(
          `    started ${done}/${addresses.length} (${((now - t0) / 1000).toFixed(0)} s; this one took ` +
            `${((now - s) / 1000).toFixed(1)} s; CPU since the last line: ${cpuShares(last, cpu)}; load ${loadText()})`,
        );
        last = cpu;
      }
      return now - s;
    });
  }

  /** Time starts waited for the fleet to catch up so far (ms, summed over the concurrent starts). */
  pacedMs = 0;

  /** Running nodes whose main thread is runnable (waiting for or on a core). */
  runnableNodes(): number {
    let n = 0;
    for (const p of this.cluster.procs.values()) if (readProcessState(p.child.pid)?.state === "R") n++;
    return n;
  }

  /** Waits while more than {@linkcode PACE_RUNNABLE} nodes are runnable (at most {@linkcode PACE_MAX_WAIT_MS}); the ms waited. */
  async #pace(): Promise<number> {
    const start = performance.now();
    while (this.runnableNodes() > PACE_RUNNABLE && performance.now() - start < PACE_MAX_WAIT_MS) {
      await new Promise((r) => setTimeout(r, PACE_POLL_MS));
    }
    return performance.now() - start;
  }

  /** A kept client of `address`. */
  async client(address: string): Promise<KVClient> {
    let c = this.#clients.get(address);
    if (!c) this.#clients.set(address, c = await KVClient.connect(address, { timeoutMs: 200, retries: 4 }));
    return c;
  }

  /** The membership count of each of `of` (-1 when it does not answer in time). */
  async counts(of: readonly string[]): Promise<number[]> {
    return await Promise.all(of.map(async (a) => {
      let c = this.#clients.get(a);
      if (!c) this.#clients.set(a, c = await KVClient.connect(a, { timeoutMs: COUNT_TIMEOUT_MS, retries: 0 }));
      try {
        return await c.membershipCount();
      } catch {
        return -1;
      }
    }));
  }

  /**
   * Polls `of` every `intervalMs` until each counts `count`; resolves with the time (ms after `since`,
   * a `performance.now()`) each node first did, or rejects after `timeoutMs` naming the nodes that never did.
   */
  async waitForCount(
    of: readonly string[],
    count: number,
    since: number,
    timeoutMs: number,
    intervalMs = 250,
  ): Promise<number[]> {
    const first = new Array<number>(of.length).fill(NaN);
    const deadline = since + timeoutMs;
    let printed = performance.now();
    for (;;) {
      const counts = await this.counts(of);
      const now = performance.now();
      counts.forEach((n, i) => {
        if (n === count && Number.isNaN(first[i])) first[i] = now - since;
      });
      if (first.every((t) => !Number.isNaN(t))) return first;
      if (now - printed >= PROGRESS_INTERVAL_MS) {
        printed = now;
        const unanswered = counts.filter((n) => n < 0).length;
        console.log(
          `    ${first.filter((t) => !Number.isNaN(t)).length}/${of.length} nodes have counted ${count} ` +
            `(${((now - since) / 1000).toFixed(0)} s; ${unanswered} did not answer in time; load ${loadText()})`,
        );
      }
      if (now > deadline) {
        const late = of.filter((_, i) => Number.isNaN(first[i]));
        throw new Error(
          `${late.length} of ${of.length} nodes did not count ${count} members within ${timeoutMs} ms ` +
            `(${late.slice(0, 5).join(", ")}${late.length > 5 ? ", …" : ""}; last counts: ${
              [...new Set(counts)].sort((a, b) => a - b).join(", ")
            })`,
        );
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** CPU time used so far by the running nodes, this process and the machine. */
  cpu(): CpuSnapshot {
    let nodesMs = 0;
    for (const p of this.cluster.procs.values()) {
      try {
        nodesMs += processCpuMs(p.child.pid);
      } catch { /* exited meanwhile */ }
    }
    return { at: performance.now(), nodesMs, selfMs: processCpuMs(Deno.pid), busyMs: machineCpuMs().busyMs };
  }

  /** CPU time, memory and wake-ups of every running node process, by address. */
  sample(): Map<string, ProcessSample> {
    const out = new Map<string, ProcessSample>();
    for (const [a, p] of this.cluster.procs) out.set(a, sampleProcess(p.child.pid));
    return out;
  }

  /** CPU time (ns) every running node process has used so far, by address. */
  cpuNs(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [a, p] of this.cluster.procs) out.set(a, processCpuNs(p.child.pid));
    return out;
  }

  /** The membership counters of each of `of` (nodes that do not answer are left out). */
  async swimCounters(of: readonly string[]): Promise<Map<string, SwimCounters>> {
    const out = new Map<string, SwimCounters>();
    await pool(of, 16, async (a) => {
      try {
        const s = (await this.#debug.stats(a, QUERY)).membership;
        if (s) out.set(a, { suspicions: s.suspicions, deaths: s.deaths, refutes: s.refutes });
      } catch { /* counted as missing by the caller */ }
    });
    return out;
  }

  /**
   * The member list of each of `of` (debug members query), with when its answer arrived (a
   * `performance.now()`); a node that did not answer is absent.
   */
  async memberLists(of: readonly string[]): Promise<Map<string, MemberList>> {
    const out = new Map<string, MemberList>();
    await pool(of, 16, async (a) => {
      try {
        const { members } = await this.#debug.members(a, QUERY);
        out.set(a, { members, arrivedAt: performance.now() });
      } catch { /* absent: no answer */ }
    });
    return out;
  }

  /** How `peer` is doing (its catch-up state); undefined without an answer. */
  view(peer: string): Promise<ViewAnswer | undefined> {
    return askView(this.#rpc, peer, peer, { viewTimeoutMs: QUERY.timeoutMs, viewRetries: QUERY.retries });
  }

  /** The monitor's closed rounds, newest first. */
  async rounds(limit = 200): Promise<RoundFigures[]> {
    const res = await fetch(`${this.cluster.monitorUrl}/api/rounds?limit=${limit}`);
    return ((await res.json()) as { rounds: RoundFigures[] }).rounds;
  }

  /** Forgets the kept client of `address` (its node stopped). */
  forget(address: string): void {
    this.#clients.get(address)?.close();
    this.#clients.delete(address);
  }

  /** Closes clients and sockets, kills every node process, closes the monitor, removes the directory. */
  async close(): Promise<void> {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
    this.#debug.close();
    this.#rpc.close();
    this.#transport.close();
    await this.cluster.close();
  }
}

/**
 * Waves of a rolling restart: groups of `members` in which no two share a key range on the ring
 * (`Ring.neighbours`), greedily, in address order.
 *
 * @example
 * ```ts ignore
 * console.log(restartWaves(["a:1", "b:1", "c:1", "d:1"], 3, 256).length); // 4: every pair shares a range
 * ```
 */
export function restartWaves(members: readonly string[], n: number, virtualNodes: number): string[][] {
  const ring = new Ring(members, virtualNodes);
  const waves: { nodes: string[]; blocked: Set<string> }[] = [];
  for (const m of ring.members) {
    const near = ring.neighbours(m, n);
    let wave = waves.find((w) => !w.blocked.has(m) && !w.nodes.some((x) => near.has(x)));
    if (!wave) waves.push(wave = { nodes: [], blocked: new Set() });
    wave.nodes.push(m);
    for (const x of near) wave.blocked.add(x);
  }
  return waves.map((w) => w.nodes);
}

/** One node's member list and when it arrived (a `performance.now()`). */
export interface MemberList {
  /** The members it knows, with their states. */
  members: MemberRow[];
  /** When its answer arrived. */
  arrivedAt: number;
}
