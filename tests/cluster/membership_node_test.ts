/**
 * Membership in a running node: malformed and unknown membership datagrams are counted and ignored, and
 * the `staticMembers` option gives a fixed view that the membership count follows.
 */
import { FRAME_HEADER_BYTES } from "../../lib/wire/frame.ts";
import assert from "node:assert/strict";
import { LocalExecutor } from "../../lib/node/executor.ts";
import { VirtualClock } from "../../lib/base/clock.ts";
import { encodeJsonFrame } from "../../lib/wire/envelope.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { startNode } from "../../lib/roles/start_node.ts";
import { StaticMembers } from "../../lib/node/members.ts";
import { MembershipCommand } from "../../lib/membership/membership_codec.ts";
import type { Swim } from "../../lib/membership/swim.ts";

const A = "10.0.0.1:4000", B = "10.0.0.2:4000", C = "10.0.0.3:4000";

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
