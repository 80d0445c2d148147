/**
 * Child processes in tests, always with a bound, so a process that never exits fails a test instead of hanging it:
 * waiting for a node to exit, running the real `kvctl` CLI, and finding and stopping the processes a test left
 * (a node restarted in place is not a child of the test).
 *
 * @module
 */
import { roleCommand, type RoleProcess } from "../../lib/roles/process_launcher.ts";
import { poll, withTimeout } from "./real_time.ts";

/**
 * Resolves with `p`'s exit status, or fails if it has not exited within `ms` (a node that ignores
 * shutdown fails the test instead of hanging it; the caller's cleanup then kills it).
 */
export function exitsWithin(p: RoleProcess, ms = 5_000): Promise<Deno.CommandStatus> {
  return withTimeout(p.exited(), ms, () => `${p.name} to exit; output:\n${p.output.join("\n")}`);
}

/** What one `kvctl` run printed and returned. */
export interface KvctlRun {
  code: number;
  /** Standard output as text, and as raw bytes (get prints the value unchanged). */
  stdout: string;
  stdoutBytes: Uint8Array;
  stderr: string;
}

/**
 * Runs the real `kvctl` CLI in a child process (as `deno task kvctl` does), with `stdin` piped in
 * when given (otherwise standard input is empty), in `cwd` if given, with `env` added to the environment.
 * Killed, and the test failed, after `limitMs`.
 */
export async function kvctl(
  args: string[],
  options: { stdin?: Uint8Array; limitMs?: number; cwd?: string; env?: Record<string, string> } = {},
): Promise<KvctlRun> {
  const limitMs = options.limitMs ?? 30_000;
  const { cmd, args: argv } = roleCommand("kvctl", args);
  const child = new Deno.Command(cmd, {
    args: argv,
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, limitMs);
  try {
    if (options.stdin) {
      // A kvctl that exits before reading its input (a usage error) closes the pipe: what it
      // printed is then the thing to look at, so a failed write is not an error here.
      const writer = child.stdin.getWriter();
      await writer.write(options.stdin).catch(() => {});
      await writer.close().catch(() => {});
    }
    const out = await child.output();
    const dec = new TextDecoder();
    const run = {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stdoutBytes: out.stdout,
      stderr: dec.decode(out.stderr),
    };
    if (timedOut) throw new Error(`kvctl ${args.join(" ")} did not exit within ${limitMs} ms: ${JSON.stringify(run)}`);
    return run;
  } finally {
    clearTimeout(timer);
  }
}

/** Whether process `pid` is gone (or a zombie: killed, not yet reaped). */
export async function processGone(pid: number): Promise<boolean> {
  const out = await new Deno.Command("bash", {
    args: ["-c", `s=$(cut -d' ' -f3 /proc/${pid}/stat 2>/dev/null) || exit 0; [ "$s" = Z ] && exit 0; exit 1`],
  }).output();
  return out.success;
}

/** Pids of live processes (other than this one) whose command line mentions `text` (a test's unique temp dir). */
export function pidsMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      const state = Deno.readTextFileSync(`/proc/${e.name}/stat`).split(") ")[1]?.[0];
      if (cmd.includes(text) && state !== "Z") out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** Sends SIGTERM to `pids`, waits up to `graceMs` for them to be gone, then sends SIGKILL to any left. */
export async function stopPids(pids: number[], graceMs = 5_000): Promise<void> {
  const signal = (s: Deno.Signal) => {
    for (const pid of pids) {
      try {
        Deno.kill(pid, s);
      } catch { /* gone */ }
    }
  };
  signal("SIGTERM");
  const gone = await poll(async () => (await Promise.all(pids.map(processGone))).every(Boolean), {
    timeoutMs: graceMs,
    intervalMs: 20,
  });
  if (!gone.done) signal("SIGKILL");
}

/**
 * This process's environment without `INIT_CWD`, for a `deno task` child typed "in another
 * directory": deno keeps an `INIT_CWD` it inherits (npm's rule), so under `deno task test` the
 * child would otherwise take the repository for the directory it was typed in.
 */
export function userShellEnv(): { clearEnv: true; env: Record<string, string> } {
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  return { clearEnv: true, env };
}
