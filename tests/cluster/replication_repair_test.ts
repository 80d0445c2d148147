import assert from "node:assert/strict";
import { hexOf, writeConflictingKeys } from "./replication_keys.ts";
import { addr, SimCluster } from "../support/sim_cluster.ts";
import type { KVClient } from "../../lib/client/client.ts";
import { compareVersions, type Version } from "../../lib/storage/hlc.ts";

const dec = new TextDecoder();

async function writeKeys(c: SimCluster, count: number, prefix = "key", via = [...c.replicas.keys()]): Promise<void> {
  const clients = via.map((a) => c.client(a, { retries: 6 }));
  // A window of concurrent requests, like the real-process test.
  for (let i = 0; i < count; i += 20) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 20); j++) {
      batch.push(clients[j % clients.length].put(`${prefix}-${j}`, `v-${j}`));
    }
    await c.run(Promise.all(batch));
  }
  await c.advance(500);
}

Deno.test("anti-entropy: a wiped replica gets back exactly the keys it owns", async () => {
  const c = new SimCluster({ seed: 21, replicas: { config: { antiEntropyIntervalMs: 2_000 } } });
  try {
    c.startReplicas([0, 1, 2, 3, 4].map(addr));
    await writeKeys(c, 300);
    assert.deepEqual(c.placementErrors(), []);
    const victim = c.replica(addr(2));
    const held = victim.store.size;
    assert.ok(held > 100, `victim holds ${held} keys`);
    victim.store.clear();
    const took = await c.until(() => c.placementErrors().length === 0, {
      limitMs: 30_000,
      what: () => `not repaired: ${c.placementErrors().slice(0, 3)}`,
    });
    assert.equal(victim.store.size, held);
    await c.advance(1_000); // let the repairing round finish counting its last batch
    const fetched = victim.executor.stats.antiEntropyFetched;
    const pushed = [...c.replicas.values()].reduce((s, n) => s + n.executor.stats.antiEntropyPushed, 0);
    assert.equal(fetched + pushed >= held, true, `fetched ${fetched} + pushed ${pushed} < ${held}`);
    console.log(`anti-entropy restored ${held} keys on a wiped replica in ${took} virtual ms (interval 2 s)`);
  } finally {
    c.close();
  }
});

Deno.test("anti-entropy: digests of replicas in sync are equal, and a round in sync transfers nothing", async () => {
  const c = new SimCluster({ seed: 22 });
  try {
    c.startReplicas([0, 1, 2, 3].map(addr));
    await writeKeys(c, 100);
    const a = c.replica(addr(0)).executor.antiEntropy;
    const r = await c.run(a.run());
    assert.equal(r.peers, 3);
    assert.equal(r.differingBuckets, 0);
    assert.equal(r.pushed + r.fetched, 0);
    // One changed version is found and repaired in one round, in both directions.
    const b = c.replica(addr(1));
    const [k] = b.store.entries().next().value!;
    const e = b.store.getEntry(k)!;
    b.store.force(k, {
      ...e,
      value: new TextEncoder().encode("newer"),
      version: { t: e.version.t + 1, n: e.version.n },
    });
    const owners = c.holders(k);
    const coordinator = owners.find((x) => x !== addr(1))!;
    const r2 = await c.run(c.replica(coordinator).executor.antiEntropy.run());
    assert.ok(r2.differingBuckets >= 1);
    assert.equal(dec.decode(c.replica(coordinator).store.getValue(k)!), "newer");
  } finally {
    c.close();
  }
});

Deno.test("anti-entropy: an idle round scans no store; writes update the digests; a missing and a stale key are repaired", async () => {
  const c = new SimCluster({ seed: 23 });
  try {
    c.startReplicas([0, 1, 2, 3].map(addr));
    await writeKeys(c, 100);
    const node = c.replica(addr(0));
    await c.run(node.executor.antiEntropy.run());
    let scans = 0;
    for (const n of c.replicas.values()) {
      const entries = n.store.entries.bind(n.store);
      n.store.entries = () => (scans++, entries());
    }
    await c.advance(2 * c.replicaConfig.digestCacheMs);
    const idle = await c.run(node.executor.antiEntropy.run());
    assert.equal(idle.peers, 3);
    assert.equal(idle.differingBuckets, 0);
    assert.equal(scans, 0, "an idle round scans no store (neither this node's nor its peers')");
    assert.equal(node.store.collectTombstones(Number.MAX_SAFE_INTEGER), 0, "no tombstone: nothing collected");
    await writeKeys(c, 1, "late", [addr(0)]);
    await c.run(node.executor.antiEntropy.run());
    assert.equal(scans, 0, "a write updates the digests in place: still no scan");
    // A key deleted outright on one replica (missing) and an older version on another (stale).
    const ranges = node.executor.antiEntropy.ranges;
    const owned = [...node.store.entries()].map(([k]) => k).filter((k) => c.holders(k).includes(addr(0)));
    const [missing, stale] = owned;
    const peerOf = (k: string) => c.holders(k).find((a) => a !== addr(0))!;
    const lost = c.replica(peerOf(missing));
    const held = node.store.getEntry(missing)!;
    assert.ok(lost.store.delete(missing));
    const old = c.replica(peerOf(stale));
    const current = node.store.getEntry(stale)!;
    old.store.force(stale, { ...current, value: new Uint8Array([9]), version: { ...current.version, t: 1 } });
    scans = 0;
    const r = await c.run(node.executor.antiEntropy.run());
    assert.ok(r.differingBuckets >= 1, "the changed replicas' digests differ");
    assert.ok(scans >= 1, "differing buckets are walked");
    assert.deepEqual(lost.store.getEntry(missing)?.version, held.version, "the missing key is back");
    assert.deepEqual(old.store.getEntry(stale)?.version, current.version, "the stale key is current again");
    assert.equal(ranges.rebuilds, 1, "one build, no rebuild: the ring did not change");
    const again = await c.run(node.executor.antiEntropy.run());
    assert.equal(again.differingBuckets, 0);
  } finally {
    c.close();
  }
});

Deno.test("membership change: 2 nodes join; keys move to their new owners and leave the old ones", async () => {
  const c = new SimCluster({
    seed: 23,
    replicas: { config: { antiEntropyIntervalMs: 3_000, handoffIntervalMs: 1_000 } },
  });
  try {
    const first = [0, 1, 2, 3, 4].map(addr);
    c.startReplicas(first);
    await writeKeys(c, 400);
    const all = [...first, addr(5), addr(6)];
    c.startReplicas([addr(5), addr(6)], all);
    c.setView(all);
    const took = await c.until(() => c.placementErrors(c.ring(all)).length === 0, {
      limitMs: 60_000,
      stepMs: 100,
      what: () => `not rebalanced: ${c.placementErrors(c.ring(all)).slice(0, 3)}`,
    });
    assert.ok(c.replica(addr(5)).store.size > 50 && c.replica(addr(6)).store.size > 50);
    const client = c.client(addr(6));
    for (let i = 0; i < 400; i += 37) assert.equal(dec.decode(await c.run(client.get(`key-${i}`))), `v-${i}`);
    console.log(`rebalance after 2 joins (400 keys, 5 → 7 nodes): ${took} virtual ms`);
  } finally {
    c.close();
  }
});

/** Starts 5 nodes, writes key-0…key-299 through them and kills nodes 1 and 3; returns the survivors. */
async function writeThenKillTwo(c: SimCluster): Promise<string[]> {
  c.startReplicas([0, 1, 2, 3, 4].map(addr));
  await writeKeys(c, 300);
  c.killReplica(addr(1));
  c.killReplica(addr(3));
  return [addr(0), addr(2), addr(4)];
}

Deno.test("membership change: 2 of 5 nodes die (N-1); every acknowledged key survives and regains N copies", async () => {
  const c = new SimCluster({
    seed: 24,
    replicas: { config: { antiEntropyIntervalMs: 3_000, handoffIntervalMs: 1_000 } },
  });
  try {
    const survivors = await writeThenKillTwo(c);
    // Before the membership notices, reads still succeed through stand-ins.
    const client = c.client(addr(0), { retries: 6 });
    for (let i = 0; i < 300; i += 29) assert.equal(dec.decode(await c.run(client.get(`key-${i}`))), `v-${i}`);
    c.setView(survivors);
    const took = await c.until(() => c.placementErrors(c.ring(survivors)).length === 0, {
      limitMs: 60_000,
      stepMs: 100,
      what: () => `not re-replicated: ${c.placementErrors(c.ring(survivors)).slice(0, 3)}`,
    });
    for (let i = 0; i < 300; i++) {
      assert.equal(c.holders(hexOf(`key-${i}`)).length, 3, `key-${i}`);
      assert.equal(dec.decode(await c.run(client.get(`key-${i}`))), `v-${i}`);
    }
    console.log(`re-replication after 2 of 5 nodes died (300 keys): ${took} virtual ms`);
  } finally {
    c.close();
  }
});

Deno.test("2 of 5 nodes die: reads right after the ring drops them (before any repair) lose nothing", async () => {
  // Background repair stays off: the new owners of a key hold nothing yet, so a read that
  // answered "not found" from the first R empty replies would lose the key.
  const c = new SimCluster({ seed: 26 });
  try {
    const survivors = await writeThenKillTwo(c);
    // Two survivors already dropped both nodes from their rings; the third hears of the deaths
    // while its reads wait on the dead owners, before it picks stand-ins for them.
    c.setView(survivors, [addr(0), addr(2)]);
    const lost: string[] = [];
    for (const via of [addr(4), addr(0), addr(2)]) {
      const client = c.client(via, { retries: 6 });
      const reads = [];
      for (let i = 0; i < 300; i++) {
        reads.push(
          client.get(`key-${i}`).then(
            (v) => dec.decode(v) === `v-${i}` || lost.push(`key-${i} via ${via}: ${dec.decode(v)}`),
            (e) => lost.push(`key-${i} via ${via}: ${(e as Error).name}`),
          ),
        );
      }
      if (via === addr(4)) {
        await c.advance(50);
        c.setView(survivors, [addr(4)]);
      }
      await c.run(Promise.all(reads));
    }
    assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of 900 reads lost their key`);
  } finally {
    c.close();
  }
});

Deno.test("partition 2|3 (controlled views): writes on both sides, heal, newest value everywhere", async () => {
  const c = new SimCluster({
    seed: 25,
    replicas: { config: { antiEntropyIntervalMs: 3_000, handoffIntervalMs: 1_000 } },
  });
  try {
    const all = [0, 1, 2, 3, 4].map(addr);
    // The minority (2 nodes) has the lower addresses, so neither "the majority wins" nor
    // "the higher address wins" can pass for the keys written last on the minority side.
    const left = all.slice(0, 2), right = all.slice(2);
    c.startReplicas(all);
    await writeKeys(c, 100, "k");
    c.network.partition(left, right);
    c.setView(left, left);
    c.setView(right, right);
    const expected = new Map<string, string>();
    for (let i = 0; i < 100; i++) expected.set(`k-${i}`, `v-${i}`);
    /** Version of the last acknowledged write of each key, as its own side stored it. */
    const lastVersion = new Map<string, Version>();
    const lc = c.client(left[0], { retries: 6 }), rc = c.client(right[1], { retries: 6 });
    /** Puts through `client` on `side` (rejects unless acknowledged) and records the version it was stored with. */
    const write = async (side: string[], client: KVClient, name: string, value: string) => {
      await c.run(client.put(name, value));
      const versions = side.map((a) => c.replica(a).store.getEntry(hexOf(name))?.version).filter((v) =>
        v !== undefined
      );
      const v = versions.reduce((a, b) => compareVersions(a, b) >= 0 ? a : b);
      assert.equal(v.n, client.target, `${name}: the newest version on its side was not written by ${client.target}`);
      expected.set(name, value);
      lastVersion.set(name, v);
      return v;
    };
    // k-0..29 are written on both sides, 3 ms apart; the minority side wins every third.
    const { minorityLast, majorityLast } = await writeConflictingKeys(
      (side, name, value) => side === "minority" ? write(left, lc, name, value) : write(right, rc, name, value),
      (ms) => c.advance(ms),
      3,
    );
    for (let i = 0; i < 60; i++) {
      if (i >= 30 && i % 2 === 0) await write(left, lc, `k-${i}`, `left-${i}`); // k-30..58 even: minority side only
      await write(right, rc, `new-${i}`, `n-${i}`); // new-*: majority side only
    }
    await c.run(rc.remove("k-99"));
    expected.delete("k-99");
    c.network.heal();
    c.setView(all);
    const converged = () => {
      if (c.placementErrors().length > 0) return false;
      for (const [k, v] of expected) {
        const want = lastVersion.get(k);
        for (const h of c.holders(hexOf(k))) {
          const e = c.replica(h).store.getEntry(hexOf(k))!;
          if (e.tombstone || dec.decode(e.value) !== v) return false;
          if (want && compareVersions(e.version, want) !== 0) return false;
        }
      }
      return c.holders(hexOf("k-99")).every((h) => c.replica(h).store.getEntry(hexOf("k-99"))!.tombstone);
    };
    const wrong = () =>
      [...expected].filter(([k, v]) =>
        c.holders(hexOf(k)).some((h) => {
          const e = c.replica(h).store.getEntry(hexOf(k))!;
          return e.tombstone || dec.decode(e.value) !== v;
        })
      ).map(([k]) => k);
    const took = await c.until(converged, {
      limitMs: 60_000,
      stepMs: 100,
      what: () => `did not converge: ${c.placementErrors().slice(0, 3)}; wrong values: ${wrong().slice(0, 5)}`,
    });
    for (const client of [c.client(addr(1)), c.client(addr(3))]) {
      for (const [k, v] of expected) assert.equal(dec.decode(await c.run(client.get(k))), v, k);
      await assert.rejects(c.run(client.get("k-99")), { name: "KeyNotFoundError" });
    }
    console.log(
      `partition 2|3 healed and converged (${expected.size} keys; ${minorityLast.length} conflicts won by the ` +
        `minority side, ${majorityLast.length} by the majority) in ${took} virtual ms`,
    );
  } finally {
    c.close();
  }
});
