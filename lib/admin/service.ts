/**
 * The admin subsystem of one node: accepts signed commands (from kvctl or
 * peers), drops unsigned, forged, altered, expired and replayed ones (counted),
 * spreads new ones by gossip, and acts at most once on those whose selector
 * names this node: runs scripts (gated by --allow-run) or fetches pushed
 * files; results go to the monitor and answer status queries.
 *
 * @module
 */
import type { Clock } from "../base/clock.ts";
import type { KVNode } from "../node/kv_node.ts";
import type { MemberView } from "../node/members.ts";
import type { Random } from "../base/random.ts";
import type { Address } from "../net/transport.ts";
import { type ChunkStore, FileChunkStore, MemoryChunkStore } from "./chunk_store.ts";
import { checkCommand, type Rejection, type SignedCommand, summarize } from "./command.ts";
import { matchesSelector } from "./selector.ts";
import type { AdminConfig } from "./config.ts";
import { CommandGossip, type Receipt } from "./gossip.ts";
import { resolveTarget } from "./paths.ts";
import { AdminCommand, headerId, type NodeResult, parseAdminHeader } from "./protocol.ts";
import { ReplayGuard } from "./replay_guard.ts";
import type { ResultSink } from "./reporter.ts";
import type { ScriptExecutor } from "./runner.ts";
import { Transfer } from "./transfer.ts";
import { type AdminStats, newAdminStats } from "./stats.ts";
import type { RunSpec } from "./command.ts";
import type { CatchUpStatus } from "../replication/catch_up.ts";
import { type Restarter, type ResultBase, Rollout } from "./rollout.ts";

export type { AdminStats };

/** Everything the service is built from. */
export interface AdminServiceOptions {
  /** The node (rpc, address, onClose). */
  node: KVNode;
  /** Members to gossip with. */
  members: MemberView;
  /** Time source. */
  clock: Clock;
  /** Random source. */
  random: Random;
  /** Tunables. */
  config: AdminConfig;
  /** The admin public key (undefined: every command is rejected). */
  publicKey: Promise<CryptoKey | undefined>;
  /** Runs scripts. */
  executor: ScriptExecutor;
  /** Where results go (none: kept for status queries only). */
  sink?: ResultSink;
  /** Directory pushed files may be written to (none: pushes are refused). */
  adminDir?: string;
  /** Directory for the durable acted-on ids (none: memory only). */
  stateDir?: string;
  /** Keep pushed files in this map instead of the file system (simulations). */
  files?: Map<string, Uint8Array>;
  /** Extra environment for scripts. */
  env?: Record<string, string>;
  /** Restarts the node process in place (provided by `kvstore node`). */
  restarter?: Restarter & { readonly handingOver?: boolean };
  /** The node's catch-up state (lib/replication/catch_up.ts), for rolling restarts. */
  catchUp?: () => CatchUpStatus | undefined;
}

/** What {@linkcode AdminService.receive} resolves with. */
export type ReceiveOutcome = { receipt: Receipt; id?: string; reason?: Rejection | "full"; message?: string };
/** The answer to a command offered to a node that is closing or handing its port over. */
const CLOSING: ReceiveOutcome = { receipt: "rejected", reason: "malformed", message: "node closing" };

/**
 * The admin service of a node.
 *
 * @example
 * ```ts ignore
 * const admin = new AdminService({ node, members, clock, random, config, publicKey, executor });
 * admin.start();
 * ```
 */
export class AdminService {
  /** Counters (see {@linkcode AdminStats}). */
  readonly stats: AdminStats = newAdminStats();

  /** Seen and acted-on ids. */
  readonly guard: ReplayGuard;
  /** Rumors and push-pull. */
  readonly gossip: CommandGossip;
  /** Rolling restarts. */
  readonly rollout: Rollout;
  #o: AdminServiceOptions;
  #held = new Map<string, { command: SignedCommand; expiresAt: number }>(); // accepted, by id
  #pending = new Map<string, Promise<void>>();
  #results = new Map<string, NodeResult>();
  #transfers = new Map<string, Transfer>();
  #hints = new Map<string, Set<Address>>();
  #runs: Promise<void> = Promise.resolve();
  #closed = false;

  /** Creates the service and registers its handlers on the node's rpc. */
  constructor(options: AdminServiceOptions) {
    this.#o = options;
    this.guard = new ReplayGuard(options.config.maxCommands * 10, options.stateDir);
    const kept = this.guard.load(options.clock.now());
    for (const c of kept) this.#held.set(c.c.id, { command: c, expiresAt: c.c.expiresAt });
    const { rpc } = options.node;
    this.rollout = new Rollout({
      self: options.node.address,
      rpc,
      clock: options.clock,
      config: options.config,
      members: options.members,
      report: (r) => this.#report(r),
      runScript: (base, run) => this.#queue(() => this.#execute(base, run)),
      flushReports: (ms) => options.sink?.flush(ms) ?? Promise.resolve(),
      restarter: options.restarter,
      stateDir: options.stateDir,
      adminDir: options.adminDir,
      publicKey: options.publicKey,
      catchUp: options.catchUp,
    });
    this.rollout.resume(kept.filter((c) => this.guard.acted(c.c.id)));
    this.gossip = new CommandGossip({
      rpc,
      members: options.members,
      clock: options.clock,
      random: options.random,
      config: options.config,
      ids: () => {
        this.#pruneExpired(); // every push-pull round and digest answer: no timer of its own
        return [...this.#held.keys()];
      },
      get: (id) => this.#held.get(id)?.command,
      hints: (id) => [...(this.#hints.get(id) ?? [])],
      receive: (raw, from, hints) => this.receive(raw, from, hints).then((r) => r.receipt),
    });
    rpc.handle(AdminCommand.Submit, async (m, from) => {
      const r = await this.receive(m.header, from, [from]);
      return r.receipt === "rejected"
        ? { header: { ok: false, reason: r.reason, message: r.message } }
        : { header: { ok: true, id: r.id, known: r.receipt === "known" } };
    });
    rpc.handle(AdminCommand.Chunk, async (m) => {
      const h = parseAdminHeader("chunk", m.header);
      const t = h && this.#transfers.get(h.id);
      const bytes = t ? await t.serve(h.i) : undefined;
      if (!h || !bytes) return { header: { missing: true } };
      this.stats.chunks_served++;
      return { header: { id: h.id, i: h.i }, body: bytes };
    });
    rpc.handle(AdminCommand.Have, (m) => {
      const id = parseAdminHeader("id", m.header)?.id;
      const t = id ? this.#transfers.get(id) : undefined;
      return {
        header: t ? { state: t.state, count: t.count, total: t.total, have: t.bitmap() } : { state: "unknown" },
      };
    });
    rpc.handle(AdminCommand.Status, (m) => {
      const id = parseAdminHeader("id", m.header)?.id;
      return { header: { result: (id && this.#results.get(id)) ?? null } };
    });
    rpc.handle(AdminCommand.Stats, () => ({
      header: { stats: this.stats, gossip: { ...this.gossip.stats, hot: this.gossip.hot } },
    }));
  }

  /** Starts gossip; expired commands are pruned at each push-pull round (which asks for the ids held) and on receipt. */
  start(): void {
    if (this.#closed) return;
    this.gossip.start();
  }

  /** This node's result for a command. */
  result(id: string): NodeResult | undefined {
    return this.#results.get(id);
  }

  /** The transfer of a pushed file, if this node takes part. */
  transfer(id: string): Transfer | undefined {
    return this.#transfers.get(id);
  }

  /** Commands whose signature is being checked now (a copy received while one is pending waits for its verdict). */
  get checking(): number {
    return this.#pending.size;
  }

  /** Ids of the commands held. */
  ids(): string[] {
    return [...this.#held.keys()];
  }

  /** Offers a received command; resolves with what happened to it. Never rejects. */
  async receive(raw: unknown, _from: Address, hints: Address[] = []): Promise<ReceiveOutcome> {
    if (this.#closed || this.#o.restarter?.handingOver) return { ...CLOSING };
    this.stats.received++;
    const id = headerId((raw as { c?: unknown } | null)?.c);
    // Another copy with this id may be under check: wait for its verdict. A forged copy must not
    // make the genuine one look known, so only accepted commands count as seen.
    for (let p = id && this.#pending.get(id); p; p = id && this.#pending.get(id)) await p;
    const known = (id: string) => this.guard.has(id) || this.#held.has(id);
    if (id && known(id)) this.#pruneExpired(); // a copy of an expired command is checked (and rejected), not "known"
    if (id && known(id)) {
      this.stats.duplicates++;
      if (hints.length > 0) this.#addHints(id, hints);
      return { receipt: "known", id };
    }
    if (this.#closed) return { ...CLOSING };
    const now = this.#o.clock.now();
    if (!this.guard.hasRoom(now) || this.#held.size >= this.#o.config.maxCommands) {
      this.#pruneExpired();
      if (this.#held.size >= this.#o.config.maxCommands || !this.guard.hasRoom(now)) {
        this.stats.rejected_full++;
        return { receipt: "rejected", reason: "full", message: "too many unexpired commands; try later" };
      }
    }
    // Until this copy is accepted or rejected, later copies with the same id wait (see above).
    let release = () => {};
    const gate = new Promise<void>((resolve) => release = resolve);
    if (id) this.#pending.set(id, gate);
    try {
      const r = await checkCommand(raw, await this.#o.publicKey, now, this.#o.config);
      if (!r.ok) {
        this.stats[`rejected_${r.reason}`]++;
        return { receipt: "rejected", id, reason: r.reason, message: r.message };
      }
      const c = r.command;
      if (this.#closed) return { receipt: "known", id: c.c.id };
      this.stats.accepted++;
      this.#held.set(c.c.id, { command: c, expiresAt: c.c.expiresAt });
      this.guard.keep(c);
      if (c.c.kind === "push") this.#addHints(c.c.id, hints.filter((h) => h !== this.#o.node.address));
      this.gossip.spread(c.c.id);
      this.#act(c).catch((e) => console.error(`admin: command ${c.c.id} failed: ${(e as Error).message}`));
      return { receipt: "new", id: c.c.id };
    } finally {
      if (id && this.#pending.get(id) === gate) this.#pending.delete(id);
      release();
    }
  }

  /** Resolves once the state file holds everything so far (before the process hands its port over). */
  async flush(): Promise<void> {
    await this.guard.save().catch(() => {});
  }

  /** Stops everything this service started. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.rollout.close();
    this.gossip.close();
    for (const t of this.#transfers.values()) t.close();
    this.#transfers.clear();
    this.#o.sink?.close();
  }

  #addHints(id: string, hints: Address[]): void {
    if (hints.length === 0) return;
    const set = this.#hints.get(id) ?? new Set<Address>();
    for (const h of hints) if (set.size < 4) set.add(h);
    this.#hints.set(id, set);
    const t = this.#transfers.get(id);
    if (t) { for (const h of set) if (h !== this.#o.node.address) t.hints.add(h); }
  }

  #report(result: NodeResult): void {
    this.#results.delete(result.id);
    this.#results.set(result.id, result);
    while (this.#results.size > this.#o.config.maxResults) {
      this.#results.delete(this.#results.keys().next().value!);
    }
    this.#o.sink?.send(result);
  }

  async #act(c: SignedCommand): Promise<void> {
    const body = c.c;
    if (!matchesSelector(body.selector, this.#o.node.address)) {
      this.stats.not_selected++;
      await this.guard.save(); // keeps the command for peers that missed it, across restarts
      return;
    }
    await this.guard.markActed(body.id, body.expiresAt); // durable before acting: at most once across restarts
    const base = { id: body.id, node: this.#o.node.address, command: summarize(body) };
    if (body.run?.restart) {
      await this.rollout.act(base, c);
    } else if (body.run) {
      const run = body.run;
      await this.#queue(async () => {
        if (this.#closed) return;
        this.#report({ ...base, status: "running", startedAt: this.#o.clock.now() });
        const result = await this.#execute(base, run);
        if (!this.#closed) this.#report(result);
      });
    } else if (body.push) {
      await this.#push(base, c);
    }
  }

  /** Runs `fn` after the scripts queued before it (scripts run one at a time, in arrival order). */
  #queue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#runs.then(fn);
    this.#runs = next.then(() => {}, () => {}); // one failed run must not block the queue
    return next;
  }

  /** Runs a script; resolves with its result (not reported). */
  async #execute(base: ResultBase, run: RunSpec): Promise<NodeResult> {
    const startedAt = this.#o.clock.now();
    const outcome = await this.#o.executor.run({
      id: base.id,
      script: run.script,
      timeoutMs: run.timeoutMs,
      maxOutputBytes: this.#o.config.maxOutputBytes,
      env: this.#o.env,
    });
    if (outcome.status === "refused") this.stats.refused++;
    else if (outcome.status !== "error") this.stats.executed++;
    return { ...base, ...outcome, startedAt, finishedAt: this.#o.clock.now() };
  }

  async #push(base: Pick<NodeResult, "id" | "node" | "command">, c: SignedCommand): Promise<void> {
    const spec = c.c.push!;
    const startedAt = this.#o.clock.now();
    const fail = (status: "refused" | "error", message: string) => {
      if (status === "refused") this.stats.refused++;
      else this.stats.files_failed++;
      this.#report({ ...base, status, message, startedAt, finishedAt: this.#o.clock.now(), exitCode: null });
    };
    if (this.#transfers.size >= this.#o.config.maxActiveTransfers) {
      return fail("error", `more than ${this.#o.config.maxActiveTransfers} transfers at once; push again later`);
    }
    let store: ChunkStore;
    let target: string;
    try {
      if (this.#o.files) {
        target = spec.path;
        store = new MemoryChunkStore(target, spec.size, this.#o.files);
      } else {
        if (!this.#o.adminDir) return fail("refused", "refused: started without --admin-dir (where pushed files go)");
        target = resolveTarget(this.#o.adminDir, spec.path);
        store = await FileChunkStore.create(target, c.c.id, spec.size);
      }
    } catch (e) {
      const msg = (e as Error).message;
      return fail(msg.startsWith("refused") ? "refused" : "error", msg);
    }
    if (this.#closed) return store.close();
    const self = this.#o.node.address;
    const transfer = new Transfer({
      id: c.c.id,
      spec,
      store,
      rpc: this.#o.node.rpc,
      clock: this.#o.clock,
      random: this.#o.random,
      config: this.#o.config,
      peers: () => this.#o.members.alive().filter((a) => a !== self),
      onEnd: (state, message) => {
        this.stats.chunks_bad += transfer.stats.bad;
        if (state === "done") this.stats.files_written++;
        else this.stats.files_failed++;
        this.#report({
          ...base,
          status: state === "done" ? "ok" : "error",
          exitCode: state === "done" ? 0 : null,
          message: state === "done" ? `${target}: ${message}` : message,
          durationMs: this.#o.clock.now() - startedAt,
          startedAt,
          finishedAt: this.#o.clock.now(),
          progress: { have: transfer.count, total: transfer.total },
        });
      },
    });
    for (const h of this.#hints.get(c.c.id) ?? []) if (h !== self) transfer.hints.add(h);
    this.#transfers.set(c.c.id, transfer);
    this.#report({ ...base, status: "fetching", startedAt, progress: { have: 0, total: transfer.total } });
    transfer.start();
  }

  #pruneExpired(): void {
    const now = this.#o.clock.now();
    this.guard.prune(now);
    for (const [id, h] of this.#held) {
      if (h.expiresAt > now) continue;
      this.#held.delete(id);
      this.#hints.delete(id);
      const t = this.#transfers.get(id);
      if (t) {
        t.close();
        this.#transfers.delete(id);
      }
    }
  }
}
