/**
 * The fleet table of one node: the newest row of every origin, when this node last saw each
 * advance (its own clock, so freshness needs no clock agreement), and how each origin is doing
 * from here: ok, late, not responding (K intervals without an advance, or dead according to SWIM),
 * left (it said so, or SWIM did).
 *
 * @module
 */
import type { Address } from "../../net/transport.ts";
import { addressHash, type VersionEntry } from "./protocol.ts";
import type { FleetRow } from "./row.ts";

/** One row with what this node knows about it. */
export interface TableEntry {
  /** The row. */
  row: FleetRow;
  /** Hash of its address. */
  hash: number;
  /** When this node last saw its version advance (local ms). */
  seenAt: number;
}

/** SWIM's verdict about a member, when it has one. */
export interface Verdict {
  /** Its state in the local member table. */
  state: "alive" | "suspect" | "dead" | "left";
  /** When it entered that state (local ms). */
  since: number;
}

/** How a row reads from here (the same words as the monitor's page). */
export type FleetState = "ok" | "late" | "not responding" | "left" | "waiting";

/** A row as the API returns it. */
export interface FleetNodeView extends Omit<FleetRow, "state"> {
  /** State from here. */
  state: FleetState;
  /** Why, when not ok ("no update for 31 s", "dead according to SWIM", "left 12 s ago"). */
  reason?: string;
  /** Age of the row: now minus its origin's time of writing (ms; assumes clocks in step). */
  ageMs: number;
  /** Time since this node saw the row advance (ms, this node's clock). */
  silentMs: number;
}

/** Limits and thresholds of a table. */
export interface FleetTableLimits {
  /** Rows kept at most (a new origin beyond it is ignored). */
  maxRows: number;
  /** A row left or not responding this long is forgotten (ms). */
  forgetAfterMs: number;
}

const NONE: readonly TableEntry[] = Object.freeze([]);

/**
 * The table.
 *
 * @example
 * ```ts ignore
 * const t = new FleetTable("127.0.0.1:4000", { maxRows: 10_000, forgetAfterMs: 3_600_000 });
 * t.merge(row, Date.now());
 * console.log(t.size);
 * ```
 */
export class FleetTable {
  /** This node's address. */
  readonly self: Address;
  #limits: FleetTableLimits;
  #rows = new Map<string, TableEntry>();
  #byHash = new Map<number, TableEntry[]>();
  #sorted: TableEntry[] | undefined;

  /** An empty table for node `self`. */
  constructor(self: Address, limits: FleetTableLimits) {
    this.self = self;
    this.#limits = limits;
  }

  /** Rows held. */
  get size(): number {
    return this.#rows.size;
  }

  /** The entry of `node`. */
  get(node: string): TableEntry | undefined {
    return this.#rows.get(node);
  }

  /** Every entry. */
  entries(): IterableIterator<TableEntry> {
    return this.#rows.values();
  }

  /** Entries whose address hashes to `hash` (the table's own list: do not change it). */
  byHash(hash: number): readonly TableEntry[] {
    return this.#byHash.get(hash) ?? NONE;
  }

  /** Keeps `row` if it is newer than the one held; true when kept. */
  merge(row: FleetRow, now: number): boolean {
    const held = this.#rows.get(row.node);
    if (held) {
      if (row.version <= held.row.version) return false;
      held.row = row;
      held.seenAt = now;
      return true;
    }
    if (this.#rows.size >= this.#limits.maxRows) return false;
    const hash = addressHash(row.node);
    const entry: TableEntry = { row, hash, seenAt: now };
    this.#rows.set(row.node, entry);
    const same = this.#byHash.get(hash);
    if (same) same.push(entry);
    else this.#byHash.set(hash, [entry]);
    this.#sorted = undefined;
    return true;
  }

  /** The (hash, version) of every row, sorted by hash. */
  versions(): VersionEntry[] {
    return this.#bySortedHash().map((e) => ({ hash: e.hash, version: e.row.version }));
  }

  /** Entries sorted by hash (cached until a row is added or removed; the table's own list: do not change it). */
  sortedByHash(): readonly TableEntry[] {
    return this.#bySortedHash();
  }

  #bySortedHash(): TableEntry[] {
    if (!this.#sorted) this.#sorted = [...this.#rows.values()].sort((a, b) => a.hash - b.hash);
    return this.#sorted;
  }

  /** Rows held with a hash in `[lo, hi]`. */
  inRange(lo: number, hi: number): TableEntry[] {
    const sorted = this.#bySortedHash();
    let a = 0, b = sorted.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (sorted[mid].hash < lo) a = mid + 1;
      else b = mid;
    }
    const out: TableEntry[] = [];
    for (let i = a; i < sorted.length && sorted[i].hash <= hi; i++) out.push(sorted[i]);
    return out;
  }

  /** Forgets rows left or silent for longer than the limit (never its own); returns their addresses. */
  forgetStale(now: number): string[] {
    const gone: string[] = [];
    for (const e of this.#rows.values()) {
      if (e.row.node !== this.self && now - e.seenAt > this.#limits.forgetAfterMs) gone.push(e.row.node);
    }
    for (const a of gone) this.#remove(a);
    return gone;
  }

  /** Forgets the rows `test` picks; returns their addresses. */
  forgetWhere(test: (e: TableEntry) => boolean): string[] {
    const gone = [...this.#rows.values()].filter(test).map((e) => e.row.node);
    for (const a of gone) this.#remove(a);
    return gone;
  }

  #remove(address: string): void {
    const e = this.#rows.get(address);
    if (!e) return;
    this.#rows.delete(address);
    const same = this.#byHash.get(e.hash)!.filter((x) => x !== e);
    if (same.length > 0) this.#byHash.set(e.hash, same);
    else this.#byHash.delete(e.hash);
    this.#sorted = undefined;
  }
}

/**
 * How `e` reads at `now`: `intervalMs` is the row interval, `notRespondingIntervals` the K of
 * "not responding after K intervals without an advance", `verdict` SWIM's, if any.
 */
export function assessEntry(
  e: TableEntry,
  self: Address,
  now: number,
  intervalMs: number,
  notRespondingIntervals: number,
  verdict: Verdict | undefined,
): FleetNodeView {
  const { state: _said, ...row } = e.row;
  const silentMs = Math.max(0, now - e.seenAt);
  const view: FleetNodeView = { ...row, state: "ok", ageMs: Math.max(0, Math.round(now - e.row.updatedAt)), silentMs };
  if (e.row.node === self) return view;
  const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
  if (e.row.state === "left") {
    view.state = "left";
    view.reason = `left ${seconds(now - e.seenAt)} ago`;
  } else if (verdict?.state === "left") {
    view.state = "left";
    view.reason = `left ${seconds(now - verdict.since)} ago (SWIM)`;
  } else if (verdict?.state === "dead") {
    view.state = "not responding";
    view.reason = `dead according to SWIM for ${seconds(now - verdict.since)}`;
  } else if (silentMs >= notRespondingIntervals * intervalMs) {
    view.state = "not responding";
    view.reason = `no update for ${seconds(silentMs)}`;
  } else if (silentMs >= 2 * intervalMs) {
    view.state = "late";
    view.reason = `no update for ${seconds(silentMs)}`;
  }
  return view;
}
