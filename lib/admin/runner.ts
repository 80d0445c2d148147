/**
 * Executing admin scripts: `bash -c SCRIPT` in its own session and process
 * group (so a timeout kills grandchildren too), output captured up to a cap.
 * Runs only when the process may run bash
 * (`Deno.permissions.query({ name: "run", command: "bash" })` granted);
 * otherwise it reports "refused" and runs nothing. Injectable, so simulations
 * count executions instead of spawning processes.
 *
 * @module
 */
import { utf8Decoder } from "../base/bytes.ts";

/** One script to run. */
export interface RunRequest {
  /** Command id (for logs and the environment). */
  id: string;
  /** The bash script. */
  script: string;
  /** Kill the whole process group after this many ms. */
  timeoutMs: number;
  /** Bytes kept per output stream. */
  maxOutputBytes: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** How a script ended. */
export type RunStatus = "ok" | "failed" | "timeout" | "refused" | "error";

/** The outcome of one script. */
export interface RunOutcome {
  /** ok (exit 0), failed (non-zero exit), timeout (killed), refused (no permission), error (could not start). */
  status: RunStatus;
  /** Exit code, null when killed by a signal or never started. */
  exitCode: number | null;
  /** Signal that ended it, if any. */
  signal?: string;
  /** Wall time from start to the end of output (ms). */
  durationMs: number;
  /** Captured standard output (UTF-8, up to the cap). */
  stdout: string;
  /** Captured standard error (UTF-8, up to the cap). */
  stderr: string;
  /** Bytes of output dropped because of the cap. */
  truncatedBytes: number;
  /** A human note (refusal reason, start error). */
  message?: string;
}

/** Runs scripts (bash in production; a counter in simulations). */
export interface ScriptExecutor {
  /** Runs one script; never rejects. */
  run(request: RunRequest): Promise<RunOutcome>;
}

/**
 * Message reported by a node that may not run bash.
 *
 * @example
 * ```ts
 * console.log(REFUSED_MESSAGE);
 * ```
 */
export const REFUSED_MESSAGE = "refused: started without --allow-run";

/**
 * Whether this process may run bash (the gate for script execution).
 *
 * @example
 * ```ts
 * console.log(await mayRunBash()); // true under --allow-run=bash
 * ```
 */
export async function mayRunBash(): Promise<boolean> {
  try {
    return (await Deno.permissions.query({ name: "run", command: "bash" })).state === "granted";
  } catch {
    return false;
  }
}

/** Reads a stream to its end, keeping at most `cap` bytes. */
async function capture(
  stream: ReadableStream<Uint8Array>,
  cap: number,
): Promise<{ bytes: Uint8Array; dropped: number }> {
  const parts: Uint8Array[] = [];
  let kept = 0;
  let dropped = 0;
  for await (const chunk of stream) {
    const room = cap - kept;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      parts.push(part);
      kept += part.length;
    }
    dropped += Math.max(0, chunk.length - Math.max(0, room));
  }
  const bytes = new Uint8Array(kept);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, dropped };
}

/**
 * Runs scripts with bash in a new session (`detached`: setsid), so the child's
 * pid is its process group id. On timeout the group is killed with
 * `bash -c 'kill -KILL -- -PGID'` (Deno.kill on a group needs unrestricted
 * --allow-run; running bash is what the node is allowed to do). The script is
 * done when bash exits and its output is closed (a background job that keeps
 * stdout open keeps the script running until the timeout, as over ssh).
 *
 * @example
 * ```ts ignore
 * const out = await new BashExecutor().run({ id: "x", script: "echo hi", timeoutMs: 5000, maxOutputBytes: 1024 });
 * console.log(out.stdout); // "hi\n"
 * ```
 */
export class BashExecutor implements ScriptExecutor {
  /** Scripts started (for tests and stats). */
  started = 0;

  async run(request: RunRequest): Promise<RunOutcome> {
    const start = performance.now();
    const empty = { stdout: "", stderr: "", truncatedBytes: 0 };
    if (!(await mayRunBash())) {
      return { status: "refused", exitCode: null, durationMs: 0, ...empty, message: REFUSED_MESSAGE };
    }
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("bash", {
        args: ["-c", request.script, "kvstore-admin"],
        env: { ...request.env, KVSTORE_COMMAND_ID: request.id },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (e) {
      return {
        status: "error",
        exitCode: null,
        durationMs: performance.now() - start,
        ...empty,
        message: `cannot start bash: ${(e as Error).message}`,
      };
    }
    this.started++;
    const pgid = child.pid;
    const out = capture(child.stdout, request.maxOutputBytes);
    const err = capture(child.stderr, request.maxOutputBytes);
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, request.timeoutMs);
    });
    const finished = Promise.all([child.status, out, err]).then(() => {});
    await Promise.race([finished, expired]);
    clearTimeout(timer);
    if (timedOut) await killGroup(pgid);
    const [status, o, e] = await Promise.all([child.status, out, err]);
    const durationMs = Math.round(performance.now() - start);
    const result: RunOutcome = {
      status: timedOut ? "timeout" : status.code === 0 ? "ok" : "failed",
      exitCode: status.signal ? null : status.code,
      durationMs,
      stdout: utf8Decoder.decode(o.bytes),
      stderr: utf8Decoder.decode(e.bytes),
      truncatedBytes: o.dropped + e.dropped,
    };
    if (status.signal) result.signal = status.signal;
    if (timedOut) result.message = `killed the process group after the ${request.timeoutMs} ms timeout`;
    return result;
  }
}

/**
 * Kills every process of group `pgid` (SIGKILL) through bash's kill builtin.
 *
 * @example
 * ```ts ignore
 * await killGroup(child.pid); // child was spawned with detached: true
 * ```
 */
export async function killGroup(pgid: number): Promise<void> {
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  try {
    await new Deno.Command("bash", {
      args: ["-c", 'kill -KILL -- "-$1" 2>/dev/null; exit 0', "kvstore-kill", String(pgid)],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  } catch { /* nothing more we can do */ }
}
