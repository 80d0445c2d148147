/**
 * `kvstore monitor`: the status server.
 *
 * @module
 */

/** Runs the monitor (not built yet). */
export function monitorCommand(_args: string[]): Promise<number> {
  console.error("monitor: not built yet (see the monitoring issue)");
  return Promise.resolve(1);
}
