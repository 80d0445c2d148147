/**
 * A rolling restart that cannot go on (issue 11): real node processes, 1,000
 * acknowledged keys. The rollout halts at the node that does not come back,
 * the nodes after it are not restarted (same pid, result "skipped" naming
 * the node and why), kvctl exits non-zero saying so, and no key is lost.
 * Two ways a node fails to come back: its script breaks its fleet file (the
 * new process cannot start: the old one keeps serving and says why), and its
 * new process hangs after taking the port over (SIGSTOP: the next node's
 * budget runs out).
 */
import assert from "node:assert/strict";
import { membersEverywhere, startAdminCluster } from "../admin/admin_processes.ts";
import { poll } from "../support/real_time.ts";
import { lostKeys, pidOf, writeKeys } from "../admin/rollout_traffic.ts";
import { byNode } from "../admin/rollout_results.ts";
import type { ProcessCluster } from "../support/process_cluster.ts";

function sorted(addresses: string[]): string[] {
  return [...addresses].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

const RUN = ["--restart", "--wait", "--config", "nodes.yaml", "--key", "admin.key"];

/**
 * Both scenarios' start: the 5 nodes see each other, 1,000 keys acknowledged; the rollout order, the
 * node that will fail (the third) and every node's pid before the rollout.
 */
async function haltScenario(c: ProcessCluster) {
  await membersEverywhere(c, 5);
  const keys = await writeKeys(c.addresses, 1_000);
  const order = sorted(c.addresses);
  const pids = new Map(await Promise.all(order.map(async (a) => [a, await pidOf(a)] as const)));
  return { keys, order, bad: order[2], pids };
}

Deno.test("rolling restart halts at a node whose new process cannot start: later nodes untouched, 0 keys lost", async () => {
  const c = await startAdminCluster(5, { allowRun: true, perNodeConfig: true });
  try {
    const { keys, order, bad, pids } = await haltScenario(c);
    await Deno.writeTextFile(
      `${c.dir}/break.sh`,
      `if [ "$KVSTORE_NODE" = "${bad}" ]; then echo 'nodes: [' >> "$KVSTORE_CONFIG"; echo broke it; fi\n`,
    );
    const out = await c.kvctl(["run", "break.sh", ...RUN]);
    assert.equal(out.code, 1, out.stderr + out.stdout);
    const halted = new RegExp(
      `rollout halted at ${
        bad.replaceAll(".", "\\.")
      } after [\\d.]+ s: restart failed: the new process could not start: .*nodes\\.yaml`,
    );
    assert.match(out.stdout, halted, "kvctl names the node and the reason");
    console.log(`  ${out.stdout.trim().split("\n").at(-1)}`);
    const id = /command ([0-9a-f]{32})/.exec(out.stderr)![1];
    const results = byNode(await c.commandResults(id));
    for (const a of order.slice(0, 2)) assert.equal(results.get(a)?.rollout?.phase, "back", a);
    assert.equal(results.get(bad)?.status, "error");
    assert.equal(results.get(bad)?.rollout?.phase, "failed");
    for (const a of order.slice(3)) {
      const r = results.get(a)!;
      assert.equal(r.status, "skipped", `${a}: ${JSON.stringify(r)}`);
      assert.match(r.message ?? "", new RegExp(`^not restarted: rollout halted at ${bad.replaceAll(".", "\\.")}: `));
      assert.equal(await pidOf(a), pids.get(a), `${a} was not restarted`);
      assert.equal(r.exitCode, undefined, `${a} did not run the script`);
    }
    assert.equal(await pidOf(bad), pids.get(bad), "the old process of the broken node keeps serving");
    const page = await (await fetch(`${c.monitorUrl}/admin?id=${id}`)).text();
    assert.ok(page.includes(`rollout halted at ${bad}: restart failed`), "the admin page shows where and why");
    const lost = await lostKeys(bad, keys);
    assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${keys.size} keys lost`);
  } finally {
    await c.close();
  }
});

Deno.test("rolling restart halts when a node's new process hangs after the takeover: the next node's budget", async () => {
  const c = await startAdminCluster(5, { allowRun: true });
  let stopped: number | undefined;
  try {
    const { keys, order, bad, pids } = await haltScenario(c);
    await Deno.writeTextFile(`${c.dir}/noop.sh`, "echo ok\n");
    const run = c.kvctl(["run", "noop.sh", "--timeout", "5s", "--budget", "8s", ...RUN]);
    // As soon as the bad node's new process holds the port, freeze it (a hung host).
    let finished = false;
    run.finally(() => finished = true);
    await poll(async () => {
      if (finished) return true;
      const pid = await pidOf(bad);
      if (pid === undefined || pid === pids.get(bad)) return false;
      Deno.kill(pid, "SIGSTOP");
      stopped = pid;
      return true;
    }, { timeoutMs: 300_000, intervalMs: 0 }); // asks again at once; kvctl itself gives up within 300 s
    const out = await run;
    assert.ok(stopped, `the new process of ${bad} was never seen:\n${out.stderr}${out.stdout}`);
    assert.equal(out.code, 1, out.stderr + out.stdout);
    const next = order[3];
    assert.match(
      out.stdout,
      new RegExp(
        `rollout halted at ${
          bad.replaceAll(".", "\\.")
        } after [\\d.]+ s: not back within 15 s of its turn \\(script timeout \\+ budget\\): it does not answer`,
      ),
    );
    console.log(`  ${out.stdout.trim().split("\n").at(-1)}`);
    const id = /command ([0-9a-f]{32})/.exec(out.stderr)![1];
    const results = byNode(await c.commandResults(id));
    assert.equal(results.get(next)?.rollout?.haltedAt, bad, "the next node halted the rollout");
    for (const a of order.slice(3)) {
      assert.equal(results.get(a)?.status, "skipped", a);
      assert.equal(await pidOf(a), pids.get(a), `${a} was not restarted`);
    }
    const lost = await lostKeys(order[0], keys);
    assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${keys.size} keys lost while ${bad} hangs`);
  } finally {
    if (stopped) {
      try {
        Deno.kill(stopped, "SIGCONT");
      } catch { /* gone */ }
    }
    await c.close();
  }
});
