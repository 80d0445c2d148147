/**
 * Optional persistence of the monitor's history (`--data-dir`): a JSON
 * snapshot written atomically (temp file + rename), loaded at start.
 *
 * @module
 */
import type { MonitorSnapshot } from "./monitor.ts";

/** File name of the snapshot inside the data dir. */
export const SNAPSHOT_FILE = "monitor-history.json";

/**
 * Writes `snapshot` to `dir` atomically.
 *
 * @example
 * ```ts ignore
 * await saveSnapshot("./monitor-data", monitor.snapshot());
 * ```
 */
export async function saveSnapshot(dir: string, snapshot: MonitorSnapshot): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${SNAPSHOT_FILE}`;
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(snapshot));
  await Deno.rename(tmp, path);
}

/** A snapshot that exists but cannot be used (unreadable, not JSON, unknown format). */
export class UnusableSnapshotError extends Error {
  /** Path of the snapshot file. */
  readonly path: string;
  /** What is wrong with it, e.g. "it is not valid JSON". */
  readonly problem: string;

  /** Creates the error for `path` with `problem`. */
  constructor(path: string, problem: string) {
    super(`Cannot use ${path}: ${problem}; move it away to start with an empty history`);
    this.name = "UnusableSnapshotError";
    this.path = path;
    this.problem = problem;
  }
}

/** Reads the snapshot in `dir`; null if there is none. Throws {@linkcode UnusableSnapshotError} if it is unusable. */
export async function loadSnapshot(dir: string): Promise<MonitorSnapshot | null> {
  const path = `${dir}/${SNAPSHOT_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new UnusableSnapshotError(path, `cannot read it (${(e as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UnusableSnapshotError(path, "it is not valid JSON");
  }
  const s = data as Partial<MonitorSnapshot>;
  if (s?.version !== 1 || !Array.isArray(s.nodes) || !Array.isArray(s.rounds)) {
    throw new UnusableSnapshotError(path, "unknown format");
  }
  return s as MonitorSnapshot;
}

/**
 * Renames the snapshot in `dir` to `monitor-history.json.broken-<time>` (never over an existing
 * file), so a snapshot that cannot be used is kept instead of being overwritten at the next save.
 * Returns the new path.
 *
 * @example
 * ```ts ignore
 * const aside = await setAsideSnapshot("./monitor-data"); // ./monitor-data/monitor-history.json.broken-2025-…Z
 * ```
 */
export async function setAsideSnapshot(dir: string, at: Date = new Date()): Promise<string> {
  const path = `${dir}/${SNAPSHOT_FILE}`;
  const stamp = at.toISOString().replace(/:/g, "-");
  for (let i = 0;; i++) {
    const target = `${path}.broken-${stamp}${i === 0 ? "" : `-${i}`}`;
    try {
      await Deno.lstat(target);
      continue; // taken (two failures within a millisecond): try the next name
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.rename(path, target);
    return target;
  }
}
