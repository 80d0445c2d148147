import assert from "node:assert/strict";
import { NO_SEGMENT, ValueArena } from "../lib/storage/value_arena.ts";

Deno.test("value arena: values fill segments; released ones are dropped with their segment; views keep their bytes", () => {
  const arena = new ValueArena(100);
  const a = arena.store(new Uint8Array(60).fill(1)), aOffset = arena.lastOffset;
  const b = arena.store(new Uint8Array(60).fill(2)), bOffset = arena.lastOffset;
  assert.notEqual(a, b, "the second value does not fit the first segment");
  assert.equal(arena.allocatedBytes, 200);
  const view = arena.view(a, aOffset, 60);
  arena.release(a, 60);
  assert.equal(arena.allocatedBytes, 100, "the emptied segment is dropped");
  arena.store(new Uint8Array(60).fill(3));
  assert.deepEqual(view, new Uint8Array(60).fill(1), "a view outlives its segment");
  assert.deepEqual(arena.view(b, bOffset, 60), new Uint8Array(60).fill(2));
  assert.equal(arena.store(new Uint8Array(0)), NO_SEGMENT);
  assert.equal(arena.view(NO_SEGMENT, 0, 0).length, 0);
  const big = arena.store(new Uint8Array(250).fill(9));
  assert.deepEqual(arena.view(big, arena.lastOffset, 250), new Uint8Array(250).fill(9), "longer than a segment");
  assert.equal(arena.liveBytes, 60 + 60 + 250);
  assert.throws(() => new ValueArena(0), RangeError);
});

Deno.test("value arena: compaction targets are the under-half-live segments once garbage outweighs live bytes", () => {
  const arena = new ValueArena(100);
  const segments: number[] = [];
  for (let i = 0; i < 30; i++) segments.push(arena.store(new Uint8Array(30).fill(i))); // 3 per segment
  const distinct = [...new Set(segments)];
  assert.equal(distinct.length, 10);
  assert.equal(arena.compactionTargets().size, 0, "nothing is garbage yet");
  const current = segments[29];
  // Two of the three values of every segment but the current one: 30% live each.
  for (let i = 0; i < 27; i++) if (i % 3 !== 0) arena.release(segments[i], 30);
  assert.equal(arena.liveBytes, 900 - 18 * 30);
  assert.equal(arena.allocatedBytes, 1_000);
  assert.deepEqual([...arena.compactionTargets()].sort(), distinct.filter((s) => s !== current).sort());
});
