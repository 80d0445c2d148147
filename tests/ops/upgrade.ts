/**
 * `kvctl upgrade FILE` (issue 11) with real processes: 5 in-memory nodes run
 * from the source tree hold 1,000 acknowledged keys; a bundle built with
 * another version string is pushed and the fleet rolls onto it. Every node
 * ends on the new version and build, the monitor shows it, and 0 keys are lost.
 */
import assert from "node:assert/strict";
import { askView } from "../../lib/replication/catch_up.ts";
import { waitUntil } from "../support/real_time.ts";
import { bundle } from "../../scripts/bundle.ts";
import { membersEverywhere, startAdminCluster } from "../admin/admin_processes.ts";
import { lostKeys, writeKeys } from "../admin/rollout_traffic.ts";
import { byNode } from "../admin/rollout_results.ts";

const VERSION = "0.1.0-upgrade-test";

Deno.test("kvctl upgrade: 5 nodes roll onto a bundle with another version; every node reports it; 0 keys lost", async () => {
  const c = await startAdminCluster(5, { allowRun: true });
  try {
    const sha = await bundle(`${c.dir}/kvstore-next.js`, VERSION);
    await membersEverywhere(c, 5);
    const keys = await writeKeys(c.addresses, 1_000, "upgrade");
    for (const a of c.addresses) {
      const v = await askView(c.admin.rpc, a, a);
      assert.equal(v?.build, "source", `${a} runs the source tree before the upgrade`);
    }

    const out = await c.kvctl(["upgrade", "kvstore-next.js", "--config", "nodes.yaml", "--key", "admin.key"]);
    assert.equal(out.code, 0, out.stderr + out.stdout);
    if (Deno.env.get("KVSTORE_TEST_VERBOSE")) console.log(out.stderr + out.stdout);
    const build = sha.slice(0, 12);
    assert.match(out.stdout, /rollout done: 5 of 5 nodes restarted in [\d.]+ s/);
    assert.ok(
      out.stdout.includes(`versions now: ${VERSION} (${build}) on 5 (every node runs the new program)`),
      out.stdout,
    );
    for (const a of c.addresses) {
      const v = await askView(c.admin.rpc, a, a);
      assert.equal(v?.version, VERSION, a);
      assert.equal(v?.build, build, a);
    }
    const id = [...out.stderr.matchAll(/command ([0-9a-f]{32})/g)].at(-1)![1];
    for (const r of byNode(await c.commandResults(id)).values()) {
      assert.equal(r.status, "ok", JSON.stringify(r));
      assert.equal(r.rollout?.program, `${VERSION} (${build})`, "each node reports the program it came back on");
    }
    // The monitor's node list (round reports) shows the new version everywhere.
    await waitUntil(async () => {
      const body = await (await fetch(`${c.monitorUrl}/api/nodes`)).json() as {
        nodes: { id: string; stats: Record<string, { value: unknown }> }[];
      };
      const ours = body.nodes.filter((n) => c.addresses.includes(n.id));
      return ours.length === 5 &&
        ours.every((n) => n.stats.version?.value === VERSION && n.stats.build?.value === build);
    }, { timeoutMs: 60_000, what: "the monitor to see every node on the new version" });
    const page = await (await fetch(`${c.monitorUrl}/`)).text();
    assert.ok(page.includes(`${VERSION} (${build})`), "the status page shows the version mix");
    const lost = await lostKeys(c.addresses[4], keys);
    assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${keys.size} keys lost`);
  } finally {
    await c.close();
  }
});
