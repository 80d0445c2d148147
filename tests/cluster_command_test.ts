/**
 * `kvstore cluster` as a real process: one node shut down through the protocol
 * (0x04) is reported and the rest keep running; SIGINT then stops every child
 * process and the command exits 0. A rolling restart (kvctl run --restart)
 * leaves every node a child of the cluster command, so SIGINT still stops all.
 */
import { defaultInternalPort } from "../lib/net/internal_address.ts";
import assert from "node:assert/strict";
import { KVClient } from "../lib/client/client.ts";
import { WatchedProcess } from "../lib/base/watched_process.ts";
import { permissionFlags } from "../lib/roles/process_launcher.ts";
import { kvctl } from "./support/child_processes.ts";
import { withTimeout } from "./support/real_time.ts";
import { makeKeys } from "./admin/admin_keys.ts";

/** Permission flags of `deno task cluster`: its set in deno.json. */
const CLUSTER_PERMISSIONS = permissionFlags("cluster");
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const NODES = 3;
const CLIENT_OPTIONS = { timeoutMs: 200, retries: 5 };

/**
 * A base port with `count` consecutive free UDP ports, drawn below the kernel's
 * ephemeral range (32768+), where the other process tests get their ports from
 * the OS: so neither side can take the other's. Their internal ports (+ 10000)
 * must be free too.
 */
function consecutiveFreeUdpPorts(count: number): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * (22_000 - 12_000));
    const held: Deno.DatagramConn[] = [];
    try {
      for (let i = 0; i < count; i++) {
        for (const port of [base + i, defaultInternalPort(base + i)]) {
          held.push(Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }));
        }
      }
      return base;
    } catch {
      // one of them is taken: draw again
    } finally {
      for (const c of held) c.close();
    }
  }
  throw new Error(`no ${count} consecutive free UDP ports found`);
}

function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** State and parent pid of `pid` from /proc, or null if there is no such process. */
function procStat(pid: number): { state: string; ppid: number } | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // "pid (comm) state ppid …"; comm may hold spaces and parentheses.
  const [state, ppid] = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state, ppid: Number(ppid) };
}

/** Whether `pid` is a live process (a zombie has exited: it only waits to be reaped). */
function isRunning(pid: number): boolean {
  const s = procStat(pid);
  return s !== null && s.state !== "Z";
}

/** Pids of the live direct children of `parent`. */
function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const s = procStat(Number(e.name));
    if (s && s.ppid === parent && s.state !== "Z") pids.push(Number(e.name));
  }
  return pids;
}

/** `deno task cluster` of NODES nodes from port `base`, its files in `dir`, with `extra` options. */
function startCluster(base: number, dir: string, extra: string[]): WatchedProcess {
  const args = ["cluster", "--nodes", String(NODES), "--base-port", String(base), "--dir", dir, ...extra];
  return WatchedProcess.deno("cluster", [...CLUSTER_PERMISSIONS, MAIN, ...args]);
}

Deno.test("cluster command: a node shut down over the protocol leaves the others running; SIGINT stops all and exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-cluster-cmd-" });
  const base = consecutiveFreeUdpPorts(NODES);
  const addresses = Array.from({ length: NODES }, (_, i) => `127.0.0.1:${base + i}`);
  const cluster = startCluster(base, dir, ["--monitor-port", String(freeTcpPort())]);
  let exitStatus: Deno.CommandStatus | undefined;
  const exited = cluster.exited().then((s) => exitStatus = s);
  const clients: KVClient[] = [];
  let children: number[] = [];
  try {
    await cluster.waitFor(new RegExp(`^${NODES} nodes running`), 60_000);
    children = childPids(cluster.child.pid);
    for (const a of addresses) clients.push(await KVClient.connect(a, CLIENT_OPTIONS));
    const nodePids = await Promise.all(clients.map((c) => c.pid()));
    for (const pid of nodePids) assert.ok(children.includes(pid), `node pid ${pid} is a child of the cluster process`);
    assert.equal(children.length, NODES + 1, `${NODES} nodes and the monitor: ${children.join(", ")}`);

    // (a) Shut one node down (0x04): it exits at once; the cluster says so and keeps the others.
    const victim = 1;
    await clients[victim].shutdown();
    const line = await cluster.waitFor(new RegExp(`node ${addresses[victim].replaceAll(".", "\\.")} exited`), 15_000);
    assert.match(line, new RegExp(`exited \\(code 0\\); ${NODES - 1} nodes still running$`));
    assert.equal(isRunning(nodePids[victim]), false, `node pid ${nodePids[victim]} has exited and been reaped`);
    for (const [i, c] of clients.entries()) {
      if (i !== victim) assert.equal(await c.isAlive(), true, `${addresses[i]} still answers is-alive`);
    }
    assert.equal(exitStatus, undefined, `the cluster process still runs; output:\n${cluster.output.join("\n")}`);
    assert.ok(isRunning(cluster.child.pid));

    // (b) SIGINT: every child is stopped and the command exits 0.
    cluster.kill("SIGINT");
    const status = await withTimeout(exited, 20_000, "cluster exit after SIGINT");
    assert.equal(status.code, 0, `exit code; output:\n${cluster.output.join("\n")}`);
    const left = children.filter(isRunning);
    assert.deepEqual(left, [], `child processes left running: ${left.join(", ")}`);
  } finally {
    for (const c of clients) c.close();
    cluster.kill("SIGKILL");
    await exited;
    for (const pid of children.filter(isRunning)) {
      try {
        Deno.kill(pid, "SIGKILL"); // orphans of a failed run must not outlive the test
      } catch { /* already gone */ }
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cluster command --durable: the whole fleet stopped and started again still serves every acknowledged key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-cluster-durable-" });
  const base = consecutiveFreeUdpPorts(NODES);
  const start = () => startCluster(base, dir, ["--monitor-port", "0", "--durable"]);
  const keys = Array.from({ length: 200 }, (_, i) => `durable-${i}`);
  let cluster = start();
  try {
    await cluster.waitFor(new RegExp(`^${NODES} nodes running`), 60_000);
    const writer = await KVClient.connect(`127.0.0.1:${base}`, CLIENT_OPTIONS);
    try {
      for (const k of keys) await writer.put(k, `value of ${k}`);
    } finally {
      writer.close();
    }
    cluster.kill("SIGINT");
    assert.equal((await withTimeout(cluster.exited(), 20_000, "first cluster exit")).code, 0);
    cluster = start();
    await cluster.waitFor(new RegExp(`^${NODES} nodes running`), 60_000);
    const reader = await KVClient.connect(`127.0.0.1:${base + NODES - 1}`, CLIENT_OPTIONS);
    try {
      const lost: string[] = [];
      for (const k of keys) {
        try {
          assert.equal(new TextDecoder().decode(await reader.get(k)), `value of ${k}`);
        } catch (e) {
          lost.push(`${k}: ${(e as Error).message}`);
        }
      }
      assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${keys.length} keys lost across the fleet restart`);
    } finally {
      reader.close();
    }
    cluster.kill("SIGINT");
    assert.equal((await withTimeout(cluster.exited(), 20_000, "second cluster exit")).code, 0);
  } finally {
    cluster.kill("SIGKILL");
    await cluster.exited();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A rolling restart under `deno task cluster` (durable nodes keep their SQLite files across it). */
async function rollUnderCluster(durable: boolean): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-cluster-roll-" });
  const base = consecutiveFreeUdpPorts(NODES);
  const addresses = Array.from({ length: NODES }, (_, i) => `127.0.0.1:${base + i}`);
  const keys = await makeKeys();
  await Deno.writeTextFile(`${dir}/admin.key`, keys.file);
  await Deno.writeTextFile(`${dir}/admin.key.pub`, `${keys.publicKey}\n`);
  const cluster = startCluster(base, dir, [
    "--monitor-port",
    String(freeTcpPort()),
    "--allow-run",
    ...(durable ? ["--durable"] : []),
  ]);
  const exited = cluster.exited();
  const clients: KVClient[] = [];
  const seen = new Set<number>();
  try {
    await cluster.waitFor(new RegExp(`^${NODES} nodes running`), 60_000);
    for (const a of addresses) clients.push(await KVClient.connect(a, CLIENT_OPTIONS));
    const before = await Promise.all(clients.map((c) => c.pid()));
    for (const p of [...before, ...childPids(cluster.child.pid)]) seen.add(p); // the monitor too
    await clients[0].put("kept", "across the rollout");
    await Deno.writeTextFile(`${dir}/noop.sh`, "echo restarting\n");
    const out = await kvctl(
      ["run", `${dir}/noop.sh`, "--restart", "--wait", "--config", `${dir}/nodes.yaml`, "--key", `${dir}/admin.key`],
      { limitMs: 120_000 },
    );
    assert.equal(out.code, 0, out.stderr + out.stdout);
    assert.match(out.stdout, new RegExp(`rollout done: ${NODES} of ${NODES} nodes restarted`));
    const after = await Promise.all(clients.map((c) => c.pid()));
    for (const p of after) seen.add(p);
    const children = childPids(cluster.child.pid);
    after.forEach((p, i) => {
      assert.notEqual(p, before[i], `${addresses[i]} restarted`);
      assert.ok(children.includes(p), `the new process ${p} of ${addresses[i]} is a child of the cluster command`);
    });
    for (const p of before) assert.equal(isRunning(p), false, `old process ${p} has exited`);
    assert.equal(new TextDecoder().decode(await clients[2].get("kept")), "across the rollout");
    for (const a of addresses) {
      assert.ok(cluster.output.some((l) => l.startsWith(`node ${a} restarted in place`)), `the cluster reports ${a}`);
    }
    cluster.kill("SIGINT");
    const status = await withTimeout(exited, 20_000, "cluster exit after SIGINT");
    assert.equal(status.code, 0, `exit code; output:\n${cluster.output.join("\n")}`);
    const left = [...seen].filter(isRunning);
    assert.deepEqual(left, [], `processes left running after SIGINT: ${left.join(", ")}`);
  } finally {
    for (const c of clients) c.close();
    cluster.kill("SIGKILL");
    await exited;
    for (const pid of [...seen].filter(isRunning)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cluster command: after a rolling restart every node is still its child; SIGINT leaves no node running", async () => {
  await rollUnderCluster(false);
});

Deno.test("cluster command --durable: a rolling restart hands each data dir to the new process; nothing lost", async () => {
  await rollUnderCluster(true);
});
