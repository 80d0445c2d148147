/**
 * Keys of the replication tests: 32-byte keys made from text, and the conflicting writes of the partition
 * tests (the same keys written on both sides of a partition, the later write on either side).
 *
 * @module
 */
import assert from "node:assert/strict";
import { toHex } from "../../lib/base/bytes.ts";
import { compareVersions, type Version } from "../../lib/storage/hlc.ts";

/** A 32-byte test key from text. */
export function key(text: string): Uint8Array {
  const k = new Uint8Array(32);
  new TextEncoder().encodeInto(text, k);
  return k;
}

/** Hex form of {@linkcode key}. */
export function hexOf(text: string): string {
  return toHex(key(text));
}

/**
 * Writes `k-0`…`k-29` on both sides of a 2|3 partition, `gapMs` apart: every third key last on the
 * minority side, the others last on the majority side, and checks each later write carries the
 * newer version. `write` must reject unless acknowledged and resolve with the stored version.
 */
export async function writeConflictingKeys(
  write: (side: "minority" | "majority", name: string, value: string) => Promise<Version>,
  advance: (ms: number) => Promise<void>,
  gapMs: number,
): Promise<{ minorityLast: string[]; majorityLast: string[] }> {
  const minorityLast: string[] = [], majorityLast: string[] = [];
  for (let i = 0; i < 30; i++) {
    const name = `k-${i}`;
    const minorityWinsThis = i % 3 === 0;
    const [first, second] = minorityWinsThis
      ? [{ side: "majority" as const, v: `right-${i}` }, { side: "minority" as const, v: `left-${i}` }]
      : [{ side: "minority" as const, v: `left-${i}` }, { side: "majority" as const, v: `right-${i}` }];
    const older = await write(first.side, name, first.v);
    await advance(gapMs);
    const newer = await write(second.side, name, second.v);
    assert.ok(compareVersions(newer, older) > 0, `${name}: the later write does not carry the newer version`);
    (minorityWinsThis ? minorityLast : majorityLast).push(name);
  }
  assert.equal(minorityLast.length, 10, "conflicting keys written last (and acknowledged) on the minority side");
  assert.equal(majorityLast.length, 20, "conflicting keys written last on the majority side");
  return { minorityLast, majorityLast };
}
