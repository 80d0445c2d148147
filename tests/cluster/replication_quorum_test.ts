import assert from "node:assert/strict";
import { Command, ErrorCode } from "../../lib/wire/client_protocol.ts";
import { hexOf, key } from "./replication_keys.ts";
import { addr, SimCluster } from "../support/sim_cluster.ts";
import { keyPosition } from "../../lib/replication/ring.ts";
import { HLC_TICKS_PER_MS } from "../../lib/storage/hlc.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

/** A key whose preference list (on `c`'s ring of running nodes) starts with `first`, or any if omitted. */
function keyOwnedBy(c: SimCluster, predicate: (owners: readonly string[]) => boolean, prefix = "k"): string {
  const ring = c.ring();
  for (let i = 0; i < 10_000; i++) {
    if (predicate(ring.preferenceListAt(keyPosition(key(`${prefix}${i}`)), c.replicaConfig.n))) return `${prefix}${i}`;
  }
  throw new Error("no key found");
}

Deno.test("single node: put/get/remove answer synchronously, membership count 1", async () => {
  const c = new SimCluster();
  try {
    const [a] = c.startReplicas([addr(0)]);
    const r = a.executor.put(key("x"), enc.encode("v"));
    assert.ok(!(r instanceof Promise), "a 1-node cluster executes locally without waiting");
    assert.equal((r as { code: number }).code, 0);
    assert.equal(dec.decode((a.executor.get(key("x")) as { value: Uint8Array }).value), "v");
    assert.equal((a.executor.remove(key("x")) as { code: number }).code, 0);
    assert.equal((a.executor.get(key("x")) as { code: number }).code, ErrorCode.NonExistentKey);
    assert.equal((a.executor.remove(key("x")) as { code: number }).code, ErrorCode.NonExistentKey);
    assert.equal(a.executor.membershipCount(), 1);
    const client = c.client(addr(0));
    assert.equal(await c.run(client.membershipCount()), 1);
  } finally {
    c.close();
  }
});

Deno.test("lossy network (10% loss): writes through random nodes reach W owners, reads see them everywhere", async () => {
  const c = new SimCluster({ seed: 11, conditions: { loss: 0.1 }, replicas: { config: { handoffIntervalMs: 1_000 } } });
  try {
    const addresses = [0, 1, 2, 3, 4].map(addr);
    c.startReplicas(addresses);
    // At 10% loss each way the protocol's default 3 client retries fail about once in 800
    // requests (a retry that arrives while the first attempt executes is absorbed), so allow more.
    const clients = addresses.map((a) => c.client(a, { retries: 6 }));
    const ring = c.ring();
    for (let i = 0; i < 60; i++) {
      await c.run(clients[i % 5].put(`key-${i}`, `value-${i}`));
      // Acknowledged: at least W=2 of the key's owners hold it right away.
      const owners = ring.preferenceList(key(`key-${i}`), 3);
      const held = c.holders(hexOf(`key-${i}`)).filter((h) => owners.includes(h));
      assert.ok(held.length >= 2, `key-${i} acknowledged but held by ${held}`);
    }
    await c.advance(2_000); // let the remaining replica writes finish
    for (let i = 0; i < 60; i++) {
      assert.equal(dec.decode(await c.run(clients[(i + 2) % 5].get(`key-${i}`))), `value-${i}`);
    }
    // Stand-ins used when a replica message was lost hand their copies back: in the end every
    // key sits on its three owners and nowhere else.
    const took = await c.until(() => c.placementErrors().length === 0, { limitMs: 20_000, failAtLimit: false });
    assert.deepEqual(c.placementErrors(), [], `not converged after ${took} ms`);
    const pending = [...c.replicas.values()].reduce((s, n) => s + n.executor.stats.pendingReplicaWrites, 0);
    assert.equal(pending, 0);
  } finally {
    c.close();
  }
});

Deno.test("write quorum: one owner unreachable still acks (W=2); two unreachable and no stand-in → 0x04", async () => {
  const c = new SimCluster({ seed: 2 });
  try {
    const addresses = [0, 1, 2].map(addr);
    c.startReplicas(addresses);
    const client = c.client(addr(0));
    c.network.block(addr(0), addr(1));
    await c.run(client.put("q1", "one-down"));
    assert.ok(c.holders(hexOf("q1")).includes(addr(0)));
    c.network.block(addr(0), addr(2));
    const reply = await c.run(client.request(Command.Put, key("q2"), enc.encode("two-down")));
    assert.equal(reply.code, ErrorCode.InternalFailure);
    // The partial write: the coordinator's own copy exists, but it was not acknowledged.
    assert.deepEqual(c.holders(hexOf("q2")), [addr(0)]);
    assert.equal(c.replica(addr(0)).executor.stats.writesFailed, 1);
  } finally {
    c.close();
  }
});

Deno.test("read quorum (5% loss): newest of R replies wins and read repair fixes the stale owner", async () => {
  const c = new SimCluster({ seed: 3, conditions: { loss: 0.05 } });
  try {
    const addresses = [0, 1, 2, 3].map(addr);
    c.startReplicas(addresses);
    const name = keyOwnedBy(c, (o) => !o.includes(addr(3)));
    const client = c.client(addr(3), { retries: 6 }); // a coordinator that is not an owner
    await c.run(client.put(name, "old"));
    await c.advance(200);
    const owners = c.ring().preferenceList(key(name), 3);
    const stale = owners[1];
    const oldEntry = c.replica(stale).store.getEntry(hexOf(name))!;
    await c.run(client.put(name, "new"));
    await c.advance(200);
    // Make one owner stale again, as if it had missed the second write.
    c.replica(stale).store.force(hexOf(name), oldEntry);
    const repaired = () => dec.decode(c.replica(stale).store.getValue(hexOf(name))!) === "new";
    // Every read answers the newest value; a read whose replies all arrived repairs the stale owner
    // (a lost reply or repair message just leaves it for the next read).
    for (let i = 0; i < 10 && !repaired(); i++) {
      assert.equal(dec.decode(await c.run(client.get(name))), "new");
      await c.advance(100);
    }
    assert.ok(repaired(), "read repair updated the stale owner");
    assert.ok(c.replica(addr(3)).executor.stats.readRepairs >= 1);
    // R replies are required: with two owners unreachable the read fails with 0x04.
    c.network.block(addr(3), owners[0]);
    c.network.block(addr(3), owners[1]);
    c.network.block(addr(3), owners[2]);
    const r = await c.run(client.request(Command.Get, key(name)));
    assert.equal(r.code, ErrorCode.InternalFailure);
  } finally {
    c.close();
  }
});

Deno.test("tombstones (5% loss) win over older puts and lose to newer ones; removing an absent key writes nothing", async () => {
  const c = new SimCluster({ seed: 4, conditions: { loss: 0.05 }, replicas: { config: { handoffIntervalMs: 1_000 } } });
  try {
    c.startReplicas([0, 1, 2, 3].map(addr));
    const client = c.client(addr(0), { retries: 6 });
    await c.run(client.put("t", "v1"));
    await c.advance(100);
    const h = hexOf("t");
    const v1 = c.replica(c.holders(h)[0]).store.getEntry(h)!;
    await c.run(client.remove("t"));
    // Lost messages are covered by retries, stand-ins and handoff: the tombstone ends on the 3 owners.
    const owners = [...c.ring().preferenceList(key("t"), 3)].sort().join();
    const settled = () =>
      c.holders(h).join() === owners && c.holders(h).every((a) => c.replica(a).store.getEntry(h)!.tombstone);
    await c.until(settled, { limitMs: 10_000, what: () => `tombstone not on all owners: ${c.holders(h)}` });
    // A delayed copy of the older put arrives at every holder: the tombstone wins.
    for (const a of c.holders(h)) {
      assert.equal(c.replica(a).executor.replica.apply(h, v1), "stale");
      assert.equal(c.replica(a).store.getEntry(h)!.tombstone, true);
    }
    await assert.rejects(c.run(client.get("t")), { name: "KeyNotFoundError" });
    await assert.rejects(c.run(client.remove("t")), { name: "KeyNotFoundError" });
    // A newer put beats the tombstone.
    await c.run(client.put("t", "v2"));
    assert.equal(dec.decode(await c.run(c.client(addr(2), { retries: 6 }).get("t"))), "v2");
    // Removing a key no replica has answers 0x01 and stores no tombstone.
    await assert.rejects(c.run(client.remove("never-written")), { name: "KeyNotFoundError" });
    await c.advance(100);
    assert.deepEqual(c.holders(hexOf("never-written")), []);
  } finally {
    c.close();
  }
});

Deno.test("tombstones are collected after the grace period", async () => {
  // Each node sweeps expired tombstones on its anti-entropy timer: every 2 s ± 25 % jitter, so
  // a sweep comes at most 2.5 s after the previous one. A tombstone of version time T (the
  // coordinator stamped it when the remove arrived) becomes collectable once now > T + grace,
  // so on every holder it must disappear in (T + grace, T + grace + 2.5 s].
  const graceMs = 10_000, sweepMaxMs = 2_000 * 1.25, stepMs = 1;
  const c = new SimCluster({
    seed: 5,
    replicas: { config: { tombstoneGraceMs: graceMs, antiEntropyIntervalMs: 2_000 } },
  });
  try {
    const nodes = [0, 1, 2].map(addr);
    c.startReplicas(nodes);
    assert.equal(c.replicaConfig.jitter, 0.25);
    const client = c.client(addr(1));
    const h = hexOf("g");
    await c.run(client.put("g", "x"));
    const removeSentAt = c.clock.now();
    await c.run(client.remove("g"));
    await c.advance(100);
    assert.deepEqual(c.holders(h), [...nodes].sort());
    const version = c.replica(nodes[0]).store.getEntry(h)!.version;
    for (const a of nodes) {
      assert.deepEqual(c.replica(a).store.getEntry(h), { value: new Uint8Array(0), version, tombstone: true });
    }
    const removedAt = version.t / HLC_TICKS_PER_MS; // virtual ms when the coordinator stamped the remove
    assert.ok(removedAt >= removeSentAt && removedAt <= removeSentAt + 20, `stamped at ${removedAt - removeSentAt} ms`);
    // Watch each holder in 1 ms steps and note when its tombstone goes.
    const goneAt = new Map<string, number>();
    const watch = () => {
      for (const a of nodes) if (!goneAt.has(a) && !c.replica(a).store.getEntry(h)) goneAt.set(a, c.clock.now());
      return goneAt.size === nodes.length;
    };
    // Up to the very end of the grace period nothing is collected, however often a node sweeps.
    await c.advance(removedAt + graceMs - c.clock.now(), { tickMs: stepMs });
    watch();
    assert.equal(c.clock.now(), removedAt + graceMs);
    assert.deepEqual([...goneAt.keys()], [], "collected before the grace period ended");
    for (const a of nodes) {
      assert.equal(c.replica(a).executor.replica.collect(), 0, `${a} collects at the end of the grace period`);
      assert.equal(c.replica(a).executor.replica.read(h)?.tombstone, true, `${a} treats the tombstone as expired`);
      assert.equal(c.replica(a).executor.stats.tombstonesCollected, 0, a);
    }
    await c.until(watch, {
      limitMs: sweepMaxMs + 1_000,
      stepMs,
      what: () => `tombstones never collected on ${nodes.filter((a) => !goneAt.has(a))}`,
    });
    for (const a of nodes) {
      const age = goneAt.get(a)! - removedAt;
      assert.ok(
        age > graceMs,
        `${a} collected the tombstone ${age} ms after the remove, before the ${graceMs} ms grace`,
      );
      assert.ok(age <= graceMs + sweepMaxMs + stepMs, `${a} kept the tombstone ${age} ms (grace + one sweep interval)`);
      assert.equal(c.replica(a).executor.stats.tombstonesCollected, 1, a);
    }
    console.log(
      `tombstones collected ${[...goneAt.values()].map((t) => Math.round(t - removedAt)).join(", ")} ms ` +
        `after the remove (grace ${graceMs} ms, sweep every ≤ ${sweepMaxMs} ms)`,
    );
  } finally {
    c.close();
  }
});

Deno.test("out of space on replicas → 0x02, and nothing is acknowledged", async () => {
  const c = new SimCluster({ seed: 6, replicas: { maxBytes: 32 + 200 } });
  try {
    c.startReplicas([0, 1, 2].map(addr));
    const client = c.client(addr(0));
    await c.run(client.put("small", new Uint8Array(100)));
    const r = await c.run(client.request(Command.Put, key("big"), new Uint8Array(150)));
    assert.equal(r.code, ErrorCode.OutOfSpace);
    assert.deepEqual(c.holders(hexOf("big")), []);
  } finally {
    c.close();
  }
});

Deno.test("hinted handoff (5% loss): a stand-in keeps the write for an unreachable owner and returns it", async () => {
  const c = new SimCluster({ seed: 7, conditions: { loss: 0.05 }, replicas: { config: { handoffIntervalMs: 1_000 } } });
  try {
    const addresses = [0, 1, 2, 3, 4].map(addr);
    c.startReplicas(addresses);
    const name = keyOwnedBy(c, (o) => o[0] !== addr(0) && o.includes(addr(0)) === false);
    const owners = c.ring().preferenceList(key(name), 3);
    const down = owners[2];
    for (const a of addresses) if (a !== down) c.network.partition([a], [down]);
    const client = c.client(addr(0), { retries: 6 });
    await c.run(client.put(name, "hinted"));
    await c.advance(1_000);
    const h = hexOf(name);
    const standIns = c.holders(h).filter((a) => !owners.includes(a));
    assert.equal(standIns.length, 1, `expected one stand-in, holders ${c.holders(h)}`);
    assert.deepEqual(c.replica(standIns[0]).executor.handoff.hintedOwners(h), [down]);
    assert.equal(c.replica(down).store.getEntry(h), undefined);
    c.network.heal();
    const took = await c.until(() => c.holders(h).join() === [...owners].sort().join(), {
      limitMs: 10_000,
      what: () => `handoff did not complete: holders ${c.holders(h)}`,
    });
    assert.equal(dec.decode(c.replica(down).store.getValue(h)!), "hinted");
    assert.equal(c.replica(standIns[0]).executor.stats.handedOff, 1);
    console.log(`hinted handoff returned the key ${took} ms after the owner was reachable again`);
  } finally {
    c.close();
  }
});

Deno.test("clock skew: a later write through a lagging coordinator is re-issued and wins", async () => {
  const c = new SimCluster({ seed: 8 });
  try {
    c.startReplicas([0, 1, 2, 3, 4].map(addr));
    const name = keyOwnedBy(c, (o) => !o.includes(addr(0)) && !o.includes(addr(3)), "skew");
    // addr(0)'s clock runs 5 s ahead; addr(3) (not an owner either) never saw its versions.
    c.replica(addr(0)).executor.replica.hlc.observe({ t: (c.clock.now() + 5_000) * 1024, n: addr(0) });
    await c.run(c.client(addr(0)).put(name, "first"));
    await c.run(c.client(addr(3)).put(name, "second"));
    assert.equal(c.replica(addr(3)).executor.stats.reissued, 1);
    assert.equal(dec.decode(await c.run(c.client(addr(1)).get(name))), "second");
    // Same for a remove issued through the lagging node.
    await c.run(c.client(addr(0)).put(name, "third"));
    c.replica(addr(0)).executor.replica.hlc.observe({ t: (c.clock.now() + 10_000) * 1024, n: addr(0) });
    await c.run(c.client(addr(0)).put(name, "fourth"));
    await c.run(c.client(addr(3)).remove(name));
    await assert.rejects(c.run(c.client(addr(2)).get(name)), { name: "KeyNotFoundError" });
  } finally {
    c.close();
  }
});
