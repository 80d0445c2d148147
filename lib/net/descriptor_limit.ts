/**
 * The process's open-file limit (RLIMIT_NOFILE), read from `/proc/self/limits` on Linux. Deno
 * raises its soft limit to the hard one when it starts on Linux (measured with Deno 2.9.6:
 * `ulimit -Sn 256` before `deno run` shows soft = hard in the process), so there is nothing left for
 * the program to raise; the limit is read to fit connection caps to it and to show it.
 *
 * @module
 */

/** Soft and hard open-file limits (null = unlimited, or unknown for a probed hard limit). */
export interface DescriptorLimit {
  /** The limit in force (probed: the descriptors that could still be opened). */
  soft: number | null;
  /** The ceiling the soft limit may be raised to without privileges. */
  hard: number | null;
  /** Where it comes from: `/proc/self/limits`, or opening /dev/null until refused (see {@linkcode probeDescriptorLimit}). */
  source?: "proc" | "probe";
  /** Probed: the probe stopped at `soft` without being refused, so the limit is at least that. */
  atLeast?: boolean;
}

/** Descriptors opened at most by {@linkcode probeDescriptorLimit}. */
export const DESCRIPTOR_PROBE_MAX = 4_096;

/**
 * Parses the "Max open files" line of `/proc/self/limits`; null when absent.
 *
 * @example
 * ```ts
 * const text = "Limit Soft Limit Hard Limit Units\nMax open files            1024   4096   files\n";
 * console.log(parseDescriptorLimit(text)); // { soft: 1024, hard: 4096 }
 * ```
 */
export function parseDescriptorLimit(text: string): DescriptorLimit | null {
  const line = text.split("\n").find((l) => l.startsWith("Max open files"));
  const m = line?.match(/^Max open files\s+(\S+)\s+(\S+)/);
  if (!m) return null;
  const num = (s: string) => (s === "unlimited" ? null : Number(s));
  return { soft: num(m[1]), hard: num(m[2]), source: "proc" };
}

/**
 * The process's open-file limit: from `/proc/self/limits` (which Deno 2.9 lets only an `--allow-all`
 * process read), else probed; null where neither works.
 */
export function descriptorLimit(): DescriptorLimit | null {
  try {
    return parseDescriptorLimit(Deno.readTextFileSync("/proc/self/limits"));
  } catch {
    return probeDescriptorLimit();
  }
}

/**
 * How many more descriptors the process can open: opens `/dev/null` until refused (EMFILE) or
 * `max` are open, then closes them all (0.1–0.5 s for 4,096 on the 2-core development machine). Run once at start, before
 * serving; null if `/dev/null` cannot be opened at all.
 */
export function probeDescriptorLimit(max: number = DESCRIPTOR_PROBE_MAX): DescriptorLimit | null {
  const files: Deno.FsFile[] = [];
  let refused = false;
  try {
    while (files.length < max) files.push(Deno.openSync("/dev/null"));
  } catch (e) {
    refused = (e as { code?: string }).code === "EMFILE";
  } finally {
    for (const f of files) f.close();
  }
  if (!refused && files.length < max) return null;
  return { soft: files.length, hard: null, source: "probe", atLeast: !refused };
}
