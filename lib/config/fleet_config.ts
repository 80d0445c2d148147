/**
 * The validated fleet file (`FleetConfig`) and what reads it without parsing YAML: its cluster keys,
 * its error class, the Ed25519 key check. Parsing lives in `fleet_file.ts` (npm:yaml + zod), which
 * modules that only need these types do not load.
 *
 * @module
 */

/** A validated fleet file (defaults filled in). */
export interface FleetConfig {
  /** Cluster name shown on the status page (default `kvstore`). */
  name: string;
  /** The status server: its HTTP URL (nodes report there) and the UDP address it sends rounds from. */
  monitor?: { url: string; udp?: string };
  /** Shared key(s), hex: the first signs internal traffic and reports, every one is accepted. */
  clusterKey?: string | string[];
  /** Admin Ed25519 public key (base64), for signed admin commands. */
  adminPublicKey?: string;
  /** Timing preset of gossip and replication. */
  preset: "lan" | "wan";
  /** Replication factors and optional tuning (docs/cluster.md). */
  replication: {
    n: number;
    w: number;
    r: number;
    virtualNodes?: number;
    replicaTimeoutMs?: number;
    replicaRetries?: number;
    antiEntropyIntervalMs?: number;
    handoffIntervalMs?: number;
    tombstoneGraceMs?: number;
  };
  /** Who may send shutdown and wipeout without a proof (default loopback). */
  destructiveCommandsFrom?: string[];
  /** Clients exempt from the reply budget (default loopback). */
  trustedClients?: string[];
  /** Seed nodes (client/UDP addresses). */
  nodes: string[];
  /** Nodes whose internal port is not their client port + 10000: client address → port or host:port. */
  internalAddresses?: Record<string, number | string>;
  /** Window (ms) of an internal frame's time (default 30 s). */
  frameWindowMs?: number;
}

/**
 * The fleet's cluster keys, the signing key first (empty when it has none).
 *
 * @example
 * ```ts
 * console.log(clusterKeysOf({ clusterKey: ["a".repeat(32), "b".repeat(32)] }).length); // 2
 * ```
 */
export function clusterKeysOf(fleet: Pick<FleetConfig, "clusterKey">): string[] {
  const k = fleet.clusterKey;
  return k === undefined ? [] : typeof k === "string" ? [k] : [...k];
}

/** A fleet file that cannot be used; the message names the file, line and problem. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Whether `text` is base64 of an Ed25519 public key (32 raw bytes or 44 SPKI bytes).
 *
 * @example
 * ```ts
 * console.log(isEd25519PublicKeyText(btoa("x".repeat(32)))); // true
 * ```
 */
export function isEd25519PublicKeyText(text: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text.trim())) return false;
  try {
    const n = Uint8Array.fromBase64(text.trim()).length;
    return n === 32 || n === 44;
  } catch {
    return false;
  }
}
