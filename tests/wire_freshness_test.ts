import assert from "node:assert/strict";
import { VirtualClock } from "../lib/base/clock.ts";
import { MemoryNetwork } from "../lib/net/memory_network.ts";
import { InternalAddressBook } from "../lib/net/internal_address.ts";
import { encodeFrame, frameStamp, nextStamp } from "../lib/wire/frame.ts";
import { FreshnessGuard, MAX_SESSIONS, REPLAY_WINDOW_FRAMES } from "../lib/wire/freshness.ts";
import { ClusterKeyring } from "../lib/wire/keyring.ts";
import { Rpc } from "../lib/wire/rpc.ts";

Deno.test("freshness: a nonce passes once; out-of-order within the window passes; far behind is a replay", () => {
  const g = new FreshnessGuard(30_000);
  const now = 1_700_000_000_000;
  assert.equal(g.check(now, 1, 5, now), "fresh");
  assert.equal(g.check(now, 1, 5, now), "replay");
  assert.equal(g.check(now, 1, 3, now), "fresh", "an earlier sequence not seen yet (reordered)");
  assert.equal(g.check(now, 1, 3, now), "replay");
  assert.equal(g.check(now, 2, 5, now), "fresh", "another session has its own sequence");
  assert.equal(g.check(now, 1, 5 + REPLAY_WINDOW_FRAMES + 10, now), "fresh");
  assert.equal(g.check(now, 1, 4, now), "replay", "too far behind the high mark to tell: dropped");
  assert.equal(g.check(now, 1, 6 + REPLAY_WINDOW_FRAMES, now), "fresh", "inside the window, not seen");
  assert.equal(g.stats.replays, 3);
});

Deno.test("freshness: a time outside the window either way is stale, and the skew is kept", () => {
  const g = new FreshnessGuard(1_000);
  const now = 1_700_000_000_000;
  assert.equal(g.check(now - 1_001, 1, 1, now), "stale");
  assert.equal(g.stats.lastSkewMs, -1_001);
  assert.equal(g.check(now + 5_000, 1, 2, now), "stale");
  assert.equal(g.stats.lastSkewMs, 5_000);
  assert.equal(g.check(now + 1_000, 1, 3, now), "fresh");
  assert.equal(g.stats.stale, 2);
  assert.throws(() => new FreshnessGuard(0), RangeError);
});

Deno.test("freshness: memory is bounded: expired sessions are swept, and the count is capped", () => {
  const g = new FreshnessGuard(1_000);
  let now = 1_700_000_000_000;
  for (let s = 1; s <= 1_000; s++) g.check(now, s, 1, now);
  assert.equal(g.sessions, 1_000);
  now += 5_000; // every session above is expired: new ones sweep them
  for (let s = 2_001; s <= 2_400; s++) g.check(now, s, 1, now);
  assert.ok(g.sessions < 1_000, `${g.sessions} sessions held after the old ones expired`);
  for (let s = 10_000; s < 10_000 + MAX_SESSIONS + 100; s++) g.check(now, s, 1, now);
  assert.ok(g.sessions <= MAX_SESSIONS, `${g.sessions} sessions held, cap ${MAX_SESSIONS}`);
  assert.ok(g.stats.evicted > 0);
});

Deno.test("frame stamp: time and nonce are written; a session's sequence wraps into a new session", () => {
  const f = encodeFrame([{ command: 0x30, callId: 1, payload: new Uint8Array(1) }], undefined, 1_700_000_123_456);
  const st = frameStamp(f);
  assert.equal(st.time, 1_700_000_123_456);
  assert.ok(st.session > 0 && st.sequence > 0);
  const s = { session: 7, sequence: 0xffff_fffe };
  assert.deepEqual(nextStamp(s, 1), { time: 1, session: 7, sequence: 0xffff_ffff });
  const next = nextStamp(s, 2);
  assert.notEqual(next.session, 7);
  assert.equal(next.sequence, 1);
});

Deno.test("rpc: a captured frame replayed (from anywhere) or stale is dropped unanswered and counted", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const net = new MemoryNetwork(clock, { seed: 3 });
  const auth = ClusterKeyring.fromHex(["ab".repeat(32)]);
  const ta = net.createTransport("10.0.0.1:4000"), tb = net.createTransport("10.0.0.2:4000");
  const a = new Rpc(ta, clock, { auth }), b = new Rpc(tb, clock, { auth, freshnessWindowMs: 2_000 });
  ta.onReceive((d, f) => a.receive(d, f));
  const captured: Uint8Array[] = [];
  tb.onReceive((d, f) => {
    captured.push(d.slice());
    b.receive(d, f);
  });
  let handled = 0;
  b.handle(0x63, () => ({ header: { n: ++handled } }));
  const reply = a.call("10.0.0.2:4000", 0x63, {});
  clock.advance(50);
  assert.deepEqual((await reply).header, { n: 1 });
  const attacker = net.createTransport("10.6.6.6:999");
  let answered = 0;
  attacker.onReceive(() => answered++);
  attacker.send(captured[0], "10.0.0.2:4000");
  clock.advance(50);
  assert.equal(b.stats.rejected.replay, 1);
  clock.advance(3_000); // past the window
  attacker.send(captured[0], "10.0.0.2:4000");
  clock.advance(50);
  assert.equal(b.stats.rejected.stale, 1);
  assert.ok(b.stats.lastClockSkewMs < -2_000);
  assert.equal(handled, 1, "the handler ran once");
  assert.equal(answered, 0, "no answer to a replay");
  a.close();
  b.close();
});

Deno.test("internal addresses: default client port + 10000, overrides, and any source maps back to itself", () => {
  const book = new InternalAddressBook({ "10.0.0.2:4000": 5000, "10.0.0.3:4000": "192.168.1.3:24000" });
  assert.equal(book.toInternal("10.0.0.1:4000"), "10.0.0.1:14000");
  assert.equal(book.toIdentity("10.0.0.1:14000"), "10.0.0.1:4000");
  assert.equal(book.toInternal("10.0.0.2:4000"), "10.0.0.2:5000");
  assert.equal(book.toIdentity("10.0.0.2:5000"), "10.0.0.2:4000");
  assert.equal(book.toInternal("10.0.0.3:4000"), "192.168.1.3:24000");
  assert.equal(book.toIdentity("192.168.1.3:24000"), "10.0.0.3:4000");
  for (const port of [1, 5, 9_999, 10_000, 10_001, 40_000, 55_535, 55_536, 60_999, 65_535]) {
    const source = `127.0.0.1:${port}`;
    assert.equal(book.toInternal(book.toIdentity(source)), source, `an answer to ${source} reaches it`);
  }
  assert.equal(book.toInternal("[::1]:4000"), "[::1]:14000");
});
