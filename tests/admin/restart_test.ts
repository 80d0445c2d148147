/**
 * The seed's use case end to end (docs/admin.md): add a node to the fleet file
 * on every node with a script (sed), restart each node process in place, then
 * start the new node; no node runs the script twice across its restart.
 */
import assert from "node:assert/strict";
import { KVClient } from "../../lib/client/client.ts";
import { loadFleet } from "../../lib/config/fleet_file.ts";
import { waitUntil } from "../support/real_time.ts";
import { AdminCommand } from "../../lib/admin/protocol.ts";
import type { SignedCommand } from "../../lib/admin/command.ts";
import { linesOf, startAdminCluster } from "./admin_processes.ts";

async function ask<T>(address: string, f: (c: KVClient) => Promise<T>): Promise<T | undefined> {
  const client = await KVClient.connect(address, { timeoutMs: 100, retries: 2 });
  try {
    return await f(client);
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}

Deno.test("seed use case: sed a new node into every fleet file, restart in place, the new node joins", async () => {
  // 4 addresses; the fleet files list (and the cluster starts) the first 3: the script adds the 4th.
  const c = await startAdminCluster(4, { allowRun: true, perNodeConfig: true, fleetSize: 3 });
  const nodes = c.fleetAddresses;
  const newNode = c.addresses[3];
  try {
    const oldPids = await Promise.all(nodes.map((a) => ask(a, (k) => k.pid())));
    const script = [
      `sed -i '/^nodes:/a\\  - ${newNode}' "$KVSTORE_CONFIG"`,
      `echo "$KVSTORE_NODE" >> "$KVSTORE_ADMIN_DIR/ran.txt"`,
      `echo "added ${newNode} to $KVSTORE_CONFIG"`,
    ].join("\n");
    await Deno.writeTextFile(`${c.dir}/add-node.sh`, script);
    const out = await c.kvctl([
      "run",
      "add-node.sh",
      "--restart",
      "--wait",
      "--config",
      "nodes.yaml",
      "--key",
      "admin.key",
    ]);
    assert.equal(out.code, 0, out.stderr + out.stdout);
    assert.match(out.stdout, /3 nodes: 3 ok/);

    // Every node comes back on its port as a new process.
    await waitUntil(async () => {
      const pids = await Promise.all(nodes.map((a) => ask(a, (k) => k.pid())));
      return pids.every((p, i) => p !== undefined && p !== oldPids[i]);
    }, { timeoutMs: 30_000, what: "every node to restart with a new pid" });
    for (let i = 0; i < 3; i++) {
      const fleet = await loadFleet(`${c.adminDirs[i]}/nodes.yaml`);
      assert.ok(fleet.nodes.includes(newNode), `node ${i}'s fleet file lists the new node`);
      assert.equal(fleet.nodes.length, 4);
    }
    // The restarted nodes kept the command (state in --admin-dir): replaying it to them runs nothing.
    const id = /command ([0-9a-f]{32})/.exec(out.stderr)![1];
    const kept = (await c.admin.rpc.call(nodes[2], AdminCommand.Fetch, { id })).header as SignedCommand;
    assert.equal(kept.c?.id, id, "a restarted node still holds the command for peers that missed it");
    for (const a of nodes) assert.equal(await c.admin.submit(kept, [a]), a);
    const stats = await Promise.all(nodes.map((a) => c.admin.stats(a)));
    for (const s of stats) {
      assert.ok(s!.duplicates >= 1, "the replay was recognised");
      assert.equal(s!.executed, 0, "the new process executed nothing");
    }
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await linesOf(`${c.adminDirs[i]}/ran.txt`), [nodes[i]], "ran once across the restart");
    }
    // The new node starts with the same (edited) fleet file and everyone counts four members.
    // (A plain node: no --allow-run, no admin directory.)
    await c.startNode(newNode, [], { config: `${c.adminDirs[0]}/nodes.yaml`, permissionSet: "node", adminDir: false });
    await c.waitForMembers(4, {
      of: c.addresses,
      timeoutMs: 30_000,
      intervalMs: 20,
      client: { timeoutMs: 100, retries: 2 },
      what: "four members everywhere",
    });
  } finally {
    await c.close(); // also stops the restarted processes, which are not our children
  }
});
