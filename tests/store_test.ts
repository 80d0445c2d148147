import assert from "node:assert/strict";
import { MemoryStore } from "../lib/storage/store.ts";
import { MAX_STORE_CAPACITY, segmentBytesFor } from "../lib/storage/segment_size.ts";
import { MAX_SEGMENT, MAX_VALUE_OFFSET } from "../lib/storage/key_table.ts";
import { DEFAULT_SEGMENT_BYTES } from "../lib/storage/value_arena.ts";
import { compareVersions, HybridLogicalClock } from "../lib/storage/hlc.ts";
import { VirtualClock } from "../lib/base/clock.ts";
import { ReplyCache } from "../lib/node/reply_cache.ts";

const v = (t: number, n = "a") => ({ t, n });
/** A store key (64 hex digits) standing for `name`. */
const k = (name: string) =>
  [...name].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("").padEnd(64, "0");

Deno.test("store charges 32 bytes per key plus the value, exactly", () => {
  const s = new MemoryStore(1_000);
  assert.equal(s.apply(k("k1"), { value: new Uint8Array(10), version: v(1), tombstone: false }), "applied");
  assert.equal(s.bytes, 42);
  s.apply(k("k1"), { value: new Uint8Array(3), version: v(2), tombstone: false });
  assert.equal(s.bytes, 35);
  s.apply(k("k1"), { value: new Uint8Array(0), version: v(3), tombstone: true });
  assert.equal(s.bytes, 32);
  assert.equal(s.liveKeys, 0);
  assert.equal(s.getValue(k("k1")), undefined);
  s.delete(k("k1"));
  assert.equal(s.bytes, 0);
});

Deno.test("store refuses a write over capacity and changes nothing", () => {
  const s = new MemoryStore(100);
  assert.equal(s.force(k("a"), { value: new Uint8Array(60), version: v(1), tombstone: false }), "applied");
  assert.equal(s.force(k("b"), { value: new Uint8Array(10), version: v(2), tombstone: false }), "full");
  assert.equal(s.bytes, 92);
  assert.equal(s.getEntry(k("b")), undefined);
  // Shrinking an existing value is always allowed.
  assert.equal(s.force(k("a"), { value: new Uint8Array(1), version: v(3), tombstone: false }), "applied");
  assert.equal(s.bytes, 33);
});

Deno.test("last writer wins; ties broken by node id; stale writes ignored", () => {
  const s = new MemoryStore(1_000);
  s.apply(k("k"), { value: new Uint8Array([2]), version: v(5, "b"), tombstone: false });
  assert.equal(s.apply(k("k"), { value: new Uint8Array([1]), version: v(5, "a"), tombstone: false }), "stale");
  assert.equal(s.apply(k("k"), { value: new Uint8Array([3]), version: v(5, "c"), tombstone: false }), "applied");
  assert.deepEqual(s.getValue(k("k")), new Uint8Array([3]));
  assert.ok(compareVersions(v(6, "a"), v(5, "z")) > 0);
});

Deno.test("store copies values so packet buffers can be reused", () => {
  const s = new MemoryStore(1_000);
  const buf = new Uint8Array([1, 2, 3]);
  s.force(k("k"), { value: buf, version: v(1), tombstone: false });
  buf[0] = 9;
  assert.deepEqual(s.getValue(k("k")), new Uint8Array([1, 2, 3]));
});

Deno.test("tombstones are collected after their grace time", () => {
  const s = new MemoryStore(1_000);
  s.apply(k("old"), { value: new Uint8Array(), version: v(10), tombstone: true });
  s.apply(k("new"), { value: new Uint8Array(), version: v(100), tombstone: true });
  s.apply(k("live"), { value: new Uint8Array(1), version: v(1), tombstone: false });
  assert.equal(s.collectTombstones(50), 1);
  assert.equal(s.size, 2);
});

Deno.test("HLC versions increase even when the wall clock stands still or goes back", () => {
  const clock = new VirtualClock(1_000);
  const hlc = new HybridLogicalClock(clock, "n");
  const a = hlc.next();
  const b = hlc.next();
  assert.ok(compareVersions(b, a) > 0);
  hlc.observe({ t: b.t + 1_000_000, n: "x" });
  const c = hlc.next();
  assert.ok(c.t > b.t + 1_000_000);
});

Deno.test("reply cache: expires after ttl, bounded in bytes, force for mutating replies", () => {
  const cache = new ReplyCache({ ttlMs: 5_000, maxBytes: 1_000 });
  assert.ok(cache.put("a", new Uint8Array(17), 0));
  assert.equal(cache.get("a", 4_999)?.length, 17);
  assert.equal(cache.get("a", 5_000), undefined);
  let stored = 0;
  for (let i = 0; i < 100; i++) if (cache.put(`k${i}`, new Uint8Array(100), 10)) stored++;
  assert.ok(stored < 10, `bounded: stored ${stored}`);
  assert.ok(cache.bytes <= 1_000);
  assert.ok(cache.put("forced", new Uint8Array(17), 10, true));
  assert.ok(cache.hasRoom(17, 20_000), "room again once old replies expire");
});

Deno.test("store agrees with a map under random puts, tombstones, deletes and collection, through growth", () => {
  let state = 7;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  // 256-byte value segments: replaced values leave garbage and the arena compacts often.
  const s = new MemoryStore(1 << 30, 256);
  const model = new Map<string, { value: Uint8Array; t: number; n: string; tombstone: boolean }>();
  // Few distinct keys with colliding-looking prefixes, so probe chains form and deletes shift them.
  const keys = Array.from({ length: 3_000 }, (_, i) => k(`key-${i % 7}-${i}`));
  for (let step = 0; step < 60_000; step++) {
    const key = keys[Math.floor(random() * keys.length)];
    const r = random();
    if (r < 0.5) {
      const tombstone = random() < 0.2;
      const version = v(Math.floor(random() * 1_000), random() < 0.5 ? "a" : "b");
      const value = tombstone ? new Uint8Array(0) : new Uint8Array(1 + Math.floor(random() * 20)).fill(step & 0xff);
      const held = model.get(key);
      const newer = !held || compareVersions(version, { t: held.t, n: held.n }) > 0;
      assert.equal(s.apply(key, { value, version, tombstone }), newer ? "applied" : "stale", `step ${step}`);
      if (newer) model.set(key, { value, t: version.t, n: version.n, tombstone });
    } else if (r < 0.65) {
      assert.equal(s.delete(key), model.delete(key), `step ${step}: delete`);
    } else if (r < 0.66) {
      const before = 300 + Math.floor(random() * 400);
      const dead = [...model].filter(([, e]) => e.tombstone && e.t < before).map(([key]) => key);
      assert.equal(s.collectTombstones(before), dead.length);
      for (const key of dead) model.delete(key);
    } else {
      const e = s.getEntry(key), m = model.get(key);
      assert.deepEqual(e && { ...e }, m && { value: m.value, version: { t: m.t, n: m.n }, tombstone: m.tombstone });
    }
  }
  assert.equal(s.size, model.size);
  assert.equal(s.liveKeys, [...model.values()].filter((e) => !e.tombstone).length);
  const bytes = [...model.values()].reduce((sum, e) => sum + 32 + (e.tombstone ? 0 : e.value.length), 0);
  assert.equal(s.bytes, bytes);
  assert.deepEqual(new Set([...s.entries()].map(([key]) => key)), new Set(model.keys()));
  assert.throws(() => s.getEntry("not hex"), TypeError);
  assert.throws(() => s.getEntry("zz".repeat(32)), TypeError);
});

Deno.test("store: an entry read stays intact after it is replaced and its segment compacted and reused", () => {
  const s = new MemoryStore(1 << 20, 64);
  const key = k("kept");
  s.force(key, { value: new Uint8Array(40).fill(1), version: v(1), tombstone: false });
  const first = s.getEntry(key)!.value;
  const view = s.getValue(key)!;
  for (let i = 2; i < 200; i++) s.force(key, { value: new Uint8Array(40).fill(i), version: v(i), tombstone: false });
  for (let i = 0; i < 50; i++) {
    s.force(k(`other${i}`), { value: new Uint8Array(30).fill(i), version: v(1), tombstone: false });
  }
  assert.deepEqual(first, new Uint8Array(40).fill(1), "getEntry's value is a copy");
  assert.notDeepEqual(view, new Uint8Array(40).fill(1), "getValue's view was written again: the space was reused");
  assert.deepEqual(s.getValue(key), new Uint8Array(40).fill(199));
  for (let i = 0; i < 50; i++) assert.deepEqual(s.getValue(k(`other${i}`)), new Uint8Array(30).fill(i));
  assert.equal(s.bytes, 32 + 40 + 50 * (32 + 30));
  const m = s.memory();
  assert.ok(m.reusedBytes > 0 && m.droppedBytes > 0, JSON.stringify(m));
  assert.ok(
    m.segmentBytes <= 1.25 * m.liveValueBytes + 2 * 64 + 64,
    `segments ${m.segmentBytes} B for ${m.liveValueBytes}`,
  );
});

Deno.test("a large store gets segments large enough to hold twice its capacity; above the limit it refuses", () => {
  assert.equal(segmentBytesFor(64 * 1024 * 1024), DEFAULT_SEGMENT_BYTES);
  for (const capacity of [400 * 1024 ** 2, 1024 ** 3, 4 * 1024 ** 3, MAX_STORE_CAPACITY]) {
    const bytes = segmentBytesFor(capacity);
    assert.ok(bytes * (MAX_SEGMENT + 1) >= 2 * capacity, `${bytes} B segments for ${capacity} B`);
    assert.ok(bytes <= MAX_VALUE_OFFSET);
  }
  // A 4 GiB store opens 32 MiB segments: with 1 MiB ones it answered "full" past about 511 MiB of values.
  const store = new MemoryStore(4 * 1024 ** 3);
  assert.equal(
    store.apply("ab".repeat(32), { value: new Uint8Array(100), version: v(1), tombstone: false }),
    "applied",
  );
  assert.equal(store.memory().segmentBytes, 32 * 1024 * 1024);
  assert.throws(() => segmentBytesFor(MAX_STORE_CAPACITY + 1), /lower --max-bytes/);
  assert.throws(() => new MemoryStore(MAX_STORE_CAPACITY * 2), RangeError);
});
