/**
 * Which node kvctl talks to: `--node`, else `$KVSTORE_NODE`, else the nodes of the fleet file
 * (found as lib/cli/kvctl_config.ts says) tried in turn until one answers, else 127.0.0.1:4000.
 * The admin verbs hand their commands to the fleet's nodes the same way.
 *
 * @module
 */
import type { FleetConfig } from "../config/fleet_file.ts";
import { discoverFleet } from "./kvctl_config.ts";
import { NoAnswerError } from "./exit_codes.ts";
import { KVTimeoutError } from "../client/errors.ts";
import { type Address, parseAddress } from "../net/transport.ts";
import { UsageError } from "../base/cli_args.ts";

/** kvctl's node when nothing names one. */
export const DEFAULT_NODE = "127.0.0.1:4000";

/**
 * Reads the fleet file kvctl finds (lib/cli/kvctl_config.ts: `--config`, `$KVSTORE_CONFIG`,
 * `.kvstore-cluster/nodes.yaml`, `./nodes.yaml`); nothing when there is none.
 *
 * @example
 * ```ts ignore
 * const { fleet, path } = await loadFleetOptional(undefined); // .kvstore-cluster/nodes.yaml or ./nodes.yaml, if any
 * console.log(path, fleet?.nodes.length);
 * ```
 */
export async function loadFleetOptional(path: string | undefined): Promise<{ fleet?: FleetConfig; path?: string }> {
  const { fleet, path: found } = await discoverFleet(path);
  return found ? { fleet, path: found } : {};
}

/**
 * The fleet's nodes in random order (so that kvctl runs spread over them), or `[node]` when one is given.
 *
 * @example
 * ```ts
 * console.log(entryNodes("10.0.0.1:4000", undefined)); // ["10.0.0.1:4000"]
 * ```
 */
export function entryNodes(node: string | undefined, fleet: FleetConfig | undefined): Address[] {
  return node ? [node] : [...(fleet?.nodes ?? [])].sort(() => Math.random() - 0.5);
}

/** The nodes a kvctl verb may talk to, and where they came from. */
export interface Targets {
  /** Addresses to try, in order. */
  nodes: Address[];
  /** Where they came from, for messages: `--node`, `$KVSTORE_NODE`, the fleet file's path, or `default`. */
  source: string;
  /** The fleet file, when it was read (its clusterKey signs internal queries). */
  fleet?: FleetConfig;
}

/**
 * Resolves where `kvctl VERB` sends its requests. `single` verbs act on one node (pid, shutdown, …):
 * a fleet file with several nodes is then a usage error, not a random pick. `wantFleet` reads the
 * fleet file even when a node is named (for its clusterKey).
 *
 * @example
 * ```ts ignore
 * const t = await resolveTargets("get", { env: undefined });
 * console.log(t.source, t.nodes); // "nodes.yaml" [...] or "default" ["127.0.0.1:4000"]
 * ```
 */
export async function resolveTargets(
  verb: string,
  options: { node?: string; config?: string; env?: string; single?: boolean; wantFleet?: boolean },
): Promise<Targets> {
  const check = (address: string, what: string) => {
    try {
      parseAddress(address);
    } catch (e) {
      throw new UsageError(`kvctl ${verb}: ${what} ${(e as Error).message}`);
    }
  };
  const named = options.node ?? options.env;
  if (named !== undefined) {
    check(named, options.node !== undefined ? "--node" : "$KVSTORE_NODE:");
    const fleet = options.wantFleet || options.config ? (await loadFleetOptional(options.config)).fleet : undefined;
    return { nodes: [named], source: options.node !== undefined ? "--node" : "$KVSTORE_NODE", fleet };
  }
  const { fleet, path } = await loadFleetOptional(options.config);
  if (!fleet || fleet.nodes.length === 0) return { nodes: [DEFAULT_NODE], source: "default", fleet };
  if (options.single && fleet.nodes.length > 1) {
    throw new UsageError(
      `kvctl ${verb} acts on one node: pass --node ADDR or set $KVSTORE_NODE (${path} lists ${fleet.nodes.length})`,
    );
  }
  return { nodes: entryNodes(undefined, fleet), source: path!, fleet };
}

/**
 * Runs `op` against the targets in turn until one answers: a node that does not reply
 * (`KVTimeoutError`) or cannot be reached passes to the next; any other error is the answer.
 * When none answers, throws one sentence naming every node tried ({@linkcode NoAnswerError}: exit code 3).
 *
 * @example
 * ```ts ignore
 * const { value, node } = await firstAnswering(targets, (address) => withClient(address, (c) => c.get("k")));
 * ```
 */
export async function firstAnswering<T>(
  targets: Targets,
  op: (address: Address) => Promise<T>,
): Promise<{ value: T; node: Address }> {
  const tried: string[] = [];
  for (const node of targets.nodes) {
    try {
      return { value: await op(node), node };
    } catch (e) {
      if (!(e instanceof KVTimeoutError) && !(e instanceof Deno.errors.NetworkUnreachable)) throw e;
      tried.push(node);
    }
  }
  if (targets.source === "--node" || targets.source === "$KVSTORE_NODE" || targets.source === "default") {
    const hint = targets.source === "default" ? "pass --node ADDR or --config nodes.yaml" : `check ${targets.source}`;
    throw new NoAnswerError(`cannot reach node ${tried[0]}: no reply after retries (is it running? ${hint})`);
  }
  throw new NoAnswerError(
    `no node of ${targets.source} answered: tried ${tried.join(", ")} (no reply after retries; is the cluster ` +
      `running? pass --node ADDR)`,
  );
}
