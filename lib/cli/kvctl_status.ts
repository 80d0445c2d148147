/**
 * `kvctl status [--node ADDR] [--json]`: the fleet as one node's table shows it (the fleet-table
 * query of lib/monitoring/fleet/dump.ts, signed with the fleet file's clusterKey). Exit codes:
 * 0 the table was printed, 1 the node answered with something that is not a table, 2 usage or
 * config, 3 no node answered.
 *
 * @module
 */
import { parseDuration, parseFlags, parseInteger, UsageError } from "../base/cli_args.ts";
import { parseAddress } from "../net/transport.ts";
import { fleetKeyring } from "../wire/fleet_auth.ts";
import { RpcTimeoutError } from "../wire/rpc.ts";
import type { FleetSnapshot } from "../monitoring/fleet/attach.ts";
import { InternalAddressBook } from "../net/internal_address.ts";
import { FleetQueryClient } from "../monitoring/fleet/dump.ts";
import { formatAge } from "./kvctl_members.ts";
import { resolveTargets } from "./kvctl_target.ts";
import type { KvctlVerb } from "./kvctl_verb.ts";

/** Help lines added to `kvctl --help`. */
export const STATUS_VERB_HELP = `
Fleet status:
  status [--node ADDR] [--json]
                      the whole fleet as one node's gossiped table shows it: state (ok, late,
                      not responding, left), row age, version, keys, req/s … of every node;
                      works without the monitor. Exit 3 when no node answers
`;

const USAGE = `Usage: kvctl status [--node ADDR] [--config FILE] [--json] [--timeout D] [--retries N]

Prints the fleet table of one node (any node holds the whole fleet's table, spread by gossip):
one line per node with its state as that node sees it (ok, late, not responding, left),
the age of its row, its version, uptime, keys, bytes stored, capacity used, req/s, errors/s,
load, RSS, disk free and the members it sees (alive/suspect/dead).

Options:
  --node ADDR     node to ask (default $KVSTORE_NODE, else the fleet file's nodes in turn)
  --config FILE   fleet file (default ./nodes.yaml): its clusterKey signs the query
  --json          print {"answeredBy": "host:port", "nodes": [{"node", "state", "ageMs", …}]}
  --timeout D     per-attempt timeout (default 500ms)
  --retries N     retries per node (default 3)
  -h, --help      show this help

Exit codes: 0 printed, 1 the node's answer was not a table, 2 usage or config error, 3 no answer.
`;

/** Exit code when no node answered. */
export const EXIT_NO_ANSWER = 3;

/** Runs `kvctl status`; returns the exit code. */
export async function statusVerb(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl status", args, {
    node: { type: "string" },
    config: { type: "string" },
    json: { type: "boolean" },
    timeout: { type: "string" },
    retries: { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`kvctl status: unexpected argument "${positionals[0]}". Run kvctl status --help.`);
  }
  const timeoutMs = values.timeout ? parseDuration(values.timeout, "--timeout") : 500;
  const retries = values.retries ? parseInteger(values.retries, "--retries", 0, 10) : 3;
  let env: string | undefined;
  try {
    env = Deno.env.get("KVSTORE_NODE");
  } catch { /* no env permission */ }
  const targets = await resolveTargets("status", { node: values.node, config: values.config, env, wantFleet: true });
  const auth = fleetKeyring(targets.fleet);
  const tried: string[] = [];
  for (const node of targets.nodes) {
    const host = parseAddress(node).hostname;
    const loopback = host === "localhost" || host.startsWith("127.");
    const client = await FleetQueryClient.open(
      loopback ? "127.0.0.1" : host === "::1" ? "::1" : "0.0.0.0",
      auth,
      new InternalAddressBook(targets.fleet?.internalAddresses),
    );
    try {
      const snap = await client.fetch(node, { timeoutMs, retries });
      console.log(values.json ? JSON.stringify(snap) : formatStatus(snap));
      return 0;
    } catch (e) {
      if (e instanceof TypeError) {
        console.error(`error: ${e.message}`);
        return 1;
      }
      if (!(e instanceof RpcTimeoutError)) throw e;
      tried.push(node);
    } finally {
      client.close();
    }
  }
  const hint = auth
    ? "is it running, with this fleet file's clusterKey?"
    : "is it running? a keyed fleet needs --config";
  console.error(`error: no answer from ${tried.join(", ")} (${hint})`);
  return EXIT_NO_ANSWER;
}

/**
 * The table for people: one line per node.
 *
 * @example
 * ```ts
 * console.log(formatStatus({ answeredBy: "a:1", at: 0, intervalMs: 2000, notRespondingIntervals: 3, nodes: [] }));
 * ```
 */
export function formatStatus(s: FleetSnapshot): string {
  const n = (x: number, digits = 0) => Number.isFinite(x) ? x.toFixed(digits) : "-";
  const bytes = (x: number) =>
    !Number.isFinite(x)
      ? "-"
      : x >= 2 ** 30
      ? `${(x / 2 ** 30).toFixed(1)}G`
      : x >= 2 ** 20
      ? `${(x / 2 ** 20).toFixed(1)}M`
      : `${(x / 1024).toFixed(0)}K`;
  const head = ["NODE", "STATE", "AGE", "VERSION", "UPTIME", "KEYS", "STORED", "USED", "REQ/S", "ERR/S", "LOAD"];
  head.push("RSS", "DISK FREE", "A/S/D", "WHY");
  const rows = s.nodes.map((v) => [
    v.node,
    v.state,
    v.version > 0 ? formatAge(v.ageMs) : "-",
    v.program || "-",
    v.version > 0 ? formatAge(v.uptimeS * 1000) : "-",
    n(v.keys),
    bytes(v.bytesStored),
    Number.isFinite(v.capacityUsed) ? `${v.capacityUsed.toFixed(1)}%` : "-",
    n(v.rps, 1),
    n(v.errorsPerSec, 1),
    n(v.load, 2),
    bytes(v.rss),
    bytes(v.diskFree),
    `${v.alive}/${v.suspect}/${v.dead}`,
    v.reason ?? "",
  ]);
  const table = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const lines = table.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  const count = (st: string) => s.nodes.filter((v) => v.state === st).length;
  lines.push(
    "",
    `${s.nodes.length} nodes as seen by ${s.answeredBy}: ${count("ok")} ok, ${count("late")} late, ` +
      `${count("not responding")} not responding, ${count("left")} left; rows every ${formatAge(s.intervalMs)}`,
  );
  return lines.join("\n");
}

/** `kvctl status`. */
export const STATUS_VERB: KvctlVerb = { help: STATUS_VERB_HELP, run: statusVerb };
