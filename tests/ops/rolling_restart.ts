/**
 * Acceptance of the rolling restart (issue 11) with real processes on UDP:
 * 5 in-memory nodes, 1,000 acknowledged keys, `kvctl run --restart --wait`:
 * nodes restart one at a time in the signed order, each only once the one
 * before is back; 0 keys lost; ≥ 99 % of the reads sent through every node
 * during the rollout answered, every answer the acknowledged value.
 */
import assert from "node:assert/strict";
import { membersEverywhere, startAdminCluster } from "../admin/admin_processes.ts";
import { lostKeys, pidOf, startReader, writeKeys } from "../admin/rollout_traffic.ts";
import { byNode } from "../admin/rollout_results.ts";

Deno.test("rolling restart, 5 in-memory nodes: 0 of 1,000 keys lost, ≥ 99% of reads answered, one node at a time", async () => {
  const c = await startAdminCluster(5, { allowRun: true });
  try {
    // Every node sees the 5 before the keys go in.
    await membersEverywhere(c, 5);
    const keys = await writeKeys(c.addresses, 1_000);
    assert.equal(keys.size, 1_000);
    const oldPids = await Promise.all(c.addresses.map(pidOf));
    await Deno.writeTextFile(`${c.dir}/restart.sh`, `echo "restarting $KVSTORE_NODE (pid $KVSTORE_NODE_PID)"\n`);

    const reader = await startReader(c.addresses, keys);
    const t0 = performance.now();
    const out = await c.kvctl([
      "run",
      "restart.sh",
      "--restart",
      "--wait",
      "--config",
      "nodes.yaml",
      "--key",
      "admin.key",
    ]);
    const rolloutSecs = (performance.now() - t0) / 1000;
    const reads = await reader.stop();
    assert.equal(out.code, 0, out.stderr + out.stdout);
    if (Deno.env.get("KVSTORE_TEST_VERBOSE")) console.log(out.stderr + out.stdout);
    const done = /rollout done: 5 of 5 nodes restarted in ([\d.]+) s/.exec(out.stdout);
    assert.ok(done, `kvctl reports the total rollout time:\n${out.stdout}`);
    assert.match(out.stderr, /rolling restart of 5 nodes, one at a time/);
    assert.match(out.stderr, /1 of 5 restarted; /, "progress node by node");
    assert.match(out.stdout, /5 nodes: 5 ok/);

    // One at a time, in the order: each restart began after the node before was back.
    const id = /command ([0-9a-f]{32})/.exec(out.stderr)![1];
    const results = byNode(await c.commandResults(id));
    const order = [...c.addresses].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    let previousBack = 0;
    for (const [i, node] of order.entries()) {
      const r = results.get(node)!;
      assert.equal(r.status, "ok", `${node}: ${JSON.stringify(r)}`);
      assert.equal(r.rollout?.phase, "back");
      assert.equal(r.rollout?.position, i);
      assert.ok(r.rollout!.restartedAt! >= previousBack, `${node} restarted before ${order[i - 1]} was back`);
      assert.match(r.stdout ?? "", /restarting 127\.0\.0\.1/, "the script's output survives the restart");
      previousBack = r.finishedAt!;
    }
    const page = await (await fetch(`${c.monitorUrl}/admin?id=${id}`)).text();
    assert.ok(page.includes("rollout done: 5 of 5 restarted"), "the admin page shows the rollout");
    const newPids = await Promise.all(c.addresses.map(pidOf));
    newPids.forEach((p, i) => {
      assert.ok(p && p !== oldPids[i], `${c.addresses[i]} runs a new process (${oldPids[i]} → ${p})`);
    });

    // 0 keys lost, reads answered with the acknowledged values only.
    assert.deepEqual(reads.wrong.slice(0, 5), [], `${reads.wrong.length} wrong answers`);
    const share = reads.answered / reads.total;
    const lost = await lostKeys(c.addresses[2], keys);
    const backs = order.map((n) => `${((results.get(n)!.rollout!.backAfterMs ?? 0) / 1000).toFixed(1)}`);
    console.log(
      `  rollout ${done[1]} s (kvctl ${rolloutSecs.toFixed(1)} s); each node back after ${backs.join(" / ")} s; ` +
        `reads ${reads.answered} of ${reads.total} answered (${(100 * share).toFixed(2)} %), ${reads.failed} failed, ` +
        `${reads.wrong.length} wrong; ${lost.length} of ${keys.size} keys lost`,
    );
    assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${keys.size} keys lost`);
    assert.ok(share >= 0.99, `only ${(100 * share).toFixed(2)} % of ${reads.total} reads answered`);
  } finally {
    await c.close(); // also stops the restarted processes, which are not our children
  }
});

Deno.test("rolling restart without a monitor: kvctl follows it by asking the nodes, restarted ones keep their result", async () => {
  const c = await startAdminCluster(3, { allowRun: true });
  try {
    const fleet = await Deno.readTextFile(c.fleetFile);
    await Deno.writeTextFile(`${c.dir}/no-monitor.yaml`, fleet.replace(/monitor:\n {2}url: .*\n/, ""));
    await Deno.writeTextFile(`${c.dir}/hello.sh`, `echo "hello from $KVSTORE_NODE"\n`);
    const out = await c.kvctl([
      "run",
      "hello.sh",
      "--restart",
      "--wait",
      "--config",
      "no-monitor.yaml",
      "--key",
      "admin.key",
    ]);
    assert.equal(out.code, 0, out.stderr + out.stdout);
    assert.match(out.stderr, /no monitor configured .*asking the nodes directly/);
    assert.match(out.stdout, /rollout done: 3 of 3 nodes restarted in [\d.]+ s/);
    const id = /command ([0-9a-f]{32})/.exec(out.stderr)![1];
    for (const a of c.addresses) {
      const r = await c.admin.status(a, id);
      assert.equal(r?.status, "ok", `${a}: ${JSON.stringify(r)}`);
      assert.equal(r?.stdout, `hello from ${a}\n`, "the new process answers with the script's output from before");
    }
  } finally {
    await c.close();
  }
});
