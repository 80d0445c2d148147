/**
 * Membership in a running node: malformed and unknown membership datagrams are counted and ignored, and
 * the `staticMembers` option gives a fixed view that the membership count follows.
 */
import { FRAME_HEADER_BYTES } from "../../lib/wire/frame.ts";
import assert from "node:assert/strict";
import { LocalExecutor } from "../../lib/node/executor.ts";
import { VirtualClock } from "../../lib/base/clock.ts";
import { decodeJsonFrame, encodeJsonFrame } from "../../lib/wire/envelope.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { startNode } from "../../lib/roles/start_node.ts";
import { StaticMembers } from "../../lib/node/members.ts";
import { encodeUpdate, MembershipCommand, type WireUpdate } from "../../lib/membership/membership_codec.ts";
import type { Swim } from "../../lib/membership/swim.ts";

const A = "10.0.0.1:4000", B = "10.0.0.2:4000", C = "10.0.0.3:4000";

/** Node A alone on an in-memory network (no replication), with its clock and network for peers to join. */
async function nodeAtA() {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const running = await startNode({
    transport: net.createTransport(A),
    clock,
    subsystemOptions: { replication: false },
  });
  return { clock, net, running };
}

Deno.test("node: malformed and unknown membership datagrams are counted and ignored", async () => {
  const { clock, net, running } = await nodeAtA();
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
    attacker.onReceive((d) => acked ||= d[FRAME_HEADER_BYTES] === MembershipCommand.Ack);
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
    // The node's executor is the local one, made with the view: no wrapper answers the count.
    assert.ok(running.node.executor instanceof LocalExecutor);
  } finally {
    running.close();
  }
});

Deno.test("a member held dead that pings is told so in the ack, after the rumor has spent its retransmits, and refutes", async () => {
  const { clock, net, running } = await nodeAtA();
  const y = net.createTransport(B), z = net.createTransport(C);
  const acksToY: WireUpdate[][] = [];
  y.onReceive((d) => {
    const m = decodeJsonFrame(d);
    if (m?.command === MembershipCommand.Ack) acksToY.push((m.header as { u: WireUpdate[] }).u);
  });
  const alive = (a: string, i = 0) => encodeUpdate({ address: a, state: "alive", incarnation: i });
  try {
    const swim = running.members as Swim;
    z.send(encodeJsonFrame(MembershipCommand.Ping, { s: 1, t: A, u: [alive(C)] }), A);
    y.send(encodeJsonFrame(MembershipCommand.Ping, { s: 1, t: A, u: [alive(B)] }), A);
    clock.advance(50);
    assert.deepEqual(swim.alive(), [A, B, C]);
    // Z says Y is dead (unkeyed fleet: anyone may); then Z's pings take the rumor until its retransmits are spent.
    z.send(
      encodeJsonFrame(MembershipCommand.Gossip, { u: [encodeUpdate({ address: B, state: "dead", incarnation: 0 })] }),
      A,
    );
    clock.advance(50);
    assert.equal(swim.member(B)?.state, "dead");
    for (let s = 2; s < 40; s++) z.send(encodeJsonFrame(MembershipCommand.Ping, { s, t: A, u: [alive(C)] }), A);
    clock.advance(50);
    y.send(encodeJsonFrame(MembershipCommand.Ping, { s: 2, t: A, u: [alive(B)] }), A);
    clock.advance(50);
    const last = acksToY.at(-1)!;
    assert.deepEqual(last[0].slice(0, 3), encodeUpdate({ address: B, state: "dead", incarnation: 0 }), "told first");
    // Y refutes with a higher incarnation: A takes it back.
    y.send(encodeJsonFrame(MembershipCommand.Ping, { s: 3, t: A, u: [alive(B, 1)] }), A);
    clock.advance(50);
    assert.equal(swim.member(B)?.state, "alive");
    y.send(encodeJsonFrame(MembershipCommand.Ping, { s: 4, t: A, u: [alive(B, 1)] }), A);
    clock.advance(50);
    assert.ok(!acksToY.at(-1)!.some((w) => w[1] === B && w[0] !== 0), "no notice once it is alive again");
  } finally {
    y.close();
    z.close();
    running.close();
  }
});

Deno.test("a live node held dead by a peer (its rumor spent) hears it at its next probe of that peer and is taken back", async () => {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 2 });
  const a = await startNode({ transport: net.createTransport(A), clock, subsystemOptions: { replication: false } });
  const b = await startNode({
    transport: net.createTransport(B),
    clock,
    seeds: [A],
    subsystemOptions: { replication: false },
  });
  const z = net.createTransport(C);
  try {
    const swimA = a.members as Swim, swimB = b.members as Swim;
    clock.advanceUntil(() => swimA.alive().length === 2 && swimB.alive().length === 2, 10_000, 10);
    z.send(
      encodeJsonFrame(MembershipCommand.Gossip, { u: [encodeUpdate({ address: B, state: "dead", incarnation: 0 })] }),
      A,
    );
    const alive = encodeUpdate({ address: C, state: "alive", incarnation: 0 });
    for (let s = 1; s < 40; s++) z.send(encodeJsonFrame(MembershipCommand.Ping, { s, t: A, u: [alive] }), A);
    clock.advance(5);
    assert.equal(swimA.member(B)?.state, "dead", "forged: B is dead at A");
    const healed = clock.advanceUntil(() => swimA.member(B)?.state === "alive", 5_000, 10);
    assert.ok(healed >= 0, "A took B back within 5 s");
    assert.equal(swimB.incarnation, 1, "B refuted");
  } finally {
    z.close();
    a.close();
    b.close();
  }
});
