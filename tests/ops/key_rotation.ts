/**
 * Rotating the cluster key on a running 5-node cluster: add the new key everywhere (SIGHUP),
 * make it the signing key everywhere, drop the old one, while clients keep reading and
 * writing: no client request fails, and at the end only the new key opens the cluster.
 */
import assert from "node:assert/strict";
import type { KVClient } from "../../lib/client/client.ts";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { ClusterDebugClient } from "../../lib/replication/debug_queries.ts";
import { newClusterKey } from "../../lib/wire/fleet_auth.ts";
import { ProcessCluster } from "../support/process_cluster.ts";
import { sleep, waitUntil } from "../support/real_time.ts";

Deno.test("key rotation on 5 running nodes: add, switch, drop, with no failed client request", async () => {
  const oldKey = newClusterKey(), newKey = newClusterKey();
  const cluster = await ProcessCluster.create({
    size: 5,
    name: "rotation",
    clusterKeys: [oldKey],
    clientOptions: { retries: 5 },
    dirPrefix: "kvstore-rotation-",
  });
  const addresses = cluster.addresses;
  const clients: KVClient[] = [];
  let stop = false;
  const failures: string[] = [];
  let done = 0;
  try {
    for (const a of addresses) await cluster.startNode(a);
    for (const a of addresses) clients.push(await cluster.client(a));
    await cluster.waitForMembers(5, { intervalMs: 100 });
    // Clients read and write through every node for the whole rotation.
    const workers = clients.map(async (c, w) => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}-k${i % 50}`;
        try {
          await c.put(key, `v${i}`);
          const got = new TextDecoder().decode(await c.get(key));
          if (got !== `v${i}`) failures.push(`${key}: read ${got}, wrote v${i}`);
          done += 2;
        } catch (e) {
          failures.push(`${key}: ${(e as Error).message}`);
        }
      }
    });
    let reloads = 0;
    const step = async (keys: string[]) => {
      await cluster.writeFleet({ clusterKeys: keys });
      reloads++;
      for (const p of cluster.procs.values()) p.child.kill("SIGHUP");
      // Every node says it took the keys (its reload line counts up).
      await waitUntil(
        () =>
          [...cluster.procs.values()].every((p) =>
            p.output.filter((l) => /cluster keys reloaded/.test(l)).length >= reloads
          ),
        { timeoutMs: 30_000, what: `reload ${reloads} of the cluster keys on every node` },
      );
      await sleep(1_500); // traffic, gossip and repair run under the new keys
    };
    await sleep(1_000);
    await step([oldKey, newKey]); // 1. every node accepts the new key
    await step([newKey, oldKey]); // 2. every node signs with it
    await step([newKey]); // 3. the old key is gone
    stop = true;
    await Promise.all(workers);
    console.log(`  ${done} client requests during the rotation, ${failures.length} failed`);
    assert.ok(done > 500, `only ${done} requests ran`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} client requests failed`);
    for (const c of clients) assert.equal(await c.membershipCount(), 5, "no member was lost");
    // Only the new key opens the cluster now.
    const withNew = await ClusterDebugClient.open("127.0.0.1", ClusterKeyring.fromHex([newKey]));
    const withOld = await ClusterDebugClient.open("127.0.0.1", ClusterKeyring.fromHex([oldKey]));
    try {
      assert.ok((await withNew.stats(addresses[0])).keys as number > 0);
      await assert.rejects(withOld.stats(addresses[0]), /No reply/);
    } finally {
      withNew.close();
      withOld.close();
    }
  } finally {
    stop = true;
    await cluster.close();
  }
});
