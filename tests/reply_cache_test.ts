/**
 * Unit tests of the typed-array reply cache: the record/byte ring (wrap-around,
 * expiry order, compaction), the hash index (collisions), overwrite, forced
 * puts at the byte bound, copies returned by get, exact byte accounting, clear.
 */
import assert from "node:assert/strict";
import { REPLY_CACHE_ENTRY_OVERHEAD, ReplyCache } from "../lib/reply_cache.ts";
import { hashIdWords, ReplyIndex } from "../lib/reply_index.ts";
import { ReplyRing } from "../lib/reply_ring.ts";

const OVERHEAD = REPLY_CACHE_ENTRY_OVERHEAD;

/** A 16-byte id from a number. */
function id16(n: number): Uint8Array {
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(0, n, true);
  id[15] = 0xa5;
  return id;
}

function reply(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

function idWords(id: Uint8Array): [number, number, number, number] {
  const v = new DataView(id.buffer, id.byteOffset, 16);
  return [v.getInt32(0, true), v.getInt32(4, true), v.getInt32(8, true), v.getInt32(12, true)];
}

Deno.test("reply ring: byte ring wraps around, skipping the unused end, and frees it with the record after it", () => {
  const ring = new ReplyRing(8, 100);
  ring.append(1, 0, 0, 0, 16, 11, reply(40, 1), 0); // [0, 40)
  ring.append(2, 0, 0, 0, 16, 12, reply(40, 2), 1); // [40, 80)
  assert.equal(ring.canAppend(30), false, "30 bytes fit neither at the end (20 left) nor before the tail");
  ring.dropTail();
  assert.equal(ring.canAppend(30), true);
  const c = ring.append(3, 0, 0, 0, 16, 13, reply(30, 3), 2); // wraps to [0, 30), skipping [80, 100)
  assert.deepEqual(ring.copy(c), reply(30, 3));
  assert.equal(ring.canAppend(11), false, "only [30, 40) is free");
  assert.equal(ring.canAppend(10), true);
  ring.dropTail(); // record 2: [40, 80)
  assert.equal(ring.canAppend(51), false, "[80, 100) is still taken: it goes with the record that skipped it");
  const d = ring.append(4, 0, 0, 0, 16, 14, reply(50, 4), 3); // [30, 80)
  assert.equal(ring.canAppend(1), false, "full");
  assert.equal(ring.canAppend(0), true, "an empty reply always fits");
  ring.dropTail(); // record 3: [80, 100) and [0, 30)
  assert.equal(ring.canAppend(31), false, "20 bytes free at the end, 30 before the tail");
  const e = ring.append(5, 0, 0, 0, 16, 15, reply(30, 5), 4); // [0, 30), skipping [80, 100)
  assert.deepEqual(ring.copy(d), reply(50, 4));
  assert.deepEqual(ring.copy(e), reply(30, 5));
  ring.dropTail();
  ring.dropTail();
  assert.equal(ring.used, 0);
  assert.equal(ring.canAppend(100), true, "empty: the whole ring");
});

Deno.test("reply ring: record positions wrap around; rebuild keeps live records oldest first", () => {
  const ring = new ReplyRing(4, 1000);
  for (let i = 0; i < 10; i++) {
    if (ring.used === 4) ring.dropTail();
    ring.append(i, 0, 0, 0, 16, i + 1, reply(5, i), i);
  }
  assert.equal(ring.used, 4);
  assert.deepEqual([0, 1, 2, 3].map((k) => ring.at((ring.tail + k) % 4)), [6, 7, 8, 9]);
  ring.kill((ring.tail + 1) % 4); // record 7 replaced
  ring.rebuild(8, 64);
  assert.equal(ring.used, 3);
  assert.deepEqual([0, 1, 2].map((p) => ring.at(p)), [6, 8, 9]);
  assert.deepEqual([0, 1, 2].map((p) => ring.copy(p)[0]), [6, 8, 9]);
  assert.ok(ring.matches(1, 8, 0, 0, 0, 16));
  assert.equal(ring.liveBytes, 15);
});

Deno.test("reply cache: expiry drops oldest first, in insertion order, and stops at the first unexpired", () => {
  // expirePerCall 0: only expire() drops (the gets below would drop the oldest themselves).
  const cache = new ReplyCache({ ttlMs: 100, maxBytes: 1 << 20, minRecords: 4, expirePerCall: 0 });
  for (let i = 0; i < 20; i++) cache.put(id16(i), reply(10, i), i * 10);
  cache.put(id16(3), reply(10, 99), 195); // replaced: now the newest
  cache.expire(150); // drops puts at 0…50 (ids 0, 1, 2, 4, 5) and the replaced record of id 3
  assert.equal(cache.size, 15);
  for (let i = 0; i < 20; i++) {
    const expected = i === 3 ? reply(10, 99) : i <= 5 ? undefined : reply(10, i);
    assert.deepEqual(cache.get(id16(i), 150), expected, `id ${i}`);
  }
  assert.equal(cache.bytes, 15 * (10 + OVERHEAD));
  cache.expire(294); // everything but id 3 (at 195)
  assert.equal(cache.size, 1);
  assert.deepEqual(cache.get(id16(3), 294), reply(10, 99));
  cache.expire(295);
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});

Deno.test("reply cache: a put for a cached id replaces its reply and its time; bytes follow", () => {
  const cache = new ReplyCache({ ttlMs: 1_000, maxBytes: 10_000 });
  assert.ok(cache.put(id16(1), reply(20, 1), 0));
  assert.ok(cache.put(id16(2), reply(30, 2), 0));
  assert.ok(cache.put(id16(1), reply(50, 3), 500));
  assert.equal(cache.size, 2);
  assert.equal(cache.bytes, 50 + 30 + 2 * OVERHEAD);
  assert.deepEqual(cache.get(id16(1), 1_200), reply(50, 3), "kept until 500 + ttl");
  assert.equal(cache.get(id16(2), 1_200), undefined);
  cache.expire(1_200);
  assert.equal(cache.size, 1);
  assert.equal(cache.bytes, 50 + OVERHEAD);
  // Expired but not yet dropped: get misses, the put that follows (the node's path) replaces it.
  assert.equal(cache.get(id16(1), 1_500), undefined);
  assert.ok(cache.put(id16(1), reply(7, 4), 1_500));
  assert.deepEqual(cache.get(id16(1), 1_501), reply(7, 4));
  assert.equal(cache.bytes, 7 + OVERHEAD);
});

Deno.test("reply cache: many replacements of one id compact the ring instead of growing it", () => {
  const cache = new ReplyCache({ ttlMs: 1e9, maxBytes: 1_000, minRecords: 4 });
  for (let i = 0; i < 10_000; i++) assert.ok(cache.put("same", reply(100, i & 0xff), i));
  assert.equal(cache.size, 1);
  assert.equal(cache.bytes, 100 + OVERHEAD);
  assert.deepEqual(cache.get("same", 10_000), reply(100, 9_999 & 0xff));
});

Deno.test("reply cache: at the byte bound unforced puts are refused, forced ones kept; nothing unexpired is evicted", () => {
  const cache = new ReplyCache({ ttlMs: 1_000, maxBytes: 5 * (100 + OVERHEAD) });
  for (let i = 0; i < 5; i++) assert.ok(cache.put(id16(i), reply(100, i), 0));
  assert.equal(cache.bytes, cache.maxBytes);
  assert.equal(cache.hasRoom(1, 10), false);
  assert.equal(cache.put(id16(5), reply(100, 5), 10), false, "unforced: refused");
  assert.equal(cache.get(id16(5), 10), undefined);
  for (let i = 5; i < 15; i++) assert.ok(cache.put(id16(i), reply(100, i), 10, true), "forced: cached");
  assert.equal(cache.size, 15);
  assert.equal(cache.bytes, 15 * (100 + OVERHEAD), "charged beyond maxBytes");
  for (let i = 0; i < 15; i++) assert.deepEqual(cache.get(id16(i), 20), reply(100, i), `id ${i} still answered`);
  assert.equal(cache.hasRoom(1, 1_005), false, "the forced ones are still within their ttl");
  assert.ok(cache.hasRoom(100, 1_010), "room again once everything expired");
  assert.equal(cache.size, 0);
});

Deno.test("reply cache: forced replies beyond maxBytes in bytes alone grow the byte ring", () => {
  const cache = new ReplyCache({ ttlMs: 1_000, maxBytes: 500 });
  for (let i = 0; i < 20; i++) assert.ok(cache.put(id16(i), reply(200, i), 0, true));
  for (let i = 0; i < 20; i++) assert.deepEqual(cache.get(id16(i), 1), reply(200, i));
  assert.equal(cache.bytes, 20 * (200 + OVERHEAD));
});

Deno.test("reply cache: ids in one index slot, and ids with one 32-bit hash, are told apart", () => {
  // Two ids whose hashes share the home slot of a 16-slot index (minRecords 8).
  const home = (n: number) => hashIdWords(...idWords(id16(n)), 16) & 15;
  const second = Array.from({ length: 1_000 }, (_, n) => n).find((n) => n > 0 && home(n) === home(0))!;
  // Two ids with the same full hash (a birthday search over 32 bits).
  const seen = new Map<number, number>();
  let pair: [number, number] | undefined;
  for (let n = 1_000; !pair; n++) {
    const h = hashIdWords(...idWords(id16(n)), 16);
    const other = seen.get(h);
    if (other !== undefined) pair = [other, n];
    else seen.set(h, n);
  }
  for (const [a, b] of [[0, second], pair]) {
    const cache = new ReplyCache({ ttlMs: 1_000, maxBytes: 1 << 20, minRecords: 8 });
    cache.put(id16(a), reply(5, 1), 0);
    assert.equal(cache.get(id16(b), 1), undefined, `${b} is not ${a}`);
    cache.put(id16(b), reply(6, 2), 1);
    assert.deepEqual(cache.get(id16(a), 2), reply(5, 1));
    assert.deepEqual(cache.get(id16(b), 2), reply(6, 2));
    cache.put(id16(a), reply(7, 3), 3); // replace the first of the chain
    assert.deepEqual(cache.get(id16(b), 4), reply(6, 2));
    cache.expire(1_002); // drops b's record at 1 (a was replaced at 3): b's slot is removed, a must stay findable
    assert.equal(cache.get(id16(b), 1_002), undefined);
    assert.deepEqual(cache.get(id16(a), 1_002), reply(7, 3));
    assert.equal(cache.size, 1);
  }
});

Deno.test("reply index: backward-shift deletion keeps every probe chain reachable", () => {
  const index = new ReplyIndex(8);
  // Hashes 1, 9, 17 share home slot 1; 2 has home 2 and is pushed behind them.
  for (const [h, r] of [[1, 10], [9, 11], [2, 12], [17, 13]]) index.add(h, r);
  assert.ok(index.remove(9, 11));
  assert.equal(index.remove(9, 11), false);
  for (const [h, r] of [[1, 10], [2, 12], [17, 13]]) {
    const slot = index.seek(h);
    assert.ok(index.occupied(slot) && index.record(slot) === r, `hash ${h}`);
  }
  assert.equal(index.size, 3);
});

Deno.test("reply cache: a get hit is a copy that later puts, replacements and compaction never change", () => {
  const cache = new ReplyCache({ ttlMs: 1e9, maxBytes: 1 << 20, minRecords: 4 });
  cache.put(id16(0), reply(30, 7), 0);
  const hit = cache.get(id16(0), 1)!;
  const hit2 = cache.get(id16(0), 1)!;
  assert.notEqual(hit, hit2);
  hit2.fill(0);
  cache.put(id16(0), reply(30, 8), 2);
  for (let i = 1; i < 2_000; i++) cache.put(id16(i), reply(30, i & 0xff), 3);
  cache.clear();
  assert.deepEqual(hit, reply(30, 7));
});

Deno.test("reply cache: bytes are exactly the replies plus the overhead each, through growth and shrinking", () => {
  const cache = new ReplyCache({ ttlMs: 100, maxBytes: 1 << 24, minRecords: 2 });
  let expected = 0;
  const live = new Map<number, number>();
  for (let i = 0; i < 5_000; i++) {
    const n = i % 1_500, length = i % 37;
    const old = live.get(n);
    if (old !== undefined) expected -= old + OVERHEAD;
    cache.put(id16(n), reply(length, i & 0xff), 0);
    live.set(n, length);
    expected += length + OVERHEAD;
    assert.equal(cache.bytes, expected);
  }
  assert.equal(cache.size, 1_500);
  for (const [n, length] of live) assert.equal(cache.get(id16(n), 1)?.length, length);
  cache.expire(100);
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
  cache.put(id16(1), reply(3, 1), 100);
  assert.equal(cache.bytes, 3 + OVERHEAD);
});

Deno.test("reply cache: clear forgets everything; string ids stand for their char codes", () => {
  const cache = new ReplyCache({ ttlMs: 1_000, maxBytes: 1 << 20 });
  for (let i = 0; i < 600; i++) cache.put(id16(i), reply(20, i & 0xff), 0);
  cache.put("abc", reply(4, 9), 0);
  assert.deepEqual(cache.get(new Uint8Array([97, 98, 99]), 1), reply(4, 9));
  assert.equal(cache.get("abc\0", 1), undefined, "the length is part of the id");
  cache.clear();
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
  for (let i = 0; i < 600; i++) assert.equal(cache.get(id16(i), 1), undefined);
  assert.ok(cache.put(id16(1), reply(5, 5), 2));
  assert.deepEqual(cache.get(id16(1), 3), reply(5, 5));
  assert.throws(() => cache.get(new Uint8Array(17), 0), RangeError);
  assert.throws(() => cache.get("\u0100", 0), RangeError);
});

Deno.test("reply cache: agrees with a map under random puts, replacements and expiry with tiny capacities", () => {
  for (const seed of [1, 2, 3]) {
    let state = seed;
    const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const ttl = 40, maxBytes = 3_000;
    // The model expires only when a reply would not fit, so the cache must not expire on its own.
    const cache = new ReplyCache({ ttlMs: ttl, maxBytes, minRecords: 2, expirePerCall: 0 });
    const model = new Map<number, { reply: Uint8Array; at: number }>();
    let now = 0;
    for (let step = 0; step < 20_000; step++) {
      now += Math.floor(random() * 3);
      const n = Math.floor(random() * 50);
      const e = model.get(n);
      const expected = e && now - e.at < ttl ? e.reply : undefined;
      assert.deepEqual(cache.get(id16(n), now), expected, `seed ${seed} step ${step}`);
      if (expected || random() < 0.3) continue;
      const r = Uint8Array.from({ length: Math.floor(random() * 60) }, (_, i) => (step + i) & 0xff);
      const charged = () => [...model.values()].reduce((sum, v) => sum + v.reply.length + OVERHEAD, 0);
      if (charged() + r.length + OVERHEAD > maxBytes) { // the cache expires first, oldest first
        for (const [k, v] of model) {
          if (now - v.at < ttl) break;
          model.delete(k);
        }
      }
      const force = random() < 0.2;
      const fits = charged() + r.length + OVERHEAD <= maxBytes;
      assert.equal(cache.put(id16(n), r, now, force), fits || force, `seed ${seed} step ${step}: put`);
      if (fits || force) {
        model.delete(n);
        model.set(n, { reply: r, at: now });
      }
      assert.equal(cache.size, model.size);
      assert.equal(cache.bytes, [...model.values()].reduce((sum, v) => sum + v.reply.length + OVERHEAD, 0));
    }
  }
});

Deno.test("reply cache: at a steady rate gets and puts drop expired replies, so the cache stops growing", () => {
  const ttl = 1_000;
  const cache = new ReplyCache({ ttlMs: ttl, maxBytes: 1 << 30, minRecords: 4 });
  let largest = 0;
  for (let i = 0; i < 20_000; i++) { // one request per ms, as the node does: get, then put
    assert.equal(cache.get(id16(i), i), undefined);
    cache.put(id16(i), reply(20, i), i);
    if (i % 50 === 0) cache.put(id16(i), reply(20, i + 1), i); // a replaced reply now and then
    largest = Math.max(largest, cache.size);
  }
  // Holds what the last ttl brought (ids 19,000…19,999), not all 20,000 puts.
  assert.equal(cache.size, ttl);
  assert.ok(largest <= ttl + 2, `grew to ${largest}`);
  assert.equal(cache.bytes, ttl * (20 + OVERHEAD));
  assert.deepEqual(cache.get(id16(19_000), 19_999), reply(20, 19_001));
  assert.deepEqual(cache.get(id16(19_001), 19_999), reply(20, 19_001));
  assert.equal(cache.get(id16(18_999), 19_999), undefined);
  assert.throws(() => new ReplyCache({ ttlMs: 1, maxBytes: 1, expirePerCall: -1 }), RangeError);
});
