/**
 * Rotating the cluster key on a running 5-node cluster: add the new key everywhere (SIGHUP),
 * make it the signing key everywhere, drop the old one, while clients keep reading and
 * writing: no client request fails, and at the end only the new key opens the cluster.
 */
import assert from "node:assert/strict";
import { KVClient } from "../../lib/client/client.ts";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { ClusterDebugClient } from "../../lib/replication/debug_queries.ts";
import { freeUdpPorts, type RoleProcess, startNodeProcess } from "../../lib/roles/process_launcher.ts";
import { newClusterKey } from "../../lib/wire/fleet_auth.ts";

Deno.test("key rotation on 5 running nodes: add, switch, drop, with no failed client request", async () => {
  const ports = freeUdpPorts(5);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const dir = await Deno.makeTempDir({ prefix: "kvstore-rotation-" });
  const fleet = `${dir}/nodes.yaml`;
  const oldKey = newClusterKey(), newKey = newClusterKey();
  const writeFleet = (keys: string[]) =>
    Deno.writeTextFile(
      fleet,
      `name: rotation\nclusterKey: [${keys.map((k) => `"${k}"`).join(", ")}]\nnodes:\n${
        addresses.map((a) => `  - ${a}\n`).join("")
      }`,
    );
  await writeFleet([oldKey]);
  const procs: RoleProcess[] = [];
  const clients: KVClient[] = [];
  let stop = false;
  const failures: string[] = [];
  let done = 0;
  try {
    for (const p of ports) procs.push(await startNodeProcess(p, ["--config", fleet]));
    for (const a of addresses) clients.push(await KVClient.connect(a, { retries: 5 }));
    for (const c of clients) {
      for (;;) {
        if (await c.membershipCount() === 5) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
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
      await writeFleet(keys);
      reloads++;
      for (const p of procs) p.child.kill("SIGHUP");
      // Every node says it took the keys (its reload line counts up).
      for (const p of procs) {
        for (;;) {
          if (p.output.filter((l) => /cluster keys reloaded/.test(l)).length >= reloads) break;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      await new Promise((r) => setTimeout(r, 1_500)); // traffic, gossip and repair run under the new keys
    };
    await new Promise((r) => setTimeout(r, 1_000));
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
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
    await Deno.remove(dir, { recursive: true });
  }
});
