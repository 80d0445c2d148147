/**
 * Admin clusters of real node processes, on the shared fixture (tests/support/process_cluster.ts): the
 * fixture's options for the admin acceptance tests, the membership wait they share, and what a script left
 * in a node's admin directory.
 *
 * @module
 */
import { ProcessCluster } from "../support/process_cluster.ts";

/**
 * Starts `n` node processes with an admin key, an admin directory each and an in-process monitor named in
 * the fleet file; `allowRun` grants them bash (`node-admin`), `perNodeConfig` gives each its own fleet file.
 * With `fleetSize`, only the first that many are in the fleet file and started. The nodes are stopped with
 * SIGTERM at the end.
 */
export function startAdminCluster(
  n: number,
  options: { allowRun: boolean; perNodeConfig?: boolean; fleetSize?: number },
): Promise<ProcessCluster> {
  return ProcessCluster.start({
    size: n,
    fleetSize: options.fleetSize,
    name: "admin-test",
    admin: true,
    monitor: "in-process",
    permissionSet: options.allowRun ? "node-admin" : "node",
    perNodeConfig: options.perNodeConfig,
    stopSignal: "SIGTERM",
    dirPrefix: "kvstore-admin-test-",
  });
}

/** Waits (30 s at most, asking every 20 ms, 100 ms per answer) until each node counts `count` members. */
export function membersEverywhere(c: ProcessCluster, count: number, of: string[] = c.addresses): Promise<number> {
  return c.waitForMembers(count, {
    of,
    timeoutMs: 30_000,
    intervalMs: 20,
    client: { timeoutMs: 100, retries: 1 },
    what: `${count} members everywhere`,
  });
}

/** Lines of a text file, or [] if it does not exist (what a script appended, such as `ran.txt`). */
export async function linesOf(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}
