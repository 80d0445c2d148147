/**
 * Where kvctl finds its fleet file and admin key, the way operators expect:
 *
 * 1. fleet file: `--config FILE`, else `$KVSTORE_CONFIG`, else `.kvstore-cluster/nodes.yaml` in the current
 *    directory (written by `deno task cluster`), else `./nodes.yaml`, else none;
 * 2. admin key: `--key FILE`, else `$KVSTORE_ADMIN_KEY`, else `admin.key` beside the chosen fleet file
 *    (else `./admin.key`).
 *
 * `kvctl config` prints what was chosen and why. Under `deno task` (which runs in the repository),
 * {@linkcode adoptInvocationDirectory} moves back to the directory the user typed the command in.
 *
 * @module
 */
import { type FleetConfig, loadFleet } from "../config/fleet_file.ts";
import { DENO_CONFIG } from "../roles/process_launcher.ts";

/** The fleet file `deno task cluster` writes, relative to where it ran. */
export const CLUSTER_FLEET_FILE = ".kvstore-cluster/nodes.yaml";
/** The fleet file looked for last, in the current directory. */
export const LOCAL_FLEET_FILE = "nodes.yaml";
/** The admin key's file name (beside the fleet file, or in the current directory). */
export const ADMIN_KEY_FILE = "admin.key";

/** A file kvctl chose and the rule that chose it. */
export interface Found {
  /** The path, or undefined when nothing was found. */
  path?: string;
  /** `--config`, `$KVSTORE_CONFIG`, `deno task cluster`, `current directory`, `beside the fleet file`, `none`. */
  source: string;
}

/**
 * An environment variable, or undefined when unset, empty or not permitted.
 *
 * @example
 * ```ts
 * console.log(envOf("KVSTORE_SURELY_UNSET_VARIABLE")); // undefined
 * ```
 */
export function envOf(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env for it
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Which fleet file kvctl uses (see the module doc for the order).
 *
 * @example
 * ```ts ignore
 * console.log(await findFleetFile(undefined)); // { path: ".kvstore-cluster/nodes.yaml", source: "deno task cluster" }
 * ```
 */
export async function findFleetFile(flag: string | undefined): Promise<Found> {
  if (flag) return { path: flag, source: "--config" };
  const env = envOf("KVSTORE_CONFIG");
  if (env) return { path: env, source: "$KVSTORE_CONFIG" };
  if (await isFile(CLUSTER_FLEET_FILE)) return { path: CLUSTER_FLEET_FILE, source: "deno task cluster" };
  if (await isFile(LOCAL_FLEET_FILE)) return { path: LOCAL_FLEET_FILE, source: "current directory" };
  return { source: "none" };
}

/**
 * Which admin key kvctl uses: `--key`, `$KVSTORE_ADMIN_KEY`, then `admin.key` beside `fleetPath`, then `./admin.key`.
 *
 * @example
 * ```ts
 * console.log(findAdminKey(undefined, "/etc/kvstore/nodes.yaml").path); // "/etc/kvstore/admin.key"
 * ```
 */
export function findAdminKey(flag: string | undefined, fleetPath: string | undefined): Found {
  if (flag) return { path: flag, source: "--key" };
  const env = envOf("KVSTORE_ADMIN_KEY");
  if (env) return { path: env, source: "$KVSTORE_ADMIN_KEY" };
  const slash = fleetPath?.lastIndexOf("/") ?? -1;
  if (fleetPath && slash >= 0) {
    return { path: `${fleetPath.slice(0, slash + 1)}${ADMIN_KEY_FILE}`, source: "beside the fleet file" };
  }
  return { path: ADMIN_KEY_FILE, source: fleetPath ? "beside the fleet file" : "current directory" };
}

/**
 * Reads the fleet file kvctl finds (nothing when none is found); a named file that cannot be read is a
 * `ConfigError` (exit code 2).
 *
 * @example
 * ```ts ignore
 * const { fleet, path, source } = await discoverFleet(undefined);
 * ```
 */
export async function discoverFleet(flag: string | undefined): Promise<{ fleet?: FleetConfig } & Found> {
  const found = await findFleetFile(flag);
  return found.path ? { ...found, fleet: await loadFleet(found.path) } : found;
}

/**
 * Under `deno task kvctl …` the process runs in the repository (deno.json's directory) and deno sets
 * `INIT_CWD` to where the user typed the command: kvctl and cluster move there, so relative paths
 * (fleet file, key, script and program files) mean what the user meant. Only when the current
 * directory is the repository's: a test that starts kvctl elsewhere keeps its directory.
 *
 * @example
 * ```ts ignore
 * adoptInvocationDirectory(); // in main.ts, before the command runs
 * ```
 */
export function adoptInvocationDirectory(): void {
  const init = envOf("INIT_CWD");
  if (!init) return;
  try {
    const repo = decodeURIComponent(new URL(".", DENO_CONFIG).pathname).replace(/\/$/, "");
    const cwd = Deno.cwd();
    if (cwd === repo && init !== cwd && Deno.statSync(init).isDirectory) Deno.chdir(init);
  } catch { /* no permission, or no such directory: stay */ }
}
