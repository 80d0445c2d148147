/**
 * Reads a fleet file for a long-running process: the plain common form without npm:yaml and zod
 * (`fleet_quick.ts`), anything else through `fleet_file.ts`, loaded only then. The result and the
 * errors are those of `loadFleet`.
 *
 * @module
 */
import { ConfigError, type FleetConfig } from "./fleet_config.ts";
import { quickParseFleet } from "./fleet_quick.ts";

/**
 * The text of the fleet file at `path`; throws {@linkcode ConfigError} naming the file when it cannot be read.
 *
 * @example
 * ```ts ignore
 * const text = await readFleetText("nodes.yaml");
 * ```
 */
export async function readFleetText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(`Cannot read ${path}: no such file; pass --config with the path of your nodes.yaml`);
    }
    throw new ConfigError(`Cannot read ${path}: ${(e as Error).message}`);
  }
}

/**
 * Reads and validates a fleet file as `loadFleet` does, loading yaml and zod only for a file outside
 * the plain form (or an invalid one, to say what is wrong).
 *
 * @example
 * ```ts ignore
 * const fleet = await readFleet("nodes.yaml");
 * console.log(fleet.nodes);
 * ```
 */
export async function readFleet(path: string): Promise<FleetConfig> {
  const text = await readFleetText(path);
  return quickParseFleet(text) ?? (await import("./fleet_file.ts")).parseFleet(text, path);
}
