/**
 * One digest chunk from a peer against the rows this node holds in its hash range (the push-pull
 * step of Scuttlebutt): the rows held newer than the peer's (or that it lacks), and the entries to
 * ask it for.
 *
 * @module
 */
import type { PackedDigest, VersionEntry } from "./protocol.ts";
import type { FleetRow } from "./row.ts";
import type { FleetTable, TableEntry } from "./table.ts";

/** What a digest chunk calls for. */
export interface DigestDelta {
  /** Rows to send: held newer than the peer's, or it has none under that hash; in hash order. */
  rows: FleetRow[];
  /** Entries to request, with the lowest version held for that hash (0 for none); in the digest's order. */
  wanted: VersionEntry[];
}

/**
 * Compares `d` with `table`. Several rows under one hash (a collision) compare by the lowest
 * version on each side. A sorted digest (what every node sends) takes one walk over both; any
 * other order, a map.
 *
 * @example
 * ```ts ignore
 * const { rows, wanted } = compareDigest(gossip.table, decodePackedDigest(payload)!);
 * ```
 */
export function compareDigest(table: FleetTable, d: PackedDigest): DigestDelta {
  if (isSorted(d.hashes)) return compareSorted(table.inRange(d.lo, d.hi), d);
  return compareAny(table, d.lo, d.hi, Array.from(d.hashes, (hash, i) => ({ hash, version: d.versions[i] })));
}

function compareAny(table: FleetTable, lo: number, hi: number, entries: VersionEntry[]): DigestDelta {
  const theirs = new Map<number, number>();
  for (const e of entries) theirs.set(e.hash, Math.min(theirs.get(e.hash) ?? Infinity, e.version));
  const rows: FleetRow[] = [];
  for (const e of table.inRange(lo, hi)) {
    const v = theirs.get(e.hash);
    if (v === undefined || e.row.version > v) rows.push(e.row);
  }
  const wanted: VersionEntry[] = [];
  for (const e of entries) {
    const mine = table.byHash(e.hash);
    let have = mine.length === 0 ? 0 : Infinity;
    for (const m of mine) have = Math.min(have, m.row.version);
    if (e.version > have) wanted.push({ hash: e.hash, version: have });
  }
  return { rows, wanted };
}

function isSorted(hashes: Uint32Array): boolean {
  for (let i = 1; i < hashes.length; i++) if (hashes[i] < hashes[i - 1]) return false;
  return true;
}

/** {@linkcode compareDigest} when both sides are sorted by hash: one walk, no map. */
function compareSorted(
  mine: readonly TableEntry[],
  theirs: PackedDigest,
): DigestDelta {
  const { hashes, versions } = theirs;
  const rows: FleetRow[] = [], wanted: VersionEntry[] = [];
  let i = 0, j = 0;
  while (i < mine.length || j < hashes.length) {
    const hash = Math.min(mine[i]?.hash ?? Infinity, j < hashes.length ? hashes[j] : Infinity);
    let i2 = i, held = Infinity;
    for (; i2 < mine.length && mine[i2].hash === hash; i2++) held = Math.min(held, mine[i2].row.version);
    let j2 = j, their = Infinity;
    for (; j2 < hashes.length && hashes[j2] === hash; j2++) their = Math.min(their, versions[j2]);
    for (let k = i; k < i2; k++) if (j2 === j || mine[k].row.version > their) rows.push(mine[k].row);
    const have = i2 === i ? 0 : held;
    for (let k = j; k < j2; k++) if (versions[k] > have) wanted.push({ hash, version: have });
    i = i2;
    j = j2;
  }
  return { rows, wanted };
}
