/**
 * CPU time and resident memory of another process, read from Linux `/proc`
 * for the benchmarks. Deno 2.9 grants reads of another process's `/proc`
 * entries only with `--allow-all`, so the bench tasks run with it; a refused
 * or failed read throws instead of reporting a silent 0.
 *
 * @module
 */

import { statCpuMs, ticksToMs } from "../lib/base/process_state.ts";

function readProc(pid: number, file: "stat" | "status" | "smaps_rollup"): string {
  const path = `/proc/${pid}/${file}`;
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    const hint = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
      ? " (Deno reads another process's /proc only with --allow-all: run the deno task, which passes it)"
      : "";
    throw new Error(`Cannot read ${path}: ${(e as Error).message}${hint}`);
  }
}

/**
 * CPU time (ms, user + system) process `pid` has used so far.
 *
 * @example
 * ```ts ignore
 * const before = processCpuMs(pid);
 * // … load …
 * console.log(`${processCpuMs(pid) - before} ms of CPU`);
 * ```
 */
export function processCpuMs(pid: number): number {
  return statCpuMs(readProc(pid, "stat"));
}

/**
 * Resident set size (bytes) of process `pid`.
 *
 * @example
 * ```ts ignore
 * console.log(`${processRssBytes(pid) / 2 ** 20} MiB resident`);
 * ```
 */
export function processRssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readProc(pid, "status"));
  if (!m) throw new Error(`No VmRSS line in /proc/${pid}/status (is ${pid} a zombie?)`);
  return Number(m[1]) * 1024;
}

/**
 * CPU time (ns) every thread of process `pid` has run so far, summed from each thread's
 * `/proc/PID/task/TID/schedstat` (nanoseconds, not the 10 ms ticks of `stat`): an idle node uses a
 * few ms a second, which ticks cannot tell apart over a window of seconds. A thread that ended is no
 * longer counted, so a window's difference can only understate.
 *
 * @example
 * ```ts ignore
 * const before = processCpuNs(pid);
 * // … 10 s …
 * console.log(`${(processCpuNs(pid) - before) / 1e8}% of a core`); // ns / (10 s × 1e9 ns/s) × 100
 * ```
 */
export function processCpuNs(pid: number): number {
  let ns = 0;
  let tasks: Deno.DirEntry[];
  try {
    tasks = [...Deno.readDirSync(`/proc/${pid}/task`)];
  } catch (e) {
    throw new Error(`Cannot read /proc/${pid}/task: ${(e as Error).message}`);
  }
  for (const t of tasks) {
    try {
      ns += Number(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/schedstat`).split(" ")[0]);
    } catch { /* the thread ended meanwhile */ }
  }
  return ns;
}

/** Where a process's resident memory is, from `/proc/PID/smaps_rollup` (bytes). */
export interface ResidentSplit {
  /** Resident set size: every page mapped and in memory. */
  rss: number;
  /** Anonymous pages: the process's own memory (heaps, stacks), which no other process shares. */
  anonymous: number;
  /** Proportional set size: each page divided by the number of processes mapping it. */
  pss: number;
}

/**
 * Where process `pid`'s resident memory is: what RSS counts is its own (anonymous) memory plus the
 * pages of mapped files (the deno executable's code and data, shared by every process that runs it).
 *
 * @example
 * ```ts ignore
 * const m = processResidentSplit(pid);
 * console.log(`${(m.rss - m.anonymous) / 2 ** 20} MiB of mapped files`);
 * ```
 */
export function processResidentSplit(pid: number): ResidentSplit {
  const text = readProc(pid, "smaps_rollup");
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    if (!m) throw new Error(`No ${field} line in /proc/${pid}/smaps_rollup`);
    return Number(m[1]) * 1024;
  };
  return { rss: kib("Rss"), anonymous: kib("Anonymous"), pss: kib("Pss") };
}

/**
 * How many times the main thread of process `pid` has gone to sleep and been woken so far (its
 * voluntary context switches): a timer, a datagram or an I/O completion each wake an idle event
 * loop about once, so the rate counts wake-ups whatever the machine's load.
 *
 * @example
 * ```ts ignore
 * const before = processWakeups(pid);
 * // … a minute …
 * console.log(`${(processWakeups(pid) - before) / 60} wake-ups/s`);
 * ```
 */
export function processWakeups(pid: number): number {
  const path = `/proc/${pid}/task/${pid}/status`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${(e as Error).message}`);
  }
  const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(text);
  if (!m) throw new Error(`No voluntary_ctxt_switches line in ${path}`);
  return Number(m[1]);
}

/**
 * CPU time the whole machine has spent busy (user, nice, system, irq, softirq, steal) and idle so far
 * (ms, all cores together), from the first line of `/proc/stat`.
 *
 * @example
 * ```ts ignore
 * const { busyMs } = machineCpuMs();
 * ```
 */
export function machineCpuMs(): { busyMs: number; idleMs: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const t = line.trim().split(/\s+/).slice(1).map(Number); // user nice system idle iowait irq softirq steal
  return { busyMs: ticksToMs(t[0] + t[1] + t[2] + t[5] + t[6] + (t[7] ?? 0)), idleMs: ticksToMs(t[3] + t[4]) };
}

/** One reading of a process for an idle measurement. */
export interface ProcessSample {
  /** CPU time used so far by all its threads (ns, {@linkcode processCpuNs}). */
  cpuNs: number;
  /** Its resident memory: the whole of it, its own (anonymous) part and its proportional share. */
  memory: ResidentSplit;
  /** Wake-ups of its main thread so far ({@linkcode processWakeups}). */
  wakeups: number;
}

/**
 * CPU time, memory and wake-ups of process `pid` now.
 *
 * @example
 * ```ts ignore
 * const a = sampleProcess(pid);
 * // … a window …
 * const b = sampleProcess(pid);
 * ```
 */
export function sampleProcess(pid: number): ProcessSample {
  return { cpuNs: processCpuNs(pid), memory: processResidentSplit(pid), wakeups: processWakeups(pid) };
}
