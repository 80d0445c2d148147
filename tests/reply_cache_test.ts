/**
 * Unit tests of the typed-array reply cache: the chunked record log (positions,
 * chunk reuse, compaction), expiry order, the hash index (collisions), overwrite, forced
 * puts at the byte bound, copies returned by get, exact byte accounting, clear.
 */
import assert from "node:assert/strict";
import { hashIdWords, REPLY_CACHE_ENTRY_OVERHEAD, ReplyCache } from "../lib/node/reply_cache.ts";
import { HashIndex } from "../lib/storage/hash_index.ts";
import { REPLY_LOG_CHUNK_RECORDS, ReplyLog } from "../lib/node/reply_log.ts";

const OVERHEAD = REPLY_CACHE_ENTRY_OVERHEAD;

/** A 16-byte id from a number (and a second word, 0 unless given). */
function id16(n: number, second = 0): Uint8Array {
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(0, n, true);
  new DataView(id.buffer).setInt32(4, second, true);
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

Deno.test("reply log: chunks double up to full size; records keep their positions as the tail leaves chunks", () => {
  const log = new ReplyLog(2);
  const positions: number[] = [];
  for (let i = 0; i < 10_000; i++) positions.push(log.append(i, 0, 0, 0, 16, i + 1, reply(i % 7, i & 0xff), i));
  assert.equal(log.used, 10_000);
  assert.equal(new Set(positions).size, 10_000, "positions are distinct");
  for (let i = 0; i < 3_000; i++) {
    assert.equal(log.tail, positions[i]);
    log.dropTail();
  }
  for (const i of [3_000, 5_000, 9_999]) {
    const pos = positions[i];
    assert.ok(log.matches(pos, i, 0, 0, 0, 16) && log.live(pos));
    assert.deepEqual([log.hash(pos), log.at(pos), log.length(pos)], [i + 1, i, i % 7]);
    assert.deepEqual(log.copy(pos), reply(i % 7, i & 0xff));
  }
  let pos = log.tail;
  for (let i = 3_000; i < 10_000; i++, pos = log.next(pos)) assert.equal(pos, positions[i], `next of ${i - 1}`);
  assert.equal(log.liveCount, 7_000);
});

Deno.test("reply log: a steady load reuses its chunks; emptied, it starts its head chunk over", () => {
  const log = new ReplyLog(REPLY_LOG_CHUNK_RECORDS);
  let i = 0;
  for (; i < 3 * REPLY_LOG_CHUNK_RECORDS; i++) log.append(i, 0, 0, 0, 16, 1, reply(50, 1), i);
  const grown = log.allocatedBytes; // 3 full chunks
  let largest = 0;
  for (; i < 30 * REPLY_LOG_CHUNK_RECORDS; i++) { // as many in as out: chunks the tail leaves become the head's
    log.dropTail();
    log.append(i, 0, 0, 0, 16, 1, reply(50, 1), i);
    largest = Math.max(largest, log.allocatedBytes);
  }
  assert.equal(largest, (grown / 3) * 4, "one chunk more than the load fills, reused ever after");
  while (log.used > 0) log.dropTail();
  assert.equal(log.liveBytes, 0);
  const pos = log.append(7, 0, 0, 0, 16, 1, reply(3, 3), i);
  assert.equal(log.tail, pos);
  assert.deepEqual(log.copy(pos), reply(3, 3));
  const big = log.append(8, 0, 0, 0, 16, 1, reply(300_000, 9), i);
  assert.equal(log.copy(big).length, 300_000, "a reply larger than a chunk's bytes gets a chunk of its size");
});

Deno.test("reply log: compact keeps the live records oldest first and drops the killed", () => {
  const log = new ReplyLog(4);
  const positions = Array.from({ length: 10 }, (_, i) => log.append(i, 0, 0, 0, 16, i + 1, reply(5, i), i));
  log.dropTail();
  log.kill(positions[3]);
  log.kill(positions[7]);
  log.compact();
  assert.equal(log.used, 7);
  const seen: number[] = [];
  for (let k = 0, pos = log.tail; k < log.used; k++, pos = log.next(pos)) {
    assert.ok(log.live(pos));
    seen.push(log.at(pos));
    assert.deepEqual(log.copy(pos), reply(5, log.at(pos)));
  }
  assert.deepEqual(seen, [1, 2, 4, 5, 6, 8, 9]);
  assert.equal(log.liveBytes, 35);
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

Deno.test("reply cache: many replacements of one id are dropped or compacted away instead of piling up", () => {
  for (const expirePerCall of [2, 0]) { // 0: nothing drops the killed records behind the live "first" but compaction
    const cache = new ReplyCache({ ttlMs: 1e9, maxBytes: 1_000, minRecords: 4, expirePerCall });
    assert.ok(cache.put("first", reply(10, 1), 0));
    let largest = 0;
    for (let i = 0; i < 50_000; i++) {
      assert.ok(cache.put("same", reply(100, i & 0xff), i));
      largest = Math.max(largest, cache.allocatedBytes);
    }
    assert.equal(cache.size, 2);
    assert.equal(cache.bytes, 110 + 2 * OVERHEAD);
    assert.deepEqual(cache.get("same", 50_000), reply(100, 49_999 & 0xff));
    assert.deepEqual(cache.get("first", 50_000), reply(10, 1));
    assert.ok(largest < 2 * 1024 * 1024, `expirePerCall ${expirePerCall}: grew to ${largest} bytes`);
  }
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

Deno.test("reply cache: forced replies beyond maxBytes in bytes alone are all kept", () => {
  const cache = new ReplyCache({ ttlMs: 1_000, maxBytes: 500 });
  for (let i = 0; i < 20; i++) assert.ok(cache.put(id16(i), reply(200, i), 0, true));
  for (let i = 0; i < 20; i++) assert.deepEqual(cache.get(id16(i), 1), reply(200, i));
  assert.equal(cache.bytes, 20 * (200 + OVERHEAD));
});

Deno.test("reply cache: ids in one index slot, and ids with one 32-bit hash, are told apart", () => {
  // Two ids whose hashes share the home slot of a 16-slot index (minRecords 8).
  const home = (n: number) => hashIdWords(...idWords(id16(n)), 16) & 15;
  const second = Array.from({ length: 1_000 }, (_, n) => n).find((n) => n > 0 && home(n) === home(0))!;
  // Two ids with the same full hash (a birthday search over 32 bits). The ids vary in two words:
  // with one word varying and the others fixed, the hash is a permutation of that word.
  const twoWords = (n: number) => id16(n, Math.imul(n, 0x9e3779b1));
  const seen = new Map<number, number>();
  let pair: [Uint8Array, Uint8Array] | undefined;
  for (let n = 1_000; !pair; n++) {
    const h = hashIdWords(...idWords(twoWords(n)), 16);
    const other = seen.get(h);
    if (other !== undefined) pair = [twoWords(other), twoWords(n)];
    else seen.set(h, n);
  }
  assert.equal(hashIdWords(...idWords(pair[0]), 16), hashIdWords(...idWords(pair[1]), 16));
  for (const [a, b] of [[id16(0), id16(second)], pair]) {
    const cache = new ReplyCache({ ttlMs: 1_000, maxBytes: 1 << 20, minRecords: 8 });
    cache.put(a, reply(5, 1), 0);
    assert.equal(cache.get(b, 1), undefined, `${b} is not ${a}`);
    cache.put(b, reply(6, 2), 1);
    assert.deepEqual(cache.get(a, 2), reply(5, 1));
    assert.deepEqual(cache.get(b, 2), reply(6, 2));
    cache.put(a, reply(7, 3), 3); // replace the first of the chain
    assert.deepEqual(cache.get(b, 4), reply(6, 2));
    cache.expire(1_002); // drops b's record at 1 (a was replaced at 3): b's slot is removed, a must stay findable
    assert.equal(cache.get(b, 1_002), undefined);
    assert.deepEqual(cache.get(a, 1_002), reply(7, 3));
    assert.equal(cache.size, 1);
  }
});

Deno.test("hash index: backward-shift deletion keeps every probe chain reachable", () => {
  const index = new HashIndex(8);
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

Deno.test("reply id hashes are never 0 and reach even home slots as well as odd ones", () => {
  const hashes = Array.from({ length: 1_000 }, (_, n) => hashIdWords(...idWords(id16(n)), 16));
  assert.ok(hashes.every((h) => h !== 0));
  const even = hashes.filter((h) => (h & 1) === 0).length;
  assert.ok(even > 400 && even < 600, `${even} of 1000 even (a hash forced odd leaves half the home slots unused)`);
});
