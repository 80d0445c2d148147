import assert from "node:assert/strict";
import { KeyTable } from "../lib/key_table.ts";

const hex = (i: number) => i.toString(16).padStart(8, "0").repeat(8);

Deno.test("key table: keys survive growth and removals; fields move with their keys", () => {
  const t = new KeyTable();
  for (let i = 0; i < 5_000; i++) {
    t.parse(hex(i));
    assert.equal(t.find(), -1);
    const slot = t.insert();
    t.setTime(slot, i * 1.5);
    t.setNode(slot, i % 7);
    t.setLocation(slot, i, i + 1, i + 2);
    t.setTombstone(slot, i % 3 === 0);
  }
  assert.equal(t.size, 5_000);
  assert.ok(t.capacity >= 10_000, "at most half full");
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
    assert.ok(slot >= 0, `kept ${i}`);
    assert.equal(t.hexAt(slot), hex(i));
    assert.deepEqual(
      [t.time(slot), t.node(slot), t.segment(slot), t.offset(slot), t.length(slot), t.tombstone(slot)],
      [i * 1.5, i % 7, i, i + 1, i + 2, i % 3 === 0],
    );
  }
  t.clear();
  assert.equal(t.size, 0);
  t.parse(hex(1));
  assert.equal(t.find(), -1);
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
