/// <reference lib="dom" />
/**
 * The page tells a crash from a shutdown (issue 22), in real headless Chromium: a `deno task cluster` of
 * five node processes, one stopped by SIGTERM (a clean leave) and one killed -9. The first reads "left"
 * with the time, the second "not responding" with its reason; "with problems" counts only the nodes with
 * a problem of their own (the killed one; not the three that see it dead); the table fits 1,400 px without
 * a horizontal scroll; every page has the same navigation. Skipped when /usr/bin/chromium is missing.
 */
import { CHROMIUM, hasChromium, launchChromium } from "../support/chromium.ts";
import assert from "node:assert/strict";
import { loadFleet } from "../../lib/config/fleet_file.ts";
import { startMonitor } from "../../lib/roles/start_monitor.ts";
import { ClusterDir } from "../support/cluster_dir.ts";
import { waitUntil } from "../support/real_time.ts";

if (!hasChromium) console.log(`SKIPPED page states test: ${CHROMIUM} is not installed.`);

/** The monitor's round interval here (the default is 10 s). */
const INTERVAL_MS = 1_000;
/** The width the table must fit without a horizontal scroll. */
const WIDTH = 1_400;

Deno.test({
  name: "page in Chromium: SIGTERM reads 'left', kill -9 'not responding'; with problems = own problems; fits 1,400 px",
  ignore: !hasChromium,
  sanitizeOps: false, // playwright-core's pipes and timers; everything started here is closed in finally
  sanitizeResources: false,
  fn: async () => {
    const c = await ClusterDir.start({ nodes: 5, monitor: false });
    const fleet = await loadFleet(`${c.dir}/.kvstore-cluster/nodes.yaml`);
    const monitor = await startMonitor({
      port: 0,
      fleet,
      config: { intervalMs: INTERVAL_MS, notRespondingRounds: 3, sseFlushMs: 100 },
      tcpProbe: null,
    });
    const browser = await launchChromium();
    try {
      await c.waitForMembers();
      const state = (id: string) => monitor.monitor.assess(id)?.state;
      await waitUntil(() => c.addresses.every((a) => state(a) === "ok"), {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: () => `every node reporting: ${c.addresses.map((a) => `${a} ${state(a)}`).join(", ")}`,
      });
      const [stopped, killed] = [c.addresses[1], c.addresses[3]];
      Deno.kill(await c.pidOf(stopped), "SIGTERM");
      Deno.kill(await c.pidOf(killed), "SIGKILL");
      const t0 = performance.now();
      await waitUntil(() => state(stopped) === "left" && state(killed) === "not_responding", {
        timeoutMs: 90_000,
        intervalMs: 100,
        what: () => `${stopped} left (is ${state(stopped)}) and ${killed} not responding (is ${state(killed)})`,
      });
      const live = c.addresses.filter((a) => a !== stopped && a !== killed);
      await waitUntil(() => live.every((a) => state(a) === "ok"), {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: "the three others ok",
      });
      console.log(`left and not responding shown ${((performance.now() - t0) / 1000).toFixed(1)} s after the signals`);

      const page = await browser.newPage({ viewport: { width: WIDTH, height: 700 } });
      await page.goto(monitor.url + "/");
      const pill = (id: string) => page.textContent(`tr[data-node="${id}"] td[data-col="status"] .pill`);
      assert.match((await pill(stopped)) ?? "", /^left \d\d:\d\d:\d\d$/, "the node stopped by SIGTERM");
      assert.equal(await pill(killed), "not responding", "the node killed -9");
      const reason = await page.textContent(`tr[data-node="${killed}"] td[data-col="status"] .problems`);
      assert.match(reason ?? "", /dead since \d\d:\d\d:\d\d \(its peers say\)|not responding \(\d+ rounds\)/);
      for (const a of live) assert.equal(await pill(a), "ok", a);

      // "with problems": the nodes whose own row shows a problem, which is the killed node alone.
      const card = (label: string) =>
        page.$$eval(
          "#summary .card",
          (cards, l) => cards.find((x) => x.querySelector(".l")?.textContent === l)?.querySelector(".n")?.textContent,
          label,
        );
      const rowsWithProblems = await page.$$eval(
        "table.nodes tbody tr",
        (rows) => rows.filter((r) => (r.querySelector(".problems")?.textContent ?? "") !== "").length,
      );
      const withProblems = Number(await card("with problems"));
      console.log(`with problems: ${withProblems}; rows with a problem of their own: ${rowsWithProblems}`);
      assert.equal(withProblems, 1);
      assert.equal(withProblems, rowsWithProblems);
      assert.equal(await card("not responding"), "1");
      assert.equal(await card("left"), "1");
      // The dead row shows only what is still true: its last values greyed, no member counts.
      assert.ok(await page.$(`tr[data-node="${killed}"].stale`), "the dead row is marked stale (greyed)");
      assert.equal((await page.textContent(`tr[data-node="${killed}"] td[data-col="members"]`))?.trim(), "");

      // No horizontal scroll at 1,400 px: neither the table's box nor the page.
      const widths = await page.evaluate(() => {
        const wrap = document.querySelector(".tablewrap") as HTMLElement;
        const doc = document.documentElement;
        return { wrap: [wrap.scrollWidth, wrap.clientWidth], page: [doc.scrollWidth, doc.clientWidth] };
      });
      console.log(
        `at ${WIDTH} px: table ${widths.wrap.join(" / ")}, page ${widths.page.join(" / ")} (scroll / client)`,
      );
      assert.ok(widths.wrap[0] <= widths.wrap[1], `the table scrolls sideways: ${widths.wrap}`);
      assert.ok(widths.page[0] <= widths.page[1], `the page scrolls sideways: ${widths.page}`);
      await Deno.mkdir("test-artifacts", { recursive: true });
      await page.screenshot({ path: "test-artifacts/monitor-left-and-dead.png", fullPage: true });

      // The same navigation on every page.
      const nav = () => page.$$eval("header.top nav a", (as) => as.map((a) => a.getAttribute("href")));
      const home = await nav();
      await page.goto(monitor.url + "/admin");
      assert.deepEqual(await nav(), home, "the admin page has the same links");
      await page.goto(`${monitor.url}/nodes/${encodeURIComponent(killed)}`);
      assert.deepEqual(await nav(), home, "the node page has the same links");
      assert.ok(home.includes("/api/rounds") && home.includes("/metrics"));
    } finally {
      await browser.close();
      await monitor.close();
      await c.close();
    }
  },
});
