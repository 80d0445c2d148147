/**
 * Spreading admin commands: rumor mongering (a new command is "hot" and is
 * pushed to `fanout` random members every tick until enough of them answer
 * that they already had it) with a push-pull backstop (every so often a node
 * swaps the ids it knows with one random member and each side fetches what it
 * lacks), so nodes that missed every rumor still catch up.
 *
 * @module
 */
import type { Clock, TimerId } from "../base/clock.ts";
import type { MemberView } from "../node/members.ts";
import { sample } from "../base/random.ts";
import type { Random } from "../base/random.ts";
import type { Rpc } from "../wire/rpc.ts";
import type { Address } from "../net/transport.ts";
import type { SignedCommand } from "./command.ts";
import type { AdminConfig } from "./config.ts";
import { AdminCommand, parseAdminHeader } from "./protocol.ts";

/** Outcome of offering a command to the node. */
export type Receipt = "new" | "known" | "rejected";

/** What the gossip needs from the admin service. */
export interface GossipDeps {
  /** Internal RPC endpoint. */
  rpc: Rpc;
  /** Current members. */
  members: MemberView;
  /** Time source. */
  clock: Clock;
  /** Random source. */
  random: Random;
  /** Tunables. */
  config: AdminConfig;
  /** Ids of the unexpired commands the node holds (asked once per push-pull round, peer or not). */
  ids(): string[];
  /** A held command by id. */
  get(id: string): SignedCommand | undefined;
  /** Chunk-source hints to pass along with a rumor. */
  hints(id: string): Address[];
  /** Offers a received command (verifies it; spreads it if new). */
  receive(raw: unknown, from: Address, hints: Address[]): Promise<Receipt>;
}

/** Counters of the gossip. */
export interface GossipStats {
  /** Rumor messages sent. */
  rumorsSent: number;
  /** Push-pull exchanges started. */
  pushPulls: number;
  /** Commands obtained through push-pull (missed by rumors). */
  pulled: number;
}

/**
 * Rumor mongering plus push-pull for admin commands.
 *
 * @example
 * ```ts ignore
 * const gossip = new CommandGossip(deps);
 * gossip.start();
 * gossip.spread(id); // after accepting a new command
 * ```
 */
export class CommandGossip {
  /** Counters. */
  readonly stats: GossipStats = { rumorsSent: 0, pushPulls: 0, pulled: 0 };
  #d: GossipDeps;
  #hot = new Map<string, { known: number; ticks: number }>();
  #tickTimer: TimerId | undefined;
  #pushPullTimer: TimerId | undefined;
  #closed = false;

  /** Creates the gossip and registers its handlers on `deps.rpc`. */
  constructor(deps: GossipDeps) {
    this.#d = deps;
    const { rpc } = deps;
    rpc.handle(AdminCommand.Rumor, async (m, from) => {
      const hints = parseAdminHeader("hints", m.header)?.src ?? [];
      const r = await this.#d.receive(m.header, from, hints);
      return { header: { known: r !== "new" } };
    });
    rpc.handle(AdminCommand.Digest, (m) => {
      if (!parseAdminHeader("digest", m.header)) return undefined;
      return { header: { ids: this.#d.ids() } };
    });
    rpc.handle(AdminCommand.Fetch, (m) => {
      const id = parseAdminHeader("id", m.header)?.id;
      const c = id ? this.#d.get(id) : undefined;
      return { header: c ?? { missing: true } };
    });
  }

  /** Starts the push-pull rounds (rumor ticks start with the first rumor). */
  start(): void {
    this.#schedulePushPull();
  }

  /** Makes `id` a hot rumor (pushed at the next ticks); also pushes it once at once. */
  spread(id: string): void {
    if (this.#closed) return;
    this.#hot.set(id, { known: 0, ticks: 0 });
    this.#push(id);
    this.#scheduleTick();
  }

  /** Ticks run only while some rumor is hot. */
  #scheduleTick(): void {
    if (this.#tickTimer !== undefined || this.#closed) return;
    this.#tickTimer = this.#d.clock.setTimeout(() => {
      this.#tickTimer = undefined;
      if (this.#closed) return;
      this.#tick();
      if (this.#hot.size > 0) this.#scheduleTick();
    }, this.#d.config.gossipIntervalMs);
  }

  /** Number of rumors still hot. */
  get hot(): number {
    return this.#hot.size;
  }

  /** Stops the timers. */
  close(): void {
    this.#closed = true;
    if (this.#tickTimer !== undefined) this.#d.clock.clearTimeout(this.#tickTimer);
    if (this.#pushPullTimer !== undefined) this.#d.clock.clearTimeout(this.#pushPullTimer);
    this.#hot.clear();
  }

  #peers(k: number): Address[] {
    const self = this.#d.members.self;
    return sample(this.#d.random, this.#d.members.alive().filter((a) => a !== self), k);
  }

  #tick(): void {
    for (const [id, state] of this.#hot) {
      if (!this.#d.get(id) || ++state.ticks > this.#d.config.rumorMaxTicks) {
        this.#hot.delete(id);
        continue;
      }
      this.#push(id);
    }
  }

  #push(id: string): void {
    const c = this.#d.get(id);
    if (!c) return;
    const header = { ...c, src: this.#d.hints(id) };
    for (const peer of this.#peers(this.#d.config.fanout)) {
      this.stats.rumorsSent++;
      this.#d.rpc.call(peer, AdminCommand.Rumor, header, undefined, {
        timeoutMs: this.#d.config.rpcTimeoutMs,
        retries: 0,
      }).then((reply) => {
        const state = this.#hot.get(id);
        if (state && parseAdminHeader("known", reply.header)?.known === true) {
          if (++state.known >= this.#d.config.rumorStopAfterKnown) this.#hot.delete(id);
        }
      }, () => {});
    }
  }

  #schedulePushPull(): void {
    if (this.#closed) return;
    const base = this.#d.config.pushPullIntervalMs;
    const wait = base * (0.5 + this.#d.random());
    this.#pushPullTimer = this.#d.clock.setTimeout(() => {
      this.#pushPull().finally(() => this.#schedulePushPull());
    }, wait);
  }

  /** One push-pull exchange with a random member. */
  async #pushPull(): Promise<void> {
    if (this.#closed) return;
    const mine = this.#d.ids(); // asked even alone: the holder prunes its expired commands then
    const [peer] = this.#peers(1);
    if (!peer) return;
    this.stats.pushPulls++;
    let theirs: string[];
    try {
      const reply = await this.#d.rpc.call(peer, AdminCommand.Digest, { ids: mine }, undefined, {
        timeoutMs: this.#d.config.rpcTimeoutMs,
        retries: 1,
      });
      const digest = parseAdminHeader("digest", reply.header);
      if (!digest) return;
      theirs = digest.ids;
    } catch {
      return;
    }
    const theirSet = new Set(theirs);
    for (const id of mine) {
      const c = this.#d.get(id);
      if (c && !theirSet.has(id)) {
        this.#d.rpc.cast(peer, AdminCommand.Rumor, { ...c, src: this.#d.hints(id) });
      }
    }
    const mineSet = new Set(mine);
    for (const id of theirs) {
      if (mineSet.has(id) || this.#closed) continue;
      try {
        const reply = await this.#d.rpc.call(peer, AdminCommand.Fetch, { id }, undefined, {
          timeoutMs: this.#d.config.rpcTimeoutMs,
          retries: 1,
        });
        if (parseAdminHeader("missing", reply.header)?.missing) continue;
        if ((await this.#d.receive(reply.header, peer, [])) === "new") this.stats.pulled++;
      } catch { /* next exchange retries */ }
    }
  }
}
