/**
 * Node side of a monitoring round: rumor mongering. On the first receipt of a
 * round id a node reports (through a callback) and becomes "hot": it pushes
 * the round to `fanout` random members at once, then again every
 * `stepIntervalMs`, and after each push loses interest with probability
 * `stopProbability` (Demers et al., blind coin). Duplicates are ignored. The
 * set of seen round ids is bounded.
 *
 * @module
 */
import type { Clock, TimerId } from "../../base/clock.ts";
import type { MemberView } from "../../node/members.ts";
import { type Random, sample } from "../../base/random.ts";
import type { Address } from "../../net/transport.ts";
import type { RoundHeader } from "../round_message.ts";

/** Tunables of round spreading, with named defaults. */
export interface RoundGossipConfig {
  /** Members pushed to per step. */
  fanout: number;
  /** Probability of stopping after each push step (mean steps = 1 / p). */
  stopProbability: number;
  /** Time between push steps of a hot node (ms). */
  stepIntervalMs: number;
  /** Hard cap on push steps per round. */
  maxSteps: number;
  /** Round ids remembered to recognise duplicates. */
  seenRounds: number;
}

/**
 * Defaults: fan-out 3, stop probability 0.25, so a node pushes to 12 members per round
 * on average; the fraction never reached is about e^-12 (see docs/monitoring.md).
 */
export const DEFAULT_ROUND_GOSSIP_CONFIG: RoundGossipConfig = {
  fanout: 3,
  stopProbability: 0.25,
  stepIntervalMs: 100,
  maxSteps: 40,
  seenRounds: 256,
};

/** What happened, for tests and simulations. */
export type RoundEvent =
  | { type: "received"; round: string; hops: number; first: boolean; at: number; node: Address }
  | { type: "pushed"; round: string; to: number; node: Address };

/** What {@linkcode RoundGossip} needs. */
export interface RoundGossipDeps {
  /** This node's view of the members. */
  members: MemberView;
  /** Time and timers. */
  clock: Clock;
  /** Random source. */
  random: Random;
  /** Sends a round header to a member. */
  send(to: Address, header: RoundHeader): void;
  /** Checks authenticity (MAC); absent = trust. */
  verify?: (header: RoundHeader) => boolean | Promise<boolean>;
  /** Called once per round id, on first (authentic) receipt. */
  onFirstReceipt(header: RoundHeader, from: Address): void;
  /** Optional observer of receipts and pushes. */
  observer?: (event: RoundEvent) => void;
}

/**
 * Rumor-mongering spreader of round messages.
 *
 * @example
 * ```ts ignore
 * const g = new RoundGossip(DEFAULT_ROUND_GOSSIP_CONFIG, { members, clock, random, send, onFirstReceipt });
 * g.receive(header, from);
 * g.close();
 * ```
 */
export class RoundGossip {
  /** Tunables in force. */
  readonly config: RoundGossipConfig;
  #deps: RoundGossipDeps;
  #seen = new Map<string, number>();
  #verifying = new Set<string>();
  #timers = new Set<TimerId>();
  #closed = false;
  /** Counters: rounds first seen, duplicates, rejected (bad MAC), messages pushed. */
  readonly stats = { rounds: 0, duplicates: 0, rejected: 0, pushed: 0 };

  /** Creates a spreader; `config` overrides defaults field by field. */
  constructor(config: Partial<RoundGossipConfig>, deps: RoundGossipDeps) {
    this.config = { ...DEFAULT_ROUND_GOSSIP_CONFIG, ...config };
    if (!(this.config.fanout >= 1)) throw new RangeError("fanout must be at least 1");
    if (!(this.config.stopProbability > 0 && this.config.stopProbability <= 1)) {
      throw new RangeError("stopProbability must be in (0, 1]");
    }
    this.#deps = deps;
  }

  /** Whether `round` was received before. */
  hasSeen(round: string): boolean {
    return this.#seen.has(round);
  }

  /** Handles a round header from `from`. Never throws. */
  receive(header: RoundHeader, from: Address): void {
    if (this.#closed) return;
    const self = this.#deps.members.self;
    if (this.#seen.has(header.r) || this.#verifying.has(header.r)) {
      this.stats.duplicates++;
      this.#deps.observer?.({
        type: "received",
        round: header.r,
        hops: header.h,
        first: false,
        at: this.#deps.clock.now(),
        node: self,
      });
      return;
    }
    const ok = this.#deps.verify ? this.#deps.verify(header) : true;
    if (ok instanceof Promise) {
      this.#verifying.add(header.r);
      ok.then((v) => {
        this.#verifying.delete(header.r);
        this.#accept(header, from, v);
      }, () => {
        this.#verifying.delete(header.r);
        this.#accept(header, from, false);
      });
    } else this.#accept(header, from, ok);
  }

  #accept(header: RoundHeader, from: Address, authentic: boolean): void {
    if (this.#closed) return;
    if (!authentic) {
      this.stats.rejected++;
      return;
    }
    if (this.#seen.has(header.r)) {
      this.stats.duplicates++;
      return;
    }
    this.#seen.set(header.r, this.#deps.clock.now());
    while (this.#seen.size > this.config.seenRounds) this.#seen.delete(this.#seen.keys().next().value!);
    this.stats.rounds++;
    this.#deps.observer?.({
      type: "received",
      round: header.r,
      hops: header.h,
      first: true,
      at: this.#deps.clock.now(),
      node: this.#deps.members.self,
    });
    try {
      this.#deps.onFirstReceipt(header, from);
    } catch { /* reporting problems never stop the spreading */ }
    this.#push({ ...header, h: header.h + 1 }, from, 1);
  }

  #push(header: RoundHeader, exclude: Address | undefined, step: number): void {
    if (this.#closed) return;
    const self = this.#deps.members.self;
    const candidates = this.#deps.members.alive().filter((a) => a !== self && a !== exclude);
    const targets = sample(this.#deps.random, candidates, this.config.fanout);
    for (const to of targets) this.#deps.send(to, header);
    this.stats.pushed += targets.length;
    this.#deps.observer?.({ type: "pushed", round: header.r, to: targets.length, node: self });
    if (targets.length === 0 || step >= this.config.maxSteps) return;
    if (this.#deps.random() < this.config.stopProbability) return;
    const timer = this.#deps.clock.setTimeout(() => {
      this.#timers.delete(timer);
      this.#push(header, undefined, step + 1);
    }, this.config.stepIntervalMs);
    this.#timers.add(timer);
  }

  /** Stops every pending push. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) this.#deps.clock.clearTimeout(t);
    this.#timers.clear();
  }
}
