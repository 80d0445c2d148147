/**
 * The process's open-file limit (RLIMIT_NOFILE), read from `/proc/self/limits` on Linux. Deno
 * raises its soft limit to the hard one when it starts on Linux (measured with Deno 2.9.6:
 * `ulimit -Sn 256` before `deno run` shows soft = hard in the process), so there is nothing left for
 * the program to raise; the limit is read to fit connection caps to it and to show it.
 *
 * @module
 */

/** Soft and hard open-file limits (null = unlimited). */
export interface DescriptorLimit {
  /** The limit in force. */
  soft: number | null;
  /** The ceiling the soft limit may be raised to without privileges. */
  hard: number | null;
}

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
  return { soft: num(m[1]), hard: num(m[2]) };
}

/** The process's open-file limit, or null where it cannot be read (not Linux, no read permission). */
export function descriptorLimit(): DescriptorLimit | null {
  try {
    return parseDescriptorLimit(Deno.readTextFileSync("/proc/self/limits"));
  } catch {
    return null;
  }
}
