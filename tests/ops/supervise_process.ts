/**
 * `kvstore cluster` supervises its monitor (issue 21): after `kill -9` of the monitor a new one
 * serves the page within 5 s, shows the restart, and (with --durable, so with a data dir) keeps
 * its history. Prints the time to the page.
 */
import { freeTcpPort, freeUdpRange } from "../support/cluster_dir.ts";
import assert from "node:assert/strict";
import { WatchedProcess } from "../../lib/base/watched_process.ts";
import { permissionFlags } from "../../lib/roles/process_launcher.ts";
import { waitUntil, withTimeout } from "../support/real_time.ts";
import { SNAPSHOT_FILE } from "../../lib/monitoring/server/persist.ts";
import { pidsMentioning } from "../support/child_processes.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** Longest time from kill -9 to a page from the new monitor (the acceptance). */
const RESTART_WITHIN_MS = 5_000;

async function get(url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return { status: res.status, text: await res.text() };
  } catch (e) {
    return { status: 0, text: (e as Error).message };
  }
}

/** The monitor's pid: the child of the cluster command run with the monitor role and the cluster's data dir. */
function monitorPid(dir: string): number | undefined {
  return pidsMentioning(`${dir}/monitor`).find((pid) =>
    Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").includes("monitor")
  );
}

Deno.test("cluster: kill -9 of the monitor: a new one serves the page within 5 s, keeps its history, shows the restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-supervise-" });
  const port = freeTcpPort();
  const url = `http://127.0.0.1:${port}`;
  const args = ["cluster", "--nodes", "2", "--base-port", String(freeUdpRange(2)), "--dir", dir, "--durable"];
  const cluster = WatchedProcess.deno("cluster", [
    ...permissionFlags("cluster"),
    MAIN,
    ...args,
    "--monitor-port",
    String(port),
  ]);
  const exited = cluster.exited();
  try {
    await cluster.waitFor(/^2 nodes running/, 60_000);
    // The history is saved every 10 s with --durable: wait for a save, and remember its rounds.
    await waitUntil(() => Deno.stat(`${dir}/monitor/${SNAPSHOT_FILE}`).then(() => true, () => false), {
      timeoutMs: 30_000,
      what: "the monitor's first history save",
    });
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/monitor/${SNAPSHOT_FILE}`));
    const savedRounds: number[] = saved.rounds.map((r: { index: number }) => r.index);
    assert.ok(savedRounds.length > 0, "the saved history has rounds");
    const before = await get(url + "/");
    assert.equal(before.status, 200);
    assert.match(before.text, /restarts 0/);

    const pid = monitorPid(dir);
    assert.ok(pid, "the monitor process");
    const t0 = performance.now();
    Deno.kill(pid, "SIGKILL");
    await waitUntil(async () => {
      const r = await get(url + "/");
      return r.status === 200 && monitorPid(dir) !== pid && /restarts 1/.test(r.text);
    }, { timeoutMs: 15_000, intervalMs: 50, what: "a page from the restarted monitor" });
    const tookMs = performance.now() - t0;
    const rounds = await get(url + "/api/rounds?limit=360");
    const indexes: number[] = JSON.parse(rounds.text).rounds.map((r: { index: number }) => r.index);
    const kept = savedRounds.filter((i) => indexes.includes(i)).length;
    console.log(
      `monitor kill -9 → page from the new one in ${
        Math.round(tookMs)
      } ms; ${kept} of ${savedRounds.length} saved rounds kept; ` +
        `cluster said: ${cluster.output.filter((l) => l.includes("monitor")).slice(-2).join(" / ")}`,
    );
    assert.ok(tookMs < RESTART_WITHIN_MS, `the page came back after ${tookMs} ms`);
    assert.equal(kept, savedRounds.length, "the rounds saved before the kill are shown after it");
    assert.ok(
      cluster.output.some((l) => /monitor exited \(signal SIGKILL\).*restart 1/.test(l)),
      "the cluster logs it",
    );

    cluster.kill("SIGINT");
    assert.equal((await withTimeout(exited, 20_000, "cluster exit after SIGINT")).code, 0);
    assert.equal(monitorPid(dir), undefined, "no monitor left running");
  } finally {
    cluster.kill("SIGKILL");
    await exited;
    for (const p of pidsMentioning(dir)) {
      try {
        Deno.kill(p, "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(dir, { recursive: true });
  }
});
