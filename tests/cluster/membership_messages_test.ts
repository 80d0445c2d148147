/**
 * What membership puts in datagrams: the broadcast queue (newer rumors replace older ones, transmit limit,
 * byte budget) and the codec (valid messages decode, malformed ones are rejected whole, the full state of
 * 1,000 members fits datagrams under 60 KB).
 */
import assert from "node:assert/strict";
import { encodeJsonFrame } from "../../lib/wire/envelope.ts";
import {
  chunkEntries,
  decodeMembership,
  MembershipCommand,
  type MemberUpdate,
} from "../../lib/membership/membership_codec.ts";
import { BroadcastQueue } from "../../lib/membership/swim_broadcasts.ts";
import { LAN_CONFIG } from "../../lib/membership/swim_config.ts";

const A = "10.0.0.1:4000", B = "10.0.0.2:4000", C = "10.0.0.3:4000";

Deno.test("broadcast queue: newer rumor replaces older, transmit limit, byte budget", () => {
  const q = new BroadcastQueue();
  q.enqueue({ address: B, state: "alive", incarnation: 1 });
  q.enqueue({ address: B, state: "suspect", incarnation: 1, from: C });
  assert.equal(q.size, 1);
  assert.deepEqual(q.take(1_000, 2), [[1, B, 1, C]]);
  assert.equal(q.take(1_000, 2).length, 1);
  assert.equal(q.take(1_000, 2).length, 0, "dropped after the limit");
  for (let i = 0; i < 100; i++) q.enqueue({ address: `10.0.1.${i}:4000`, state: "alive", incarnation: 0 });
  const some = q.take(300, 5);
  assert.ok(some.length > 5 && JSON.stringify(some).length <= 300, `${JSON.stringify(some).length} bytes`);
});

Deno.test("codec: valid messages decode; malformed ones are rejected whole", () => {
  assert.equal(decodeMembership(MembershipCommand.Ping, { s: 1, t: A, u: [[0, B, 2]] })?.kind, "ping");
  assert.equal(decodeMembership(MembershipCommand.Ack, { s: 1 })?.kind, "ack");
  assert.equal(decodeMembership(MembershipCommand.PushPull, { s: 1, j: 1, p: 0, n: 1, m: [[0, A, 0]] })?.kind, "push");
  const bad: [number, unknown][] = [
    [MembershipCommand.Ping, null],
    [MembershipCommand.Ping, [1, 2]],
    [MembershipCommand.Ping, { s: 1 }],
    [MembershipCommand.Ping, { s: "1", t: A }],
    [MembershipCommand.Ping, { s: 1, t: "not an address" }],
    [MembershipCommand.Ping, { s: 1, t: A, u: [[9, B, 0]] }],
    [MembershipCommand.Ping, { s: 1, t: A, u: [[0, B, -1]] }],
    [MembershipCommand.Ping, { s: 1, t: A, u: [[0, B, 1.5]] }],
    [MembershipCommand.Ping, { s: 1, t: A, u: "x" }],
    [MembershipCommand.PushPull, { s: 1, j: 2, p: 0, n: 1, m: [] }],
    [MembershipCommand.PushPull, { s: 1, j: 0, p: 1, n: 1, m: [] }],
    [MembershipCommand.PushPull, { s: 1, j: 0, p: 0, n: 1, m: [[0, A, 0, B]] }],
    [MembershipCommand.Gossip, { u: [] }],
    [0x2e, { s: 1 }],
  ];
  for (const [c, h] of bad) assert.equal(decodeMembership(c, h), null, JSON.stringify(h));
});

Deno.test("codec: the full state of 1,000 members is chunked into datagrams under 60 KB", () => {
  const entries: MemberUpdate[] = Array.from({ length: 1_000 }, (_, i) => ({
    address: `node-${String(i).padStart(4, "0")}.rack-${i % 40}.datacenter-west.example.internal:4000`,
    state: "alive",
    incarnation: 123_456 + i,
  }));
  const chunks = chunkEntries(entries, LAN_CONFIG.maxPacketBytes);
  assert.ok(chunks.length >= 2, "this many long names need more than one datagram");
  assert.equal(chunks.flat().length, 1_000);
  for (const [p, m] of chunks.entries()) {
    const packet = encodeJsonFrame(MembershipCommand.PushPull, {
      s: 1,
      j: 0,
      p,
      n: chunks.length,
      m,
    });
    assert.ok(packet.length < 60_000, `chunk ${p} is ${packet.length} bytes`);
    assert.equal(decodeMembership(MembershipCommand.PushPull, { s: 1, j: 0, p, n: chunks.length, m })?.kind, "push");
  }
  // 1,000 IPv4 members fit one datagram.
  const v4 = entries.map((e, i) => ({ ...e, address: `10.0.${i >> 8}.${i & 255}:4000` }));
  assert.equal(chunkEntries(v4, LAN_CONFIG.maxPacketBytes).length, 1);
});
