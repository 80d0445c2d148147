/**
 * Whether a node holds its data again after it (re)started: the catch-up
 * tracker, and the view query (internal 0x62) nodes, the rollout and kvctl use
 * to ask a node how it sees the cluster.
 *
 * From its start a node goes through these phases:
 * 1. `joining`: no push-pull answered yet (its view may lack members);
 * 2. `rejoining`: joined, but not every other live member sees it alive yet;
 * 3. `syncing`: anti-entropy rounds started by this node (even while it is
 *    empty) with every replica peer, plus a hand-off run, until one round
 *    reached every peer and every peer listed everything this node lacked;
 * 4. `caught-up`: it held, at the end of that round, every entry its peers
 *    held for its ranges; later writes reach it as an owner.
 *
 * `keysToGo` estimates what is still to come: while syncing, the mean number of
 * keys the other members hold less the keys this node holds (with even
 * placement every node holds about the same share), refreshed at every look;
 * after a round, what the peers said this node still lacks divided by N−1
 * (each missing key is held by the other owners); 0 once caught up. The stats `caught_up`, `catch_up_phase`,
 * `catch_up_keys_to_go`, `catch_up_views` and `catch_up_ms` go to the monitor.
 *
 * @module
 */
import type { Clock, TimerId } from "../base/clock.ts";
import { DebugCommand } from "./replica_protocol.ts";
import type { StatMap } from "../monitoring/report.ts";
import { putStat } from "../monitoring/report.ts";
import type { MemberView } from "../node/members.ts";
import { programInfo } from "../base/program.ts";
import type { Rpc } from "../wire/rpc.ts";
import type { Address } from "../net/transport.ts";
import type { MemberState } from "../membership/membership_codec.ts";
import { isAddress } from "../membership/membership_codec.ts";
import type { ReplicatedExecutor } from "./replicated_executor.ts";

/**
 * The view query: `{about?, list?}` → {@linkcode ViewAnswer}.
 *
 * @example
 * ```ts
 * console.log(CatchUpCommand.View.toString(16)); // "62"
 * ```
 */
export const CatchUpCommand = { View: DebugCommand.View } as const;

/** Timings of the catch-up tracker. */
export interface CatchUpConfig {
  /** Time between two checks while the node is not caught up (ms). */
  intervalMs: number;
  /** Timeout of one view query to a peer (ms; doubled for the retry). */
  viewTimeoutMs: number;
  /** Retries of a view query. */
  viewRetries: number;
  /** Data requests wait for the join at most this long after start (ms): then the node may be alone. */
  joinWaitMs: number;
}

/**
 * Defaults: a check every 250 ms, 300 ms view queries, data held at most 5 s for the join.
 *
 * @example
 * ```ts
 * console.log(DEFAULT_CATCH_UP_CONFIG.joinWaitMs); // 5000
 * ```
 */
export const DEFAULT_CATCH_UP_CONFIG: Readonly<CatchUpConfig> = Object.freeze({
  intervalMs: 250,
  viewTimeoutMs: 300,
  viewRetries: 1,
  joinWaitMs: 5_000,
});

/** Where a node is on its way back. */
export type CatchUpPhase = "joining" | "rejoining" | "syncing" | "caught-up";

/** How many members see a node alive. */
export interface ViewCount {
  /** Members that answered and see it alive. */
  alive: number;
  /** Members asked. */
  of: number;
  /** Members that do not (with their answer: a state, or "no answer"). */
  missing: { member: Address; state: MemberState | "unknown" | "no answer" }[];
  /** Live keys each answering member holds. */
  keys: number[];
}

/** A node's catch-up state. */
export interface CatchUpStatus {
  /** Phase. */
  phase: CatchUpPhase;
  /** Whether its membership has joined. */
  joined: boolean;
  /** Whether it is caught up (stays true once reached). */
  caughtUp: boolean;
  /** The last view check (undefined before the first). */
  views?: ViewCount;
  /** Estimated entries still to come (undefined: not known yet). */
  keysToGo?: number;
  /** Entries received from peers since start (pushed to it and fetched by it). */
  keysReceived: number;
  /** Catch-up rounds run. */
  rounds: number;
  /** Time from start to caught up (ms). */
  caughtUpAfterMs?: number;
}

/** What a node answers to the view query. */
export interface ViewAnswer {
  /** The answering node. */
  self: Address;
  /** The member asked about, and its state in the answering node's view. */
  about: Address;
  /** State of `about` here. */
  state: MemberState | "unknown";
  /** Members alive or suspect here (self included). */
  members: number;
  /** Live keys the answering node holds. */
  keys?: number;
  /** Catch-up of the answering node. */
  catchUp: CatchUpStatus;
  /** Version and build of its program. */
  version: string;
  /** Build id (see lib/base/program.ts). */
  build: string;
  /** Its live members (when asked with `list: true`). */
  alive?: Address[];
}

/** A membership that can tell states and whether it joined (SWIM); a static view is always joined. */
export interface CatchUpMembers extends MemberView {
  /** Whether the node has joined. */
  readonly joined?: boolean;
  /** Every known member with its state. */
  members?(): { address: Address; state: MemberState }[];
}

/**
 * State of `about` in `members`.
 *
 * @example
 * ```ts ignore
 * console.log(stateIn(swim, "127.0.0.1:4001")); // "alive"
 * ```
 */
export function stateIn(members: CatchUpMembers, about: Address): MemberState | "unknown" {
  if (members.members) return members.members().find((m) => m.address === about)?.state ?? "unknown";
  return members.alive().includes(about) ? "alive" : "unknown";
}

/**
 * Asks each of `peers` how it sees `about` (in parallel); never rejects.
 *
 * @example
 * ```ts ignore
 * const v = await countViews(node.rpc, ["127.0.0.1:4001"], node.address, DEFAULT_CATCH_UP_CONFIG);
 * console.log(`${v.alive} of ${v.of}`);
 * ```
 */
export async function countViews(
  rpc: Rpc,
  peers: readonly Address[],
  about: Address,
  config: Pick<CatchUpConfig, "viewTimeoutMs" | "viewRetries">,
): Promise<ViewCount> {
  const answers = await Promise.all(peers.map((p) => askView(rpc, p, about, config)));
  const out: ViewCount = { alive: 0, of: peers.length, missing: [], keys: [] };
  answers.forEach((a, i) => {
    if (typeof a?.keys === "number") out.keys.push(a.keys);
    if (a?.state === "alive") out.alive++;
    else out.missing.push({ member: peers[i], state: a ? a.state : "no answer" });
  });
  return out;
}

/**
 * One view query; undefined when `peer` does not answer (or answers nonsense).
 *
 * @example
 * ```ts ignore
 * const a = await askView(rpc, "127.0.0.1:4001", "127.0.0.1:4000");
 * console.log(a?.catchUp.phase);
 * ```
 */
export async function askView(
  rpc: Rpc,
  peer: Address,
  about: Address,
  config: Pick<CatchUpConfig, "viewTimeoutMs" | "viewRetries"> = DEFAULT_CATCH_UP_CONFIG,
  list = false,
): Promise<ViewAnswer | undefined> {
  try {
    const reply = await rpc.call(peer, CatchUpCommand.View, { about, ...(list ? { list: true } : {}) }, undefined, {
      timeoutMs: config.viewTimeoutMs,
      retries: config.viewRetries,
    });
    const h = reply.header as ViewAnswer | null;
    if (!h || typeof h.state !== "string" || typeof h.catchUp !== "object" || h.catchUp === null) return undefined;
    return h;
  } catch {
    return undefined;
  }
}

/**
 * Tracks one node's way back and answers view queries.
 *
 * @example
 * ```ts ignore
 * const c = new CatchUp({ rpc: node.rpc, self: node.address, members: swim, clock, executor });
 * c.start();
 * console.log(c.status().phase);
 * ```
 */
export class CatchUp {
  #o: { rpc: Rpc; self: Address; members: CatchUpMembers; clock: Clock; executor?: ReplicatedExecutor };
  #config: CatchUpConfig;
  #status: CatchUpStatus = { phase: "joining", joined: false, caughtUp: false, keysReceived: 0, rounds: 0 };
  #startedAt: number;
  #received0: number;
  #peerMean: number | undefined;
  #estimate: { value: number; received: number } | undefined;
  #timer: TimerId | undefined;
  #closed = false;

  /** Creates the tracker; `executor` absent (no replication): caught up once joined and seen. */
  constructor(
    options: { rpc: Rpc; self: Address; members: CatchUpMembers; clock: Clock; executor?: ReplicatedExecutor },
    config: Partial<CatchUpConfig> = {},
  ) {
    this.#o = options;
    this.#config = { ...DEFAULT_CATCH_UP_CONFIG, ...config };
    this.#startedAt = options.clock.now();
    this.#received0 = this.#receivedTotal();
    options.rpc.handle(CatchUpCommand.View, (m, from) => {
      const h = m.header as { about?: unknown; list?: unknown } | null;
      const about = isAddress(h?.about) ? h.about : from;
      const answer: ViewAnswer = {
        self: this.#o.self,
        about,
        state: about === this.#o.self ? "alive" : stateIn(this.#o.members, about),
        members: this.#o.members.alive().length,
        keys: this.#o.executor?.replica.store.liveKeys ?? 0,
        catchUp: this.status(),
        ...(() => {
          const p = programInfo();
          return { version: p.version, build: p.build };
        })(),
      };
      if (h?.list === true) answer.alive = this.#o.members.alive();
      return { header: answer };
    });
  }

  /**
   * Starts the checks (every `intervalMs` until caught up). Without replication there is no
   * data to catch up and no check runs (large membership simulations stay unaffected): the node
   * counts as caught up once joined.
   */
  start(): void {
    if (this.#o.executor) this.#schedule();
  }

  /** The current state. */
  status(): CatchUpStatus {
    this.#status.joined = this.#o.members.joined ?? true;
    if (!this.#o.executor && this.#status.joined && !this.#status.caughtUp) {
      this.#status.caughtUp = true;
      this.#status.phase = "caught-up";
      this.#status.keysToGo = 0;
      this.#status.caughtUpAfterMs = this.#o.clock.now() - this.#startedAt;
    }
    this.#status.keysReceived = this.#receivedTotal() - this.#received0;
    const out = structuredClone(this.#status);
    const held = this.#o.executor?.replica.store.liveKeys ?? 0;
    if (out.phase === "syncing") {
      // What the last round found missing, less what arrived since (pushed by peers or fetched);
      // at most the peers' mean less what is held (a round's count may include keys held here
      // that did not fit in its listing).
      const fromRound = this.#estimate
        ? Math.max(0, this.#estimate.value - (this.#receivedTotal() - this.#estimate.received))
        : Infinity;
      const fromPeers = this.#peerMean === undefined ? Infinity : Math.max(0, Math.round(this.#peerMean - held));
      const best = Math.min(fromRound, fromPeers);
      if (best !== Infinity) out.keysToGo = best;
    }
    return out;
  }

  /** The tracker's stats for the monitor. */
  stats(): StatMap {
    const s = this.status();
    const out: StatMap = {};
    putStat(out, "caught_up", s.caughtUp ? "yes" : "no");
    putStat(out, "catch_up_phase", s.phase);
    putStat(out, "catch_up_keys_to_go", s.keysToGo ?? -1);
    if (s.views) putStat(out, "catch_up_views", `${s.views.alive}/${s.views.of}`);
    putStat(out, "catch_up_keys_received", s.keysReceived);
    if (s.caughtUpAfterMs !== undefined) putStat(out, "catch_up_ms", s.caughtUpAfterMs, "ms");
    return out;
  }

  /** Stops the checks. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #receivedTotal(): number {
    const s = this.#o.executor?.stats;
    return s ? s.entriesReceived + s.antiEntropyFetched : 0;
  }

  #schedule(): void {
    if (this.#closed || this.#status.caughtUp) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#check().catch(() => {}).finally(() => this.#schedule());
    }, this.#config.intervalMs);
  }

  async #check(): Promise<void> {
    const st = this.#status;
    if (!(this.#o.members.joined ?? true)) {
      st.phase = "joining";
      return;
    }
    const { rpc, self, members, executor } = this.#o;
    const others = members.alive().filter((a) => a !== self);
    st.views = await countViews(rpc, others, self, this.#config);
    if (this.#closed) return;
    if (st.views.keys.length > 0) {
      this.#peerMean = st.views.keys.reduce((a, b) => a + b, 0) / st.views.keys.length;
    }
    if (st.views.alive < st.views.of) {
      st.phase = "rejoining";
      return;
    }
    st.phase = "syncing";
    if (executor) {
      await executor.handoff.run().catch(() => {});
      const r = await executor.antiEntropy.run({ evenIfEmpty: true, fresh: true });
      st.rounds++;
      st.keysToGo = Math.ceil(r.behind / Math.max(1, executor.placement.n() - 1));
      this.#estimate = { value: st.keysToGo, received: this.#receivedTotal() };
      if (r.failedPeers > 0 || r.truncated > 0) return;
    }
    st.keysToGo = 0;
    st.caughtUp = true;
    st.phase = "caught-up";
    st.caughtUpAfterMs = this.#o.clock.now() - this.#startedAt;
  }
}
