/**
 * A monitor that comes back fills its view from a node's fleet table before its first round:
 * three real nodes on UDP (in this process), a monitor started with `fillFromFleet` and no rounds.
 */
import assert from "node:assert/strict";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { startMonitor } from "../../lib/roles/start_monitor.ts";
import { type RunningNode, startNode } from "../../lib/roles/start_node.ts";
import { freeUdpPorts } from "../../lib/roles/process_launcher.ts";
import { waitUntil } from "../support/real_time.ts";

Deno.test("monitor start: fills its view from a node's fleet table before any round", async () => {
  const ports = freeUdpPorts(3);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const fleet = parseFleet(`name: fill\nnodes: [${addresses.map((a) => `"${a}"`).join(", ")}]\n`, "nodes.yaml");
  const nodes: RunningNode[] = [];
  try {
    for (const port of ports) {
      nodes.push(
        await startNode({
          port,
          fleet,
          subsystemOptions: { staticMembers: true, replication: false, monitoring: { system: false } },
        }),
      );
    }
    await waitUntil(() => nodes.every((n) => n.fleet!.gossip.table.size === 3), {
      timeoutMs: 30_000,
      what: "every fleet table holding the 3 rows",
    });
    const monitor = await startMonitor({ port: 0, fleet, autoStart: false, fillFromFleet: true, tcpProbe: null });
    try {
      assert.equal(monitor.monitor.rounds.index, 0, "no round yet");
      for (const a of addresses) {
        const rec = monitor.monitor.registry.get(a);
        assert.ok(rec && rec.reports === 1, `${a} filled from the table`);
        assert.equal(rec.stats.members_alive?.value, 3);
        assert.equal(monitor.monitor.assess(a)?.state, "ok");
      }
    } finally {
      await monitor.close();
    }
  } finally {
    for (const n of nodes) n.close();
  }
});
