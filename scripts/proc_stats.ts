/**
 * CPU time and resident memory of another process, read from Linux `/proc`
 * for the benchmarks. Deno 2.9 grants reads of another process's `/proc`
 * entries only with `--allow-all`, so the bench tasks run with it; a refused
 * or failed read throws instead of reporting a silent 0.
 *
 * @module
 */

import { statCpuMs, ticksToMs } from "../lib/base/process_state.ts";

function readProc(pid: number, file: "stat" | "status"): string {
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
