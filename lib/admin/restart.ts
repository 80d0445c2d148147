/**
 * Restarting the node process in place after a script asked for it
 * (`kvctl run --restart`): a detached bash waits until this process has gone
 * (so the UDP port is free), then runs the same command line again (Linux:
 * from /proc/self/cmdline). Needs run permission for bash, which scripts need
 * anyway.
 *
 * @module
 */

/** The command line of this process (argv), or undefined where it cannot be known. */
export function currentCommandLine(): string[] | undefined {
  try {
    const raw = Deno.readTextFileSync("/proc/self/cmdline");
    const argv = raw.split("\0");
    if (argv.at(-1) === "") argv.pop();
    if (argv.length > 0) return argv;
  } catch { /* not Linux, or no read permission */ }
  return undefined;
}

/**
 * Spawns the restarter; the caller must then stop the node and exit.
 * Throws if the command line cannot be known or bash cannot run.
 *
 * @example
 * ```ts ignore
 * spawnRestarter();
 * running.close();
 * Deno.exit(0);
 * ```
 */
export function spawnRestarter(argv = currentCommandLine()): void {
  if (!argv) throw new Error("cannot read this process's command line (/proc/self/cmdline) to restart it");
  const waitThenExec = [
    "pid=$1; shift",
    // Gone, or a zombie nobody reaped yet (its port is released either way).
    'while kill -0 "$pid" 2>/dev/null; do',
    '  [ -r "/proc/$pid/stat" ] && [ "$(cut -d" " -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ] && break',
    "  sleep 0.05",
    "done",
    'exec "$@"',
  ].join("\n");
  const child = new Deno.Command("bash", {
    args: ["-c", waitThenExec, "kvstore-restart", String(Deno.pid), ...argv],
    cwd: Deno.cwd(),
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
    detached: true,
  }).spawn();
  child.unref();
}
