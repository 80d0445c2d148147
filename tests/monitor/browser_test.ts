/// <reference lib="dom" />
/**
 * Acceptance 4: the status page in real headless Chromium (playwright-core):
 * it loads, shows the nodes, updates live when a node dies, sorting works,
 * works without JavaScript; a screenshot is saved to test-artifacts/.
 * Skipped with a message when /usr/bin/chromium is not installed
 * (.ci/run installs it). Run alone with `deno task test:browser`.
 */
import { CHROMIUM, hasChromium, launchChromium } from "../support/chromium.ts";
import assert from "node:assert/strict";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { startMonitor } from "../../lib/roles/start_monitor.ts";
import { type RunningNode, startNode } from "../../lib/roles/start_node.ts";
import { KVClient } from "../../lib/client/client.ts";
import { KEY_HEX } from "./signed_reports.ts";
import { waitUntil } from "../support/real_time.ts";

if (!hasChromium) {
  console.log(`SKIPPED browser tests: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run does it).`);
}

const INTERVAL_MS = 500;

Deno.test({
  name: "status page in headless Chromium: loads, live updates on a node's death, sorting, no-JS table",
  ignore: !hasChromium,
  // playwright-core keeps its browser pipes and timers in ways the sanitizers cannot follow;
  // everything this test starts itself is closed in `finally`.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Three nodes in this process on real UDP. With a cluster key they take the report URL
    // from the (signed) round message, so they need no monitor entry in their fleet file.
    const nodeFleet = parseFleet(
      `name: browser-test\nclusterKey: "${KEY_HEX}"\nnodes: ["127.0.0.1:1"]\n`,
      "nodes.yaml",
    );
    const nodes: RunningNode[] = [];
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startNode({
          port: 0,
          fleet: nodeFleet,
          seeds: [],
          subsystemOptions: { staticMembers: true, replication: false },
        }),
      );
    }
    const ids = nodes.map((n) => n.node.address);
    const monitor = await startMonitor({
      port: 0,
      fleet: parseFleet(
        `name: browser-test\nclusterKey: "${KEY_HEX}"\nnodes:\n${ids.map((a) => `  - ${a}\n`).join("")}`,
        "nodes.yaml",
      ),
      config: {
        intervalMs: INTERVAL_MS,
        notRespondingRounds: 3,
        sseFlushMs: 100,
        historyWindowMs: 60_000,
        historyPoints: 60,
      },
      tcpProbe: null,
    });
    const browser = await launchChromium();
    try {
      for (const [i, n] of nodes.entries()) {
        const client = await KVClient.connect(n.node.address);
        for (let k = 0; k < [5, 1, 3][i]; k++) await client.put(`key-${k}`, "value");
        client.close();
      }
      await waitUntil(() =>
        ids.every((id) =>
          monitor.monitor.assess(id)?.state === "ok" &&
          monitor.monitor.registry.get(id)!.stats.keys?.value !== undefined
        ), { timeoutMs: 30 * INTERVAL_MS, what: "the three nodes reporting" });
      await waitUntil(() => [5, 1, 3].every((k, i) => monitor.monitor.registry.get(ids[i])!.stats.keys?.value === k), {
        timeoutMs: 30 * INTERVAL_MS,
        what: "key counts reported",
      });

      const page = await browser.newPage({ viewport: { width: 1440, height: 520 } });
      await page.goto(monitor.url + "/");
      await page.waitForFunction(() => document.getElementById("live")?.textContent === "live", null, {
        timeout: 10_000,
      });
      const rowIds = () =>
        page.$$eval("table.nodes tbody tr", (rows) => rows.map((r) => (r as HTMLElement).dataset.node));
      assert.deepEqual((await rowIds()).slice().sort(), ids.slice().sort(), "one row per node");
      // A report that lands after its 500 ms round closed shows the node as "late" for a moment
      // (a real state of the page), so wait for the live page to show all three ok.
      await page.waitForFunction(() => document.querySelectorAll("table.nodes tbody tr .pill.ok").length === 3, null, {
        timeout: 10 * INTERVAL_MS,
      }); // throws (fails the test) if the page never shows three ok rows

      // Sorting: click "Keys" (descending first), then again (ascending); "Node" sorts by address.
      await page.click('th[data-col="keys"] a');
      assert.deepEqual(await rowIds(), [ids[0], ids[2], ids[1]], "keys 5, 3, 1");
      assert.match(page.url(), /\?sort=keys&dir=desc$/);
      await page.click('th[data-col="keys"] a');
      assert.deepEqual(await rowIds(), [ids[1], ids[2], ids[0]], "keys 1, 3, 5");
      assert.equal(await page.getAttribute('th[data-col="keys"]', "aria-sort"), "ascending");

      // Back to problems first, then kill a node: its row turns "not responding" and moves to the top, live.
      await page.click('th[data-col="status"] a');
      const victim = nodes[2];
      victim.close();
      await page.waitForFunction(
        (id) =>
          document.querySelector(`tr[data-node="${id}"] .pill`)?.textContent === "not responding" &&
          (document.querySelector("table.nodes tbody tr") as HTMLElement | null)?.dataset.node === id,
        victim.node.address,
        { timeout: 20 * INTERVAL_MS },
      );
      assert.equal(await page.textContent("#summary .card.bad .n"), "1", "summary counts 1 not responding");
      await Deno.mkdir("test-artifacts", { recursive: true });
      await page.screenshot({ path: "test-artifacts/monitor-page.png", fullPage: true });

      // The detail page lists every stat.
      await page.goto(`${monitor.url}/nodes/${encodeURIComponent(ids[0])}`);
      assert.equal(await page.textContent('tr[data-stat="keys"] td.num'), "5");
      await page.screenshot({ path: "test-artifacts/monitor-node.png", fullPage: true });
      await page.close();

      // Without JavaScript: a plain table, sortable through its links.
      const noJs = await browser.newContext({ javaScriptEnabled: false });
      const plain = await noJs.newPage();
      await plain.goto(monitor.url + "/");
      assert.equal(await plain.locator("table.nodes tbody tr").count(), 3);
      assert.equal(await plain.textContent("#live"), "static");
      await plain.click('th[data-col="keys"] a');
      const plainIds = await plain.$$eval(
        "table.nodes tbody tr",
        (rows) => rows.map((r) => (r as HTMLElement).dataset.node),
      );
      assert.deepEqual(plainIds, [ids[0], ids[2], ids[1]], "server-side sort by keys, descending");
      await noJs.close();
    } finally {
      await browser.close();
      for (const n of nodes) n.close();
      await monitor.close();
    }
  },
});
