/**
 * Which key authenticates a node's internal traffic, from its fleet file, and
 * the rule that a cluster never runs unauthenticated by accident.
 *
 * @module
 */
import { toHex } from "../base/bytes.ts";
import { ClusterKeyring } from "./keyring.ts";
import { clusterKeysOf, type FleetConfig } from "../config/fleet_config.ts";
import type { Address } from "../net/transport.ts";

/**
 * The keyring of the fleet file's `clusterKey` (one key or a list: the first signs, all verify),
 * or `undefined` when it names none.
 *
 * @example
 * ```ts
 * import { parseFleet } from "../config/fleet_file.ts";
 * const fleet = parseFleet(`clusterKey: "${"ab".repeat(32)}"\nnodes: ["127.0.0.1:4000"]\n`, "nodes.yaml");
 * console.log(fleetKeyring(fleet)?.size); // 1
 * ```
 */
export function fleetKeyring(fleet: FleetConfig | undefined): ClusterKeyring | undefined {
  const keys = fleet ? clusterKeysOf(fleet) : [];
  return keys.length > 0 ? ClusterKeyring.fromHex(keys) : undefined;
}

/**
 * Why a node must not start unauthenticated: it has peers (from the fleet file or seeds) but no
 * cluster key, and the operator did not say `--insecure`. `undefined` when it may start.
 *
 * @example
 * ```ts
 * console.log(insecureClusterError(undefined, "127.0.0.1:4000", [], false)); // undefined (a lone node)
 * ```
 */
export function insecureClusterError(
  fleet: FleetConfig | undefined,
  self: Address,
  seeds: readonly Address[],
  insecure: boolean,
): string | undefined {
  if (insecure || (fleet && clusterKeysOf(fleet).length > 0)) return undefined;
  const peers = new Set([...(fleet?.nodes ?? []), ...seeds]);
  peers.delete(self);
  if (peers.size === 0) return undefined;
  return `the fleet has other nodes (${[...peers].slice(0, 3).join(", ")}${peers.size > 3 ? ", …" : ""}) ` +
    `but no clusterKey, so anyone who can reach the UDP port could read, overwrite or split the cluster. ` +
    `Add a shared key to the fleet file on every host (clusterKey: <64 hex digits>, for example from ` +
    `'openssl rand -hex 32'), or pass --insecure to run without one on a network you trust`;
}

/** The warning a node prints when it runs a cluster without a key. */
export const INSECURE_WARNING = "kvstore node: WARNING: --insecure: node-to-node traffic is not authenticated; " +
  "anyone who can reach this UDP port can read and change the store and the membership";

/**
 * A new random cluster key: 64 hex digits (32 bytes).
 *
 * @example
 * ```ts
 * console.log(newClusterKey().length); // 64
 * ```
 */
export function newClusterKey(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}
