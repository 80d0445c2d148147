/**
 * Full-state exchange of SWIM (push-pull): joining through seeds, the catch-up
 * sync after a join, the periodic exchange with a random member, and reconnect
 * attempts to dead members and unreached seeds (healed partitions, restarts).
 *
 * @module
 */
import { type Random, sample } from "../base/random.ts";
import type { Address } from "../net/transport.ts";
import { chunkEntries, MembershipCommand, type StateMessage } from "./membership_codec.ts";
import type { MemberTable } from "./membership_table.ts";
import { pushPullScale, type SwimConfig } from "./swim_config.ts";
import type { SwimStats } from "./swim_stats.ts";
import type { TimerGroup } from "./swim_timers.ts";

/** Why a push-pull is made: joining through a seed, catching up after the join, or routine/reconnect. */
type PushKind = "join" | "sync" | "routine";

/** What the state exchange needs from its {@linkcode Swim}. */
export interface StateSyncOptions {
  /** The member table merged into and sent from. */
  table: MemberTable;
  /** Tunables. */
  config: SwimConfig;
  /** Random source (partner choice). */
  random: Random;
  /** The membership's timers. */
  timers: TimerGroup;
  /** Seeds to join through (self excluded). */
  seeds: readonly Address[];
  /** Counters. */
  stats: SwimStats;
  /** Sends one membership message. */
  send: (to: Address, command: number, header: unknown) => void;
  /** Next sequence number. */
  nextSeq: () => number;
}

/**
 * Push-pull: each side sends its full state (in chunks under maxPacketBytes, each
 * merging on its own) and the receiver answers with its own.
 *
 * @example
 * ```ts ignore
 * const sync = new StateSync({ table, config, random, timers, seeds, stats, send, nextSeq });
 * sync.start(); // join + periodic exchanges
 * ```
 */
export class StateSync {
  #o: StateSyncOptions;
  #pushes = new Map<number, { to: Address; kind: PushKind; answered: boolean }>();
  #joined: boolean;

  /** Creates the exchange; a node without seeds starts the cluster and counts as joined. */
  constructor(options: StateSyncOptions) {
    this.#o = options;
    this.#joined = options.seeds.length === 0;
  }

  /** Whether some push-pull has been answered (or there was nothing to join). */
  get joined(): boolean {
    return this.#joined;
  }

  /** Joins through the seeds and starts the periodic exchanges and reconnects. */
  start(every: (interval: () => number, fn: () => void) => void): void {
    const { config, table } = this.#o;
    this.#join();
    if (config.pushPullIntervalMs > 0) {
      every(() => pushPullScale(config.pushPullIntervalMs, table.liveCount), () => {
        const to = sample(this.#o.random, table.liveOthers(), 1)[0];
        if (to) this.#pushPull(to, "routine");
      });
    }
    every(
      () => this.#joined && table.liveCount > 1 ? config.reconnectIntervalMs : config.joinRetryIntervalMs,
      () => this.#reconnect(),
    );
  }

  /** Forgets pending exchanges. */
  stop(): void {
    this.#pushes.clear();
  }

  /** Handles a pushed state chunk: merge it, and answer chunk 0 with this node's state. */
  onPush(s: StateMessage, from: Address): void {
    this.#o.table.merge(s.entries, from);
    if (s.part === 0) this.#sendState(from, MembershipCommand.PushPullReply, s.seq, false);
  }

  /** Handles an answer chunk: merged only if it answers a pending push to that address. */
  onReply(s: StateMessage, from: Address): void {
    const pending = this.#pushes.get(s.seq);
    if (!pending || pending.to !== from) {
      this.#o.stats.misdirected++; // unsolicited state is not merged
      return;
    }
    if (s.part === 0) this.#o.stats.pushPullReplies++;
    pending.answered = true;
    this.#o.table.merge(s.entries, from);
    if (!this.#joined) {
      this.#joined = true;
      this.#syncSoon();
    }
  }

  #join(): void {
    for (const seed of sample(this.#o.random, this.#o.seeds, this.#o.config.joinFanout)) this.#pushPull(seed, "join");
  }

  /** Push-pull with a dead member or a seed not seen alive: heals partitions and finds restarted nodes. */
  #reconnect(): void {
    const { table, config } = this.#o;
    table.sweep();
    if (!this.#joined) {
      this.#join(); // until some push-pull is answered
      return;
    }
    const candidates = new Set<Address>();
    for (const d of table.deadOthers()) {
      if (table.get(d.address)?.state === "dead") candidates.add(d.address);
    }
    for (const s of this.#o.seeds) {
      const m = table.get(s);
      if (!m || m.state === "dead") candidates.add(s);
    }
    const n = table.liveCount <= 1 ? config.joinFanout : 1;
    for (const to of sample(this.#o.random, [...candidates], n)) this.#pushPull(to, "routine");
  }

  /** One more push-pull with a random member joinSyncDelayMs from now: catches up on simultaneous joins. */
  #syncSoon(delayMs = this.#o.config.joinSyncDelayMs): void {
    if (this.#o.config.joinSyncDelayMs <= 0) return;
    this.#o.timers.after(delayMs, () => {
      const to = sample(this.#o.random, this.#o.table.liveOthers(), 1)[0];
      if (to) this.#pushPull(to, "sync");
    });
  }

  #pushPull(to: Address, kind: PushKind): void {
    this.#o.stats.pushPulls++;
    const seq = this.#o.nextSeq();
    const entry = { to, kind, answered: false };
    this.#pushes.set(seq, entry);
    this.#o.timers.after(this.#o.config.pushPullTimeoutMs, () => {
      this.#pushes.delete(seq);
      if (kind === "sync" && !entry.answered) this.#syncSoon(0); // the catch-up must not be lost
    });
    this.#sendState(to, MembershipCommand.PushPull, seq, kind === "join");
  }

  /** Sends full state in chunks, the entry about `to` first; chunk 0 (which asks for the answer) goes last. */
  #sendState(to: Address, command: number, seq: number, join: boolean): void {
    const chunks = chunkEntries(this.#o.table.entries(to), this.#o.config.maxPacketBytes);
    const n = chunks.length;
    for (const p of [...chunks.keys()].slice(1).concat(0)) {
      const header = command === MembershipCommand.PushPull
        ? { s: seq, j: join ? 1 : 0, p, n, m: chunks[p] }
        : { s: seq, p, n, m: chunks[p] };
      this.#o.send(to, command, header);
    }
  }
}
