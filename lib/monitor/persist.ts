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

/** Reads the snapshot in `dir`; null if there is none. Throws a clear error if it is unreadable. */
export async function loadSnapshot(dir: string): Promise<MonitorSnapshot | null> {
  const path = `${dir}/${SNAPSHOT_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`Cannot read ${path}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`Cannot use ${path}: it is not valid JSON; move it away to start with an empty history`);
  }
  const s = data as Partial<MonitorSnapshot>;
  if (s?.version !== 1 || !Array.isArray(s.nodes) || !Array.isArray(s.rounds)) {
    throw new Error(`Cannot use ${path}: unknown format; move it away to start with an empty history`);
  }
  return s as MonitorSnapshot;
}
