import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { encodeJsonFrame } from "../../lib/wire/envelope.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { startNode } from "../../lib/roles/start_node.ts";
import { seededRandom } from "../../lib/base/random.ts";
import { StaticMembers } from "../../lib/node/members.ts";
import {
  chunkEntries,
  decodeMembership,
  MembershipCommand,
  type MemberUpdate,
} from "../../lib/membership/membership_codec.ts";
import { MemberTable } from "../../lib/membership/membership_table.ts";
import { BroadcastQueue } from "../../lib/membership/swim_broadcasts.ts";
import {
  LAN_CONFIG,
  resolveSwimConfig,
  retransmitLimit,
  suspicionBounds,
  WAN_CONFIG,
} from "../../lib/membership/swim_config.ts";
import { remainingSuspicionMs } from "../../lib/membership/swim_suspicion.ts";
import type { Swim } from "../../lib/membership/swim.ts";

const A = "10.0.0.1:4000", B = "10.0.0.2:4000", C = "10.0.0.3:4000";

function table(self = A) {
  const clock = new VirtualClock();
  const broadcasts = new BroadcastQueue();
  const t = new MemberTable({ self, clock, random: seededRandom(1), config: LAN_CONFIG, broadcasts });
  return { clock, broadcasts, t };
}

Deno.test("config: presets, overrides and clear errors", () => {
  assert.equal(resolveSwimConfig("lan").probeIntervalMs, LAN_CONFIG.probeIntervalMs);
  assert.ok(WAN_CONFIG.probeTimeoutMs > LAN_CONFIG.probeTimeoutMs);
  assert.ok(WAN_CONFIG.suspicionMult > LAN_CONFIG.suspicionMult);
  assert.equal(resolveSwimConfig("wan", { probeIntervalMs: 4_000 }).probeIntervalMs, 4_000);
  assert.throws(() => resolveSwimConfig("moon"), { name: "TypeError", message: /lan.*wan/ });
  assert.throws(() => resolveSwimConfig("lan", { probeIntervalMS: 5 }), {
    name: "TypeError",
    message: /probeIntervalMS/,
  });
  assert.throws(() => resolveSwimConfig("lan", { indirectChecks: -1 }), {
    name: "RangeError",
    message: /indirectChecks/,
  });
  assert.throws(() => resolveSwimConfig("lan", { probeTimeoutMs: 5_000 }), { name: "RangeError" });
  // memberlist formulas
  assert.deepEqual(suspicionBounds(LAN_CONFIG, 5), [4_000, 24_000]);
  assert.deepEqual(suspicionBounds(LAN_CONFIG, 100), [8_000, 48_000]);
  assert.equal(retransmitLimit(LAN_CONFIG, 50), 8);
});

Deno.test("Lifeguard suspicion: timeout shrinks from max to min with confirmations", () => {
  const [min, max] = [4_000, 24_000];
  const t0 = remainingSuspicionMs(0, 2, 0, min, max);
  const t1 = remainingSuspicionMs(1, 2, 0, min, max);
  const t2 = remainingSuspicionMs(2, 2, 0, min, max);
  assert.equal(t0, max);
  assert.ok(t1 < t0 && t1 > t2, `${t1} should lie between ${t2} and ${t0}`);
  assert.equal(t2, min);
  assert.equal(remainingSuspicionMs(0, 0, 1_000, min, max), min - 1_000, "no confirmations expected: min timeout");
});

Deno.test("member table: incarnations decide, suspects refute, dead is only undone by a newer incarnation", () => {
  const { t, clock, broadcasts } = table();
  t.apply({ address: B, state: "alive", incarnation: 3 }, B);
  t.apply({ address: B, state: "suspect", incarnation: 2, from: C }, C);
  assert.equal(t.get(B)?.state, "alive", "an older suspicion is ignored");
  t.apply({ address: B, state: "suspect", incarnation: 3, from: C }, C);
  assert.equal(t.get(B)?.state, "suspect");
  assert.deepEqual(t.alive(), [A, B], "a suspect is still a member");
  t.apply({ address: B, state: "alive", incarnation: 3 }, B);
  assert.equal(t.get(B)?.state, "suspect", "same incarnation does not refute");
  t.apply({ address: B, state: "alive", incarnation: 4 }, B);
  assert.equal(t.get(B)?.state, "alive");
  // A suspicion that is never refuted ends in death after the max timeout (2 members: min timeout).
  t.apply({ address: B, state: "suspect", incarnation: 4, from: C }, C);
  clock.advance(suspicionBounds(LAN_CONFIG, 2)[0]);
  assert.equal(t.get(B)?.state, "dead");
  assert.deepEqual(t.alive(), [A]);
  t.apply({ address: B, state: "alive", incarnation: 4 }, B);
  assert.equal(t.get(B)?.state, "dead", "a stale alive rumor does not resurrect");
  t.apply({ address: B, state: "alive", incarnation: 5 }, B);
  assert.equal(t.get(B)?.state, "alive");
  // Rumors about self: suspicion is refuted with a higher incarnation, queued for gossip.
  t.apply({ address: A, state: "suspect", incarnation: 0, from: B }, B);
  assert.equal(t.incarnation, 1);
  assert.deepEqual(broadcasts.peek(A), { address: A, state: "alive", incarnation: 1 });
  t.apply({ address: A, state: "dead", incarnation: 7, from: B }, B);
  assert.equal(t.incarnation, 8);
  t.stop();
});

Deno.test("member table: push-pull merge turns remote 'dead' into a local suspicion", () => {
  const { t } = table();
  t.apply({ address: B, state: "alive", incarnation: 1 }, B);
  t.merge([{ address: B, state: "dead", incarnation: 1 }, { address: C, state: "dead", incarnation: 0 }], C);
  assert.equal(t.get(B)?.state, "suspect", "dead in a pushed state only raises suspicion");
  assert.equal(t.get(C), undefined, "a dead stranger is not learned");
  assert.deepEqual(t.counts(), { alive: 1, suspect: 1, dead: 0 });
  t.stop();
});

Deno.test("member table: onChange fires on live-set changes only; events describe transitions", () => {
  const { t } = table();
  let changes = 0;
  const events: string[] = [];
  t.onChange(() => changes++);
  t.onEvent((e) => events.push(`${e.address}:${e.previous}->${e.state}`));
  t.apply({ address: B, state: "alive", incarnation: 0 }, B);
  t.apply({ address: B, state: "suspect", incarnation: 0, from: C }, C);
  t.apply({ address: B, state: "left", incarnation: 0, from: B }, B);
  assert.equal(changes, 2, "join and leave change the live set; suspicion does not");
  assert.deepEqual(events, [`${B}:none->alive`, `${B}:alive->suspect`, `${B}:suspect->left`]);
  t.stop();
});

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

Deno.test("node: malformed and unknown membership datagrams are counted and ignored", async () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const running = await startNode({
    transport: net.createTransport(A),
    clock,
    subsystemOptions: { replication: false },
  });
  const attacker = net.createTransport(C);
  try {
    const swim = running.members as Swim;
    attacker.send(encodeJsonFrame(MembershipCommand.Ping, { s: "x", t: A }), A);
    attacker.send(encodeJsonFrame(MembershipCommand.Gossip, { u: [[0, "no port", 1]] }), A);
    attacker.send(encodeJsonFrame(MembershipCommand.PushPull, "hello"), A);
    attacker.send(encodeJsonFrame(0x2f, { s: 1 }), A);
    attacker.send(encodeJsonFrame(MembershipCommand.Ping, { s: 5, t: B }), A); // meant for another node
    clock.advance(50);
    assert.equal(swim.stats.malformed, 3);
    assert.equal(swim.stats.unknown, 1);
    assert.equal(swim.stats.misdirected, 1);
    assert.equal(swim.stats.errors, 0);
    assert.deepEqual(swim.alive(), [A], "nothing was learned from garbage");
    // A well-formed ping is still answered afterwards.
    let acked = false;
    attacker.onReceive((d) => acked ||= d[17] === MembershipCommand.Ack);
    attacker.send(encodeJsonFrame(MembershipCommand.Ping, { s: 6, t: A }), A);
    clock.advance(50);
    assert.ok(acked);
  } finally {
    attacker.close();
    running.close();
  }
});

Deno.test("attach: staticMembers option gives a fixed view; membership count follows the view", async () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const running = await startNode({
    transport: net.createTransport(A),
    clock,
    seeds: [B, C],
    subsystemOptions: { staticMembers: true, replication: false },
  });
  try {
    assert.ok(running.members instanceof StaticMembers);
    assert.equal(running.node.executor.membershipCount(), 3);
  } finally {
    running.close();
  }
});
