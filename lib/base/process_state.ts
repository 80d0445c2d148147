/**
 * What another process is doing, read from Linux `/proc`: its scheduler state, the CPU time it has
 * used, its age, and what each of its threads waits in. For errors about a child that did not do
 * what was awaited (a node that printed nothing), so the error tells a process starved of CPU on an
 * overloaded machine (runnable, a few hundred ms of CPU in minutes) from one blocked in the kernel
 * (sleeping, no CPU used) or one busy in a loop (seconds of CPU). Deno 2.9 lets only an
 * `--allow-all` process read another process's `/proc` entries; without it the readers return
 * undefined.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux). */
const CLK_TCK = 100;
/** Threads described by name, state and wait channel at most (a Deno process has about 10). */
const THREADS_DESCRIBED = 16;
/** Below this share of one core, a runnable process is said to wait for a core (a start uses ~100 %). */
const STARVED_SHARE = 0.1;

/** One thread of a process. */
export interface ThreadState {
  /** Thread id. */
  tid: number;
  /** Its name (`deno`, `tokio-runtime-w`, `V8 DefaultWorker`, ...). */
  name: string;
  /** Scheduler state: R running or runnable, S sleeping, D uninterruptible (disk), Z zombie, ... */
  state: string;
  /** The kernel function it sleeps in (`futex_do_wait`, `do_epoll_wait`, ...), empty when running. */
  wchan: string;
}

/** A snapshot of a process. */
export interface ProcessState {
  /** Process id. */
  pid: number;
  /** Scheduler state of the process (of its main thread). */
  state: string;
  /** CPU time used so far, user + system (ms). */
  cpuMs: number;
  /** Time since the process started (ms). */
  ageMs: number;
  /** Its threads (at most {@linkcode THREADS_DESCRIBED}). */
  threads: ThreadState[];
}

function parseStat(text: string): { name: string; fields: string[] } {
  const open = text.indexOf("("), close = text.lastIndexOf(")");
  return { name: text.slice(open + 1, close), fields: text.slice(close + 2).trim().split(" ") };
}

/**
 * Milliseconds of clock ticks (USER_HZ) as `/proc` counts them.
 *
 * @example
 * ```ts
 * console.log(ticksToMs(250)); // 2500
 * ```
 */
export function ticksToMs(ticks: number): number {
  return (ticks * 1000) / CLK_TCK;
}

/**
 * CPU time (ms, user + system) in the text of a `/proc/<pid>/stat` file.
 *
 * @example
 * ```ts
 * console.log(statCpuMs("42 (deno) S 1 42 42 0 -1 0 0 0 0 0 150 50 0 0")); // 2000
 * ```
 */
export function statCpuMs(stat: string): number {
  const { fields } = parseStat(stat);
  // Fields after the name, 0-based: 11 utime, 12 stime.
  return ticksToMs(Number(fields[11]) + Number(fields[12]));
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return "";
  }
}

/**
 * The state of process `pid`, or undefined when it is gone or `/proc` cannot be read.
 *
 * @example
 * ```ts ignore
 * const s = readProcessState(child.pid);
 * console.log(s?.state, s?.cpuMs);
 * ```
 */
export function readProcessState(pid: number): ProcessState | undefined {
  let stat: string, uptime: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    uptime = Deno.readTextFileSync("/proc/uptime");
  } catch {
    return undefined;
  }
  const { fields } = parseStat(stat);
  // Fields after the name, 0-based: 0 state, 19 starttime (ticks after boot).
  const cpuMs = statCpuMs(stat);
  const ageMs = Number(uptime.split(" ")[0]) * 1000 - ticksToMs(Number(fields[19]));
  const threads: ThreadState[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      if (threads.length >= THREADS_DESCRIBED) break;
      const ts = readOr(`/proc/${pid}/task/${t.name}/stat`);
      if (!ts) continue;
      const parsed = parseStat(ts);
      const wchan = readOr(`/proc/${pid}/task/${t.name}/wchan`);
      threads.push({
        tid: Number(t.name),
        name: parsed.name,
        state: parsed.fields[0],
        wchan: wchan === "0" ? "" : wchan,
      });
    }
  } catch { /* the process exited meanwhile */ }
  threads.sort((a, b) => a.tid - b.tid);
  return { pid, state: fields[0], cpuMs, ageMs: Math.max(0, ageMs), threads };
}

/**
 * One line saying what process `pid` is doing, with a reading: starved of CPU, blocked, or busy.
 *
 * @example
 * ```ts ignore
 * console.log(describeProcess(child.pid));
 * // process 4793: R (running or runnable), 0.64 s of CPU in 35.2 s (1.8 % of a core: waiting for a core, the
 * // machine is overloaded; load average 44.2); threads: deno R, V8 DefaultWorker S futex_do_wait, ...
 * ```
 */
export function describeProcess(pid: number): string {
  const s = readProcessState(pid);
  if (!s) return `process ${pid}: gone, or /proc not readable (Deno needs --allow-all to read it)`;
  return describeProcessState(s, loadAverage());
}

/** {@linkcode describeProcess} of a snapshot taken earlier, with the machine's 1-minute load average if known. */
export function describeProcessState(s: ProcessState, load?: number): string {
  const share = s.ageMs > 0 ? s.cpuMs / s.ageMs : 0;
  const main = s.threads.find((t) => t.tid === s.pid);
  const loadText = load === undefined ? "" : `; load average ${load.toFixed(1)}`;
  let reading: string;
  if (s.state === "R" && share < STARVED_SHARE) reading = `waiting for a core: the machine is overloaded${loadText}`;
  else if (s.state === "D") reading = `blocked in the kernel (${main?.wchan || "uninterruptible wait"})${loadText}`;
  else if (share < STARVED_SHARE) reading = `sleeping in ${main?.wchan || "?"}${loadText}`;
  else reading = `busy${loadText}`;
  const names: Record<string, string> = { R: "running or runnable", S: "sleeping", D: "disk wait", Z: "zombie" };
  const threads = s.threads.map((t) => `${t.name} ${t.state}${t.wchan ? ` ${t.wchan}` : ""}`).join(", ");
  return `process ${s.pid}: ${s.state} (${names[s.state] ?? "other"}), ${(s.cpuMs / 1000).toFixed(2)} s of CPU in ` +
    `${(s.ageMs / 1000).toFixed(1)} s (${(share * 100).toFixed(1)} % of a core: ${reading}); threads: ${threads}`;
}

/** The machine's 1-minute load average, undefined where it cannot be read. */
export function loadAverage(): number | undefined {
  try {
    return Deno.loadavg()[0];
  } catch {
    return undefined;
  }
}
