import assert from "node:assert/strict";
import { COMPACT_AT, NO_SEGMENT, VALUE_ALIGNMENT, ValueArena } from "../lib/storage/value_arena.ts";

Deno.test("value arena: values fill segments; an emptied segment is dropped and its buffer written again", () => {
  const arena = new ValueArena(100);
  const a = arena.store(new Uint8Array(60).fill(1)), aOffset = arena.lastOffset;
  const b = arena.store(new Uint8Array(60).fill(2)), bOffset = arena.lastOffset;
  assert.notEqual(a, b, "the second value does not fit the first segment");
  assert.equal(arena.allocatedBytes, 200);
  const view = arena.view(a, aOffset, 60);
  arena.release(a, 60);
  assert.equal(arena.allocatedBytes, 100, "the emptied segment is dropped");
  assert.equal(arena.spareBytes, 100, "its buffer is kept");
  const c = arena.store(new Uint8Array(60).fill(3)), cOffset = arena.lastOffset;
  assert.deepEqual(arena.view(c, cOffset, 60), new Uint8Array(60).fill(3));
  assert.deepEqual(view, new Uint8Array(60).fill(3), "the old view sees the new value: the buffer was reused");
  assert.deepEqual(arena.counters, { releasedBytes: 60, droppedBytes: 100, openedBytes: 300, reusedBytes: 100 });
  assert.equal(arena.spareBytes, 0);
  assert.deepEqual(arena.view(b, bOffset, 60), new Uint8Array(60).fill(2));
  assert.equal(arena.store(new Uint8Array(0)), NO_SEGMENT);
  assert.equal(arena.view(NO_SEGMENT, 0, 0).length, 0);
  const big = arena.store(new Uint8Array(250).fill(9));
  assert.deepEqual(arena.view(big, arena.lastOffset, 250), new Uint8Array(250).fill(9), "longer than a segment");
  assert.equal(arena.liveBytes, 60 + 60 + 250);
  arena.release(big, 250);
  assert.equal(arena.spareBytes, 0, "only segments of the standard size are kept");
  assert.throws(() => new ValueArena(0), RangeError);
});

Deno.test("value arena: compaction targets are the emptiest segments once they hold 1.25 × the live bytes", () => {
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

Deno.test("value arena: the emptiest segments are picked first, only as many as bring it down to 1.1 × live", () => {
  const arena = new ValueArena(120);
  const at: { segment: number; length: number }[] = [];
  for (let i = 0; i < 80; i++) at.push({ segment: arena.store(new Uint8Array(20)), length: 20 }); // 5 per segment
  const segments = [...new Set(at.map((v) => v.segment))];
  assert.equal(segments.length, 16);
  // Segment k (k < 14) keeps 4 − k % 5 of its 5 values: some nearly empty, some nearly full.
  const keep = new Map(segments.map((s, k) => [s, k < 14 ? 4 - (k % 5) : 5]));
  const held = new Map<number, number>();
  for (const v of at) {
    const n = held.get(v.segment) ?? 0;
    if (n < keep.get(v.segment)!) held.set(v.segment, n + 1);
    else arena.release(v.segment, v.length);
  }
  const targets = [...arena.compactionTargets()];
  assert.ok(arena.needsCompaction && arena.writtenBytes > COMPACT_AT * arena.liveBytes, "needs compaction");
  const liveShare = (s: number) => (keep.get(s)! * 20) / 120; // 20-byte values in 120-byte segments
  const worst = Math.max(...targets.map(liveShare));
  for (const s of segments) {
    const skipped = !targets.includes(s) && s !== at[79].segment && keep.get(s)! > 0 && liveShare(s) < 0.8;
    if (skipped) assert.ok(liveShare(s) >= worst, `segment ${s} skipped`);
  }
  assert.ok(targets.every((s) => liveShare(s) < 0.8), "no segment of 80% live or more");
  assert.ok(
    targets.length > 0 && targets.length < 12,
    `${targets.length} targets: enough to reach 1.1 × live, no more`,
  );
});

Deno.test("value arena: random stores and releases against a model: no overlap, freed space comes back", () => {
  let state = 11;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const arena = new ValueArena(4096);
  // The model: every live value's place and the byte it was filled with.
  type Held = { segment: number; offset: number; length: number; fill: number };
  const live = new Map<number, Held>();
  let liveBytes = 0, freed = 0;
  const put = (id: number, length: number) => {
    const fill = (id * 31 + length) & 0xff;
    const segment = arena.store(new Uint8Array(length).fill(fill));
    const offset = arena.lastOffset;
    assert.equal(offset % VALUE_ALIGNMENT, 0, "aligned");
    live.set(id, { segment, offset, length, fill });
    liveBytes += length;
  };
  const drop = (id: number) => {
    const h = live.get(id)!;
    arena.release(h.segment, h.length);
    live.delete(id);
    liveBytes -= h.length;
  };
  for (let step = 0; step < 60_000; step++) {
    const id = Math.floor(random() * 500);
    if (live.has(id)) {
      freed += live.get(id)!.length;
      drop(id);
    }
    if (random() < 0.9) put(id, Math.floor(random() * 300));
    // The owner's part: move the values out of the targets, as the store does.
    const targets = arena.compactionTargets();
    for (const [other, h] of live) {
      if (!targets.has(h.segment)) continue;
      const view = arena.view(h.segment, h.offset, h.length);
      const segment = arena.store(view);
      const moved = { segment, offset: arena.lastOffset, length: h.length, fill: h.fill };
      arena.release(h.segment, h.length);
      live.set(other, moved);
    }
    if (step % 997 === 0) checkModel(arena, live);
    assert.equal(arena.liveBytes, liveBytes);
    assert.ok(arena.allocatedBytes <= COMPACT_AT * liveBytes + 3 * 4096, `step ${step}: ${arena.allocatedBytes} held`);
  }
  checkModel(arena, live);
  const c = arena.counters;
  assert.equal(c.openedBytes - c.droppedBytes, arena.allocatedBytes, "every segment opened is held or dropped");
  assert.ok(c.droppedBytes > freed / 2, `freed ${freed} B, segments given back ${c.droppedBytes} B`);
});

// Every live value reads back its own bytes, and no two live values share a byte.
function checkModel(
  arena: ValueArena,
  live: Map<number, { segment: number; offset: number; length: number; fill: number }>,
) {
  const taken = new Map<number, [number, number][]>();
  for (const h of live.values()) {
    assert.deepEqual(arena.view(h.segment, h.offset, h.length), new Uint8Array(h.length).fill(h.fill));
    if (h.length === 0) continue;
    const spans = taken.get(h.segment) ?? [];
    for (const [start, end] of spans) assert.ok(h.offset >= end || h.offset + h.length <= start, "values overlap");
    spans.push([h.offset, h.offset + h.length]);
    taken.set(h.segment, spans);
  }
}
