/**
 * Child processes in tests, always with a bound, so a process that never exits fails a test instead of hanging it:
 * waiting for a node to exit, and running the real `kvctl` CLI.
 *
 * @module
 */
import { roleCommand, type RoleProcess } from "../lib/roles/process_launcher.ts";
import { withTimeout } from "./support/real_time.ts";

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
