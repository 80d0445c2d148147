/**
 * The fleet-table query (internal command 0x44, JSON family): anyone holding the cluster key
 * (kvctl status, the monitor filling its view at start) asks a node for its table, a page at a
 * time: request `{ after?: "host:port" }`, reply `{ answeredBy, at, intervalMs,
 * notRespondingIntervals, nodes: [...], next: "host:port" | null }`.
 *
 * @module
 */
import type { Address } from "../../net/transport.ts";
import type { Rpc } from "../../wire/rpc.ts";
import { RpcSocket } from "../../wire/rpc_socket.ts";
import type { FleetSnapshot } from "./attach.ts";
import { FleetCommand } from "./protocol.ts";
import type { FleetNodeView } from "./table.ts";

/** The query's command code. */
export const FLEET_DUMP_COMMAND: number = FleetCommand.Rows + 1;
/** Rows per reply page (a page stays well under one datagram). */
export const FLEET_DUMP_PAGE = 40;
/** Pages one fetch reads at most (so a fetch is bounded: 40,000 rows). */
export const FLEET_DUMP_MAX_PAGES = 1_000;

/**
 * Answers the query on `rpc` from `snapshot()`.
 *
 * @example
 * ```ts ignore
 * registerFleetDump(node.rpc, () => fleet.snapshot());
 * ```
 */
export function registerFleetDump(rpc: Rpc, snapshot: () => FleetSnapshot): void {
  rpc.handle(FLEET_DUMP_COMMAND, (m) => {
    const h = m.header as { after?: unknown } | null;
    const after = typeof h?.after === "string" ? h.after : "";
    const snap = snapshot();
    const rest = after ? snap.nodes.filter((v) => compare(v.node, after) > 0) : snap.nodes;
    const page = rest.slice(0, FLEET_DUMP_PAGE);
    return {
      header: { ...snap, nodes: page, next: rest.length > page.length ? page[page.length - 1].node : null },
    };
  });
}

/** Orders addresses as the snapshot does. */
function compare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** Options of {@linkcode fetchFleet}. */
export interface FetchFleetOptions {
  /** Per-attempt timeout (ms, default 500). */
  timeoutMs?: number;
  /** Retries per page (default 3). */
  retries?: number;
}

/**
 * Reads the whole table of `node` over `rpc`; throws the RPC's timeout error when it does not answer.
 *
 * @example
 * ```ts ignore
 * const snap = await fetchFleet(rpc, "127.0.0.1:4000");
 * console.log(snap.answeredBy, snap.nodes.length);
 * ```
 */
export async function fetchFleet(rpc: Rpc, node: Address, options: FetchFleetOptions = {}): Promise<FleetSnapshot> {
  let after: string | null = null;
  let snap: FleetSnapshot | undefined;
  const nodes: FleetNodeView[] = [];
  for (let page = 0; page < FLEET_DUMP_MAX_PAGES; page++) {
    const r = await rpc.call(node, FLEET_DUMP_COMMAND, after ? { after } : {}, undefined, {
      timeoutMs: options.timeoutMs ?? 500,
      retries: options.retries ?? 3,
    });
    const h = parseDumpPage(r.header);
    if (!h) throw new TypeError(`Malformed fleet table from ${node}`);
    snap ??= h.snapshot;
    nodes.push(...h.snapshot.nodes);
    if (h.next === null || compare(h.next, after ?? "") <= 0) break;
    after = h.next;
  }
  return { ...snap!, nodes };
}

/** Checks a reply page (the one validator of the query's replies); null when it is not one. */
export function parseDumpPage(header: unknown): { snapshot: FleetSnapshot; next: string | null } | null {
  if (typeof header !== "object" || header === null) return null;
  const h = header as Record<string, unknown>;
  const isNum = (x: unknown) => typeof x === "number" && Number.isFinite(x);
  if (typeof h.answeredBy !== "string" || !isNum(h.at) || !isNum(h.intervalMs) || !isNum(h.notRespondingIntervals)) {
    return null;
  }
  if (!Array.isArray(h.nodes) || h.nodes.length > FLEET_DUMP_PAGE) return null;
  if (h.next !== null && typeof h.next !== "string") return null;
  const nodes: FleetNodeView[] = [];
  for (const v of h.nodes) {
    if (typeof v !== "object" || v === null) return null;
    const row = v as Record<string, unknown>;
    if (typeof row.node !== "string" || typeof row.state !== "string" || !isNum(row.ageMs)) return null;
    // Numbers a node could not measure travel as null (JSON has no NaN).
    const out = { ...row } as Record<string, unknown>;
    for (const [k, x] of Object.entries(out)) if (x === null) out[k] = NaN;
    nodes.push(out as unknown as FleetNodeView);
  }
  return {
    snapshot: {
      answeredBy: h.answeredBy,
      at: h.at as number,
      intervalMs: h.intervalMs as number,
      notRespondingIntervals: h.notRespondingIntervals as number,
      nodes,
    },
    next: h.next as string | null,
  };
}

/**
 * A client socket for the query (kvctl status, the monitor): its own UDP port, frames tagged with
 * `auth`, sent to each node's internal address ({@linkcode RpcSocket.open}).
 *
 * @example
 * ```ts ignore
 * const c = await FleetQueryClient.open("127.0.0.1", keyring);
 * console.log((await c.fetch("127.0.0.1:4000")).nodes.length);
 * c.close();
 * ```
 */
export class FleetQueryClient extends RpcSocket {
  /** The table of `node`. */
  fetch(node: Address, options?: FetchFleetOptions): Promise<FleetSnapshot> {
    return fetchFleet(this.rpc, node, options);
  }
}
