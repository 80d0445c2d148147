/**
 * Membership over real UDP between real node processes: a fleet file of 3,
 * a 4th host that joins with only `--seed`, a SIGKILLed node, a SIGTERMed (leaving) node.
 */
import { newClusterKey } from "../../lib/wire/fleet_auth.ts";
import assert from "node:assert/strict";
import { KVClient } from "../../lib/client/client.ts";
import { freeUdpPorts, type RoleProcess, startNodeProcess } from "../../lib/roles/process_launcher.ts";

/** LAN detection bound for a small cluster (min suspicion 4 s + probe and gossip delays). */
const DETECT_MS = 15_000;
/** Startup convergence bound (processes start one after the other on a busy box). */
const CONVERGE_MS = 20_000;

async function countOf(client: KVClient): Promise<number> {
  try {
    return await client.membershipCount();
  } catch {
    return -1;
  }
}

/** Polls until every client reports `n`; returns the elapsed ms, or -1 after `limitMs`. */
async function until(clients: KVClient[], n: number, limitMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    const counts = await Promise.all(clients.map(countOf));
    if (counts.every((c) => c === n)) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  return -1;
}

Deno.test("real UDP: 3 fleet nodes + 1 joined by --seed converge; SIGKILL is detected, SIGTERM leaves", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-membership-" });
  const ports = freeUdpPorts(4);
  const fleet = `${dir}/nodes.yaml`;
  const clusterKey = newClusterKey();
  await Deno.writeTextFile(
    fleet,
    `clusterKey: "${clusterKey}"\nnodes:\n${ports.slice(0, 3).map((p) => `  - 127.0.0.1:${p}\n`).join("")}`,
  );
  // The newcomer's own file: the cluster key and itself only (it is in nobody's fleet file).
  const newcomerFleet = `${dir}/newcomer.yaml`;
  await Deno.writeTextFile(newcomerFleet, `clusterKey: "${clusterKey}"\nnodes:\n  - 127.0.0.1:${ports[3]}\n`);
  const procs: RoleProcess[] = [];
  const clients: KVClient[] = [];
  try {
    for (const p of ports.slice(0, 3)) procs.push(await startNodeProcess(p, ["--config", fleet]));
    for (const p of ports.slice(0, 3)) clients.push(await KVClient.connect(`127.0.0.1:${p}`));
    const three = await until(clients, 3, CONVERGE_MS);
    console.log(`  measured: 3 processes agree on 3 members ${three} ms after the last started`);
    assert.ok(three >= 0, "the fleet nodes did not converge to 3 members");

    // A host that is in nobody's fleet file joins through one seed.
    procs.push(await startNodeProcess(ports[3], ["--config", newcomerFleet, "--seed", `127.0.0.1:${ports[1]}`]));
    clients.push(await KVClient.connect(`127.0.0.1:${ports[3]}`));
    const four = await until(clients, 4, CONVERGE_MS);
    console.log(`  measured: the --seed newcomer is counted by all 4 in ${four} ms`);
    assert.ok(four >= 0, "the --seed newcomer was not accepted by everyone");

    await procs[2].stop("SIGKILL");
    const alive = [clients[0], clients[1], clients[3]];
    const dropped = await until(alive, 3, DETECT_MS + 10_000);
    console.log(`  measured: SIGKILLed node dropped by all in ${dropped} ms (bound ${DETECT_MS} ms)`);
    assert.ok(dropped >= 0 && dropped <= DETECT_MS, `detection took ${dropped} ms`);

    // SIGTERM is a graceful leave: no suspicion period.
    await procs[3].stop("SIGTERM");
    const left = await until([clients[0], clients[1]], 2, 5_000);
    console.log(`  measured: SIGTERMed node dropped by all in ${left} ms`);
    assert.ok(left >= 0 && left <= 2_000, `graceful leave took ${left} ms`);
  } finally {
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
    await Deno.remove(dir, { recursive: true });
  }
});
