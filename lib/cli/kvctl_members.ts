/**
 * `kvctl members`: the members a node knows with their state (the authenticated members query of
 * lib/replication/debug_queries.ts, signed with the fleet file's clusterKey), or with `--count` only how many
 * it believes alive (the client protocol's get-membership-count).
 *
 * @module
 */
import { InternalAddressBook } from "../net/internal_address.ts";
import { KVClient } from "../client/client.ts";
import { ClusterDebugClient, type MemberRow } from "../replication/debug_queries.ts";
import { RpcTimeoutError } from "../wire/rpc.ts";
import { parseAddress } from "../net/transport.ts";
import { fleetKeyring } from "../wire/fleet_auth.ts";
import { firstAnswering, type Targets } from "./kvctl_target.ts";
import { NoAnswerError } from "./exit_codes.ts";
import { printJson } from "./json_output.ts";

/**
 * A time in a state, short: `350ms`, `12s`, `5m07s`, `3h02m`, `4d05h`.
 *
 * @example
 * ```ts
 * console.log(formatAge(307_000)); // "5m07s"
 * ```
 */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/**
 * The member table kvctl prints: one row per member, `self` marking the node that answered.
 *
 * @example
 * ```ts
 * console.log(formatMembers([{ address: "127.0.0.1:4000", state: "alive", incarnation: 0, forMs: 1500 }], "127.0.0.1:4000"));
 * // MEMBER          STATE  INCARNATION  FOR
 * // 127.0.0.1:4000  alive  0            1s   (self)
 * ```
 */
export function formatMembers(rows: MemberRow[], self: string): string {
  const table = [["MEMBER", "STATE", "INCARNATION", "FOR"]];
  for (const m of rows) table.push([m.address, m.state, String(m.incarnation), formatAge(m.forMs)]);
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  return table.map((r, n) => {
    const line = r.map((c, i) => c.padEnd(widths[i])).join("  ");
    return n > 0 && rows[n - 1].address === self ? `${line}  (self)` : line.trimEnd();
  }).join("\n");
}

/**
 * Runs `kvctl members` against the first target that answers; returns the exit code.
 *
 * @example
 * ```ts ignore
 * await membersVerb({ nodes: ["127.0.0.1:4000"], source: "--node" }, {}, false);
 * ```
 */
export async function membersVerb(
  targets: Targets,
  options: { timeoutMs?: number; retries?: number },
  countOnly: boolean,
  json = false,
): Promise<number> {
  // The client protocol first: it tells a node that is down from one that drops the internal query.
  const { value: count, node } = await firstAnswering(targets, async (address) => {
    const client = await KVClient.connect(address, options);
    try {
      return await client.membershipCount();
    } finally {
      client.close();
    }
  });
  if (countOnly) return json ? printJson({ node, alive: count }) : (console.log(count), 0);
  const auth = fleetKeyring(targets.fleet);
  const host = parseAddress(node).hostname;
  const loopback = host === "localhost" || host.startsWith("127.");
  const debug = await ClusterDebugClient.open(
    loopback ? "127.0.0.1" : host === "::1" ? "::1" : "0.0.0.0",
    auth,
    new InternalAddressBook(targets.fleet?.internalAddresses),
  );
  try {
    const { members, more } = await debug.members(node, { timeoutMs: options.timeoutMs, retries: options.retries });
    if (json) return printJson({ node, members, more });
    console.log(formatMembers(members, node));
    const by = (s: string) => members.filter((m) => m.state === s).length;
    console.error(
      `${members.length + more} members as seen by ${node}: ${by("alive")} alive, ${by("suspect")} suspect, ` +
        `${by("dead") + by("left")} dead${more > 0 ? ` (${more} not listed)` : ""}`,
    );
    return 0;
  } catch (e) {
    if (!(e instanceof RpcTimeoutError)) throw e;
    throw new NoAnswerError(
      auth
        ? `${node} answers but not the members query: is the clusterKey of the fleet file the fleet's? ` +
          `(kvctl members --count needs no key)`
        : `${node} answers but not the members query: pass --config with the fleet file that has its clusterKey ` +
          `(kvctl members --count needs no key)`,
    );
  } finally {
    debug.close();
  }
}
