/**
 * Spreads the fleet table (Scuttlebutt push-pull, deltas only): every gossip interval a node
 * sends its digest to `fanout` random peers; the peer answers with the rows it holds newer (or
 * the node lacks) and requests the rows the node holds newer; the node sends those. A node
 * rewrites its own row every row interval, which grows with the fleet so the bytes per node per
 * second stay bounded (docs/monitoring.md has the figures).
 *
 * Runs on any clock and send function, so the same code runs in a node, in the simulator and in
 * the pure-table benchmark (scripts/bench_fleet_measure.ts).
 *
 * @module
 */
import type { Clock, TimerId } from "../../base/clock.ts";
import { type Random, sample } from "../../base/random.ts";
import type { Address } from "../../net/transport.ts";
import {
  chunkRows,
  decodePackedDigest,
  decodeRequest,
  decodeRows,
  encodeRequest,
  encodeSortedDigest,
  FleetCommand,
  MAX_ENTRIES,
  type PackedDigest,
  type VersionEntry,
} from "./protocol.ts";
import type { FleetRow } from "./row.ts";
import { assessEntry, type FleetNodeView, FleetTable, type Verdict } from "./table.ts";
import { compareDigest } from "./digest_compare.ts";

/** Tunables of the fleet table (all have defaults). */
export interface FleetTableConfig {
  /** How often a node sends its digest (ms). */
  gossipIntervalMs: number;
  /** Peers per gossip interval. */
  fanout: number;
  /** Shortest row interval: how often a node rewrites its row in a small fleet (ms). */
  minRowIntervalMs: number;
  /** Row interval added per node of the fleet (ms), so bytes per node per second stay bounded. */
  rowIntervalPerNodeMs: number;
  /** Longest row interval (ms). */
  maxRowIntervalMs: number;
  /** K: a row is "not responding" after K row intervals without an advance. */
  notRespondingIntervals: number;
  /** Rows kept at most. */
  maxRows: number;
  /** A row silent this long is forgotten (ms). */
  forgetAfterMs: number;
  /** Peers told directly when this node leaves. */
  leaveFanout: number;
  /**
   * Every this many gossip rounds the digest goes to any alive member; the other rounds go to
   * members whose row advanced within K row intervals (they run the table and answer), so members
   * that never answer (new to the table, or planted by forged membership in an unkeyed fleet)
   * cannot crowd out the real ones.
   */
  exploreEvery: number;
}

/** Defaults: digest every second to one peer; rows every 2 s up to 200 nodes, then 12 ms per node (12 s at 1,000). */
export const DEFAULT_FLEET_TABLE_CONFIG: FleetTableConfig = {
  gossipIntervalMs: 1_000,
  fanout: 1,
  minRowIntervalMs: 2_000,
  rowIntervalPerNodeMs: 12,
  maxRowIntervalMs: 30_000,
  notRespondingIntervals: 3,
  maxRows: 10_000,
  forgetAfterMs: 24 * 3_600_000,
  leaveFanout: 8,
  exploreEvery: 4,
};

/** What the gossip needs from its host. */
export interface FleetGossipDeps {
  /** This node's address. */
  self: Address;
  /** Time source. */
  clock: Clock;
  /** Random source. */
  random: Random;
  /** Sends one message (fire and forget). */
  send(to: Address, command: number, payload: Uint8Array): void;
  /** Peers to gossip with (members believed alive; self is skipped). */
  peers(): readonly Address[];
  /** The node's summary now (everything but key, version, time and state). */
  summary():
    | Omit<FleetRow, "node" | "version" | "updatedAt" | "state">
    | Promise<
      Omit<FleetRow, "node" | "version" | "updatedAt" | "state">
    >;
  /** SWIM's verdict about a member, if any. */
  verdict?(address: Address): Verdict | undefined;
  /**
   * Whether `address` is a member this node knows (alive, suspect, dead or left): rows of others
   * are ignored, and forgotten once silent. Default: every address is known.
   */
  known?(address: Address): boolean;
}

/** How often the table looks for rows to forget (ms). */
const FORGET_EVERY_MS = 10_000;

/** A row version more than this far ahead of the receiver's clock (s) is refused: a version is its origin's clock. */
export const MAX_VERSION_AHEAD_S = 86_400;

/** Counters (for stats and the benchmark). */
export interface FleetCounters {
  /** Messages sent. */
  messagesSent: number;
  /** Payload bytes sent. */
  bytesSent: number;
  /** Rows received that were newer. */
  rowsAccepted: number;
  /** Rows received that were not newer. */
  rowsRedundant: number;
  /** Messages dropped as malformed. */
  malformed: number;
  /** Rows refused: from an unknown member, or a version from the far future. */
  rowsRefused: number;
}

/**
 * The fleet table of one node and its gossip.
 *
 * @example
 * ```ts ignore
 * const g = new FleetGossip(DEFAULT_FLEET_TABLE_CONFIG, { self, clock, random, send, peers, summary });
 * g.start();
 * console.log(g.view().length);
 * ```
 */
export class FleetGossip {
  #gossipRounds = 0;
  /** Tunables in force. */
  readonly config: FleetTableConfig;
  /** The table. */
  readonly table: FleetTable;
  /** Counters. */
  readonly counters: FleetCounters = {
    messagesSent: 0,
    bytesSent: 0,
    rowsAccepted: 0,
    rowsRedundant: 0,
    malformed: 0,
    rowsRefused: 0,
  };
  #deps: FleetGossipDeps;
  #timers: TimerId[] = [];
  #stopped = false;
  #own: FleetRow | undefined;
  #forgotAt = -Infinity;

  /** Creates the gossip (call {@linkcode FleetGossip.start}). */
  constructor(config: Partial<FleetTableConfig>, deps: FleetGossipDeps) {
    this.config = { ...DEFAULT_FLEET_TABLE_CONFIG, ...config };
    if (
      this.config.gossipIntervalMs < 10 || this.config.minRowIntervalMs < 100 || this.config.fanout < 1 ||
      this.config.exploreEvery < 1
    ) {
      throw new RangeError(
        "fleet: gossip interval ≥ 10 ms, row interval ≥ 100 ms, fanout ≥ 1 and exploreEvery ≥ 1 are required",
      );
    }
    this.#deps = deps;
    this.table = new FleetTable(deps.self, { maxRows: this.config.maxRows, forgetAfterMs: this.config.forgetAfterMs });
  }

  /** The row interval for the current fleet size (ms). */
  get rowIntervalMs(): number {
    const c = this.config;
    const n = Math.max(this.table.size, this.#deps.peers().length + 1);
    return Math.min(c.maxRowIntervalMs, Math.max(c.minRowIntervalMs, n * c.rowIntervalPerNodeMs));
  }

  /** Writes the own row now, then every row interval; gossips every gossip interval (first one after a random delay). */
  start(): void {
    const { clock, random } = this.#deps;
    const rowLoop = () => {
      if (this.#stopped) return;
      this.refresh().catch(() => {});
      this.#timers[0] = clock.setTimeout(rowLoop, this.rowIntervalMs);
    };
    const gossipLoop = () => {
      if (this.#stopped) return;
      this.gossipOnce();
      this.#timers[1] = clock.setTimeout(gossipLoop, this.config.gossipIntervalMs);
    };
    rowLoop();
    this.#timers[1] = clock.setTimeout(gossipLoop, random() * this.config.gossipIntervalMs);
  }

  /** Stops the timers. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) if (t !== undefined) this.#deps.clock.clearTimeout(t);
  }

  /** Rewrites the own row from a fresh summary (a new version). */
  refresh(): Promise<void> {
    const apply = (summary: Omit<FleetRow, "node" | "version" | "updatedAt" | "state">) => {
      if (!this.#stopped) this.setOwn({ ...summary, state: this.#own?.state === "left" ? "left" : "ok" });
    };
    const s = this.#deps.summary();
    // A synchronous summary applies at once (simulations advance virtual time without microtasks).
    if (s instanceof Promise) return s.then(apply);
    apply(s);
    return Promise.resolve();
  }

  /** Writes the own row with `fields` under a new version. */
  setOwn(fields: Omit<FleetRow, "node" | "version" | "updatedAt">): FleetRow {
    const now = this.#deps.clock.now();
    const held = this.table.get(this.#deps.self)?.row.version ?? 0;
    const row: FleetRow = {
      ...fields,
      node: this.#deps.self,
      version: Math.max(held + 1, Math.floor(now / 1000)),
      updatedAt: now,
    };
    this.#own = row;
    this.table.merge(row, now);
    return row;
  }

  /** Marks the own row "left" and tells a few peers at once (a graceful stop). */
  leave(): void {
    if (!this.#own) return;
    const row = this.setOwn({ ...this.#own, state: "left" });
    for (const to of sample(this.#deps.random, this.#otherPeers(), this.config.leaveFanout)) {
      for (const chunk of chunkRows([row])) this.#send(to, FleetCommand.Rows, chunk);
    }
  }

  /** Sends the digest to `fanout` random peers. */
  gossipOnce(): void {
    const peers = sample(this.#deps.random, this.#gossipCandidates(), this.config.fanout);
    if (peers.length === 0) return;
    this.#forget();
    const chunks = encodeSortedDigest(this.table.sortedByHash());
    for (const to of peers) for (const c of chunks) this.#send(to, FleetCommand.Digest, c);
  }

  /** This round's candidates: fresh members (see `exploreEvery`), or every alive one when exploring or none is fresh. */
  #gossipCandidates(): Address[] {
    const others = this.#otherPeers();
    if (++this.#gossipRounds % this.config.exploreEvery === 0) return others;
    const now = this.#deps.clock.now(), windowMs = this.config.notRespondingIntervals * this.rowIntervalMs;
    const fresh = others.filter((a) => {
      const e = this.table.get(a);
      return e !== undefined && e.row.version > 0 && now - e.seenAt <= windowMs;
    });
    return fresh.length > 0 ? fresh : others;
  }

  /** Handles one fleet message from `from` (malformed ones are counted and dropped). */
  receive(command: number, payload: Uint8Array, from: Address): void {
    if (this.#stopped) return;
    if (command === FleetCommand.Digest) {
      const d = decodePackedDigest(payload);
      if (!d) return void this.counters.malformed++;
      this.#onDigest(d, from);
    } else if (command === FleetCommand.Request) {
      const entries = decodeRequest(payload);
      if (!entries) return void this.counters.malformed++;
      this.#sendRows(from, entries.flatMap((e) => this.#newerThan(e)));
    } else if (command === FleetCommand.Rows) {
      const rows = decodeRows(payload);
      if (!rows) return void this.counters.malformed++;
      this.#onRows(rows);
    }
  }

  /** Every row as it reads from here, plus "waiting" for members SWIM knows that have no row yet. */
  view(extraMembers: readonly Address[] = []): FleetNodeView[] {
    const now = this.#deps.clock.now();
    const interval = this.rowIntervalMs;
    const out: FleetNodeView[] = [];
    for (const e of this.table.entries()) {
      out.push(
        assessEntry(e, this.#deps.self, now, interval, this.config.notRespondingIntervals, this.#verdict(e.row.node)),
      );
    }
    for (const a of extraMembers) {
      if (!this.table.get(a)) out.push(waitingView(a));
    }
    return out;
  }

  /** How the row of `node` reads from here (undefined when there is none). */
  assess(node: Address): FleetNodeView | undefined {
    const e = this.table.get(node);
    if (!e) return undefined;
    const now = this.#deps.clock.now();
    return assessEntry(
      e,
      this.#deps.self,
      now,
      this.rowIntervalMs,
      this.config.notRespondingIntervals,
      this.#verdict(node),
    );
  }

  /** Forgets rows silent for long, and rows of origins the membership no longer knows once silent K intervals. */
  #forget(): void {
    const now = this.#deps.clock.now();
    if (now - this.#forgotAt < FORGET_EVERY_MS) return;
    this.#forgotAt = now;
    this.table.forgetStale(now);
    const known = this.#deps.known;
    if (!known) return;
    const silentFor = this.config.notRespondingIntervals * this.rowIntervalMs;
    this.table.forgetWhere((e) => e.row.node !== this.#deps.self && now - e.seenAt >= silentFor && !known(e.row.node));
  }

  #verdict(a: Address): Verdict | undefined {
    return this.#deps.verdict?.(a);
  }

  #otherPeers(): Address[] {
    return this.#deps.peers().filter((a) => a !== this.#deps.self);
  }

  #onDigest(d: PackedDigest, from: Address): void {
    const { rows, wanted } = compareDigest(this.table, d);
    this.#sendRows(from, rows);
    for (let i = 0; i < wanted.length; i += MAX_ENTRIES) {
      this.#send(from, FleetCommand.Request, encodeRequest(wanted.slice(i, i + MAX_ENTRIES)));
    }
  }

  #newerThan(e: VersionEntry): FleetRow[] {
    return this.table.byHash(e.hash).filter((m) => m.row.version > e.version).map((m) => m.row);
  }

  #onRows(rows: FleetRow[]): void {
    const now = this.#deps.clock.now();
    for (const row of rows) {
      if (row.node === this.#deps.self) {
        // Our own row, newer than ours: left from an earlier run. Continue above its version.
        if (this.#own && row.version >= this.#own.version && row.version <= now / 1000 + MAX_VERSION_AHEAD_S) {
          this.table.merge({ ...this.#own, version: row.version }, now);
          this.setOwn(this.#own);
        }
        continue;
      }
      if (row.version > now / 1000 + MAX_VERSION_AHEAD_S || !(this.#deps.known?.(row.node) ?? true)) {
        this.counters.rowsRefused++;
      } else if (this.table.merge(row, now)) this.counters.rowsAccepted++;
      else this.counters.rowsRedundant++;
    }
  }

  #sendRows(to: Address, rows: FleetRow[]): void {
    for (const chunk of chunkRows(rows)) this.#send(to, FleetCommand.Rows, chunk);
  }

  #send(to: Address, command: number, payload: Uint8Array): void {
    this.counters.messagesSent++;
    this.counters.bytesSent += payload.length;
    this.#deps.send(to, command, payload);
  }
}

function waitingView(node: Address): FleetNodeView {
  return {
    node,
    version: 0,
    updatedAt: 0,
    program: "",
    uptimeS: 0,
    keys: NaN,
    bytesStored: NaN,
    capacityUsed: NaN,
    rps: NaN,
    errorsPerSec: NaN,
    load: NaN,
    rss: NaN,
    diskFree: NaN,
    alive: 0,
    suspect: 0,
    dead: 0,
    state: "waiting",
    reason: "no row yet",
    ageMs: 0,
    silentMs: 0,
  };
}
