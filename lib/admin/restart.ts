/**
 * Restarting the node process in place, without a gap: the old process
 * starts its replacement first and keeps serving while the new one loads;
 * the new one, finding the port taken, asks the old one for it (takeover,
 * internal message 0x59 with a one-time token, authenticated with the cluster
 * key); the old one then stops taking client requests, leaves the membership
 * (peers stop routing to it at once), lets the requests in flight finish,
 * closes and exits, and the new one binds the port a few ms later.
 *
 * Who starts the replacement:
 * - under a supervisor (`kvstore node --supervised`, as `deno task cluster`
 *   runs nodes), the node prints one line, `KVSTORE-RESTART {json}`, and the
 *   supervisor starts the same command with `--takeover TOKEN` (and another
 *   program for an upgrade): the new process stays the supervisor's child;
 * - otherwise a detached bash runs this process's command line again (Linux:
 *   /proc/PID/cmdline), with `--takeover TOKEN` and, for an upgrade, the
 *   program swapped. Needs run permission for bash, which scripts need anyway.
 *
 * If no new process takes over in time, the old one keeps running and the
 * restart fails with the reason: the new process (or its supervisor) writes
 * why it could not start to `STATE_DIR/.kvstore-takeover-TOKEN.error`.
 *
 * @module
 */
import type { Clock, TimerId } from "../base/clock.ts";
import type { Rpc } from "../wire/rpc.ts";
import { filePathOf, isCompiledBinary, programPath } from "../base/program.ts";
import { toHex } from "../base/bytes.ts";
import { AdminCommand, parseAdminHeader } from "./protocol.ts";
import type { RestartOptions } from "./rollout_host.ts";

/**
 * Prefix of the line a supervised node prints to ask for its replacement.
 *
 * @example
 * ```ts
 * console.log(formatRestartLine({ takeover: "ab12" })); // KVSTORE-RESTART {"takeover":"ab12"}
 * ```
 */
export const RESTART_LINE_PREFIX = "KVSTORE-RESTART ";

/** What a supervised node asks its supervisor for. */
export interface RestartRequest {
  /** Token the new process must present (`--takeover TOKEN`). */
  takeover: string;
  /** Run this program instead of the current one (absolute path: a bundle or a binary). */
  program?: string;
}

/**
 * The supervisor line for `r`.
 *
 * @example
 * ```ts
 * console.log(formatRestartLine({ takeover: "ab12", program: "/srv/kv/bin/k.js" }).startsWith("KVSTORE-RESTART ")); // true
 * ```
 */
export function formatRestartLine(r: RestartRequest): string {
  return RESTART_LINE_PREFIX + JSON.stringify(r);
}

/**
 * The restart request in a line of a node's output, if it is one.
 *
 * @example
 * ```ts
 * console.log(parseRestartLine('KVSTORE-RESTART {"takeover":"ab12"}')); // { takeover: "ab12" }
 * ```
 */
export function parseRestartLine(line: string): RestartRequest | undefined {
  if (!line.startsWith(RESTART_LINE_PREFIX)) return undefined;
  try {
    const r = JSON.parse(line.slice(RESTART_LINE_PREFIX.length)) as RestartRequest;
    if (typeof r?.takeover !== "string" || !/^[0-9a-f]{8,64}$/.test(r.takeover)) return undefined;
    if (r.program !== undefined && typeof r.program !== "string") return undefined;
    return r.program ? { takeover: r.takeover, program: r.program } : { takeover: r.takeover };
  } catch {
    return undefined;
  }
}

/**
 * Where a new process (or its supervisor) says why it could not take over.
 *
 * @example
 * ```ts
 * console.log(takeoverErrorFile("/srv/kv", "ab12")); // "/srv/kv/.kvstore-takeover-ab12.error"
 * ```
 */
export function takeoverErrorFile(stateDir: string, token: string): string {
  return `${stateDir.replace(/\/+$/, "")}/.kvstore-takeover-${token}.error`;
}

/** Whether `path` names a script Deno runs (a bundle or the source tree's main.ts) rather than a binary. */
function isScript(path: string): boolean {
  return /\.(m?js|ts)$/.test(path);
}

/**
 * The command line of the replacement: `argv` (this process's) with any old `--takeover` dropped,
 * `--takeover TOKEN` added and, with `program`, the program swapped (a script for a script run by
 * deno, with `--unstable-net` ensured since the bundle may run outside the project's deno.json; a
 * binary for a binary, or for `deno run main.ts node`: a `compile:node` build), and with `runtime`
 * (an unpacked release's Deno) the deno that runs the script too. Throws with the reason when the
 * swap is not possible.
 *
 * @example
 * ```ts
 * const argv = ["deno", "run", "-A", "/r/main.ts", "node", "--port", "4000"];
 * console.log(replacementArgv(argv, { token: "ab12", mainPath: "/r/main.ts", cwd: "/r", compiled: false, program: "/a/k.js" }));
 * // ["deno", "run", "--unstable-net", "-A", "/a/k.js", "node", "--port", "4000", "--takeover", "ab12"]
 * ```
 */
export function replacementArgv(
  argv: readonly string[],
  o: { token: string; program?: string; runtime?: string; mainPath: string; cwd: string; compiled: boolean },
): string[] {
  let out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--takeover") i++;
    else if (!argv[i].startsWith("--takeover=")) out.push(argv[i]);
  }
  if (o.program) {
    if (o.compiled) {
      if (isScript(o.program)) {
        throw new Error(`this node is a compiled binary; it cannot switch to the script ${o.program}`);
      }
      out[0] = o.program;
    } else {
      const base = `file://${o.cwd.replace(/\/+$/, "")}/`;
      const at = out.findIndex((a, i) => i > 0 && !a.startsWith("-") && absolute(a, base) === o.mainPath);
      if (at < 0) throw new Error(`cannot find the program ${o.mainPath} in this node's command line`);
      if (isScript(o.program)) {
        out[at] = o.program;
        if (o.runtime) out[0] = o.runtime;
        if (!out.slice(0, at).includes("--unstable-net")) out.splice(out.indexOf("run") + 1, 0, "--unstable-net");
      } else {
        const rest = out.slice(at + 1);
        out = [o.program, ...(rest[0] === "node" ? rest.slice(1) : rest)];
      }
    }
  }
  return [...out, "--takeover", o.token];
}

function absolute(arg: string, base: string): string {
  try {
    return filePathOf(new URL(arg, base).href);
  } catch {
    return arg;
  }
}

/**
 * The command line of this process (argv), read from /proc through bash (Deno
 * itself may not read /proc/self without --allow-all); undefined where unknown.
 *
 * @example
 * ```ts ignore
 * console.log(await currentCommandLine()); // ["deno", "run", …, "node", "--port", "4000"]
 * ```
 */
export async function currentCommandLine(): Promise<string[] | undefined> {
  try {
    const out = await new Deno.Command("bash", {
      args: ["-c", 'cat "/proc/$PPID/cmdline"'],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const argv = new TextDecoder().decode(out.stdout).split("\0");
    if (argv.at(-1) === "") argv.pop();
    if (out.success && argv.length > 0) return argv;
  } catch { /* no bash, or not Linux */ }
  return undefined;
}

/**
 * Starts `argv` in a new session through bash, detached from this process (it outlives it);
 * output goes where this process's goes.
 *
 * @example
 * ```ts ignore
 * spawnDetached(["deno", "run", "-A", "main.ts", "node", "--takeover", token]);
 * ```
 */
export function spawnDetached(argv: string[]): void {
  const child = new Deno.Command("bash", {
    args: ["-c", 'exec "$@"', "kvstore-restart", ...argv],
    cwd: Deno.cwd(),
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
    detached: true,
  }).spawn();
  child.unref();
}

/** What the old process's side of a restart needs. */
export interface RestarterOptions {
  /** The node's internal endpoint (the takeover request arrives there). */
  rpc: Rpc;
  /** Time source. */
  clock: Clock;
  /** Print the supervisor line instead of starting the replacement itself. */
  supervised: boolean;
  /** Where the new process reports a failed start (the node's state dir). */
  stateDir?: string;
  /** Hands the port over: stop taking client requests, leave, drain, close. Then the process exits. */
  handover: () => Promise<void>;
  /** Starts the replacement (default: {@linkcode spawnDetached} of the rewritten command line). */
  spawn?: (argv: string[]) => void;
  /** Ends the process (default `Deno.exit(0)`). */
  exit?: () => void;
}

/**
 * The old process's side of a restart in place.
 *
 * @example
 * ```ts ignore
 * const r = new ProcessRestarter({ rpc: node.rpc, clock, supervised: false, stateDir, handover });
 * const why = await r.restart({ waitMs: 60_000 }); // returns only if no new process took over
 * ```
 */
export class ProcessRestarter {
  #o: RestarterOptions;
  #expected: { token: string; taken: () => void } | undefined;
  #handingOver = false;
  #handedTo: string | undefined;

  /** Registers the takeover handler on the node's endpoint. */
  constructor(options: RestarterOptions) {
    this.#o = options;
    options.rpc.handle(AdminCommand.Takeover, (m) => {
      const token = parseAdminHeader("takeover", m.header)?.token;
      if (typeof token === "string" && token === this.#handedTo) return { header: { ok: true } }; // a retry
      const e = this.#expected;
      if (!e || typeof token !== "string" || token !== e.token) {
        return { header: { ok: false, reason: "no restart with this token is in progress here" } };
      }
      e.taken();
      return { header: { ok: true } };
    });
  }

  /** Whether the port is being handed over (the process is about to exit). */
  get handingOver(): boolean {
    return this.#handingOver;
  }

  /**
   * Starts the replacement and waits up to `waitMs` for it to take over. On takeover the port is
   * handed over and the process exits (the promise never resolves); otherwise it resolves with
   * why the restart failed, and this process keeps running.
   */
  async restart(options: RestartOptions): Promise<string> {
    if (this.#expected || this.#handingOver) return "a restart is already in progress";
    const token = toHex(crypto.getRandomValues(new Uint8Array(12)));
    let taken = () => {};
    const takenOver = new Promise<"taken">((resolve) => taken = () => resolve("taken"));
    this.#expected = { token, taken };
    try {
      if (this.#o.supervised) {
        console.log(formatRestartLine({ takeover: token, ...(options.program ? { program: options.program } : {}) }));
      } else {
        const argv = await currentCommandLine();
        if (!argv) return "cannot read this process's command line (/proc/PID/cmdline) to start it again";
        let next: string[];
        try {
          next = replacementArgv(argv, {
            token,
            program: options.program,
            runtime: options.runtime,
            mainPath: programPath(),
            cwd: Deno.cwd(),
            compiled: isCompiledBinary(),
          });
        } catch (e) {
          return (e as Error).message;
        }
        try {
          (this.#o.spawn ?? spawnDetached)(next);
        } catch (e) {
          return `cannot start the new process: ${(e as Error).message}`;
        }
      }
      const outcome = await this.#waitForTakeover(token, takenOver, options.waitMs);
      if (outcome !== "taken") return outcome;
      this.#handedTo = token;
    } finally {
      this.#expected = undefined;
    }
    this.#handingOver = true;
    try {
      await this.#o.handover();
    } finally {
      (this.#o.exit ?? (() => Deno.exit(0)))();
    }
    return await new Promise<string>(() => {}); // exited (only a test's exit returns)
  }

  /** "taken", or why not: the new process's error file, or the time out. */
  async #waitForTakeover(token: string, taken: Promise<"taken">, waitMs: number): Promise<string> {
    const { clock, stateDir } = this.#o;
    const deadline = clock.now() + waitMs;
    for (;;) {
      let timer: TimerId = 0;
      const tick = new Promise<"tick">((resolve) => timer = clock.setTimeout(() => resolve("tick"), 100));
      const r = await Promise.race([taken, tick]);
      clock.clearTimeout(timer);
      if (r === "taken") return r;
      if (stateDir) {
        const file = takeoverErrorFile(stateDir, token);
        const text = await Deno.readTextFile(file).catch(() => undefined);
        if (text !== undefined) {
          await Deno.remove(file).catch(() => {});
          return `the new process could not start: ${text.trim().split("\n").slice(0, 3).join(" / ")}`;
        }
      }
      if (clock.now() >= deadline) {
        return `no new process took over within ${(waitMs / 1000).toFixed(waitMs < 10_000 ? 1 : 0)} s ` +
          "(see the node's output for why the new process did not start)";
      }
    }
  }
}
