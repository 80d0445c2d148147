import assert from "node:assert/strict";
import {
  KeyTable,
  MAX_NODE_INDEX,
  MAX_RECORD_VALUE_LENGTH,
  MAX_SEGMENT,
  MAX_VALUE_OFFSET,
} from "../lib/storage/key_table.ts";
import { InvariantError } from "../lib/base/assert.ts";

const hex = (i: number) => i.toString(16).padStart(8, "0").repeat(8);

Deno.test("key table: keys survive growth and removals; a key keeps its record, removed records are reused", () => {
  const t = new KeyTable();
  const records: number[] = [];
  for (let i = 0; i < 5_000; i++) {
    t.parse(hex(i));
    assert.equal(t.find(), -1);
    const slot = t.insert();
    records.push(slot);
    t.setTime(slot, i * 1.5);
    t.setNode(slot, i % 7);
    t.setLocation(slot, (i % 500) - 1, 8 * i, i + 2);
    t.setTombstone(slot, i % 3 === 0);
  }
  assert.equal(t.size, 5_000);
  assert.ok(t.indexSlots >= 10_000, "index at most half full");
  assert.equal(t.capacity, 5_000, "records are dense");
  for (let i = 0; i < 5_000; i += 2) {
    t.parse(hex(i));
    t.remove(t.find());
  }
  assert.equal(t.size, 2_500);
  for (let i = 0; i < 5_000; i++) {
    t.parse(hex(i));
    const slot = t.find();
    if (i % 2 === 0) {
      assert.equal(slot, -1, `removed ${i}`);
      continue;
    }
    assert.equal(slot, records[i], `kept ${i} in its record`);
    assert.equal(t.hexAt(slot), hex(i));
    assert.deepEqual(
      [t.time(slot), t.node(slot), t.segment(slot), t.offset(slot), t.length(slot), t.tombstone(slot)],
      [i * 1.5, i % 7, (i % 500) - 1, 8 * i, i + 2, i % 3 === 0],
    );
  }
  const freed = new Set(records.filter((_, i) => i % 2 === 0));
  for (let i = 5_000; i < 6_000; i++) {
    t.parse(hex(i));
    assert.ok(freed.has(t.insert()), "a removed record is handed out again");
  }
  assert.equal(t.capacity, 5_000);
  t.clear();
  assert.equal(t.size, 0);
  t.parse(hex(1));
  assert.equal(t.find(), -1);
});

Deno.test("key table: past the first chunk, records in full chunks; random inserts and removals match a map", () => {
  const t = new KeyTable();
  const model = new Map<string, number>(); // key → time
  let state = 7;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let step = 0; step < 120_000; step++) {
    const key = hex(Math.floor(random() * 50_000));
    t.parse(key);
    const found = t.find();
    assert.equal(found >= 0, model.has(key), `step ${step}`);
    if (found >= 0 && random() < 0.3) {
      t.remove(found);
      model.delete(key);
    } else if (found < 0) {
      t.setTime(t.insert(), step);
      model.set(key, step);
    }
  }
  assert.equal(t.size, model.size);
  assert.ok(t.capacity > 16_384, `${t.capacity} records: more than the first chunk`);
  let seen = 0;
  for (let r = 0; r < t.capacity; r++) {
    if (!t.used(r)) continue;
    seen++;
    assert.equal(t.time(r), model.get(t.hexAt(r)));
  }
  assert.equal(seen, model.size);
});

Deno.test("key table: keys must be 64 hex digits; upper case reads back as lower case", () => {
  const t = new KeyTable();
  for (const bad of ["", "ab", "g".repeat(64), "0".repeat(63) + " ", "0".repeat(66)]) {
    assert.throws(() => t.parse(bad), TypeError, JSON.stringify(bad));
  }
  t.parse("AB".repeat(32));
  const slot = t.insert();
  assert.equal(t.hexAt(slot), "ab".repeat(32));
  t.parse("ab".repeat(32));
  assert.equal(t.find(), slot);
});

Deno.test("key table: the packed fields hold their extremes without disturbing each other; beyond them, refused", () => {
  const t = new KeyTable();
  const cases: [number, number, number, number, boolean][] = [
    [MAX_SEGMENT, MAX_VALUE_OFFSET - 8, MAX_RECORD_VALUE_LENGTH, MAX_NODE_INDEX, true],
    [-1, 0, 0, 0, false],
    [0, 8, 1, 1, true],
    [345, 524_288, 15_000, 9_999, false],
  ];
  cases.forEach(([segment, offset, length, node, tombstone], i) => {
    t.parse(hex(i));
    const r = t.insert();
    t.setTombstone(r, tombstone);
    t.setNode(r, node);
    t.setLocation(r, segment, offset, length);
    t.setTime(r, 2 ** 52 + i);
  });
  cases.forEach((want, i) => {
    t.parse(hex(i));
    const r = t.find();
    assert.deepEqual([t.segment(r), t.offset(r), t.length(r), t.node(r), t.tombstone(r)], want);
    assert.equal(t.time(r), 2 ** 52 + i);
    assert.ok(t.used(r));
  });
  t.parse(hex(0));
  const r = t.find();
  assert.throws(() => t.setLocation(r, MAX_SEGMENT + 1, 0, 0), InvariantError);
  assert.throws(() => t.setLocation(r, 0, MAX_VALUE_OFFSET, 0), InvariantError);
  assert.throws(() => t.setLocation(r, 0, 4, 0), InvariantError);
  assert.throws(() => t.setLocation(r, 0, 0, MAX_RECORD_VALUE_LENGTH + 1), InvariantError);
  assert.throws(() => t.setNode(r, MAX_NODE_INDEX + 1), InvariantError);
  assert.equal(t.length(r), MAX_RECORD_VALUE_LENGTH, "unchanged by the refused writes");
});
