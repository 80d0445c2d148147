/**
 * The processes of `kvstore cluster`: each node's (restarted in place when it asks), the monitor's
 * (restarted with a back-off whenever it exits), and the counts the command waits on.
 *
 * @module
 */
import { type PermissionSet, RoleProcess } from "../roles/process_launcher.ts";
import { parseRestartLine, type RestartRequest, takeoverErrorFile } from "../admin/restart.ts";

/** One node of the cluster: its command line and its processes (two while it restarts in place). */
export interface NodeSlot {
  address: string;
  port: number;
  /** The node's arguments (the port included). */
  args: string[];
  /** Where its new process says why it cannot start (data dir, else admin dir). */
  stateDir: string;
  procs: Set<RoleProcess>;
}

/** Stops `procs` with SIGTERM, then SIGKILL for any still running after `graceMs`; resolves when all have exited. */
export async function stopAll(procs: RoleProcess[], graceMs = 5_000): Promise<void> {
  await Promise.all(procs.map(async (p) => {
    p.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), graceMs));
    try {
      if (await Promise.race([p.exited(), late]) === "late") {
        console.error(`${p.name} did not stop within ${graceMs} ms; killing it`);
        p.kill("SIGKILL");
        await p.exited();
      }
    } finally {
      clearTimeout(timer);
    }
  }));
}

/** The monitor's history directory and save period under the cluster's directory (with --durable). */
export const MONITOR_DATA_ARGS = (dir: string) => ["--data-dir", `${dir}/monitor`, "--save-interval", "10s"];
/** Pause before the second restart of a monitor that keeps exiting; doubles each time (the first is at once). */
export const MONITOR_RESTART_MIN_MS = 250;
/** Longest pause between monitor restarts. */
export const MONITOR_RESTART_MAX_MS = 30_000;
/** A monitor that ran this long resets the back-off. */
const MONITOR_HEALTHY_MS = 60_000;

/**
 * Starts the monitor and restarts it whenever it exits while the cluster is not stopping, with a
 * back-off, counting the restarts and passing the count to the new monitor (`--restarts`) so its
 * page shows it. Resolves with the first process once it listens.
 */
export async function superviseMonitor(
  args: string[],
  hooks: { stopping: () => boolean; current: (p: RoleProcess) => void },
): Promise<RoleProcess> {
  let restarts = 0;
  let backoff = 0;
  const spawn = (): RoleProcess => {
    const startedAt = Date.now();
    const p = new RoleProcess("monitor", "monitor", [...args, "--restarts", String(restarts)]);
    hooks.current(p);
    let up = false;
    p.waitFor(/listening on/, 600_000).then(() => up = true, () => {});
    p.exited().then(async (s) => {
      if (hooks.stopping() || (!up && restarts === 0)) return; // a first start that failed is reported by the caller
      const how = s.signal ? `signal ${s.signal}` : `code ${s.code}`;
      if (Date.now() - startedAt >= MONITOR_HEALTHY_MS) backoff = 0;
      restarts++;
      console.log(
        `monitor exited (${how}): ${p.output.slice(-2).join(" / ") || "no output"}; ` +
          `restarting it in ${backoff} ms (restart ${restarts}); the nodes keep running`,
      );
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(Math.max(backoff * 2, MONITOR_RESTART_MIN_MS), MONITOR_RESTART_MAX_MS);
      if (hooks.stopping()) return;
      const next = spawn();
      next.waitFor(/listening on/).then(
        () => console.log(`monitor restarted (restart ${restarts}, pid ${next.child.pid})`),
        () => {},
      );
    });
    return p;
  };
  const first = spawn();
  await first.waitFor(/listening on/);
  return first;
}

/**
 * The nodes and the monitor of a running cluster: which processes live, how many nodes run and
 * failed, and whether the cluster is stopping (a signal, or every node gone).
 *
 * @example
 * ```ts ignore
 * const sup = new ClusterSupervisor(3, "node");
 * Deno.addSignalListener("SIGINT", sup.onSignal);
 * ```
 */
export class ClusterSupervisor {
  /** Every node process running (a node restarting in place has two for a moment). */
  readonly live = new Set<RoleProcess>();
  /** Nodes started so far. */
  started = 0;
  /** Nodes running now. */
  running = 0;
  /** Nodes that exited with a failure. */
  failed = 0;
  /** The monitor process now (a restarted one replaces it). */
  monitor?: RoleProcess;
  /** Set by a signal, or once every node has exited. */
  stopping = false;
  /** Set by Ctrl-C / SIGTERM. */
  signalled = false;
  /** Resolves on a signal, or when the last node exited. */
  readonly woken: Promise<void>;
  /** Resolves {@linkcode ClusterSupervisor.woken}. */
  wake: () => void = () => {};

  /** A supervisor of `nodes` nodes, each started with the deno.json permission set `permissionSet`. */
  constructor(readonly nodes: number, readonly permissionSet: PermissionSet) {
    this.woken = new Promise<void>((resolve) => this.wake = resolve);
  }

  /** The node processes and the monitor. */
  all(): RoleProcess[] {
    return [...this.live, ...(this.monitor ? [this.monitor] : [])];
  }

  /** Ctrl-C / SIGTERM: stop the cluster; a second one kills every process at once. */
  readonly onSignal = (): void => {
    if (this.stopping) {
      for (const p of this.all()) p.kill("SIGKILL"); // a second Ctrl-C: no more waiting
      return;
    }
    this.stopping = this.signalled = true;
    console.log("\nstopping the cluster…");
    this.wake();
  };

  /**
   * Watches a node process: a node that exits (crash, kill, 'kvctl shutdown') is reported and the
   * others keep running; a node that asks to be restarted in place gets its new process from here
   * (see lib/admin/restart.ts).
   */
  supervise(slot: NodeSlot, proc: RoleProcess, fresh: boolean): void {
    if (fresh) this.running++;
    slot.procs.add(proc);
    this.live.add(proc);
    proc.onLine((line) => {
      const request = parseRestartLine(line);
      if (!request || this.stopping || !slot.procs.has(proc)) return;
      this.supervise(slot, this.#restartInPlace(slot, request), false);
    });
    proc.exited().then((status) => {
      slot.procs.delete(proc);
      this.live.delete(proc);
      if (this.stopping) return;
      if (slot.procs.size > 0) {
        if (status.success) console.log(`node ${slot.address} restarted in place (pid ${proc.child.pid} handed over)`);
        return;
      }
      this.running--;
      if (!status.success) this.failed++;
      const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
      const running = this.running;
      console.log(`node ${slot.address} exited (${how}); ${running} node${running === 1 ? "" : "s"} still running`);
      if (running === 0 && this.started === this.nodes) this.wake();
    });
  }

  /** The new process of a node restarting in place; says why in the state dir if it exits before taking over. */
  #restartInPlace(slot: NodeSlot, request: RestartRequest): RoleProcess {
    const next = new RoleProcess(`node:${slot.port}`, "node", [...slot.args, "--takeover", request.takeover], {
      permissionSet: this.permissionSet,
      program: request.program,
    });
    let up = false;
    next.waitFor(/listening on udp/, 600_000).then(() => up = true, () => {});
    next.exited().then(async (status) => {
      if (up || this.stopping) return;
      const why = `the new process exited (code ${status.code}) before taking over: ` +
        next.output.slice(-3).join(" / ");
      console.log(`node ${slot.address}: ${why}; the old process keeps running`);
      await Deno.writeTextFile(takeoverErrorFile(slot.stateDir, request.takeover), why).catch(() => {});
    });
    return next;
  }
}
