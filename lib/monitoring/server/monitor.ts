/**
 * The monitor's core, free of HTTP: starts a round every interval (sends the
 * round message to a few seeds plus, directly, to nodes that missed the last
 * round), accepts validated reports, tracks who is not responding and probes
 * them. Runs on any Transport and Clock, so it also runs in simulations.
 *
 * @module
 */
import { InternalAddressBook } from "../../net/internal_address.ts";
import { toHex } from "../../base/bytes.ts";
import type { Clock, TimerId } from "../../base/clock.ts";
import { encodeJsonFrame } from "../../wire/envelope.ts";
import type { FrameAuth } from "../../wire/frame.ts";
import { type Random, randomBytes, sample } from "../../base/random.ts";
import type { Address, Transport } from "../../net/transport.ts";
import { MonitoringCommand, type RoundHeader, signRound } from "../round_message.ts";
import { DEFAULT_MONITOR_CONFIG, type MonitorConfig } from "./config.ts";
import { denoTcpProbe, Prober, type TcpProbe } from "./probe.ts";
import { type Assessment, NodeRegistry, type NodeSnapshot } from "./registry.ts";
import type { NodeReport } from "../report.ts";
import { RoundBook, type RoundSummary } from "./rounds.ts";
import type { ServerStatus } from "./server_status.ts";

/** What the monitor needs. */
export interface MonitorOptions {
  /** Socket for round messages and probes (UDP in production). */
  transport: Transport;
  /** Time source. */
  clock: Clock;
  /** Random source (seeds, round ids). */
  random?: Random;
  /** Tunables. */
  config?: Partial<MonitorConfig>;
  /** Cluster key: rounds are signed with it (reports are verified by the HTTP layer). */
  clusterKey?: CryptoKey;
  /** The cluster keyring that tags round datagrams (nodes drop untagged ones when they have a key). */
  frameAuth?: FrameAuth;
  /** URL nodes post reports to (put in every round message). */
  reportUrl: string;
  /** Nodes listed in nodes.yaml. */
  fleetNodes?: readonly Address[];
  /** Cluster name for the page. */
  name?: string;
  /** TCP step of probes (null = skip, for simulations). Default: real TCP. */
  tcpProbe?: TcpProbe | null;
  /** Where nodes take round datagrams (their internal port; default the client port + 10000). */
  internalAddresses?: { toInternal(node: Address): Address };
}

/** Outcome of accepting a batch of reports. */
export interface AcceptResult {
  /** Reports applied. */
  accepted: number;
  /** Reports refused, with the reason. */
  rejected: { node: string; reason: string }[];
}

/** Something changed: these node ids (rows), and/or the round summary. */
export interface MonitorChange {
  /** Node ids whose row changed (new, report, state). */
  nodes: string[];
  /** Ids of nodes forgotten. */
  removed: string[];
  /** True when a round started. */
  round: boolean;
}

/** Saved state (with --data-dir). */
export interface MonitorSnapshot {
  /** Format version. */
  version: 1;
  /** When it was saved (ms). */
  savedAt: number;
  /** Round summaries. */
  rounds: RoundSummary[];
  /** Nodes with their history. */
  nodes: NodeSnapshot[];
}

/**
 * The status server's logic.
 *
 * @example
 * ```ts ignore
 * const m = new Monitor({ transport, clock: realClock, reportUrl: "http://127.0.0.1:8080/api/report" });
 * m.start();
 * // … reports arrive through m.acceptReports(reports, Date.now())
 * await m.close();
 * ```
 */
export class Monitor {
  readonly config: MonitorConfig;
  readonly registry: NodeRegistry;
  readonly rounds: RoundBook;
  readonly name: string;
  readonly reportUrl: string;
  readonly transport: Transport;
  /** The HTTP server's health, once the role has started it (page and /metrics). */
  server: ServerStatus | undefined;
  /** Counters for /metrics. */
  readonly stats = { reportsAccepted: 0, reportsRejected: 0, roundMessages: 0, probes: 0 };
  #clock: Clock;
  #random: Random;
  #key?: CryptoKey;
  #frameAuth?: FrameAuth;
  #internal: { toInternal(node: Address): Address };
  #prober: Prober;
  #listeners = new Set<(change: MonitorChange) => void>();
  #states = new Map<string, string>();
  #probedAt = new Map<string, number>();
  #probes = new Set<Promise<void>>();
  #timer: TimerId | undefined;
  #closed = false;

  /** Creates a monitor; call {@linkcode Monitor.start} to begin rounds. */
  constructor(options: MonitorOptions) {
    this.config = { ...DEFAULT_MONITOR_CONFIG, ...options.config };
    this.registry = new NodeRegistry(this.config);
    this.rounds = new RoundBook({ keep: this.config.keepRounds, accept: this.config.acceptRounds });
    this.name = options.name ?? "kvstore";
    this.reportUrl = options.reportUrl;
    this.transport = options.transport;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#key = options.clusterKey;
    this.#frameAuth = options.frameAuth;
    this.#internal = options.internalAddresses ?? new InternalAddressBook();
    this.#prober = new Prober(
      options.transport,
      options.clock,
      options.tcpProbe === undefined ? denoTcpProbe : options.tcpProbe,
    );
    options.transport.onReceive((data) => this.#prober.receive(data));
    for (const a of options.fleetNodes ?? []) this.registry.learn(a, 0, true);
  }

  /** Calls `listener` after every change; returns an unsubscribe function. */
  onChange(listener: (change: MonitorChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: MonitorChange): void {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch { /* a listener never breaks the monitor */ }
    }
  }

  /** Starts the first round now and then one every interval. */
  start(): void {
    const loop = () => {
      if (this.#closed) return;
      this.startRound().catch((e) => console.error(`monitor: round failed: ${(e as Error).message}`));
      this.#timer = this.#clock.setTimeout(loop, this.config.intervalMs);
    };
    loop();
  }

  /**
   * Starts one round: picks seeds, sends the round message, re-assesses every node.
   * Without a cluster key everything happens before this returns (simulations rely on it).
   */
  startRound(): Promise<RoundSummary> {
    const c = this.config;
    const previous = this.rounds.index;
    const all = this.registry.all();
    const responsive = all.filter((n) => previous > 0 && n.reportRound === previous).map((n) => n.id);
    const seeds = sample(this.#random, responsive.length > 0 ? responsive : all.map((n) => n.id), c.seedsPerRound);
    const missed = previous > 0
      ? all.filter((n) => n.reportRound < previous && !seeds.includes(n.id)).map((n) => n.id)
      : [];
    const direct = sample(this.#random, missed, c.maxDirectPerRound);
    // Random part (tells monitor runs apart) + sequence number (unique within a run).
    const id = toHex(randomBytes(this.#random, 6)) + (previous + 1).toString(16).padStart(8, "0");
    const jitter = Math.round(Math.min(c.maxJitterMs, c.jitterFraction * c.intervalMs));
    const header: RoundHeader = { r: id, u: this.reportUrl, j: jitter, h: 0 };
    const launch = (signed: RoundHeader) => this.#launch(signed, all.length, seeds, direct);
    return this.#key ? signRound(this.#key, header).then(launch) : Promise.resolve(launch(header));
  }

  #launch(header: RoundHeader, expected: number, seeds: Address[], direct: Address[]): RoundSummary {
    const summary = this.rounds.start(header.r, this.#clock.now(), expected, seeds, direct.length);
    for (const to of this.#closed ? [] : [...seeds, ...direct]) {
      const frame = encodeJsonFrame(MonitoringCommand.Round, header, undefined, this.#frameAuth, this.#clock.now());
      this.transport.send(frame, this.#internal.toInternal(to));
      this.stats.roundMessages++;
    }
    const removed = this.registry.forgetStale(summary.index);
    for (const r of removed) this.#states.delete(r);
    this.#emit({ nodes: this.#reassess(), removed, round: true });
    if (!this.#closed) this.#startProbes(summary.index);
    return summary;
  }

  /** Ids of nodes (all, or those given) whose state or problems changed since last time. */
  #reassess(ids?: Iterable<string>): string[] {
    const changed: string[] = [];
    const current = this.rounds.index;
    const nodes = ids
      ? [...ids].map((id) => this.registry.get(id)).filter((n) => n !== undefined)
      : this.registry.all();
    for (const n of nodes) {
      const a = this.registry.assess(n, current);
      const key = `${a.state}|${a.problems.join(",")}`;
      if (this.#states.get(n.id) !== key) {
        this.#states.set(n.id, key);
        changed.push(n.id);
      }
    }
    return changed;
  }

  #startProbes(round: number): void {
    const c = this.config;
    let started = 0;
    for (const n of this.registry.all()) {
      if (started >= c.maxProbesPerRound) break;
      if (this.registry.assess(n, round).state !== "not_responding") continue;
      const last = this.#probedAt.get(n.id);
      if (last !== undefined && round - last < c.reprobeRounds) continue;
      this.#probedAt.set(n.id, round);
      started++;
      this.stats.probes++;
      const p = this.#prober.probe(n.id, c.probeTimeoutMs).then((outcome) => {
        const now = this.registry.get(n.id);
        if (!now || this.#closed || now.reportRound >= round) return;
        now.probe = outcome;
        this.#emit({ nodes: this.#reassess(), removed: [], round: false });
      });
      this.#probes.add(p);
      p.finally(() => this.#probes.delete(p));
    }
  }

  /** Applies validated reports received at `at`. */
  acceptReports(reports: NodeReport[], at: number = this.#clock.now()): AcceptResult {
    const result: AcceptResult = { accepted: 0, rejected: [] };
    const changed = new Set<string>();
    for (const r of reports) {
      const round = this.rounds.open(r.round);
      if (!round) {
        result.rejected.push({ node: r.node, reason: "unknown or expired round" });
        continue;
      }
      const known = this.registry.get(r.node);
      if (known && known.reportRound >= round.index) {
        result.rejected.push({ node: r.node, reason: "already reported for this round (or a newer one)" });
        continue;
      }
      const before = this.registry.size;
      const unknownMembers = before < this.config.maxNodes
        ? (r.members ?? []).filter((m) => !this.registry.get(m))
        : [];
      if (!this.registry.apply(r, round.index, at)) {
        result.rejected.push({ node: r.node, reason: "the monitor knows too many nodes (maxNodes)" });
        continue;
      }
      this.rounds.record(r.round, at, r.hops, r.waitMs);
      this.#probedAt.delete(r.node);
      result.accepted++;
      changed.add(r.node);
      for (const m of unknownMembers) if (this.registry.get(m)) changed.add(m);
    }
    this.stats.reportsAccepted += result.accepted;
    this.stats.reportsRejected += result.rejected.length;
    if (changed.size > 0) {
      this.#reassess(changed);
      this.#emit({ nodes: [...changed], removed: [], round: false });
    }
    return result;
  }

  /** State and problems of node `id` now. */
  assess(id: string): Assessment | undefined {
    const n = this.registry.get(id);
    return n ? this.registry.assess(n, this.rounds.index) : undefined;
  }

  /** Counts a refused request (bad signature, garbage …) for /metrics. */
  countRejected(): void {
    this.stats.reportsRejected++;
  }

  /** Saved form of the state. */
  snapshot(): MonitorSnapshot {
    return { version: 1, savedAt: this.#clock.now(), rounds: this.rounds.list(), nodes: this.registry.snapshot() };
  }

  /** Restores saved state (call before {@linkcode Monitor.start}). */
  restore(s: MonitorSnapshot): void {
    this.rounds.restore(s.rounds ?? []);
    this.registry.restore(s.nodes ?? []);
  }

  /** Stops rounds and waits for probes in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#prober.close();
    await Promise.allSettled([...this.#probes]);
    this.#listeners.clear();
  }
}
