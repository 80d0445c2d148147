/**
 * Loading and validating the fleet file `nodes.yaml` (npm:yaml + zod), with
 * errors that name the file, the line and what is wrong.
 *
 * @module
 */
import { Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { addressSchema } from "../net/address_schema.ts";
import { isSourceNetwork } from "../net/source_networks.ts";
import { ConfigError, type FleetConfig, isEd25519PublicKeyText } from "./fleet_config.ts";

export { clusterKeysOf, ConfigError, type FleetConfig } from "./fleet_config.ts";

const address = addressSchema();

const clusterKeyText = z.string().regex(/^(?:[0-9a-fA-F]{2}){16,}$/, {
  message: "expected at least 32 hex digits (an even count), for example from 'openssl rand -hex 32'",
});

/** Schema of nodes.yaml (what it accepts; {@linkcode FleetConfig} is what it yields). */
const FleetSchema = z.strictObject({
  /** Cluster name shown on the status page. */
  name: z.string().min(1).default("kvstore"),
  /** Status server: its HTTP URL (nodes report there) and, optionally, the UDP address it sends rounds from. */
  monitor: z.strictObject({
    url: z.string().url({ message: "expected a URL such as http://127.0.0.1:8080" }),
    udp: address.optional(),
  }).optional(),
  /**
   * Shared secret (hex, ≥ 32 digits) authenticating internal traffic and node reports; or a list
   * of them during a key rotation: the first signs, every one is accepted.
   */
  clusterKey: z.union([
    clusterKeyText,
    z.array(clusterKeyText).min(1, { message: "list at least one key, or give one key as text" }),
  ], { message: "expected at least 32 hex digits, or a list of such keys" }).optional(),
  /** Admin Ed25519 public key (base64 raw 32 bytes, or SPKI), for signed admin commands (`kvctl keygen`). */
  adminPublicKey: z.string().refine(isEd25519PublicKeyText, {
    message: "expected the base64 Ed25519 public key printed by 'kvctl keygen' (32 raw or 44 SPKI bytes)",
  }).optional(),
  /** Timing preset for gossip: lan or wan. */
  preset: z.enum(["lan", "wan"]).default("lan"),
  /** Replication factors. */
  replication: z.strictObject({
    n: z.number().int().min(1).max(7).default(3),
    w: z.number().int().min(1).max(7).default(2),
    r: z.number().int().min(1).max(7).default(2),
    /** Optional tuning (docs/cluster.md); absent fields keep the preset's defaults. */
    virtualNodes: z.number().int().min(1).max(4096).optional(),
    replicaTimeoutMs: z.number().int().min(1).optional(),
    replicaRetries: z.number().int().min(0).max(10).optional(),
    antiEntropyIntervalMs: z.number().int().min(100).optional(),
    handoffIntervalMs: z.number().int().min(100).optional(),
    tombstoneGraceMs: z.number().int().min(1_000).optional(),
  }).default({ n: 3, w: 2, r: 2 }).refine((r) => r.w <= r.n && r.r <= r.n, {
    message: "w and r must not exceed n",
  }),
  /**
   * Who may send the destructive client commands (shutdown 0x04, wipeout 0x05) without a proof:
   * CIDR blocks, addresses, and the words loopback, fleet (this file's node and monitor hosts), any
   * and none. Default [loopback]; others need a proof made with the clusterKey (kvctl makes it)
   * or get 0x04 and nothing happens.
   */
  destructiveCommandsFrom: z.array(
    z.string().refine(isSourceNetwork, {
      message: "expected an address, a CIDR block (10.0.0.0/8, 2001:db8::/32), loopback, fleet, any or none",
    }),
  ).min(1, { message: "list at least one network (loopback, fleet, any, none or a CIDR block)" }).optional(),
  /**
   * Clients exempt from the reply budget (same words as destructiveCommandsFrom). Default
   * [loopback]; [none] budgets every source.
   */
  trustedClients: z.array(
    z.string().refine(isSourceNetwork, {
      message: "expected an address, a CIDR block (10.0.0.0/8, 2001:db8::/32), loopback, fleet, any or none",
    }),
  ).min(1, { message: "list at least one network (loopback, fleet, any, none or a CIDR block)" }).optional(),
  /** Seed nodes (client/UDP addresses). */
  nodes: z.array(address).min(1, { message: "list at least one node address" }),
  /**
   * Nodes whose internal port (node-to-node frames) is not their client port + 10000: client
   * address → internal port, or internal host:port (docs/cluster.md).
   */
  internalAddresses: z.record(
    address,
    z.union([z.number().int().min(1).max(65_535), address], {
      message: "expected a port (1-65535) or host:port, for example 4100 or 10.0.1.5:14000",
    }),
  ).optional(),
  /** Window (ms) of an internal frame's time around the receiver's clock (default 30000; docs/cluster.md). */
  frameWindowMs: z.number().int().min(100).max(3_600_000).optional(),
});

// The interface and the schema must describe the same thing (checked by the compiler both ways).
type Parsed = z.output<typeof FleetSchema>;
const _schemaYieldsConfig: (p: Parsed) => FleetConfig = (p) => p;
const _configIsSchemaOutput: (c: FleetConfig) => Parsed = (c) => c;

/**
 * Parses and validates fleet-file text. `file` is only used in messages.
 *
 * @example
 * ```ts
 * const cfg = parseFleet("nodes:\n  - 127.0.0.1:4000\n", "nodes.yaml");
 * console.log(cfg.nodes); // ["127.0.0.1:4000"]
 * ```
 */
export function parseFleet(text: string, file: string): FleetConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lineCounter.linePos(e.pos[0]);
    throw new ConfigError(`Cannot parse ${file}: line ${pos.line}, column ${pos.col}: ${e.message.split("\n")[0]}`);
  }
  const data = doc.toJS();
  if (data === null || data === undefined) {
    throw new ConfigError(`Invalid ${file}: the file is empty; it needs at least a "nodes:" list`);
  }
  const result = FleetSchema.safeParse(data);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const issue = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
  const path = issue.path.map(String);
  const line = lineOf(doc, lineCounter, path);
  const where = path.length > 0 ? ` (at "${path.join(".")}")` : "";
  let message = issue.message;
  if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) {
    message = `missing required field "${path.at(-1)}"`;
  }
  if (issue.code === "unrecognized_keys") {
    message = `unknown field ${(issue as { keys: string[] }).keys.map((k) => `"${k}"`).join(", ")}; allowed: ${
      Object.keys(FleetSchema.shape).join(", ")
    }`;
  }
  throw new ConfigError(`Invalid ${file}: line ${line}${where}: ${message}`);
}

/** The line of the YAML key (or sequence item) at `path`, falling back to its nearest parent. */
function lineOf(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: string[]): number {
  for (let depth = path.length; depth > 0; depth--) {
    const parentPath = path.slice(0, depth - 1).map((p) => /^\d+$/.test(p) ? Number(p) : p);
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
    const last = path[depth - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === last);
      const range = (pair?.key as { range?: number[] } | undefined)?.range;
      if (range) return lines.linePos(range[0]).line;
    } else if (isSeq(parent)) {
      const range = (parent.items[Number(last)] as { range?: number[] } | undefined)?.range;
      if (range) return lines.linePos(range[0]).line;
    }
  }
  const range = (doc.contents as { range?: number[] } | null)?.range;
  return range ? lines.linePos(range[0]).line : 1;
}

/** The fields of a fleet file as written (see {@linkcode FleetSchema}); absent ones take their defaults when read. */
export type FleetFileFields = z.input<typeof FleetSchema>;

/**
 * Fleet file text for `fleet` (only the fields given, so defaults stay defaults), with `comment` as a
 * first line if given. Checked against {@linkcode FleetSchema} first: throws `TypeError` naming the field.
 *
 * @example
 * ```ts
 * const text = formatFleet({ name: "local", nodes: ["127.0.0.1:4000", "127.0.0.1:4001"] });
 * console.log(parseFleet(text, "nodes.yaml").nodes.length); // 2
 * ```
 */
export function formatFleet(fleet: FleetFileFields, comment?: string): string {
  const checked = FleetSchema.safeParse(fleet);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new TypeError(`Cannot write a fleet file: ${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  const doc = new Document(fleet);
  if (comment) doc.commentBefore = ` ${comment}`;
  return doc.toString();
}

/** The text of the fleet file at `path`; throws {@linkcode ConfigError} naming the file when it cannot be read. */
async function readFleetText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigError(`Cannot read ${path}: no such file; pass --config with the path of your nodes.yaml`);
    }
    throw new ConfigError(`Cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Reads and validates a fleet file; throws {@linkcode ConfigError} with a clear message. */
export async function loadFleet(path: string): Promise<FleetConfig> {
  return parseFleet(await readFleetText(path), path);
}
