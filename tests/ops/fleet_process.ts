/// <reference lib="dom" />
/**
 * The fleet table with real processes (issue 23's acceptance): a 5-node `deno task cluster`;
 * `kill -9` of the monitor, and `kvctl status --json` against each node lists all 5 with rows
 * younger than 2 intervals; a node's status page in headless Chromium shows the 5 rows; `kill -9`
 * of one node: within 40 s every remaining node lists it "not responding"; SIGTERM of another:
 * listed "left". The same fleet without any monitor in its fleet file. Prints the times measured.
 */
import { CHROMIUM, hasChromium, launchChromium } from "../support/chromium.ts";
import { freeTcpPort, freeUdpRange } from "../support/cluster_dir.ts";
import assert from "node:assert/strict";
import { WatchedProcess } from "../../lib/base/watched_process.ts";
import { permissionFlags } from "../../lib/roles/process_launcher.ts";
import { KVClient } from "../../lib/client/client.ts";
import { kvctl } from "../support/child_processes.ts";
import { waitUntil, withTimeout } from "../support/real_time.ts";

const CLUSTER_PERMISSIONS = permissionFlags("cluster");
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const NODES = 5;

/** Pids of the live direct children of `parent`. */
function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const text = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const [state, ppid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === parent && state !== "Z") pids.push(Number(e.name));
    } catch { /* gone */ }
  }
  return pids;
}

interface StatusJson {
  answeredBy: string;
  intervalMs: number;
  nodes: { node: string; state: string; ageMs: number; reason?: string }[];
}

async function status(node: string, config: string): Promise<StatusJson> {
  const r = await kvctl(["status", "--json", "--node", node, "--config", config]);
  assert.equal(r.code, 0, `kvctl status --node ${node}: ${r.stderr}`);
  const s = JSON.parse(r.stdout) as StatusJson;
  assert.equal(s.answeredBy, node, "the answer says which node answered");
  return s;
}

/** A running cluster command with its node addresses, status URLs and pids. */
async function startCluster(withMonitor: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-fleet-" });
  const base = freeUdpRange(NODES);
  const addresses = Array.from({ length: NODES }, (_, i) => `127.0.0.1:${base + i}`);
  const monitorPort = withMonitor ? freeTcpPort() : 0;
  const args = ["cluster", "--nodes", String(NODES), "--base-port", String(base), "--dir", dir];
  const proc = WatchedProcess.deno("cluster", [
    ...CLUSTER_PERMISSIONS,
    MAIN,
    ...args,
    "--monitor-port",
    `${monitorPort}`,
  ]);
  const exited = proc.exited();
  await proc.waitFor(new RegExp(`^${NODES} nodes running`), 90_000);
  const pages = addresses.map((a) => {
    const line = proc.output.find((l) => l.includes(`up on ${a},`));
    const url = line?.match(/status page (http:\/\/\S+?)\/?$/)?.[1];
    assert.ok(url, `the cluster printed the status page of ${a}: ${proc.output.join("\n")}`);
    return url;
  });
  const pids: number[] = [];
  for (const a of addresses) {
    const c = await KVClient.connect(a, { timeoutMs: 200, retries: 5 });
    pids.push(await c.pid());
    c.close();
  }
  const children = childPids(proc.child.pid);
  const monitorPid = children.find((p) => !pids.includes(p));
  assert.equal(children.length, withMonitor ? NODES + 1 : NODES, `children: ${children.join(", ")}`);
  const stop = async () => {
    // Children first (a monitor restarted by the cluster command has a new pid): once the
    // parent is gone they belong to init and are no longer found by parent.
    const running = childPids(proc.child.pid);
    proc.kill("SIGKILL");
    await exited;
    for (const pid of running.concat(pids, monitorPid ? [monitorPid] : [])) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return { dir, config: `${dir}/nodes.yaml`, addresses, pages, pids, monitorPid, proc, stop };
}

/** The table of the node whose status page is `page` (polled over HTTP: cheaper than a kvctl process). */
async function api(page: string): Promise<StatusJson> {
  return await (await fetch(`${page}/api/nodes`)).json() as StatusJson;
}

const fresh = (s: StatusJson) =>
  s.nodes.length === NODES && s.nodes.every((v) => v.state === "ok" && v.ageMs < 2 * s.intervalMs);

/**
 * Waits until every node's table shows all rows "ok" and younger than 2 intervals (polling the
 * pages), then checks it with `kvctl status --json` against each node; returns the ms until the pages agreed.
 */
async function allFresh(c: { addresses: string[]; pages: string[]; config: string }, timeoutMs: number) {
  const start = Date.now();
  await waitUntil(async () => (await Promise.all(c.pages.map(api))).every(fresh), {
    timeoutMs,
    intervalMs: 100,
    what: "5 fresh rows at every node",
  });
  const ms = Date.now() - start;
  for (const a of c.addresses) {
    const s = await status(a, c.config);
    assert.ok(fresh(s), `kvctl status --json --node ${a}: 5 rows ok, younger than 2 intervals: ${JSON.stringify(s)}`);
  }
  return ms;
}

Deno.test({
  name: "fleet table, processes: monitor killed, every node lists the 5; kill -9 → not responding, SIGTERM → left",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await startCluster(true);
    try {
      assert.ok(c.monitorPid, "the monitor runs");
      Deno.kill(c.monitorPid!, "SIGKILL");
      const freshMs = await allFresh(c, 30_000);
      console.log(`  monitor killed: all 5 nodes list 5 rows younger than 2 intervals (${freshMs} ms after the kill)`);

      if (hasChromium) await pageShowsRows(c.pages[2], c.addresses);
      else console.log(`  SKIPPED the Chromium check: ${CHROMIUM} is not installed`);

      // kill -9 one node; SIGTERM another.
      const [killed, stopped] = [c.addresses[3], c.addresses[4]];
      Deno.kill(c.pids[3], "SIGKILL");
      const killedAt = Date.now();
      Deno.kill(c.pids[4], "SIGTERM");
      const remaining = c.addresses.slice(0, 3);
      const listed = (s: StatusJson) => {
        const of = (n: string) => s.nodes.find((v) => v.node === n)?.state;
        return of(killed) === "not responding" && of(stopped) === "left";
      };
      await waitUntil(async () => (await Promise.all(c.pages.slice(0, 3).map(api))).every(listed), {
        timeoutMs: 40_000,
        intervalMs: 100,
        what: "the remaining nodes listing the killed node not responding and the stopped one left",
      });
      const downMs = Date.now() - killedAt;
      for (const a of remaining) assert.ok(listed(await status(a, c.config)), `kvctl status --node ${a} agrees`);
      const s = await status(remaining[0], c.config);
      console.log(
        `  kill -9 → "not responding" and SIGTERM → "left" at all 3 remaining nodes within ${downMs} ms: ` +
          s.nodes.filter((v) => v.state !== "ok").map((v) => `${v.node} ${v.state} (${v.reason})`).join("; "),
      );
      assert.ok(downMs < 40_000);
    } finally {
      await c.stop();
    }
  },
});

Deno.test({
  name: "fleet table, processes: a fleet without any monitor in its fleet file lists the 5 from every node",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await startCluster(false);
    try {
      const fleetFile = await Deno.readTextFile(c.config);
      assert.doesNotMatch(fleetFile, /monitor/, "no monitor in the fleet file");
      const freshMs = await allFresh(c, 30_000);
      console.log(`  no monitor: all 5 nodes list 5 rows younger than 2 intervals (${freshMs} ms after start)`);
      const res = await fetch(`${c.pages[0]}/api/nodes`);
      const table = await res.json() as StatusJson;
      assert.equal(table.answeredBy, c.addresses[0]);
      assert.deepEqual(table.nodes.map((v) => v.node).sort(), [...c.addresses].sort());
      const page = await (await fetch(`${c.pages[0]}/`)).text();
      for (const a of c.addresses) assert.ok(page.includes(`data-node="${a}"`), `the page has a row for ${a}`);
      assert.ok(page.includes(`answered by ${c.addresses[0]}`), "the page says which node answered");
      const metrics = await (await fetch(`${c.pages[0]}/metrics`)).text();
      assert.match(metrics, /kvstore_fleet_row_age_seconds\{node="127\.0\.0\.1:\d+"\} [\d.]+/);
      Deno.kill(c.pids[1], "SIGKILL");
      const killedAt = Date.now();
      await waitUntil(async () => {
        const all = await Promise.all([0, 2, 3, 4].map((i) => api(c.pages[i])));
        return all.every((s) => s.nodes.find((v) => v.node === c.addresses[1])?.state === "not responding");
      }, { timeoutMs: 40_000, intervalMs: 100, what: "the killed node listed not responding everywhere" });
      console.log(
        `  no monitor: kill -9 → "not responding" at the 4 others ${Date.now() - killedAt} ms after the kill`,
      );
    } finally {
      await c.stop();
    }
  },
});

/** Loads a node's status page in headless Chromium and checks it shows one row per node. */
async function pageShowsRows(url: string, addresses: string[]): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 520 } });
    await withTimeout(page.goto(`${url}/`), 30_000, "the node's status page");
    const rows = await page.locator("table.nodes tbody tr").evaluateAll((trs) =>
      trs.map((tr) => (tr as HTMLElement).dataset.node)
    );
    assert.deepEqual(rows.slice().sort(), [...addresses].sort(), "one row per node");
    const title = await page.title();
    assert.match(title, /answered by 127\.0\.0\.1:\d+/, "the page says which node answered");
    await Deno.mkdir("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/fleet-node-page.png", fullPage: true });
    console.log(`  Chromium: ${url}/ shows ${rows.length} rows ("${title}")`);
  } finally {
    await browser.close();
  }
}
