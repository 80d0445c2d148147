import assert from "node:assert/strict";
import { createCommand } from "../../lib/admin/client.ts";
import { executionsOf, makeKeys, simCluster } from "./helpers.ts";

Deno.test("sim: 200 nodes, 10% loss: every node executes each command exactly once", async () => {
  const keys = await makeKeys();
  const c = await simCluster(200, keys.publicKey, { loss: 0.1, seed: 23 });
  try {
    const now = c.sim.clock.now();
    const a = await createCommand(keys.privateKey, { run: { script: "a", timeoutMs: 1000 } }, { now });
    const b = await createCommand(keys.privateKey, { run: { script: "b", timeoutMs: 1000 } }, { now });
    await c.run(c.client.submit(a, [c.addresses[17]]));
    await c.run(c.client.submit(b, [c.addresses[150]]));
    const start = c.sim.clock.now();
    const reached: Record<number, number> = {};
    const ms = await c.drive(
      () => {
        const n = Math.min(executionsOf(c.executions, a.c.id).nodes, executionsOf(c.executions, b.c.id).nodes);
        for (const q of [50, 90, 100]) {
          if (n >= q * 2 && reached[q] === undefined) reached[q] = c.sim.clock.now() - start;
        }
        return n === 200;
      },
      120_000,
      20,
    );
    const ea = executionsOf(c.executions, a.c.id), eb = executionsOf(c.executions, b.c.id);
    assert.ok(ms >= 0, `not all nodes executed: ${ea.nodes} and ${eb.nodes} of 200`);
    // Keep gossiping (rumors, push-pull, duplicates) for a while: nobody runs anything twice.
    await c.drive(() => false, 20_000, 100);
    for (const id of [a.c.id, b.c.id]) {
      const e = executionsOf(c.executions, id);
      assert.equal(e.total, 200, `executions of ${id}`);
      assert.deepEqual(e.repeated, []);
    }
    let pulled = 0, rumors = 0;
    for (const r of c.sim.nodes.values()) {
      pulled += r.admin!.gossip.stats.pulled;
      rumors += r.admin!.gossip.stats.rumorsSent;
    }
    console.log(
      `  200 nodes, 10% loss: 50% / 90% / 100% executed after ${reached[50]} / ${reached[90]} / ${ms} ms virtual; ` +
        `${pulled} node-commands caught up by push-pull; ` +
        `${rumors} rumor messages; network: ${c.sim.network.stats.sent} datagrams`,
    );
  } finally {
    c.close();
  }
});
