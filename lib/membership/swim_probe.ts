/**
 * SWIM failure detection with Lifeguard local health: the probe of one member per tick (direct
 * ping, then ping-req through k members when the ack is late, suspicion when none came), the
 * probes this node makes for others (ping-req: forward the ack, or a nack in time), and the
 * awareness score that stretches this node's probe timeouts while it looks unhealthy.
 *
 * It draws from the membership's random source in the same order as before it had a file of its
 * own: the membership simulations are seed-sensitive.
 *
 * @module
 */
import type { TimerId } from "../base/clock.ts";
import { type Random, sample } from "../base/random.ts";
import type { Address } from "../net/transport.ts";
import { encodeUpdate, MembershipCommand, type ProbeMessage, type WireUpdate } from "./membership_codec.ts";
import type { MemberTable } from "./membership_table.ts";
import { probeTiming, type SwimConfig } from "./swim_config.ts";
import type { SwimStats } from "./swim_stats.ts";
import type { TimerGroup } from "./swim_timers.ts";

/** Fraction of the probe timeout after which a member probing for another sends its nack. */
const NACK_AT = 0.5;

/** What the prober uses of its membership. */
export interface ProberDeps {
  /** This node's address. */
  self: Address;
  /** The member table (probe order, suspicion). */
  table: MemberTable;
  /** Tunables. */
  config: SwimConfig;
  /** The membership's random source. */
  random: Random;
  /** The membership's timers. */
  timers: TimerGroup;
  /** The membership's counters. */
  stats: SwimStats;
  /** Sends one membership message. */
  send(to: Address, command: number, header: unknown): void;
  /** A probe or ack header with this node's alive entry and queued rumors piggybacked (after `first`). */
  withRumors<T extends object>(header: T, first?: WireUpdate): T & { u: WireUpdate[] };
  /** The next sequence number of a probe. */
  nextSeq(): number;
}

/**
 * Probes members and answers probe requests for one node.
 *
 * @example
 * ```ts ignore
 * const prober = new Prober({ self, table, config, random, timers, stats, send, withRumors, nextSeq });
 * timers.every(() => prober.scaled(config.probeIntervalMs), () => prober.tick(), onError);
 * ```
 */
export class Prober {
  #d: ProberDeps;
  #acks = new Map<number, { ack: () => void; nack: () => void }>();
  #awareness = 0;

  /** A prober over the membership's parts. */
  constructor(deps: ProberDeps) {
    this.#d = deps;
  }

  /** Local health score (Lifeguard): 0 is healthy; probe timeouts are scaled by score + 1. */
  get awareness(): number {
    return this.#awareness;
  }

  /** The probe interval and timeout at the current number of live members ({@linkcode probeTiming}). */
  timing(): { intervalMs: number; timeoutMs: number } {
    return probeTiming(this.#d.config, this.#d.table.liveCount);
  }

  /** `ms` scaled by the local health: awareness + 1 times. */
  scaled(ms: number): number {
    return ms * (this.#awareness + 1);
  }

  /** Raises (positive) or lowers the awareness, within 0 and the configured maximum − 1. */
  adjustAwareness(delta: number): void {
    this.#awareness = Math.min(this.#d.config.awarenessMaxMultiplier - 1, Math.max(0, this.#awareness + delta));
  }

  /** An ack of probe `seq` came. */
  onAck(seq: number): void {
    this.#acks.get(seq)?.ack();
  }

  /** A nack of probe `seq` came (a helper got no ack in time). */
  onNack(seq: number): void {
    this.#acks.get(seq)?.nack();
  }

  /** Forgets the probes in progress (the membership stops). */
  clear(): void {
    this.#acks.clear();
  }

  /**
   * One probe tick: the next member of the round-robin, and, besides it, a member suspected since the
   * last tick (buddy probe). The buddy probe does not take the round-robin's turn: when many members
   * fail at once, those nobody suspects yet are still probed at the full rate.
   */
  tick(): void {
    const buddy = this.#d.table.nextSuspectToProbe();
    if (buddy) this.#probeOne(buddy);
    const target = this.#d.table.nextProbeTarget();
    if (target && target !== buddy) this.#probeOne(target);
  }

  /** Probes `target`: ping, ping-req through k alive members when the ack is late, suspicion when none came. */
  #probeOne(target: Address): void {
    this.#d.stats.probes++;
    const seq = this.#d.nextSeq();
    let settled = false; // by an ack, or by the probe's end
    let nacks = 0;
    let asked = 0;
    const timers: { indirect?: TimerId; end?: TimerId } = {};
    // An ack settles the probe at once and cancels its timers: a healthy idle node wakes once per probe.
    this.#acks.set(seq, {
      ack: () => {
        if (settled) return;
        settled = true;
        this.#acks.delete(seq);
        this.#d.timers.cancel(timers.indirect);
        this.#d.timers.cancel(timers.end);
        this.adjustAwareness(-1);
      },
      nack: () => nacks++,
    });
    // Lifeguard buddy system: tell a suspect that it is suspected, so it refutes at once.
    const m = this.#d.table.get(target);
    const buddy = m?.state === "suspect"
      ? encodeUpdate({ address: target, state: "suspect", incarnation: m.incarnation, from: this.#d.self })
      : undefined;
    this.#d.send(target, MembershipCommand.Ping, this.#d.withRumors({ s: seq, t: target }, buddy));
    const timing = this.timing();
    timers.indirect = this.#d.timers.after(this.scaled(timing.timeoutMs), () => {
      if (settled) return;
      const peers = sample(
        this.#d.random,
        // memberlist: only members in state alive help (a suspect may be dead and send no nack).
        this.#d.table.aliveOthers().filter((a) => a !== target),
        this.#d.config.indirectChecks,
      );
      asked = peers.length;
      for (const p of peers) {
        this.#d.stats.indirectProbes++;
        this.#d.send(p, MembershipCommand.PingReq, this.#d.withRumors({ s: seq, t: target }));
      }
    });
    timers.end = this.#d.timers.after(this.scaled(timing.intervalMs), () => {
      if (settled) return;
      settled = true; // an ack from now on changes nothing
      this.#d.stats.probeFailures++;
      this.#d.table.suspectFromProbe(target);
      if (asked === 0) {
        this.#acks.delete(seq);
        return this.adjustAwareness(1);
      }
      // Lifeguard: missing nacks mean the problem may be here, not at the target. Nacks still on
      // their way count: the helpers' answers are judged a probe timeout later.
      this.#d.timers.after(timing.timeoutMs, () => {
        this.#acks.delete(seq);
        this.adjustAwareness(asked - nacks);
      });
    });
  }

  /** Probes `target` for `from`; forwards the ack, or a nack when none came in time. */
  probeFor(p: ProbeMessage, from: Address): void {
    const target = p.target!;
    const seq = this.#d.nextSeq();
    let done = false;
    this.#acks.set(seq, {
      ack: () => {
        if (done) return;
        done = true;
        this.#d.send(from, MembershipCommand.Ack, this.#d.withRumors({ s: p.seq }));
      },
      nack: () => {},
    });
    this.#d.send(target, MembershipCommand.Ping, this.#d.withRumors({ s: seq, t: target }));
    // The nack goes at half the probe timeout, so it normally reaches the prober before its probe ends
    // (the prober counts nacks up to a probe timeout after that; later ones count as missing and raise
    // its awareness for nothing); an ack still forwards until the full timeout.
    const timeoutMs = this.timing().timeoutMs;
    this.#d.timers.after(Math.floor(timeoutMs * NACK_AT), () => {
      if (!done) this.#d.send(from, MembershipCommand.Nack, { s: p.seq });
    });
    this.#d.timers.after(timeoutMs, () => {
      this.#acks.delete(seq);
      done = true;
    });
  }
}
