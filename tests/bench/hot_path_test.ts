/**
 * Regression tests for the request hot-path changes made for throughput:
 * slab allocation, the reply cache's expiry queue and lookup memo, one-step
 * get replies, and received datagrams staying intact while retained.
 */
import assert from "node:assert/strict";
import { SlabAllocator } from "../../lib/base/slab.ts";
import { REPLY_CACHE_ENTRY_OVERHEAD, ReplyCache } from "../../lib/node/reply_cache.ts";
import { encodeReply, encodeValuePayload, encodeValueReply } from "../../lib/wire/client_protocol.ts";
import { UdpTransport } from "../../lib/net/udp_transport.ts";
import { seededRandom } from "../../lib/base/random.ts";

Deno.test("slab: regions are zero-filled, disjoint, and large arrays get their own buffer", () => {
  const slab = new SlabAllocator(1024);
  const a = slab.alloc(100);
  const b = slab.alloc(100);
  assert.ok(a.every((x) => x === 0) && b.every((x) => x === 0));
  a.fill(1);
  b.fill(2);
  assert.ok(a.every((x) => x === 1), "writing b must not touch a");
  assert.equal(a.buffer, b.buffer);
  const big = slab.alloc(600);
  assert.notEqual(big.buffer, a.buffer);
  assert.equal(big.byteOffset, 0);
  const many = Array.from({ length: 50 }, (_, i) => slab.copy(new Uint8Array([i, i, i])));
  many.forEach((m, i) => assert.deepEqual([...m], [i, i, i]));
  assert.throws(() => new SlabAllocator(3), RangeError);
});

Deno.test("encodeValueReply gives the same bytes as encodeReply + encodeValuePayload", () => {
  const id = Uint8Array.from({ length: 16 }, (_, i) => i * 11);
  for (const n of [0, 1, 100, 255, 256, 15_000]) {
    const value = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
    const slab = new SlabAllocator();
    assert.deepEqual(
      encodeValueReply(id, value, (len) => slab.alloc(len)),
      encodeReply(id, 0, encodeValuePayload(value)),
    );
  }
});

/** The reply cache as it was specified: a plain map with ttl and byte bound. */
class ModelCache {
  map = new Map<string, { reply: Uint8Array; at: number }>();
  bytes = 0;
  constructor(readonly ttlMs: number, readonly maxBytes: number) {}
  get(id: string, now: number) {
    const e = this.map.get(id);
    return e && now - e.at < this.ttlMs ? e.reply : undefined;
  }
  expire(now: number) {
    for (const [id, e] of this.map) {
      if (now - e.at < this.ttlMs) break;
      this.map.delete(id);
      this.bytes -= e.reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    }
  }
  hasRoom(length: number, now: number) {
    if (this.bytes + length + REPLY_CACHE_ENTRY_OVERHEAD <= this.maxBytes) return true;
    this.expire(now);
    return this.bytes + length + REPLY_CACHE_ENTRY_OVERHEAD <= this.maxBytes;
  }
  put(id: string, reply: Uint8Array, now: number, force = false) {
    if (!this.hasRoom(reply.length, now) && !force) return false;
    const old = this.map.get(id);
    if (old) {
      this.map.delete(id);
      this.bytes -= old.reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    }
    this.map.set(id, { reply, at: now });
    this.bytes += reply.length + REPLY_CACHE_ENTRY_OVERHEAD;
    return true;
  }
}

Deno.test("reply cache behaves like the plain-map model under random get/put/expire with re-puts", () => {
  // Small: many re-puts and a full cache. Large: the table grows past 1,024 slots and shrinks back.
  const shapes = [
    { ids: 60, ttl: 50, maxBytes: 4_000, step: 3 },
    { ids: 5_000, ttl: 2_000, maxBytes: 400_000, step: 1 },
  ];
  // expirePerCall 0: the model's semantics exactly (expire only when a reply would not fit).
  // Default: gets and puts also drop a few expired replies, so what both hold differs only in
  // expired replies: every get and put answers alike, and after expire() they hold the same.
  for (const [seed, exact] of [[1, true], [2, true], [3, true], [4, true], [5, false], [6, false]] as const) {
    const shape = shapes[seed % 2];
    const random = seededRandom(seed);
    const cache = new ReplyCache({ ttlMs: shape.ttl, maxBytes: shape.maxBytes, expirePerCall: exact ? 0 : undefined });
    const model = new ModelCache(shape.ttl, shape.maxBytes);
    let now = 0;
    for (let step = 0; step < 20_000; step++) {
      now += Math.floor(random() * shape.step) + (step % 5_000 === 4_999 ? shape.ttl : 0);
      const id = `id${Math.floor(random() * shape.ids)}`;
      const r = random();
      if (r < 0.45) {
        // The cache returns a copy: same bytes (each put's reply is distinct), not the same array.
        assert.deepEqual(cache.get(id, now), model.get(id, now), `seed ${seed} step ${step}: get ${id}`);
      } else if (r < 0.9) {
        // The node's pattern: get, then put for the same id (the memoized lookup).
        cache.get(id, now);
        model.get(id, now);
        const reply = new Uint8Array(1 + Math.floor(random() * 40)).fill(step & 0xff);
        const force = random() < 0.3;
        assert.equal(cache.put(id, reply, now, force), model.put(id, reply, now, force), `step ${step}: put`);
      } else if (r < 0.95) {
        cache.expire(now);
        model.expire(now);
        assert.equal(cache.bytes, model.bytes, `seed ${seed} step ${step}: bytes after expire`);
      } else {
        assert.equal(cache.hasRoom(30, now), model.hasRoom(30, now), `step ${step}: hasRoom`);
      }
      if (exact) {
        assert.equal(cache.bytes, model.bytes, `seed ${seed} step ${step}: bytes`);
        assert.equal(cache.size, model.map.size, `seed ${seed} step ${step}: size`);
      }
    }
  }
});

Deno.test("UDP transport: a received datagram stays intact while later ones arrive", async () => {
  const server = await UdpTransport.listen("127.0.0.1", 0);
  const client = await UdpTransport.listen("127.0.0.1", 0);
  const kept: Uint8Array[] = [];
  let resolve: () => void = () => {};
  const all = new Promise<void>((r) => resolve = r);
  server.onReceive((data) => {
    kept.push(data);
    if (kept.length === 200) resolve();
  });
  const sendNext = (i: number) => client.send(new Uint8Array(30 + (i % 50)).fill(i & 0xff), server.address);
  for (let i = 0; i < 200; i++) sendNext(i);
  const timer = setTimeout(resolve, 5_000);
  await all;
  clearTimeout(timer);
  client.close();
  server.close();
  await Promise.all([client.closed, server.closed]);
  assert.equal(kept.length, 200, "loopback delivered every datagram");
  const seen = new Set<number>();
  for (const d of kept) {
    const i = d[0];
    assert.ok(d.every((x) => x === i), "datagram bytes unchanged");
    seen.add(i);
  }
  assert.equal(seen.size, 200);
});
