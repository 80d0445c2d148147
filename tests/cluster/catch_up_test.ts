/**
 * A node restarted empty in a simulated cluster (real SWIM and replication):
 * data requests sent to it before it has joined are held, then answered with
 * the cluster's values (not "not found"); its catch-up tracker goes joining →
 * rejoining/syncing → caught-up, and then it holds every key it owns.
 * Also the join gate alone: released after joinWaitMs when no join comes.
 */
import assert from "node:assert/strict";
import { toHex } from "../../lib/base/bytes.ts";
import { toKey } from "../../lib/client/keys.ts";
import { VirtualClock } from "../../lib/base/clock.ts";
import { askView } from "../../lib/replication/catch_up.ts";
import { JoinGate } from "../../lib/replication/join_gate.ts";
import { keyPositionHex, Ring } from "../../lib/replication/ring.ts";
import { SimCluster } from "../support/sim_cluster.ts";
import type { RunningNode } from "../../lib/roles/start_node.ts";
import { settle } from "../support/virtual_time.ts";

const dec = new TextDecoder();

Deno.test("a node restarted empty: held until joined, reads right at once, caught up with every key it owns", async () => {
  // Requests run in 5 ms ticks from the first tick on; conditions are checked every 50 ms.
  const sim = new SimCluster({ seed: 5, time: { run: { settleFirst: false } } });
  try {
    const { nodes, all, keys } = await seededCluster(sim, 5, 300);
    await sim.until(
      () => all.every((a) => sim.nodes.get(a)!.cluster.replication!.stats.pendingReplicaWrites === 0),
      { limitMs: 5_000, failAtLimit: false },
    );

    const victim = all[3];
    sim.kill(victim);
    const restarted = await sim.restart(victim, { seeds: all.filter((a) => a !== victim) });
    const parts = restarted.cluster;
    assert.equal(parts.catchUp.status().phase, "joining");
    assert.equal(restarted.store.size, 0, "restarted empty");
    // Ask the restarted node for keys before it has joined: held, then answered with the values.
    const reader = sim.client(victim);
    const early = keys.slice(0, 20).map((k) => reader.get(k).then((v) => dec.decode(v), (e) => `error: ${e.message}`));
    const answers = await sim.run(Promise.all(early));
    assert.deepEqual(
      answers,
      keys.slice(0, 20).map((k) => `value of ${k}`),
      "no 'not found' from a node that had not joined",
    );
    assert.ok(parts.joinGate!.stats.held > 0, "requests were held until the join");

    const took = await sim.until(() => parts.catchUp.status().caughtUp, {
      limitMs: 30_000,
      what: () => `not caught up: ${JSON.stringify(parts.catchUp.status())}`,
    });
    const status = parts.catchUp.status();
    assert.equal(status.keysToGo, 0);
    assert.deepEqual(status.views?.missing, []);
    const ring = new Ring(all, parts.replication!.config.virtualNodes);
    const { owned, missing } = ownedKeys(ring, keys, restarted);
    assert.deepEqual(missing, [], `${missing.length} of ${owned.length} owned keys missing after catch-up`);
    assert.ok(status.keysReceived > 0, "entries came from peers (others by read repair of the early reads)");
    // Another node answers the view query about it: alive, and its program version.
    const view = await sim.run(askView(nodes[0].node.rpc, victim, victim));
    assert.equal(view?.state, "alive");
    assert.equal(view?.catchUp.caughtUp, true);
    console.log(
      `  caught up ${took} ms (virtual) after the restart, ${status.rounds} rounds, ${owned.length} keys owned`,
    );
  } finally {
    sim.close();
  }
});

Deno.test("join gate: without a join, held requests run after joinWaitMs", async () => {
  const clock = new VirtualClock();
  const calls: string[] = [];
  const inner = {
    put: () => (calls.push("put"), { code: 0 }),
    get: () => (calls.push("get"), { code: 1 }),
    remove: () => (calls.push("remove"), { code: 1 }),
    membershipCount: () => 1,
  };
  const gate = new JoinGate(inner, () => false, clock, 1_000);
  try {
    const p = gate.put(new Uint8Array(32), new Uint8Array(1));
    assert.ok(p instanceof Promise);
    clock.advance(900);
    await settle();
    assert.deepEqual(calls, [], "still held before joinWaitMs");
    clock.advance(200);
    await settle();
    assert.equal((await p).code, 0);
    assert.deepEqual(calls, ["put"]);
    assert.equal(gate.stats.releasedUnjoined, 1);
    assert.ok(!(gate.get(new Uint8Array(32)) instanceof Promise), "open for good afterwards");
  } finally {
    gate.close();
  }
});

Deno.test("rolling restart in the simulation: each node killed, declared dead, restarted empty; caught up means it holds every key it owns", async () => {
  for (const seed of [11, 12, 13]) {
    const sim = new SimCluster({ seed, time: { run: { settleFirst: false } } });
    try {
      const { nodes, all, keys } = await seededCluster(sim, 6, 200);
      const ring = new Ring(all, nodes[0].cluster.replication!.config.virtualNodes);
      for (const victim of all) {
        sim.kill(victim);
        // The others declare it dead: their rings and digest tables change without it.
        await sim.waitForMembers(5, { of: all.filter((a) => a !== victim), limitMs: 60_000 });
        const restarted = await sim.restart(victim, { seeds: all.filter((a) => a !== victim) });
        const catchUp = restarted.cluster.catchUp;
        await sim.until(() => catchUp.status().caughtUp, {
          limitMs: 60_000,
          what: () => `${victim} not caught up: ${JSON.stringify(catchUp.status())}`,
        });
        const { owned, missing } = ownedKeys(ring, keys, restarted);
        assert.deepEqual(
          missing,
          [],
          `seed ${seed}: ${victim} caught up without ${missing.length} of its ${owned.length} keys`,
        );
        await sim.waitForMembers(6, { limitMs: 60_000 });
      }
    } finally {
      sim.close();
    }
  }
});

/** Starts `n` nodes that list each other as seeds, waits until they see each other, and writes `count` keys through the first. */
async function seededCluster(sim: SimCluster, n: number, count: number) {
  const nodes = await sim.addNodes(n);
  const all = nodes.map((x) => x.node.address);
  for (const x of nodes) x.context.seeds.splice(0, x.context.seeds.length, ...all.filter((a) => a !== x.node.address));
  await sim.waitForMembers(n, { limitMs: 30_000, what: `the ${n} nodes to see each other` });
  const writer = sim.client(all[0]);
  const keys = Array.from({ length: count }, (_, i) => `key-${i}`);
  for (const k of keys) await sim.run(writer.put(k, `value of ${k}`));
  return { nodes, all, keys };
}

/** The keys (hex) of `keys` that `node` owns on `ring` (N = 3), and those of them its store lacks. */
function ownedKeys(ring: Ring, keys: readonly string[], node: RunningNode): { owned: string[]; missing: string[] } {
  const self = node.node.address;
  const owned = keys.map((k) => toHex(toKey(k))).filter((h) =>
    ring.preferenceListAt(keyPositionHex(h), 3).includes(self)
  );
  return { owned, missing: owned.filter((h) => !node.store.getEntry(h)) };
}
