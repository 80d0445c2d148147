/**
 * Restarting the node process in place after a script asked for it
 * (`kvctl run --restart`): a detached bash waits until this process has gone
 * (so the UDP port is free), then runs the same command line again (Linux:
 * from /proc/PID/cmdline, read by bash). Needs run permission for bash, which scripts need
 * anyway.
 *
 * @module
 */

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
 * Spawns the restarter; the caller must then stop the node and exit.
 * Throws if the command line cannot be known or bash cannot run.
 *
 * @example
 * ```ts ignore
 * await spawnRestarter();
 * running.close();
 * Deno.exit(0);
 * ```
 */
export async function spawnRestarter(argv?: string[]): Promise<void> {
  argv ??= await currentCommandLine();
  if (!argv) throw new Error("cannot read this process's command line (/proc/PID/cmdline) to restart it");
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

/**
 * Restarts this node process in place: spawns the restarter, stops the node
 * (`stop`), exits. Logs and returns if the restarter cannot start.
 *
 * @example
 * ```ts ignore
 * restartAndExit(() => running.close());
 * ```
 */
export async function restartAndExit(stop: () => void): Promise<void> {
  try {
    await spawnRestarter();
  } catch (e) {
    console.error(`admin: cannot restart in place: ${(e as Error).message}`);
    return;
  }
  console.log("kvstore node restarting in place (admin command)");
  stop();
  Deno.exit(0);
}
