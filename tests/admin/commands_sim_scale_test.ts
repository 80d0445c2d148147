/** Admin commands in a simulation of 200 nodes with 10 % loss: every node runs each exactly once. */
import assert from "node:assert/strict";
import { createCommand } from "../../lib/admin/client.ts";
import { AdminSim, executionsOf } from "./admin_sim.ts";
import { makeKeys } from "./admin_keys.ts";

Deno.test("sim: 200 nodes, 10% loss: every node executes each command exactly once", async () => {
  const keys = await makeKeys();
  const c = await AdminSim.create(200, keys.publicKey, { loss: 0.1, seed: 23 });
  try {
    const now = c.clock.now();
    const a = await createCommand(keys.privateKey, { run: { script: "a", timeoutMs: 1000 } }, { now });
    const b = await createCommand(keys.privateKey, { run: { script: "b", timeoutMs: 1000 } }, { now });
    await c.run(c.admin.submit(a, [c.addresses()[17]]));
    await c.run(c.admin.submit(b, [c.addresses()[150]]));
    const start = c.clock.now();
    const reached: Record<number, number> = {};
    const ms = await c.until(
      () => {
        const n = Math.min(executionsOf(c.executions, a.c.id).nodes, executionsOf(c.executions, b.c.id).nodes);
        for (const q of [50, 90, 100]) {
          if (n >= q * 2 && reached[q] === undefined) reached[q] = c.clock.now() - start;
        }
        return n === 200;
      },
      {
        limitMs: 120_000,
        stepMs: 20,
        what: () => {
          const ea = executionsOf(c.executions, a.c.id), eb = executionsOf(c.executions, b.c.id);
          return `not all nodes executed: ${ea.nodes} and ${eb.nodes} of 200`;
        },
      },
    );
    // Keep gossiping (rumors, push-pull, duplicates) for a while: nobody runs anything twice.
    await c.advance(20_100, { tickMs: 100 });
    for (const id of [a.c.id, b.c.id]) {
      const e = executionsOf(c.executions, id);
      assert.equal(e.total, 200, `executions of ${id}`);
      assert.deepEqual(e.repeated, []);
    }
    let pulled = 0, rumors = 0;
    for (const r of c.nodes.values()) {
      pulled += r.admin!.gossip.stats.pulled;
      rumors += r.admin!.gossip.stats.rumorsSent;
    }
    console.log(
      `  200 nodes, 10% loss: 50% / 90% / 100% executed after ${reached[50]} / ${reached[90]} / ${ms} ms virtual; ` +
        `${pulled} node-commands caught up by push-pull; ` +
        `${rumors} rumor messages; network: ${c.network.stats.sent} datagrams`,
    );
  } finally {
    c.close();
  }
});
