/**
 * Acceptance 1 with real processes: a 5-node local cluster and the monitor
 * (`kvstore monitor`, real UDP and HTTP, reports signed with the cluster key).
 * Within 2 rounds all 5 appear with their stats; a killed node shows as not
 * responding after K rounds, on the page and in the API.
 */
import assert from "node:assert/strict";
import { RoleProcess } from "../../lib/roles/process_launcher.ts";
import { ProcessCluster } from "../support/process_cluster.ts";
import { waitUntil } from "../support/real_time.ts";
import { KEY_HEX } from "./signed_reports.ts";

const K = 3;
const INTERVAL_MS = 500;

function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface ApiNode {
  id: string;
  state: string;
  stats: Record<string, { value: number | string }>;
  probe?: { result: string };
}

Deno.test("5 real nodes + monitor: all appear within 2 rounds; a killed node is not responding after K rounds", async () => {
  const httpPort = freeTcpPort();
  const base = `http://127.0.0.1:${httpPort}`;
  const c = await ProcessCluster.create({
    size: 5,
    name: "acceptance",
    clusterKeys: [KEY_HEX],
    monitor: { url: base },
    dirPrefix: "kvstore-monitor-",
  });
  const ports = c.ports;
  let monitor: RoleProcess | undefined;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(base + path);
    assert.equal(res.status, 200, path);
    return await res.json() as T;
  };
  const roundIndex = async () => (await api<{ current: { index: number } | null }>("/api/rounds")).current?.index ?? 0;
  const nodes = async () => (await api<{ nodes: ApiNode[] }>("/api/nodes")).nodes;
  try {
    monitor = new RoleProcess("monitor", "monitor", [
      "--config",
      c.fleetFile,
      "--interval",
      `${INTERVAL_MS}ms`,
      "--not-responding-rounds",
      String(K),
    ]);
    await monitor.waitFor(/kvstore monitor listening on http:\/\/127\.0\.0\.1:\d+ .*signed/);
    for (const a of c.addresses) await c.startNode(a);

    // Within 2 rounds of the last node being up, all 5 have reported their stats.
    const upAt = await roundIndex();
    await waitUntil(async () => {
      const ns = await nodes();
      return ns.length === 5 && ns.every((n) => n.state === "ok" && typeof n.stats.keys?.value === "number");
    }, { timeoutMs: 20 * INTERVAL_MS, what: "all 5 nodes reporting" });
    const seenAt = await roundIndex();
    assert.ok(seenAt - upAt <= 2, `all 5 appeared in round ${seenAt}, last node up in round ${upAt}`);
    for (const n of await nodes()) {
      for (const stat of ["uptime", "version", "keys", "bytes_stored", "capacity", "rps", "errors", "rss", "load_1m"]) {
        assert.ok(n.stats[stat] !== undefined, `${n.id} reports ${stat}`);
      }
      assert.equal(n.stats.version.value, "0.1.0");
    }
    const page = await (await fetch(base + "/")).text();
    for (const p of ports) assert.match(page, new RegExp(`<tr data-node="127.0.0.1:${p}"`));

    // Kill one node: after K rounds it is "not responding" on the page and in the API.
    const victim = `127.0.0.1:${ports[2]}`;
    await c.kill(victim);
    const killedAt = await roundIndex();
    await waitUntil(async () => (await nodes()).find((n) => n.id === victim)?.state === "not_responding", {
      timeoutMs: (K + 6) * INTERVAL_MS,
      what: `${victim} shown as not responding`,
    });
    const shownAt = await roundIndex();
    // Not before K silent rounds, unless its peers declared it dead first (then at once, with that reason).
    const shown = (await nodes()).find((n) => n.id === victim) as unknown as { departure?: { state: string } };
    assert.ok(
      shownAt - killedAt >= K || shown.departure?.state === "dead",
      `not responding after ${shownAt - killedAt} rounds, before K = ${K}, without its peers declaring it dead`,
    );
    assert.ok(shownAt - killedAt <= K + 2, `shown ${shownAt - killedAt} rounds after the kill`);
    const others = (await nodes()).filter((n) => n.id !== victim);
    assert.ok(others.every((n) => n.state === "ok" || n.state === "late"), "the other four still respond");
    const html = await (await fetch(base + "/")).text();
    const row = new RegExp(
      `<tr data-node="${
        victim.replace(/\./g, "\\.")
      }" data-state="not_responding" class="sev4 down stale"><td data-col="status"[^>]*><span class="pill not_responding"[^>]*>not responding</span>`,
    );
    assert.match(html, row);
    // The probe finds the host up (TCP refused) but the node's UDP port silent.
    await waitUntil(async () => (await api<ApiNode>(`/api/nodes/${victim}`)).probe?.result === "port_closed", {
      timeoutMs: 10 * INTERVAL_MS,
      what: "probe result",
    });
    const metrics = await (await fetch(base + "/metrics")).text();
    assert.match(metrics, new RegExp(`^kvstore_node_up\\{node="${victim}"\\} 0$`, "m"));
    assert.match(metrics, new RegExp(`^kvstore_node_up\\{node="127.0.0.1:${ports[0]}"\\} 1$`, "m"));
  } finally {
    await monitor?.stop("SIGKILL");
    await c.close();
  }
});
