/**
 * The fleet table's digest path (lib/monitoring/fleet/digest_compare.ts, protocol.ts): the one-walk
 * comparison of a sorted digest gives what the map does for the same entries in any order, hash
 * collisions included; the packed decoder refuses exactly what the object decoder refuses; the
 * table's digest encoder gives the same bytes as chunking and encoding its entries.
 */
import assert from "node:assert/strict";
import { seededRandom } from "../../lib/base/random.ts";
import { compareDigest } from "../../lib/monitoring/fleet/digest_compare.ts";
import {
  addressHash,
  chunkDigest,
  decodeDigest,
  decodePackedDigest,
  encodeDigest,
  encodeSortedDigest,
  type PackedDigest,
} from "../../lib/monitoring/fleet/protocol.ts";
import type { FleetRow } from "../../lib/monitoring/fleet/row.ts";
import { FleetTable } from "../../lib/monitoring/fleet/table.ts";

function row(node: string, version: number): FleetRow {
  return {
    node,
    version,
    updatedAt: 1,
    state: "ok",
    program: "t",
    uptimeS: 0,
    keys: 0,
    bytesStored: 0,
    capacityUsed: 0,
    rps: 0,
    errorsPerSec: 0,
    load: 0,
    rss: 0,
    diskFree: 0,
    alive: 1,
    suspect: 0,
    dead: 0,
  };
}

/** Two addresses with one FNV-1a hash (found by the birthday bound: about 80,000 tries). */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0;; i++) {
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${4000 + (i >> 24)}`;
    const h = addressHash(a);
    const other = seen.get(h);
    if (other !== undefined) return [other, a];
    seen.set(h, a);
  }
}
const COLLIDING = collidingPair();

/** A table of `n` rows with random versions; the hashes of the digest entries are taken from a few
 * rows on purpose (collisions: several entries under one hash), others are new. */
function scenario(seed: number) {
  const rnd = seededRandom(seed);
  const table = new FleetTable("10.0.0.1:1", { maxRows: 10_000, forgetAfterMs: 1e9 });
  for (let i = 0; i < 200; i++) table.merge(row(`10.0.${i >> 8}.${i & 255}:4000`, 1 + Math.floor(rnd() * 5)), 0);
  table.merge(row(COLLIDING[0], 1 + Math.floor(rnd() * 5)), 0);
  table.merge(row(COLLIDING[1], 1 + Math.floor(rnd() * 5)), 0);
  const held = table.sortedByHash();
  const entries: { hash: number; version: number }[] = [];
  if (rnd() < 0.5) entries.push({ hash: addressHash(COLLIDING[0]), version: Math.floor(rnd() * 7) });
  for (let i = 0; i < 140; i++) {
    const hash = rnd() < 0.7 ? held[Math.floor(rnd() * held.length)].hash : Math.floor(rnd() * 2 ** 32);
    entries.push({ hash, version: Math.floor(rnd() * 7) });
  }
  entries.sort((a, b) => a.hash - b.hash);
  return { table, entries };
}

function packed(entries: { hash: number; version: number }[]): PackedDigest {
  return {
    lo: 0,
    hi: 0xffff_ffff,
    hashes: Uint32Array.from(entries, (e) => e.hash),
    versions: Uint32Array.from(entries, (e) => e.version),
  };
}

Deno.test("fleet digest: the sorted walk and the map agree, collisions included", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const { table, entries } = scenario(seed);
    const sorted = compareDigest(table, packed(entries));
    const any = compareDigest(table, packed(entries.toReversed())); // not sorted: the map path
    assert.deepEqual(sorted.rows, any.rows, `seed ${seed}: rows to send`);
    const key = (w: { hash: number; version: number }[]) => w.map((e) => `${e.hash}:${e.version}`).sort();
    assert.deepEqual(key(sorted.wanted), key(any.wanted), `seed ${seed}: rows to request`);
    assert.ok(sorted.rows.length > 0 && sorted.wanted.length > 0, "the scenario exercises both directions");
    assert.equal(table.byHash(addressHash(COLLIDING[0])).length, 2, "two rows under one hash");
  }
});

Deno.test("fleet digest: packed decoding refuses what object decoding refuses; table digests encode the same bytes", () => {
  const { table } = scenario(7);
  const chunks = encodeSortedDigest(table.sortedByHash());
  assert.deepEqual(chunks, chunkDigest(table.versions()).map(encodeDigest));
  assert.ok(chunks.length >= 2, "200 rows take two chunks");
  const rnd = seededRandom(3);
  for (let i = 0; i < 2_000; i++) {
    const base = chunks[i % chunks.length];
    const bad = base.slice(0, rnd() < 0.3 ? Math.floor(rnd() * base.length) : base.length);
    if (bad.length > 0 && rnd() < 0.7) bad[Math.floor(rnd() * bad.length)] ^= 1 << Math.floor(rnd() * 8);
    const object = decodeDigest(bad), packedOne = decodePackedDigest(bad);
    assert.equal(packedOne === null, object === null, `case ${i}`);
    if (object && packedOne) {
      assert.deepEqual([...packedOne.hashes], object.entries.map((e) => e.hash));
      assert.deepEqual([...packedOne.versions], object.entries.map((e) => e.version));
    }
  }
});
