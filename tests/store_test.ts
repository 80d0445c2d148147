import assert from "node:assert/strict";
import { MemoryStore } from "../lib/store.ts";
import { compareVersions, HybridLogicalClock } from "../lib/hlc.ts";
import { VirtualClock } from "../lib/clock.ts";
import { ReplyCache } from "../lib/reply_cache.ts";

const v = (t: number, n = "a") => ({ t, n });

Deno.test("store charges 32 bytes per key plus the value, exactly", () => {
  const s = new MemoryStore(1_000);
  assert.equal(s.apply("k1", { value: new Uint8Array(10), version: v(1), tombstone: false }), "applied");
  assert.equal(s.bytes, 42);
  s.apply("k1", { value: new Uint8Array(3), version: v(2), tombstone: false });
  assert.equal(s.bytes, 35);
  s.apply("k1", { value: new Uint8Array(0), version: v(3), tombstone: true });
  assert.equal(s.bytes, 32);
  assert.equal(s.liveKeys, 0);
  assert.equal(s.getValue("k1"), undefined);
  s.delete("k1");
  assert.equal(s.bytes, 0);
});

Deno.test("store refuses a write over capacity and changes nothing", () => {
  const s = new MemoryStore(100);
  assert.equal(s.force("a", { value: new Uint8Array(60), version: v(1), tombstone: false }), "applied");
  assert.equal(s.force("b", { value: new Uint8Array(10), version: v(2), tombstone: false }), "full");
  assert.equal(s.bytes, 92);
  assert.equal(s.getEntry("b"), undefined);
  // Shrinking an existing value is always allowed.
  assert.equal(s.force("a", { value: new Uint8Array(1), version: v(3), tombstone: false }), "applied");
  assert.equal(s.bytes, 33);
});

Deno.test("last writer wins; ties broken by node id; stale writes ignored", () => {
  const s = new MemoryStore(1_000);
  s.apply("k", { value: new Uint8Array([2]), version: v(5, "b"), tombstone: false });
  assert.equal(s.apply("k", { value: new Uint8Array([1]), version: v(5, "a"), tombstone: false }), "stale");
  assert.equal(s.apply("k", { value: new Uint8Array([3]), version: v(5, "c"), tombstone: false }), "applied");
  assert.deepEqual(s.getValue("k"), new Uint8Array([3]));
  assert.ok(compareVersions(v(6, "a"), v(5, "z")) > 0);
});

Deno.test("store copies values so packet buffers can be reused", () => {
  const s = new MemoryStore(1_000);
  const buf = new Uint8Array([1, 2, 3]);
  s.force("k", { value: buf, version: v(1), tombstone: false });
  buf[0] = 9;
  assert.deepEqual(s.getValue("k"), new Uint8Array([1, 2, 3]));
});

Deno.test("tombstones are collected after their grace time", () => {
  const s = new MemoryStore(1_000);
  s.apply("old", { value: new Uint8Array(), version: v(10), tombstone: true });
  s.apply("new", { value: new Uint8Array(), version: v(100), tombstone: true });
  s.apply("live", { value: new Uint8Array(1), version: v(1), tombstone: false });
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
