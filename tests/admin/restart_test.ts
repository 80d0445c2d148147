/**
 * The seed's use case end to end (docs/admin.md): add a node to the fleet file
 * on every node with a script (sed), restart each node process in place, then
 * start the new node; no node runs the script twice across its restart.
 */
import assert from "node:assert/strict";
import { KVClient } from "../../lib/client/client.ts";
import { freeUdpPorts, startNodeProcess } from "../../lib/roles/process_launcher.ts";
import { loadFleet } from "../../lib/config/fleet_file.ts";
import { waitUntil } from "../support/real_time.ts";
import { AdminCommand } from "../../lib/admin/protocol.ts";
import type { SignedCommand } from "../../lib/admin/command.ts";
import { linesOf, startProcCluster } from "./process_helpers.ts";

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
  const c = await startProcCluster(3, { allowRun: true, perNodeConfig: true });
  const [newPort] = freeUdpPorts(1);
  const newNode = `127.0.0.1:${newPort}`;
  const restartedPids: number[] = [];
  let fourth: Awaited<ReturnType<typeof startNodeProcess>> | undefined;
  try {
    const oldPids = await Promise.all(c.addresses.map((a) => ask(a, (k) => k.pid())));
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
      const pids = await Promise.all(c.addresses.map((a) => ask(a, (k) => k.pid())));
      if (pids.some((p, i) => p === undefined || p === oldPids[i])) return false;
      restartedPids.splice(0, restartedPids.length, ...(pids as number[]));
      return true;
    }, { timeoutMs: 30_000, what: "every node to restart with a new pid" });
    for (let i = 0; i < 3; i++) {
      const fleet = await loadFleet(`${c.adminDirs[i]}/nodes.yaml`);
      assert.ok(fleet.nodes.includes(newNode), `node ${i}'s fleet file lists the new node`);
      assert.equal(fleet.nodes.length, 4);
    }
    // The restarted nodes kept the command (state in --admin-dir): replaying it to them runs nothing.
    const id = /command ([0-9a-f]{32})/.exec(out.stderr)![1];
    const kept = (await c.client.rpc.call(c.addresses[2], AdminCommand.Fetch, { id })).header as SignedCommand;
    assert.equal(kept.c?.id, id, "a restarted node still holds the command for peers that missed it");
    for (const a of c.addresses) assert.equal(await c.client.submit(kept, [a]), a);
    const stats = await Promise.all(c.addresses.map((a) => c.client.stats(a)));
    for (const s of stats) {
      assert.ok(s!.duplicates >= 1, "the replay was recognised");
      assert.equal(s!.executed, 0, "the new process executed nothing");
    }
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await linesOf(`${c.adminDirs[i]}/ran.txt`), [c.addresses[i]], "ran once across the restart");
    }
    // The new node starts with the same (edited) fleet file and everyone counts four members.
    fourth = await startNodeProcess(newPort, ["--config", `${c.adminDirs[0]}/nodes.yaml`]);
    await waitUntil(async () => {
      const counts = await Promise.all([...c.addresses, newNode].map((a) => ask(a, (k) => k.membershipCount())));
      return counts.every((n) => n === 4);
    }, { timeoutMs: 30_000, what: "four members everywhere" });
  } finally {
    for (const pid of restartedPids) {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* gone */ }
    }
    await fourth?.stop();
    await c.close();
  }
});
