/**
 * The one target list of kvctl's fleet-wide admin verbs (run, push, upgrade): the live members
 * as a reachable node sees them (the members query), matching `--nodes`. Members the fleet knows
 * as dead or left are named at once ("skipped 127.0.0.1:4003: dead since 12:01:07") and never
 * waited on; a suspect member that does not answer a direct probe is skipped too. The push and the
 * rolling restart both use this list, so they agree.
 *
 * @module
 */
import type { FleetConfig } from "../config/fleet_file.ts";
import { ClusterDebugClient, type MemberRow } from "../replication/debug_queries.ts";
import { fleetKeyring } from "../wire/fleet_auth.ts";
import { parseAddress } from "../net/transport.ts";
import { matchesSelector } from "../admin/selector.ts";
import { compareAddresses } from "../monitoring/server/view.ts";
import { askView } from "../replication/catch_up.ts";
import type { Rpc } from "../wire/rpc.ts";

/** Time limits of the membership questions kvctl asks before and while it follows a command. */
export const FLEET_TARGET_LIMITS = {
  /** First timeout of the members query, per entry node (ms). */
  membersTimeoutMs: 300,
  /** Retries of the members query, per entry node. */
  membersRetries: 2,
  /** Entry nodes asked at once (the first answer wins). */
  membersFanout: 3,
  /** Timeout of the direct probe of a suspect member (ms). */
  probeTimeoutMs: 300,
  /** Retries of that probe. */
  probeRetries: 1,
  /** How often kvctl asks again while it follows a command, to drop members that died meanwhile (ms). */
  refreshMs: 2_000,
} as const;

/** A member not targeted, and why. */
export interface Skipped {
  /** Its address. */
  address: string;
  /** dead, left, suspect (not answering), or "not a member" (in the fleet file only). */
  state: string;
  /** Since when it is in that state (ms since epoch), if known. */
  since?: number;
}

/** The targets of a fleet-wide verb. */
export interface FleetTargets {
  /** Live members matching the selector, in address order. */
  live: string[];
  /** Members matching the selector that are not targeted. */
  skipped: Skipped[];
  /** The node whose member list this is. */
  via: string;
}

/**
 * "skipped 127.0.0.1:4003: dead since 12:01:07".
 *
 * @example
 * ```ts
 * console.log(skippedLine({ address: "10.0.0.1:4000", state: "left" })); // "skipped 10.0.0.1:4000: left"
 * ```
 */
export function skippedLine(s: Skipped): string {
  const since = s.since === undefined ? "" : ` since ${new Date(s.since).toTimeString().slice(0, 8)}`;
  return `skipped ${s.address}: ${s.state}${since}`;
}

/**
 * Splits member rows into live targets and skipped members (pure: the rows, the selector, the time now).
 *
 * @example
 * ```ts
 * const rows = [
 *   { address: "a:1", state: "alive", incarnation: 0, forMs: 5 },
 *   { address: "b:2", state: "dead", incarnation: 0, forMs: 1000 },
 * ];
 * console.log(splitMembers(rows, "all", 5000, []).live); // ["a:1"]
 * ```
 */
export function splitMembers(
  rows: MemberRow[],
  selector: string,
  now: number,
  fleetNodes: readonly string[],
): { live: string[]; suspect: string[]; skipped: Skipped[] } {
  const live: string[] = [], suspect: string[] = [], skipped: Skipped[] = [];
  for (const m of rows) {
    if (!matchesSelector(selector, m.address)) continue;
    if (m.state === "alive") live.push(m.address);
    else if (m.state === "suspect") suspect.push(m.address);
    else skipped.push({ address: m.address, state: m.state, since: now - m.forMs });
  }
  const known = new Set(rows.map((m) => m.address));
  for (const a of fleetNodes) {
    if (!known.has(a) && matchesSelector(selector, a)) skipped.push({ address: a, state: "not a member" });
  }
  live.sort(compareAddresses);
  skipped.sort((a, b) => compareAddresses(a.address, b.address));
  return { live, suspect, skipped };
}

/**
 * Asks the entry nodes, a few at once, for their member list (signed with the fleet's cluster key);
 * undefined when none answers.
 *
 * @example
 * ```ts ignore
 * const rows = await askMembers(["127.0.0.1:4000"], fleet);
 * ```
 */
export async function askMembers(
  entries: readonly string[],
  fleet: FleetConfig | undefined,
): Promise<{ rows: MemberRow[]; via: string } | undefined> {
  if (entries.length === 0) return undefined;
  const host = parseAddress(entries[0]).hostname;
  const loopback = host === "localhost" || host.startsWith("127.");
  const debug = await ClusterDebugClient.open(
    loopback ? "127.0.0.1" : host === "::1" ? "::1" : "0.0.0.0",
    fleetKeyring(fleet),
  );
  try {
    // A few entries at once, so a dead entry node (the fleet file lists it too) costs no waiting.
    for (let i = 0; i < entries.length; i += FLEET_TARGET_LIMITS.membersFanout) {
      const batch = entries.slice(i, i + FLEET_TARGET_LIMITS.membersFanout);
      try {
        return await Promise.any(batch.map(async (via) => {
          const { members } = await debug.members(via, {
            timeoutMs: FLEET_TARGET_LIMITS.membersTimeoutMs,
            retries: FLEET_TARGET_LIMITS.membersRetries,
          });
          return { rows: members, via };
        }));
      } catch { /* none of the batch answered: the next ones */ }
    }
    return undefined;
  } finally {
    debug.close();
  }
}

/**
 * The live targets of a fleet-wide verb, with a direct probe of suspect members (one that does not
 * answer is skipped); undefined when no node told its members.
 *
 * @example
 * ```ts ignore
 * const t = await fleetTargets(["127.0.0.1:4000"], fleet, "all", client.rpc);
 * for (const s of t?.skipped ?? []) console.error(skippedLine(s));
 * ```
 */
export async function fleetTargets(
  entries: readonly string[],
  fleet: FleetConfig | undefined,
  selector: string,
  rpc: Rpc,
): Promise<FleetTargets | undefined> {
  const asked = await askMembers(entries, fleet);
  if (!asked) return undefined;
  const now = Date.now();
  const { live, suspect, skipped } = splitMembers(asked.rows, selector, now, fleet?.nodes ?? []);
  const answers = await Promise.all(suspect.map((a) =>
    askView(rpc, a, a, {
      viewTimeoutMs: FLEET_TARGET_LIMITS.probeTimeoutMs,
      viewRetries: FLEET_TARGET_LIMITS.probeRetries,
    })
  ));
  suspect.forEach((a, i) => {
    if (answers[i]) live.push(a);
    else {
      const row = asked.rows.find((m) => m.address === a)!;
      skipped.push({ address: a, state: "suspect and not answering", since: now - row.forMs });
    }
  });
  live.sort(compareAddresses);
  return { live, skipped, via: asked.via };
}

/**
 * Which of `targets` the fleet now knows as dead or left (for a follower that must stop waiting on them).
 *
 * @example
 * ```ts ignore
 * const gone = await deadAmong(["127.0.0.1:4000"], fleet, ["127.0.0.1:4003"]);
 * ```
 */
export async function deadAmong(
  entries: readonly string[],
  fleet: FleetConfig | undefined,
  targets: readonly string[],
): Promise<Skipped[]> {
  const asked = await askMembers(entries, fleet);
  if (!asked) return [];
  const now = Date.now();
  const wanted = new Set(targets);
  return asked.rows
    .filter((m) => wanted.has(m.address) && (m.state === "dead" || m.state === "left"))
    .map((m) => ({ address: m.address, state: m.state, since: now - m.forMs }));
}
