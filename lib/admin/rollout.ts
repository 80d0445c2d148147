/**
 * Rolling restart (`kvctl run --restart`, `kvctl upgrade`): the nodes of the
 * command's signed order take their turn one at a time — run the script,
 * restart in place (lib/admin/restart.ts), come back — and a node's turn
 * starts only when the node before it is back: alive in the view of every
 * node of the order (and seeing them all), and caught up with its data
 * (lib/replication/catch_up.ts). With N=3 no key then has more than one owner
 * down because of the rollout.
 *
 * The turn passes like a baton: a node that is back tells every later node
 * (internal message 0x58, authenticated with the cluster key, resent until
 * acknowledged). Each waiting node also keeps a timer on its predecessor once
 * that one's turn has begun (the script's timeout plus the budget): if the
 * predecessor is not back in time, it asks it how it is (view query), halts
 * the rollout and tells every later node, which then report "not restarted:
 * rollout halted at X: why". A node whose own turn fails (script, restart,
 * not back within the budget) halts the rollout the same way.
 *
 * @module
 */
import type { TimerId } from "../base/clock.ts";
import { askView, type CatchUpStatus, countViews } from "../replication/catch_up.ts";
import { describeProgram, fileSha256, programInfo } from "../base/program.ts";
import type { ProgramSpec, RunSpec, SignedCommand } from "./command.ts";
import { isReleaseArchive, unpackRelease } from "./release.ts";
import { resolveTarget } from "./paths.ts";
import { AdminCommand, type NodeResult, parseAdminHeader, type RolloutInfo, type RolloutPhase } from "./protocol.ts";
import { type RolloutRecord, RolloutRecords } from "./rollout_state.ts";
import { describeCatchUp, describeWait } from "./rollout_view.ts";
import { isRolloutEvent, type ResultBase, type RolloutEvent, type RolloutHost } from "./rollout_host.ts";

export type { Restarter, ResultBase, RolloutHost } from "./rollout_host.ts";

interface Run {
  command: SignedCommand;
  base: ResultBase;
  spec: RunSpec;
  order: string[];
  position: number;
  budgetMs: number;
  phase: RolloutPhase;
  startedAt: number;
  timer?: TimerId;
  last?: NodeResult;
}

/**
 * This node's side of every rolling restart it takes part in.
 *
 * @example
 * ```ts ignore
 * const rollout = new Rollout(host);
 * rollout.resume(heldCommands); // after a restart: catch up, then pass the turn on
 * await rollout.act(base, signed); // a new rollout command
 * ```
 */
export class Rollout {
  #h: RolloutHost;
  #records: RolloutRecords;
  #runs = new Map<string, Run>();
  #early = new Map<string, RolloutEvent[]>();
  #timers = new Set<TimerId>();
  #closed = false;

  /** Loads this node's records and registers the rollout message handler. */
  constructor(host: RolloutHost) {
    this.#h = host;
    this.#records = new RolloutRecords(host.stateDir);
    this.#records.load(host.clock.now());
    host.rpc.handle(AdminCommand.Rollout, (m) => {
      if (!isRolloutEvent(m.header)) return { header: { ok: false } };
      const run = this.#runs.get(m.header.id);
      if (run) this.#onEvent(run, m.header);
      else if (this.#early.size < 1_000) {
        // The baton may come before the command itself (gossip is slower than a direct message).
        this.#early.set(m.header.id, [...(this.#early.get(m.header.id) ?? []), m.header]);
      }
      return { header: { ok: true } };
    });
  }

  /** After a restart: for each held command this node restarted for, catch up and pass the turn on. */
  resume(held: SignedCommand[]): void {
    for (const c of held) {
      const rec = this.#records.get(c.c.id);
      if (!rec || !c.c.run?.rollout) continue;
      const run = this.#newRun(c, { id: c.c.id, node: this.#h.self, command: rec.result.command });
      run.startedAt = rec.result.startedAt;
      run.last = rec.result;
      if (rec.phase === "back") {
        run.phase = "back";
        this.#h.report(rec.result);
        continue;
      }
      this.#comeBack(run, rec);
    }
  }

  /** Takes part in a new rollout command (already marked acted on). */
  async act(base: ResultBase, command: SignedCommand): Promise<void> {
    if (this.#closed || this.#runs.has(command.c.id)) return;
    const run = this.#newRun(command, base);
    if (run.position < 0) {
      run.phase = "not-in-order";
      const r = await this.#h.runScript(base, run.spec);
      this.#report(run, r.status, {
        ...r,
        message: "not restarted: not in the rollout order (it joined after the command was issued)",
      });
      return;
    }
    for (const e of this.#early.get(command.c.id) ?? []) this.#onEvent(run, e);
    this.#early.delete(command.c.id);
    if (run.phase !== "waiting") return;
    if (run.position === 0) return await this.#turn(run);
    this.#report(run, "waiting", { message: describeWait(run.order, run.position) });
    if (run.position === 1) this.#watch(run); // the first node's turn begins as it gets the command
  }

  /** Stops timers and resends. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) this.#h.clock.clearTimeout(t);
    this.#timers.clear();
    for (const r of this.#runs.values()) if (r.timer !== undefined) this.#h.clock.clearTimeout(r.timer);
  }

  #newRun(command: SignedCommand, base: ResultBase): Run {
    const spec = command.c.run!;
    const order = spec.rollout!.order;
    const run: Run = {
      command,
      base,
      spec,
      order,
      position: order.indexOf(this.#h.self),
      budgetMs: spec.rollout!.budgetMs ?? this.#h.config.rolloutNodeBudgetMs,
      phase: "waiting",
      startedAt: this.#h.clock.now(),
    };
    this.#runs.set(command.c.id, run);
    return run;
  }

  #info(run: Run, extra: Partial<RolloutInfo> = {}): RolloutInfo {
    return { position: run.position, total: run.order.length, phase: run.phase, ...extra };
  }

  #report(run: Run, status: NodeResult["status"], fields: Partial<NodeResult> = {}, info?: Partial<RolloutInfo>): void {
    const r: NodeResult = {
      ...run.last,
      ...run.base,
      startedAt: run.startedAt,
      ...fields,
      status,
      rollout: this.#info(run, { ...run.last?.rollout, ...info, phase: run.phase }),
    };
    if (status === "waiting" || status === "running") delete r.finishedAt;
    run.last = r;
    this.#h.report(r);
  }

  #onEvent(run: Run, e: RolloutEvent): void {
    if (run.phase !== "waiting" || e.position >= run.position) return;
    if (e.event === "halted") {
      this.#unwatch(run);
      run.phase = "halted";
      const reason = `not restarted: rollout halted at ${e.haltedAt}: ${e.reason}`;
      this.#report(run, "skipped", { message: reason, finishedAt: this.#h.clock.now() }, {
        haltedAt: e.haltedAt,
        reason: e.reason,
      });
      return;
    }
    if (e.position === run.position - 1) {
      this.#unwatch(run);
      this.#turn(run).catch((err) => this.#fail(run, `internal error: ${(err as Error).message}`));
    } else if (e.position === run.position - 2) this.#watch(run);
  }

  /** Times the predecessor's turn, which has just begun. */
  #watch(run: Run): void {
    this.#unwatch(run);
    const limit = run.spec.timeoutMs + run.budgetMs + 2 * this.#h.config.rolloutRetryMs;
    run.timer = this.#h.clock.setTimeout(() => {
      run.timer = undefined;
      this.#predecessorLate(run, limit).catch(() => {});
    }, limit);
  }

  #unwatch(run: Run): void {
    if (run.timer !== undefined) this.#h.clock.clearTimeout(run.timer);
    run.timer = undefined;
  }

  async #predecessorLate(run: Run, limitMs: number): Promise<void> {
    if (run.phase !== "waiting" || this.#closed) return;
    const pred = run.order[run.position - 1];
    const v = await askView(this.#h.rpc, pred, pred);
    if (run.phase !== "waiting") return;
    const how = v ? describeCatchUp(v.catchUp) : "it does not answer (down, or its new process never started)";
    const reason = `not back within ${Math.round(limitMs / 1000)} s of its turn (script timeout + budget): ${how}`;
    run.phase = "halted";
    this.#report(run, "skipped", {
      message: `not restarted: rollout halted at ${pred}: ${reason}`,
      finishedAt: this.#h.clock.now(),
    }, { haltedAt: pred, reason });
    this.#tellLater(run, { id: run.command.c.id, event: "halted", position: run.position - 1, haltedAt: pred, reason });
  }

  /** This node's turn: script, checks, restart. Returns only if the restart failed. */
  async #turn(run: Run): Promise<void> {
    const h = this.#h;
    run.phase = "running";
    run.startedAt = h.clock.now();
    this.#report(run, "running", { message: "running the script (then restarting)" });
    const r = await h.runScript(run.base, run.spec);
    run.last = r;
    if (r.status !== "ok") {
      const how = r.status === "failed" ? `exited with code ${r.exitCode}` : r.status;
      return this.#fail(run, `the script ${how}${r.message ? `: ${r.message}` : ""}`, r.status);
    }
    if (!h.stateDir) {
      return this.#fail(run, "cannot restart: the node needs --data-dir or --admin-dir to remember its rollout");
    }
    if (!h.restarter) return this.#fail(run, "cannot restart: this node was not started by 'kvstore node'");
    let program: { program: string; runtime?: string } | undefined;
    if (run.spec.program) {
      try {
        program = await this.#checkProgram(run.spec.program);
      } catch (e) {
        return this.#fail(run, `cannot upgrade: ${(e as Error).message}`);
      }
    }
    run.phase = "restarting";
    const restartedAt = h.clock.now();
    this.#report(run, "running", { message: "restarting: the new process is starting" }, { restartedAt });
    this.#records.put(this.#record(run, "restarting", restartedAt));
    await h.flushReports(h.config.restartReportWaitMs);
    const waitMs = Math.min(h.config.restartTakeoverMs, run.budgetMs);
    const why = await h.restarter.restart({ ...program, waitMs });
    this.#records.delete(run.command.c.id);
    this.#fail(run, `restart failed: ${why}`);
  }

  /** The checked program to switch to: a bundle or binary, or the bundle and runtime of a signed release archive. */
  async #checkProgram(p: ProgramSpec): Promise<{ program: string; runtime?: string }> {
    if (!this.#h.adminDir) throw new Error("the node has no --admin-dir, where the program was pushed");
    const inside = resolveTarget(this.#h.adminDir, p.path);
    const path = inside.startsWith("/") ? inside : `${Deno.cwd()}/${inside}`; // the new process may run elsewhere
    let sha: string;
    try {
      sha = await fileSha256(path);
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message} (push it first: kvctl upgrade does)`);
    }
    if (sha !== p.sha256) throw new Error(`${path} has SHA-256 ${sha.slice(0, 12)}…, not ${p.sha256.slice(0, 12)}…`);
    if (!isReleaseArchive(path)) return { program: path };
    const { program, runtime } = await unpackRelease(path, p.sha256, p.signature, await this.#h.publicKey);
    return { program, runtime };
  }

  #record(run: Run, phase: RolloutRecord["phase"], restartedAt: number, backAt?: number): RolloutRecord {
    return {
      id: run.command.c.id,
      position: run.position,
      phase,
      restartedAt,
      ...(backAt ? { backAt } : {}),
      expiresAt: run.command.c.expiresAt,
      result: run.last!,
    };
  }

  /** This node's own turn failed: it halts the rollout. */
  #fail(run: Run, reason: string, status: NodeResult["status"] = "error"): void {
    if (run.phase === "failed" || this.#closed) return;
    run.phase = "failed";
    this.#report(run, status, { message: `rollout halted here: ${reason}`, finishedAt: this.#h.clock.now() }, {
      haltedAt: this.#h.self,
      reason,
    });
    this.#tellLater(run, {
      id: run.command.c.id,
      event: "halted",
      position: run.position,
      haltedAt: this.#h.self,
      reason,
    });
  }

  /** The new process after a restart: wait until back (or the budget is spent), then pass the turn on. */
  #comeBack(run: Run, rec: RolloutRecord): void {
    const h = this.#h;
    run.phase = "catching-up";
    const deadline = rec.restartedAt + run.budgetMs;
    const others = run.order.filter((a) => a !== h.self);
    let lastText = "";
    const check = async () => {
      if (this.#closed || run.phase !== "catching-up") return;
      const cu = h.catchUp?.();
      let text: string;
      let back = false;
      let views: { alive: number; of: number } | undefined;
      if (cu && !cu.caughtUp) text = describeCatchUp(cu);
      else {
        const v = await countViews(h.rpc, others, h.self, { viewTimeoutMs: 300, viewRetries: 1 });
        const unseen = others.filter((a) => !h.members.alive().includes(a));
        views = { alive: v.alive, of: v.of };
        back = v.alive === v.of && unseen.length === 0;
        text = back
          ? "back"
          : unseen.length > 0
          ? `rejoining: does not see ${unseen.join(", ")} alive`
          : `rejoining: alive in ${v.alive} of ${v.of} views (not in ${v.missing.map((m) => m.member).join(", ")})`;
      }
      if (back) return this.#back(run, rec, cu);
      if (h.clock.now() >= deadline) {
        return this.#fail(run, `not back within ${Math.round(run.budgetMs / 1000)} s: ${text}`);
      }
      if (text !== lastText) {
        lastText = text;
        this.#report(run, "running", { message: text }, {
          keysToGo: cu?.keysToGo,
          views: views ?? (cu?.views ? { alive: cu.views.alive, of: cu.views.of } : undefined),
          program: describeProgram(programInfo()),
        });
      }
      this.#after(h.config.rolloutCheckMs, check);
    };
    this.#report(run, "running", { message: "restarted: rejoining" }, { program: describeProgram(programInfo()) });
    this.#after(h.config.rolloutCheckMs, check);
  }

  #back(run: Run, rec: RolloutRecord, cu: CatchUpStatus | undefined): void {
    const h = this.#h;
    const now = h.clock.now();
    run.phase = "back";
    const secs = ((now - rec.restartedAt) / 1000).toFixed(1);
    const got = cu ? `, caught up (received ${cu.keysReceived} entries)` : "";
    this.#report(run, "ok", {
      message: `restarted and back in ${secs} s: alive in every member's view${got}; now ${
        describeProgram(programInfo())
      }`,
      finishedAt: now,
      durationMs: now - run.startedAt,
    }, { keysToGo: 0, backAfterMs: now - rec.restartedAt, program: describeProgram(programInfo()) });
    this.#records.put(this.#record(run, "back", rec.restartedAt, now));
    this.#tellLater(run, { id: run.command.c.id, event: "back", position: run.position });
  }

  /** Sends `e` to every later node of the order, each until it acknowledges (or the command expires). */
  #tellLater(run: Run, e: RolloutEvent): void {
    for (const to of run.order.slice(run.position + 1)) {
      const attempt = async () => {
        if (this.#closed || this.#h.clock.now() >= run.command.c.expiresAt) return;
        try {
          const r = await this.#h.rpc.call(to, AdminCommand.Rollout, e, undefined, { timeoutMs: 300, retries: 2 });
          if (parseAdminHeader("ok", r.header)?.ok === true) return;
        } catch { /* not reachable now: again later */ }
        this.#after(this.#h.config.rolloutRetryMs, attempt);
      };
      attempt();
    }
  }

  #after(ms: number, fn: () => void | Promise<void>): void {
    if (this.#closed) return;
    const t = this.#h.clock.setTimeout(() => {
      this.#timers.delete(t);
      Promise.resolve(fn()).catch(() => {});
    }, ms);
    this.#timers.add(t);
  }
}
