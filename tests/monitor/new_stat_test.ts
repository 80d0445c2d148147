/**
 * Acceptance 2 end to end, in one process on real UDP and HTTP: a node adds a
 * stat the monitor has never heard of (through `RunningNode.stats`, as any
 * subsystem would) and it shows on the page with no monitor change. Runs with
 * the leak sanitizers on, so node, agent and monitor must clean up fully.
 */
import assert from "node:assert/strict";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { startMonitor } from "../../lib/roles/start_monitor.ts";
import { startNode } from "../../lib/roles/start_node.ts";
import { KEY_HEX } from "./signed_reports.ts";
import { waitUntil } from "../support/real_time.ts";

Deno.test("a node's new stat shows on the page without any monitor change (real UDP + HTTP)", async () => {
  const nodeFleet = parseFleet(`clusterKey: "${KEY_HEX}"\nnodes: ["127.0.0.1:1"]\n`, "nodes.yaml");
  const node = await startNode({
    port: 0,
    fleet: nodeFleet,
    seeds: [],
    subsystemOptions: { staticMembers: true, replication: false },
  });
  const monitor = await startMonitor({
    port: 0,
    fleet: parseFleet(`name: inproc\nclusterKey: "${KEY_HEX}"\nnodes: ["${node.node.address}"]\n`, "nodes.yaml"),
    config: { intervalMs: 300 },
    tcpProbe: null,
  });
  try {
    let flushes = 0;
    node.stats.add(() => ({ cache_flushes: { value: ++flushes, unit: "flushes" } }));
    await waitUntil(() => (monitor.monitor.registry.get(node.node.address)?.reports ?? 0) >= 1, {
      timeoutMs: 5_000,
      what: "a report",
    });
    assert.equal(node.agent.monitorUrl(), monitor.reportUrl, "URL learned from the signed round");
    const html = await (await fetch(monitor.url + "/")).text();
    assert.match(html, /<span class="chip" data-stat="cache_flushes">cache_flushes \d+ flushes<\/span>/);
    const detail = await (await fetch(`${monitor.url}/nodes/${node.node.address}`)).text();
    assert.match(detail, /<tr data-stat="cache_flushes"><td>cache_flushes<\/td>/);
    const api = await (await fetch(`${monitor.url}/api/nodes/${node.node.address}`)).json();
    assert.equal(api.stats.cache_flushes.unit, "flushes");
  } finally {
    node.close();
    await monitor.close();
  }
});
