/**
 * Collecting a node's stats as an open map (see lib/monitoring/report.ts):
 * store, request rates by command, errors, reply cache, members, and the
 * host (load, memory, disk free of the data dir). Other subsystems add their
 * own stats to the node's {@linkcode StatsSources}; the monitor shows them unchanged.
 *
 * @module
 */
import { statfs } from "node:fs/promises";
import { KVSTORE_VERSION, programInfo } from "../../base/program.ts";
import type { NodeContext } from "../../node/context.ts";
import type { MemberView } from "../../node/members.ts";
import { putStat, type StatMap } from "../report.ts";
import { REJECT_REASONS } from "../../wire/frame.ts";

export { KVSTORE_VERSION };

/** A subsystem's extra stats, called at every report. */
export type StatsSource = () => StatMap | Promise<StatMap>;

/**
 * The extra stats of one node (cluster, admin, embedders …): every report includes them.
 *
 * @example
 * ```ts
 * const sources = new StatsSources();
 * const remove = sources.add(() => ({ gossip_rounds: { value: 3 } }));
 * console.log(sources.list().length); // 1
 * remove();
 * console.log(sources.list().length); // 0
 * ```
 */
export class StatsSources {
  #list: StatsSource[] = [];

  /** Adds `source`; returns a function that removes it. */
  add(source: StatsSource): () => void {
    this.#list.push(source);
    return () => {
      const i = this.#list.indexOf(source);
      if (i >= 0) this.#list.splice(i, 1);
    };
  }

  /** The sources, in the order they were added. */
  list(): readonly StatsSource[] {
    return this.#list;
  }
}

/** Reply codes counted as errors, by stat name. */
const ERROR_NAMES: Record<string, string> = {
  "02": "out_of_space",
  "03": "overload",
  "04": "internal_failure",
  "05": "unrecognized_command",
  "06": "invalid_key",
  "07": "invalid_value_length",
};

/** Options of {@linkcode StatsCollector}. */
export interface StatsCollectorOptions {
  /** Read host stats (load, memory, disk); off in large simulations. Default true. */
  system?: boolean;
  /** Extra stats of other subsystems, added to every collection. */
  sources?: StatsSources;
}

/**
 * Builds the stats map of one node; request rates are per second since the previous call.
 *
 * @example
 * ```ts ignore
 * const collector = new StatsCollector(ctx, members);
 * const stats = await collector.collect();
 * console.log(stats.keys.value);
 * ```
 */
export class StatsCollector {
  #ctx: NodeContext;
  #members: MemberView;
  #system: boolean;
  #sources: StatsSources | undefined;
  #last: { at: number; requests: Record<string, number> };

  /** Creates a collector for the node in `ctx`. */
  constructor(ctx: NodeContext, members: MemberView, options: StatsCollectorOptions = {}) {
    this.#ctx = ctx;
    this.#members = members;
    this.#system = options.system ?? true;
    this.#sources = options.sources;
    this.#last = { at: ctx.node.startedAt, requests: {} };
  }

  /** Collects every stat; never throws (a failing source is reported as a string stat). */
  async collect(extra: StatMap = {}): Promise<StatMap> {
    const { node, store, clock } = this.#ctx;
    const now = clock.now();
    const s: StatMap = {};
    putStat(s, "uptime", Math.round((now - node.startedAt) / 1000), "s");
    putStat(s, "version", KVSTORE_VERSION);
    const build = programInfo().build;
    if (build) putStat(s, "build", build);
    putStat(s, "keys", store.liveKeys);
    putStat(s, "bytes_stored", store.bytes, "bytes");
    putStat(s, "capacity", store.capacity, "bytes");
    putStat(s, "capacity_used", round2((100 * store.bytes) / Math.max(1, store.capacity)), "%");
    this.#rates(s, now);
    let errors = 0;
    for (const [code, name] of Object.entries(ERROR_NAMES)) {
      const n = node.counters.replies[code] ?? 0;
      errors += n;
      putStat(s, `errors.${name}`, n);
    }
    putStat(s, "errors", errors);
    putStat(s, "overloaded", node.counters.overloaded);
    putStat(s, "refused_destructive", node.counters.refusedDestructive);
    putStat(s, "id_reuse", node.counters.idReuse);
    putStat(s, "dropped", node.counters.dropped);
    putStat(s, "replayed", node.counters.replayed);
    putStat(s, "in_flight", node.inFlight);
    putStat(s, "reply_cache_entries", node.replyCache.size);
    putStat(s, "reply_cache_bytes", node.replyCache.bytes, "bytes");
    const wire = node.rpc.stats;
    putStat(s, "rpc_malformed", wire.malformed);
    putStat(s, "rpc_timeouts", wire.timeouts);
    putStat(s, "wire_auth", node.rpc.authenticated ? "on" : "OFF (insecure)");
    let rejected = 0;
    for (const reason of REJECT_REASONS) {
      rejected += wire.rejected[reason];
      putStat(s, `wire_rejected_${reason.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())}`, wire.rejected[reason]);
    }
    // Internal frames at the client port of a node with an internal port are rejected unread too.
    putStat(s, "wire_rejected", rejected + node.counters.internalOnClientPort);
    putStat(s, "wire_clock_skew", wire.rejected.stale > 0 ? Math.round(wire.lastClockSkewMs) : 0, "ms");
    putStat(s, "wire_internal_on_client_port", node.counters.internalOnClientPort);
    if (node.internalTransport) putStat(s, "internal_address", node.internalTransport.address);
    putStat(s, "wire_frames_sent", wire.framesSent);
    putStat(s, "wire_messages_sent", wire.messagesSent);
    const counts = this.#members.counts();
    putStat(s, "members_alive", counts.alive);
    putStat(s, "members_suspect", counts.suspect);
    putStat(s, "members_dead", counts.dead);
    if (this.#system) await this.#host(s);
    for (const source of this.#sources?.list() ?? []) {
      try {
        Object.assign(s, await source());
      } catch (e) {
        putStat(s, "stats_source_error", (e as Error).message ?? String(e));
      }
    }
    return Object.assign(s, extra);
  }

  #rates(s: StatMap, now: number): void {
    const seconds = Math.max(0.001, (now - this.#last.at) / 1000);
    const current = { ...this.#ctx.node.counters.requests };
    let total = 0;
    for (const name of ["put", "get", "remove"]) {
      const delta = (current[name] ?? 0) - (this.#last.requests[name] ?? 0);
      total += delta;
      putStat(s, `rps.${name}`, round2(delta / seconds), "req/s");
    }
    let other = 0;
    for (const [name, n] of Object.entries(current)) {
      if (name !== "put" && name !== "get" && name !== "remove") other += n - (this.#last.requests[name] ?? 0);
    }
    putStat(s, "rps.other", round2(other / seconds), "req/s");
    putStat(s, "rps", round2((total + other) / seconds), "req/s");
    this.#last = { at: now, requests: current };
  }

  async #host(s: StatMap): Promise<void> {
    try {
      const [l1, l5, l15] = Deno.loadavg();
      putStat(s, "load_1m", round2(l1));
      putStat(s, "load_5m", round2(l5));
      putStat(s, "load_15m", round2(l15));
    } catch {
      putStat(s, "load", "unavailable (needs --allow-sys)");
    }
    const mem = Deno.memoryUsage();
    putStat(s, "rss", mem.rss, "bytes");
    putStat(s, "heap_used", mem.heapUsed, "bytes");
    putStat(s, "heap_total", mem.heapTotal, "bytes");
    try {
      const sys = Deno.systemMemoryInfo();
      putStat(s, "mem_total", sys.total, "bytes");
      putStat(s, "mem_available", sys.available, "bytes");
    } catch { /* no --allow-sys: skip */ }
    const path = this.#ctx.dataDir ?? ".";
    try {
      const fs = await statfs(path);
      putStat(s, "disk_free", fs.bavail * fs.bsize, "bytes");
      putStat(s, "disk_total", fs.blocks * fs.bsize, "bytes");
    } catch (e) {
      putStat(s, "disk_free", `unavailable: ${(e as Error).name}`);
    }
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
