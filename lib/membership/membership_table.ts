/**
 * The member table of SWIM: states, incarnations and the rules that decide
 * which rumor wins (memberlist's aliveNode / suspectNode / deadNode), Lifeguard
 * suspicion timers, refutation, the round-robin probe order, and change events.
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import type { MemberCounts } from "../node/members.ts";
import { type Random, randomInt } from "../base/random.ts";
import type { Address } from "../net/transport.ts";
import type { MemberState, MemberUpdate } from "./membership_codec.ts";
import type { BroadcastQueue } from "./swim_broadcasts.ts";
import { suspicionBounds, type SwimConfig } from "./swim_config.ts";
import { Suspicion } from "./swim_suspicion.ts";

/** One member as this node sees it. */
export interface MemberInfo {
  /** Its address (its identity). */
  address: Address;
  /** Its state. */
  state: MemberState;
  /** Its incarnation. */
  incarnation: number;
  /** When it entered this state (clock ms). */
  since: number;
}

/** A state change of one member. */
export interface MemberEvent {
  /** The member. */
  address: Address;
  /** Its new state. */
  state: MemberState;
  /** Its previous state ("none" when it was unknown). */
  previous: MemberState | "none";
  /** Its incarnation now. */
  incarnation: number;
  /** When (clock ms). */
  at: number;
}

interface Member extends MemberInfo {
  suspicion?: Suspicion;
}

/** What the table needs from its node. */
export interface MemberTableOptions {
  /** This node's address. */
  self: Address;
  /** Time source (suspicion timers). */
  clock: Clock;
  /** Random source (probe order). */
  random: Random;
  /** Tunables. */
  config: SwimConfig;
  /** Where accepted news is queued for gossip. */
  broadcasts: BroadcastQueue;
  /** Called when this node refutes a suspicion about itself (local health signal). */
  onRefute?: () => void;
}

const isLive = (s: MemberState | undefined) => s === "alive" || s === "suspect";

/**
 * Member states and the rules for merging news about them.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "../base/clock.ts";
 * import { LAN_CONFIG } from "./swim_config.ts";
 * import { BroadcastQueue } from "./swim_broadcasts.ts";
 * const t = new MemberTable({
 *   self: "10.0.0.1:4000", clock: new VirtualClock(), random: Math.random,
 *   config: LAN_CONFIG, broadcasts: new BroadcastQueue(),
 * });
 * t.apply({ address: "10.0.0.2:4000", state: "alive", incarnation: 0 }, "10.0.0.2:4000");
 * console.log(t.alive()); // ["10.0.0.1:4000", "10.0.0.2:4000"]
 * ```
 */
export class MemberTable {
  /** This node's address. */
  readonly self: Address;
  #clock: Clock;
  #random: Random;
  #config: SwimConfig;
  #broadcasts: BroadcastQueue;
  #onRefute: () => void;
  #members = new Map<Address, Member>();
  #liveCount = 1;
  #aliveCache: Address[] | null = null;
  #probeOrder: Address[] = [];
  #probeIndex = 0;
  #suspectsToProbe: Address[] = [];
  #changeListeners = new Set<() => void>();
  #eventListeners = new Set<(e: MemberEvent) => void>();
  #leaving = false;
  #stopped = false;

  /** Creates a table holding only this node, alive at incarnation 0. */
  constructor(options: MemberTableOptions) {
    this.self = options.self;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#config = options.config;
    this.#broadcasts = options.broadcasts;
    this.#onRefute = options.onRefute ?? (() => {});
    this.#members.set(this.self, { address: this.self, state: "alive", incarnation: 0, since: this.#clock.now() });
  }

  /** This node's incarnation. */
  get incarnation(): number {
    return this.#members.get(this.self)!.incarnation;
  }

  /** Whether this node has left (or is leaving) the cluster. */
  get leaving(): boolean {
    return this.#leaving;
  }

  /** Members alive or suspect, self included (the scale for timeouts and retransmits). */
  get liveCount(): number {
    return this.#liveCount;
  }

  /** The current record of `address`. */
  get(address: Address): MemberInfo | undefined {
    const m = this.#members.get(address);
    return m && { address: m.address, state: m.state, incarnation: m.incarnation, since: m.since };
  }

  /** Every known member (dead and left ones until forgotten), sorted by address. */
  all(): MemberInfo[] {
    return [...this.#members.values()]
      .map((m) => ({ address: m.address, state: m.state, incarnation: m.incarnation, since: m.since }))
      .sort((a, b) => a.address < b.address ? -1 : a.address > b.address ? 1 : 0);
  }

  /** Live members (alive or suspect: SWIM treats a suspect as a member), self included, sorted. */
  alive(): Address[] {
    if (!this.#aliveCache) {
      this.#aliveCache = [...this.#members.values()].filter((m) => isLive(m.state)).map((m) => m.address).sort();
    }
    return this.#aliveCache.slice();
  }

  /** Counts by state (`dead` includes members that left). */
  counts(): MemberCounts {
    const c = { alive: 0, suspect: 0, dead: 0 };
    for (const m of this.#members.values()) {
      if (m.state === "alive") c.alive++;
      else if (m.state === "suspect") c.suspect++;
      else c.dead++;
    }
    return c;
  }

  /** Live members other than self. */
  liveOthers(): Address[] {
    const out: Address[] = [];
    for (const m of this.#members.values()) if (m.address !== this.self && isLive(m.state)) out.push(m.address);
    return out;
  }

  /** Dead or left members other than self, with how long ago they died. */
  deadOthers(): { address: Address; deadForMs: number; left: boolean }[] {
    const now = this.#clock.now();
    const out: { address: Address; deadForMs: number; left: boolean }[] = [];
    for (const m of this.#members.values()) {
      if (!isLive(m.state) && m.address !== this.self) {
        out.push({ address: m.address, deadForMs: now - m.since, left: m.state === "left" });
      }
    }
    return out;
  }

  /** Full state as entries (for push-pull); the entry about `first`, if known, comes first. */
  entries(first?: Address): MemberUpdate[] {
    const out: MemberUpdate[] = [];
    const head = first !== undefined ? this.#members.get(first) : undefined;
    if (head) out.push({ address: head.address, state: head.state, incarnation: head.incarnation });
    for (const m of this.#members.values()) {
      if (m !== head) out.push({ address: m.address, state: m.state, incarnation: m.incarnation });
    }
    return out;
  }

  /** Members in state alive (not suspect) other than self: the ones asked to probe indirectly. */
  aliveOthers(): Address[] {
    const out: Address[] = [];
    for (const m of this.#members.values()) if (m.address !== this.self && m.state === "alive") out.push(m.address);
    return out;
  }

  /**
   * A member suspected since the last probe that this node should probe once more (buddy probe:
   * the suspect hears of it and refutes, or this node confirms), unless its suspicion is already
   * confirmed by as many members as it expects.
   */
  nextSuspectToProbe(): Address | undefined {
    while (this.#suspectsToProbe.length > 0) {
      const a = this.#suspectsToProbe.shift()!;
      const m = this.#members.get(a);
      if (m?.state === "suspect" && !(m.suspicion && m.suspicion.confirmations >= m.suspicion.expected)) return a;
    }
    return undefined;
  }

  /** Next member to probe in a shuffled round-robin over live members (memberlist order). */
  nextProbeTarget(): Address | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.#probeIndex < this.#probeOrder.length) {
        const a = this.#probeOrder[this.#probeIndex++];
        if (a !== this.self && isLive(this.#members.get(a)?.state)) return a;
      }
      this.#probeOrder = this.liveOthers();
      for (let i = this.#probeOrder.length - 1; i > 0; i--) {
        const j = randomInt(this.#random, i + 1);
        [this.#probeOrder[i], this.#probeOrder[j]] = [this.#probeOrder[j], this.#probeOrder[i]];
      }
      this.#probeIndex = 0;
    }
    return undefined;
  }

  /**
   * Applies one rumor heard from `sender`. Returns whether it changed anything
   * (then it has been queued for gossip).
   */
  apply(u: MemberUpdate, sender: Address): boolean {
    if (this.#stopped) return false;
    switch (u.state) {
      case "alive":
        return this.#alive(u.address, u.incarnation);
      case "suspect":
        return this.#suspect(u.address, u.incarnation, u.from ?? sender);
      default:
        return this.#dead(u.address, u.incarnation, u.state === "left", u.from ?? sender);
    }
  }

  /**
   * Merges full state pushed by `sender` (memberlist mergeState): a member the
   * sender believes dead is only suspected here, so a live one can still refute.
   */
  merge(entries: readonly MemberUpdate[], sender: Address): void {
    for (const e of entries) {
      if (e.state === "alive" || e.state === "left") this.apply(e, sender);
      else if (this.#members.has(e.address)) this.#suspect(e.address, e.incarnation, sender);
      else if (e.state === "suspect") this.#alive(e.address, e.incarnation);
    }
  }

  /** Suspects `address` after a failed probe by this node (or confirms the suspicion others raised). */
  suspectFromProbe(address: Address): void {
    const m = this.#members.get(address);
    if (m && isLive(m.state)) this.#suspect(address, m.incarnation, this.self);
  }

  /** Marks this node as leaving; returns the rumor announcing it. */
  leave(): MemberUpdate {
    const me = this.#members.get(this.self)!;
    this.#leaving = true;
    this.#set(me, "left", me.incarnation);
    const u: MemberUpdate = { address: this.self, state: "left", incarnation: me.incarnation, from: this.self };
    this.#broadcasts.enqueue(u);
    return u;
  }

  /** Forgets dead members older than `reconnectTimeoutMs`; returns how many. */
  sweep(): number {
    const now = this.#clock.now();
    let n = 0;
    for (const m of [...this.#members.values()]) {
      if (m.address !== this.self && !isLive(m.state) && now - m.since >= this.#config.reconnectTimeoutMs) {
        this.#members.delete(m.address);
        n++;
      }
    }
    return n;
  }

  /** Calls `listener` after every change of the live set; returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Calls `listener` on every state change of any member; returns an unsubscribe function. */
  onEvent(listener: (e: MemberEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Cancels every suspicion timer; later rumors are ignored. */
  stop(): void {
    this.#stopped = true;
    for (const m of this.#members.values()) m.suspicion?.cancel();
  }

  #alive(address: Address, incarnation: number): boolean {
    if (address === this.self) {
      if (incarnation > this.incarnation && !this.#leaving) this.#refute(incarnation);
      return false;
    }
    const m = this.#members.get(address);
    if (!m) {
      const now = this.#clock.now();
      const fresh: Member = { address, state: "alive", incarnation, since: now };
      this.#members.set(address, fresh);
      this.#liveCount++;
      // Probe a newcomer within the current round (memberlist inserts at a random offset).
      const at = this.#probeIndex + randomInt(this.#random, this.#probeOrder.length - this.#probeIndex + 1);
      this.#probeOrder.splice(at, 0, address);
      this.#broadcasts.enqueue({ address, state: "alive", incarnation });
      this.#emit(fresh, "none", true);
      return true;
    }
    const reclaim = !isLive(m.state) && this.#config.deadReclaimMs > 0 &&
      this.#clock.now() - m.since >= this.#config.deadReclaimMs;
    if (incarnation <= m.incarnation && !reclaim) return false;
    this.#set(m, "alive", incarnation);
    this.#broadcasts.enqueue({ address, state: "alive", incarnation });
    return true;
  }

  #suspect(address: Address, incarnation: number, from: Address): boolean {
    const m = this.#members.get(address);
    if (!m || incarnation < m.incarnation) return false;
    if (address === this.self) {
      if (!this.#leaving) this.#refute(incarnation);
      return false;
    }
    if (!isLive(m.state)) return false;
    if (m.state === "suspect" && incarnation === m.incarnation) {
      if (!m.suspicion?.confirm(from)) return false;
      this.#broadcasts.enqueue({ address, state: "suspect", incarnation, from });
      return true;
    }
    this.#set(m, "suspect", incarnation);
    const n = this.#liveCount;
    const expected = Math.max(0, Math.min(this.#config.suspicionMult - 2, n - 2));
    const [min, max] = suspicionBounds(this.#config, n);
    m.suspicion = new Suspicion(this.#clock, from, expected, min, max, () => {
      const cur = this.#members.get(address);
      if (cur === m && m.state === "suspect" && m.incarnation === incarnation) {
        this.#dead(address, incarnation, false, this.self);
      }
    });
    if (this.#suspectsToProbe.length < 64) this.#suspectsToProbe.push(address);
    this.#broadcasts.enqueue({ address, state: "suspect", incarnation, from });
    return true;
  }

  #dead(address: Address, incarnation: number, left: boolean, from: Address): boolean {
    const m = this.#members.get(address);
    if (!m || incarnation < m.incarnation) return false;
    if (address === this.self) {
      if (!this.#leaving) this.#refute(incarnation);
      return false;
    }
    if (!isLive(m.state)) return false;
    this.#set(m, left ? "left" : "dead", incarnation);
    this.#broadcasts.enqueue({ address, state: left ? "left" : "dead", incarnation, from });
    return true;
  }

  #refute(incarnation: number): void {
    const me = this.#members.get(this.self)!;
    me.incarnation = Math.max(incarnation, me.incarnation) + 1;
    this.#broadcasts.enqueue({ address: this.self, state: "alive", incarnation: me.incarnation });
    this.#onRefute();
  }

  #set(m: Member, state: MemberState, incarnation: number): void {
    const previous = m.state;
    m.incarnation = incarnation;
    if (state !== "suspect") {
      m.suspicion?.cancel();
      m.suspicion = undefined;
    } else m.suspicion?.cancel();
    if (previous === state) return;
    m.state = state;
    m.since = this.#clock.now();
    const changed = isLive(previous) !== isLive(state);
    if (changed) this.#liveCount += isLive(state) ? 1 : -1;
    this.#emit(m, previous, changed);
  }

  #emit(m: Member, previous: MemberState | "none", liveSetChanged: boolean): void {
    const e: MemberEvent = { address: m.address, state: m.state, previous, incarnation: m.incarnation, at: m.since };
    for (const l of this.#eventListeners) {
      try {
        l(e);
      } catch { /* a listener's failure must not break membership */ }
    }
    if (!liveSetChanged) return;
    this.#aliveCache = null;
    for (const l of this.#changeListeners) {
      try {
        l();
      } catch { /* idem */ }
    }
  }
}
