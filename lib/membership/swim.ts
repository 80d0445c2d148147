/**
 * SWIM membership with Lifeguard suspicion over the node's UDP port:
 * periodic probes of one member (round-robin, shuffled), indirect probes
 * through k members, suspicion that shrinks with confirmations, refutation by
 * incarnation, rumors piggybacked on every message, gossip rounds, periodic
 * push-pull of the full state, joins through seeds, reconnects to dead members
 * and seeds (healed partitions, restarts) and graceful leave.
 *
 * Every timer runs on the injected clock and every choice uses the injected
 * random source, so simulations are deterministic for a seed. Handlers are
 * synchronous (no promises), so they work under a virtual clock advanced in one go.
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import type { InternalMessage } from "../wire/envelope.ts";
import type { Departure, MemberCounts, MemberView } from "../node/members.ts";
import { type Random, randomInt, sample } from "../base/random.ts";
import type { Address } from "../net/transport.ts";
import {
  decodeMembership,
  encodeUpdate,
  MEMBERSHIP_FIRST,
  MEMBERSHIP_LAST,
  MembershipCommand,
  type MembershipMessage,
  type MemberUpdate,
  type ProbeMessage,
  type WireUpdate,
} from "./membership_codec.ts";
import { type MemberEvent, type MemberInfo, MemberTable } from "./membership_table.ts";
import { BroadcastQueue } from "./swim_broadcasts.ts";
import { retransmitLimit, type SwimConfig } from "./swim_config.ts";
import { newSwimStats, type SwimStats } from "./swim_stats.ts";
import { StateSync } from "./swim_state_sync.ts";
import { TimerGroup } from "./swim_timers.ts";
import { Prober } from "./swim_probe.ts";

/** The part of the node's RPC endpoint membership uses (fire-and-forget datagrams only). */
export interface SwimRpc {
  /** Registers the handler of an internal command. */
  handle(command: number, handler: (m: InternalMessage, from: Address) => undefined): void;
  /** Sends one internal message. */
  cast(to: Address, command: number, header: unknown): void;
}

/** What a {@linkcode Swim} instance needs. */
export interface SwimOptions {
  /** The node's RPC endpoint. */
  rpc: SwimRpc;
  /** This node's address. */
  self: Address;
  /** Time source. */
  clock: Clock;
  /** Random source. */
  random: Random;
  /** Tunables (see `resolveSwimConfig`). */
  config: SwimConfig;
  /** Addresses to join through (self is ignored). */
  seeds?: readonly Address[];
}

/** JSON bytes kept aside for the fields around piggybacked rumors. */
const PROBE_OVERHEAD = 120;

/**
 * One node's SWIM membership; also its {@linkcode MemberView}.
 *
 * @example
 * ```ts ignore
 * const swim = new Swim({ rpc: node.rpc, self: node.address, clock, random, config: LAN_CONFIG, seeds });
 * swim.start();
 * swim.onChange(() => console.log(swim.alive()));
 * swim.leave(); // announce and stop
 * ```
 */
export class Swim implements MemberView {
  /** This node's address. */
  readonly self: Address;
  /** Tunables in effect. */
  readonly config: SwimConfig;
  /** Protocol counters. */
  readonly stats: SwimStats = newSwimStats();
  #rpc: SwimRpc;
  #clock: Clock;
  #random: Random;
  #seeds: Address[];
  #broadcasts = new BroadcastQueue(() => this.#armGossip());
  #table: MemberTable;
  #timers: TimerGroup;
  #sync: StateSync;
  #prober: Prober;
  #seq: number;
  /** Starts gossip rounds when rumors are queued (they run only while some are: an idle node has no gossip timer). */
  #armGossip: () => void = () => {};
  #started = false;
  #stopped = false;

  /** Creates the membership of one node (call {@linkcode Swim.start}). */
  constructor(options: SwimOptions) {
    this.self = options.self;
    this.config = options.config;
    this.#rpc = options.rpc;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#seeds = [...new Set(options.seeds ?? [])].filter((s) => s !== this.self);
    this.#seq = randomInt(this.#random, 2 ** 30);
    this.#timers = new TimerGroup(this.#clock, this.#random);
    this.#table = new MemberTable({
      self: this.self,
      clock: this.#clock,
      random: this.#random,
      config: this.config,
      broadcasts: this.#broadcasts,
      onRefute: () => {
        this.stats.refutes++;
        this.#prober.adjustAwareness(1);
      },
    });
    this.#table.onEvent((e) => {
      if (e.state === "suspect" && e.previous === "alive") this.stats.suspicions++;
      else if (e.state === "dead") this.stats.deaths++;
    });
    this.#sync = new StateSync({
      table: this.#table,
      config: this.config,
      random: this.#random,
      timers: this.#timers,
      seeds: this.#seeds,
      stats: this.stats,
      send: (to, command, header) => this.#send(to, command, header),
      nextSeq: () => this.#nextSeq(),
    });
    this.#prober = new Prober({
      self: this.self,
      table: this.#table,
      config: this.config,
      random: this.#random,
      timers: this.#timers,
      stats: this.stats,
      send: (to, command, header) => this.#send(to, command, header),
      withRumors: (header, first) => this.#withRumors(header, first),
      nextSeq: () => this.#nextSeq(),
    });
  }

  /** Registers handlers, joins through the seeds and starts the periodic work. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (let c = MEMBERSHIP_FIRST; c <= MEMBERSHIP_LAST; c++) {
      this.#rpc.handle(c, (m, from) => this.#receive(m, from));
    }
    this.#every(() => this.#prober.scaled(this.#prober.timing().intervalMs), () => this.#prober.tick());
    this.#armGossip = this.#timers.whilePending(
      this.config.gossipIntervalMs,
      () => this.#broadcasts.size > 0,
      () => this.#gossip(),
      () => this.stats.errors++,
    );
    this.#armGossip();
    this.#sync.start((interval, fn) => this.#every(interval, fn));
  }

  /** Stops every timer and ignores further messages (no announcement: see {@linkcode Swim.leave}). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#timers.stop();
    this.#prober.clear();
    this.#sync.stop();
    this.#table.stop();
  }

  /** Announces a graceful leave to every live member (no suspicion period for them), then stops. */
  leave(): void {
    if (this.#stopped || this.#table.leaving) return;
    const u = this.#table.leave();
    if (this.#started) {
      const header = { u: [encodeUpdate(u)] };
      for (const to of this.#table.liveOthers()) this.#send(to, MembershipCommand.Gossip, header);
    }
    this.stop();
  }

  /** Live members (alive or suspect, as SWIM treats a suspect as a member), self included, sorted. */
  alive(): Address[] {
    return this.#table.alive();
  }

  /** Members known as dead or left, other than self, with how long ago they went. */
  departed(): Departure[] {
    return this.#table.deadOthers().map((d) => ({
      address: d.address,
      state: d.left ? "left" : "dead",
      forMs: d.deadForMs,
    }));
  }

  /** Counts by state: alive (self included), suspect, dead (including members that left). */
  counts(): MemberCounts {
    return this.#table.counts();
  }

  /** Calls `listener` after every change of the live set. */
  onChange(listener: () => void): () => void {
    return this.#table.onChange(listener);
  }

  /** Calls `listener` on every member state change (joins, suspicions, deaths, refutations seen). */
  onEvent(listener: (e: MemberEvent) => void): () => void {
    return this.#table.onEvent(listener);
  }

  /** Every known member with its state and incarnation (dead ones until forgotten), sorted. */
  members(): MemberInfo[] {
    return this.#table.all();
  }

  /** The member at `address` with its state, if known. */
  member(address: Address): MemberInfo | undefined {
    return this.#table.get(address);
  }

  /** This node's incarnation. */
  get incarnation(): number {
    return this.#table.incarnation;
  }

  /**
   * Whether this node has joined: a push-pull it started was answered with the peer's full member
   * list (or it has no seeds, so it starts the cluster). Until then its view may lack members.
   */
  get joined(): boolean {
    return this.#sync.joined;
  }

  /** Local health score (Lifeguard): 0 is healthy; probe timeouts are scaled by score + 1. */
  get awareness(): number {
    return this.#prober.awareness;
  }

  // ---- periodic work ----

  #gossip(): void {
    if (this.#broadcasts.size === 0) return;
    const targets = this.#table.liveOthers();
    for (const d of this.#table.deadOthers()) {
      if (d.deadForMs < this.config.gossipToTheDeadMs) targets.push(d.address);
    }
    for (const to of sample(this.#random, targets, this.config.gossipNodes)) {
      const u = this.#broadcasts.take(this.config.gossipMaxBytes - PROBE_OVERHEAD, this.#retransmits());
      if (u.length === 0) break;
      this.#send(to, MembershipCommand.Gossip, { u });
    }
  }

  // ---- receiving ----

  #receive(m: InternalMessage, from: Address): undefined {
    if (this.#stopped) return;
    this.stats.received++;
    if (m.command > MembershipCommand.Gossip) {
      this.stats.unknown++;
      return;
    }
    const msg = decodeMembership(m.command, m.header);
    if (!msg) {
      this.stats.malformed++;
      return;
    }
    const incarnation = this.#table.incarnation;
    try {
      this.#dispatch(msg, from);
    } catch {
      this.stats.errors++;
    }
    // It made this node refute (the sender holds it suspect, dead or left): the sender hears the refutation at
    // once, not when a rumor that may go to other members first reaches it.
    if (this.#table.incarnation > incarnation) {
      this.#send(from, MembershipCommand.Gossip, {
        u: [this.#selfEntry()],
      });
    }
  }

  #dispatch(msg: MembershipMessage, from: Address): void {
    switch (msg.kind) {
      case "ping":
        return this.#onPing(msg.probe, from);
      case "ack":
        this.#applyAll(msg.probe.updates, from);
        this.#prober.onAck(msg.probe.seq);
        return;
      case "nack":
        this.#prober.onNack(msg.probe.seq);
        return;
      case "ping-req":
        this.#applyAll(msg.probe.updates, from);
        return this.#prober.probeFor(msg.probe, from);
      case "push":
        return this.#sync.onPush(msg.state, from);
      case "reply":
        return this.#sync.onReply(msg.state, from);
      case "gossip":
        this.#applyAll(msg.updates, from);
        return;
    }
  }

  #onPing(p: ProbeMessage, from: Address): void {
    if (p.target !== this.self) {
      this.stats.misdirected++;
      return;
    }
    this.#applyAll(p.updates, from);
    this.#send(from, MembershipCommand.Ack, this.#withRumors({ s: p.seq }, this.#deathNotice(p.updates)));
  }

  /**
   * This node's entry for a member it holds dead or left that `updates` still call alive at no
   * higher incarnation (in a ping, the sender's own entry), sent back first in the ack: a member
   * declared dead while alive (a forged rumor in an unkeyed fleet, a mistaken verdict) hears it at
   * its next probe and refutes, where the rumor itself may have spent its retransmits elsewhere
   * (once, after a fuzz planted dead members, a live node stayed dead at a peer past 30 s).
   */
  #deathNotice(updates: readonly MemberUpdate[]): WireUpdate | undefined {
    for (const u of updates) {
      if (u.state !== "alive" || u.address === this.self) continue;
      const m = this.#table.get(u.address);
      if (m && (m.state === "dead" || m.state === "left") && m.incarnation >= u.incarnation) {
        return encodeUpdate({ address: m.address, state: m.state, incarnation: m.incarnation });
      }
    }
    return undefined;
  }

  #applyAll(updates: readonly MemberUpdate[], from: Address): void {
    for (const u of updates) this.#table.apply(u, from);
  }

  // ---- helpers ----

  /**
   * Adds queued rumors to a probe or ack, after this node's own alive entry (so whoever
   * talks to it directly learns its current incarnation) and an optional first rumor.
   */
  #withRumors<T extends object>(header: T, first?: WireUpdate): T & { u: WireUpdate[] } {
    const me = this.#selfEntry();
    const u = first ? [first, me] : [me];
    const used = u.reduce((n, w) => n + JSON.stringify(w).length + 1, 0);
    u.push(...this.#broadcasts.take(this.config.gossipMaxBytes - PROBE_OVERHEAD - used, this.#retransmits()));
    return { ...header, u };
  }

  /** This node's own entry: alive at its current incarnation. */
  #selfEntry(): WireUpdate {
    return encodeUpdate({ address: this.self, state: "alive", incarnation: this.#table.incarnation });
  }

  #retransmits(): number {
    return retransmitLimit(this.config, this.#table.liveCount);
  }

  #send(to: Address, command: number, header: unknown): void {
    if (this.#stopped) return;
    this.stats.sent++;
    this.#rpc.cast(to, command, header);
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) % Number.MAX_SAFE_INTEGER;
    return this.#seq;
  }

  #every(interval: () => number, fn: () => void): void {
    this.#timers.every(interval, fn, () => this.stats.errors++);
  }
}
