/**
 * Attaches the fleet table to a node: its own row from the node's stats, the gossip on the
 * node's internal endpoint (commands 0x41–0x43, authenticated and batched like all internal
 * traffic), and a snapshot for the status server and `kvctl status`.
 *
 * Options (`startNode({ subsystemOptions: { fleet: {...} } })`): the tunables of
 * {@linkcode FleetTableConfig}, `system` (collect host stats, default true), `verdict` (SWIM's, given by
 * the roles layer), or `false` to run without a fleet table.
 *
 * @module
 */
import type { NodeContext } from "../../node/context.ts";
import type { MemberView } from "../../node/members.ts";
import type { Address } from "../../net/transport.ts";
import { statfsSync } from "node:fs";
import { KVSTORE_VERSION, programInfo } from "../../base/program.ts";
import type { StatsSources } from "../agent/stats.ts";
import { putStat } from "../report.ts";
import { FleetGossip, type FleetTableConfig } from "./gossip.ts";
import { FleetCommand } from "./protocol.ts";
import { registerFleetDump } from "./dump.ts";
import { type FleetRow, ROW_LIMITS } from "./row.ts";
import type { FleetNodeView, Verdict } from "./table.ts";

/** Options of the fleet table of a node. */
export interface FleetOptions extends Partial<FleetTableConfig> {
  /** Collect host stats (load, RSS, disk). Default true. */
  system?: boolean;
  /** SWIM's verdict about a member (the roles layer passes the membership's). */
  verdict?: (address: Address) => Verdict | undefined;
}

/** What `/api/nodes` of a node and `kvctl status --json` return. */
export interface FleetSnapshot {
  /** The node that answered (host:port). */
  answeredBy: string;
  /** When it answered (its clock, ms since epoch). */
  at: number;
  /** The row interval in force (ms): a row older than two is late. */
  intervalMs: number;
  /** K: not responding after K intervals without an update. */
  notRespondingIntervals: number;
  /** One entry per node, sorted by address. */
  nodes: FleetNodeView[];
}

/** The fleet table service of a node. */
export interface FleetService {
  /** The gossip and its table. */
  gossip: FleetGossip;
  /** The table as it reads now. */
  snapshot(): FleetSnapshot;
}

/**
 * Starts the fleet table of the node in `ctx`.
 *
 * @example
 * ```ts ignore
 * const fleet = attachFleet(ctx, members, { gossipIntervalMs: 500 }, sources);
 * console.log(fleet.snapshot().nodes.length);
 * ```
 */
export function attachFleet(
  ctx: NodeContext,
  members: MemberView,
  options: FleetOptions = {},
  sources?: StatsSources,
): FleetService {
  const { node, clock, random } = ctx;
  const summary = new SummaryReader(ctx, members, options.system ?? true);
  const gossip = new FleetGossip(options, {
    self: node.address,
    clock,
    random,
    send: (to, command, payload) => ctx.rpc.castRaw(to, command, payload),
    peers: () => members.alive(),
    summary: () => summary.read(),
    verdict: options.verdict,
    known: (a) => options.verdict ? options.verdict(a) !== undefined : members.alive().includes(a),
  });
  for (const command of Object.values(FleetCommand)) {
    ctx.rpc.handleRaw(command, (payload, from) => {
      gossip.receive(command, payload, from);
      return undefined;
    });
  }
  gossip.start();
  ctx.onClose(() => {
    gossip.leave();
    gossip.stop();
  });
  const snapshot = (): FleetSnapshot => ({
    answeredBy: node.address,
    at: clock.now(),
    intervalMs: gossip.rowIntervalMs,
    notRespondingIntervals: gossip.config.notRespondingIntervals,
    nodes: gossip.view(members.alive()).sort((a, b) => a.node.localeCompare(b.node, "en", { numeric: true })),
  });
  registerFleetDump(ctx.rpc, snapshot);
  sources?.add(() => {
    const c = gossip.counters;
    const s = putStat({}, "fleet_rows", gossip.table.size);
    putStat(s, "fleet_row_interval", gossip.rowIntervalMs, "ms");
    putStat(s, "fleet_messages_sent", c.messagesSent);
    putStat(s, "fleet_bytes_sent", c.bytesSent, "bytes");
    putStat(s, "fleet_rows_accepted", c.rowsAccepted);
    putStat(s, "fleet_rows_redundant", c.rowsRedundant);
    putStat(s, "fleet_rows_refused", c.rowsRefused);
    return putStat(s, "fleet_malformed", c.malformed);
  });
  return { gossip, snapshot };
}

/** Reply codes counted as errors (out of space, overload, internal failure, unknown command, bad key, bad length). */
const ERROR_CODES = ["02", "03", "04", "05", "06", "07"];
/** The disk-free reading is refreshed at most this often (ms). */
const DISK_REFRESH_MS = 10_000;

/**
 * A node's summary, read synchronously (simulations run timers without microtasks); the
 * disk-free figure is read at most every 10 s. Rates are per second since the previous read.
 */
class SummaryReader {
  #ctx: NodeContext;
  #members: MemberView;
  #system: boolean;
  #last: { at: number; requests: number; errors: number };
  #disk = NaN;
  #diskAt = -Infinity;

  constructor(ctx: NodeContext, members: MemberView, system: boolean) {
    this.#ctx = ctx;
    this.#members = members;
    this.#system = system;
    this.#last = { at: ctx.node.startedAt, requests: 0, errors: 0 };
  }

  read(): Omit<FleetRow, "node" | "version" | "updatedAt" | "state"> {
    const { node, store, clock } = this.#ctx;
    const now = clock.now();
    const requests = Object.values(node.counters.requests).reduce((a, b) => a + b, 0);
    const errors = ERROR_CODES.reduce((a, c) => a + (node.counters.replies[c] ?? 0), 0);
    const seconds = Math.max(0.001, (now - this.#last.at) / 1000);
    const rps = Math.max(0, (requests - this.#last.requests) / seconds);
    const errorsPerSec = Math.max(0, (errors - this.#last.errors) / seconds);
    this.#last = { at: now, requests, errors };
    const counts = this.#members.counts();
    const build = programInfo().build;
    return {
      program: `${KVSTORE_VERSION}${build ? ` (${build})` : ""}`.slice(0, ROW_LIMITS.maxProgramBytes / 2),
      uptimeS: Math.round((now - node.startedAt) / 1000),
      keys: store.liveKeys,
      bytesStored: store.bytes,
      capacityUsed: (100 * store.bytes) / Math.max(1, store.capacity),
      rps,
      errorsPerSec,
      load: this.#system ? this.#load() : NaN,
      rss: this.#system ? Deno.memoryUsage().rss : NaN,
      diskFree: this.#system ? this.#diskFree(now) : NaN,
      alive: counts.alive,
      suspect: counts.suspect,
      dead: counts.dead,
    };
  }

  #load(): number {
    try {
      return Deno.loadavg()[0];
    } catch {
      return NaN; // no --allow-sys
    }
  }

  #diskFree(now: number): number {
    if (now - this.#diskAt >= DISK_REFRESH_MS) {
      this.#diskAt = now;
      try {
        // Synchronous (one syscall every 10 s): no operation is left pending when the node closes.
        const fs = statfsSync(this.#ctx.dataDir ?? ".");
        this.#disk = fs.bavail * fs.bsize;
      } catch {
        this.#disk = NaN;
      }
    }
    return this.#disk;
  }
}
