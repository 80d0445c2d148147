/**
 * Acceptance tests with real node processes on loopback UDP (real SWIM membership).
 */
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { newClusterKey } from "../../lib/wire/fleet_auth.ts";
import assert from "node:assert/strict";
import { KVClient } from "../../lib/client/client.ts";
import { freeUdpPorts, type RoleProcess, startNodeProcess } from "../../lib/roles/process_launcher.ts";
import { ClusterDebugClient } from "../../lib/replication/debug_queries.ts";
import { keyPositionHex, Ring } from "../../lib/replication/ring.ts";
import { DEFAULT_REPLICATION_CONFIG } from "../../lib/replication/replication_config.ts";
import { toHex } from "../../lib/base/bytes.ts";
import { toKey } from "../../lib/client/keys.ts";
import { exitsWithin } from "../child_processes.ts";

const dec = new TextDecoder();

/** Nodes of one test, stopped (SIGKILL) and awaited on cleanup. */
class ProcessCluster {
  readonly procs = new Map<string, RoleProcess>();
  readonly clients = new Map<string, KVClient>();
  dir = "";
  fleet = "";
  readonly clusterKey = newClusterKey();

  static async create(seeds: string[]): Promise<ProcessCluster> {
    const c = new ProcessCluster();
    c.dir = await Deno.makeTempDir({ prefix: "kvstore-repl-" });
    c.fleet = `${c.dir}/nodes.yaml`;
    await Deno.writeTextFile(
      c.fleet,
      `name: replication-test\nclusterKey: "${c.clusterKey}"\nnodes:\n${seeds.map((a) => `  - ${a}\n`).join("")}`,
    );
    return c;
  }

  /** A debug client holding the cluster key (nodes answer nothing without it). */
  debugClient(): Promise<ClusterDebugClient> {
    return ClusterDebugClient.open("127.0.0.1", ClusterKeyring.fromHex([this.clusterKey]));
  }

  async start(address: string, extra: string[] = []): Promise<void> {
    const port = Number(address.split(":")[1]);
    this.procs.set(address, await startNodeProcess(port, ["--config", this.fleet, ...extra], { name: `node:${port}` }));
  }

  async client(address: string): Promise<KVClient> {
    let c = this.clients.get(address);
    if (!c) this.clients.set(address, c = await KVClient.connect(address, { retries: 5 }));
    return c;
  }

  async kill(address: string): Promise<void> {
    await this.procs.get(address)?.stop("SIGKILL");
    this.procs.delete(address);
    this.clients.get(address)?.close();
    this.clients.delete(address);
  }

  /** Waits until every listed node reports `count` members. */
  async waitMembers(addresses: string[], count: number, timeoutMs = 60_000): Promise<number> {
    const start = Date.now();
    for (;;) {
      const counts = await Promise.all(addresses.map(async (a) => {
        try {
          return await (await this.client(a)).membershipCount();
        } catch {
          return -1;
        }
      }));
      if (counts.every((n) => n === count)) return Date.now() - start;
      if (Date.now() - start > timeoutMs) throw new Error(`membership counts ${counts}, expected ${count}`);
      await delay(250);
    }
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    await Promise.all([...this.procs.values()].map((p) => p.stop("SIGKILL")));
    this.procs.clear();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `fn(0..count-1)` with at most `window` calls in flight. */
async function windowed(count: number, window: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/**
 * Polls the debug query of every node until no replica write is pending and no stand-in holds a
 * hint (under load a replica write can time out and land on a stand-in, which hands it back).
 */
async function waitReplicated(dbg: ClusterDebugClient, addresses: string[], timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const stats = await Promise.all(addresses.map((a) => dbg.stats(a)));
    const pending = stats.map((s) => `${s.pendingReplicaWrites}/${s.hints}`);
    if (stats.every((s) => s.pendingReplicaWrites === 0 && s.hints === 0)) return;
    if (Date.now() - start > timeoutMs) throw new Error(`replica writes/hints still pending: ${pending}`);
    await delay(100);
  }
}

/** Placement errors: keys not held exactly by their N owners under the ring of `members`. */
async function placementErrors(dbg: ClusterDebugClient, members: string[], keys: string[]): Promise<string[]> {
  const ring = new Ring(members, DEFAULT_REPLICATION_CONFIG.virtualNodes);
  const holders = new Map<string, string[]>();
  for (const a of members) {
    for (const k of await dbg.keys(a)) {
      let h = holders.get(k.key);
      if (!h) holders.set(k.key, h = []);
      h.push(a);
    }
  }
  const errors: string[] = [];
  const n = Math.min(DEFAULT_REPLICATION_CONFIG.n, members.length);
  for (const k of new Set([...keys, ...holders.keys()])) {
    const owners = [...ring.preferenceListAt(keyPositionHex(k), n)].sort().join();
    const held = (holders.get(k) ?? []).sort().join();
    if (owners !== held) errors.push(`${k.slice(0, 12)}: owners ${owners} held by ${held}`);
  }
  return errors;
}

const value = (i: number) => `value-${i}-${"x".repeat(i % 200)}`;

Deno.test({
  name: "5 processes: 5,000 keys survive kill -9 of 2 nodes; after restart + 2 joins every key is on exactly N nodes",
  sanitizeResources: true,
  fn: async () => {
    const ports = freeUdpPorts(7);
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    const first = addresses.slice(0, 5);
    const cluster = await ProcessCluster.create(first);
    const dbg = await cluster.debugClient();
    try {
      await Promise.all(first.map((a) => cluster.start(a)));
      await cluster.waitMembers(first, 5);
      const clients = await Promise.all(first.map((a) => cluster.client(a)));
      const COUNT = 5_000;
      const names = Array.from({ length: COUNT }, (_, i) => `key-${i}`);
      let t0 = Date.now();
      await windowed(COUNT, 64, (i) => clients[Math.floor(Math.random() * clients.length)].put(names[i], value(i)));
      console.log(`wrote ${COUNT} keys through random nodes in ${Date.now() - t0} ms`);
      await waitReplicated(dbg, first);
      // kill -9 any 2 nodes
      const victims = [...first].sort(() => Math.random() - 0.5).slice(0, 2);
      const survivors = first.filter((a) => !victims.includes(a));
      for (const v of victims) await cluster.kill(v);
      const survivorClients = await Promise.all(survivors.map((a) => cluster.client(a)));
      const readAll = async (when: string) => {
        const t0 = Date.now();
        const lost: string[] = [];
        await windowed(COUNT, 32, async (i) => {
          const c = survivorClients[Math.floor(Math.random() * survivorClients.length)];
          try {
            if (dec.decode(await c.get(names[i])) !== value(i)) lost.push(names[i]);
          } catch (e) {
            lost.push(`${names[i]} (${(e as Error).name})`);
          }
        });
        console.log(`${when}: read ${COUNT} keys through survivors in ${Date.now() - t0} ms: ${lost.length} lost`);
        assert.deepEqual(lost.slice(0, 10), [], `${when}: ${lost.length} keys lost`);
      };
      await readAll(`killed ${victims}, during failure detection`);
      // Again right after the survivors drop the dead from their rings: the new owners are
      // still empty until repair moves the keys, so a read must find the owner that has it.
      const detected = await cluster.waitMembers(survivors, 3);
      await readAll(`${detected} ms later, right after the ring change`);
      // Restart the two victims (empty: no data dir) and add two fresh nodes.
      const all = [...first, ...addresses.slice(5)];
      await Promise.all([...victims, ...addresses.slice(5)].map((a) => cluster.start(a)));
      const joined = await cluster.waitMembers(all, 7);
      t0 = Date.now();
      const hexKeys = names.map((n) => toHex(toKey(n)));
      let errors = await placementErrors(dbg, all, hexKeys);
      while (errors.length > 0 && Date.now() - t0 < 120_000) {
        await delay(1_000);
        errors = await placementErrors(dbg, all, hexKeys);
      }
      console.log(
        `7 members agreed ${joined} ms after the restarts; every key on exactly its ${DEFAULT_REPLICATION_CONFIG.n} ` +
          `owners ${Date.now() - t0} ms later (${errors.length} misplaced)`,
      );
      assert.deepEqual(errors.slice(0, 5), []);
      // And every key still reads back its value through a fresh node.
      const fresh = await cluster.client(addresses[6]);
      let bad = 0;
      await windowed(COUNT, 32, async (i) => {
        if (dec.decode(await fresh.get(names[i])) !== value(i)) bad++;
      });
      assert.equal(bad, 0);
    } finally {
      dbg.close();
      await cluster.close();
    }
  },
});

Deno.test("shutdown (0x04) of one of 4 processes: the others notice and keep serving every key", async () => {
  const ports = freeUdpPorts(4);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const cluster = await ProcessCluster.create(addresses);
  try {
    await Promise.all(addresses.map((a) => cluster.start(a)));
    await cluster.waitMembers(addresses, 4);
    const c0 = await cluster.client(addresses[0]);
    await windowed(500, 32, (i) => c0.put(`s-${i}`, `v-${i}`));
    const dbg = await cluster.debugClient();
    try {
      await waitReplicated(dbg, addresses);
    } finally {
      dbg.close();
    }
    const target = addresses[2];
    await (await cluster.client(target)).shutdown();
    const status = await exitsWithin(cluster.procs.get(target)!);
    assert.equal(status.code, 0);
    cluster.procs.delete(target);
    const rest = addresses.filter((a) => a !== target);
    const detected = await cluster.waitMembers(rest, 3);
    console.log(`shutdown detected by all 3 others within ${detected} ms`);
    const c1 = await cluster.client(rest[1]);
    let missing = 0;
    await windowed(500, 32, async (i) => {
      if (dec.decode(await c1.get(`s-${i}`)) !== `v-${i}`) missing++;
    });
    assert.equal(missing, 0);
    await c1.put("after-shutdown", "still writable");
    assert.equal(dec.decode(await (await cluster.client(rest[2])).get("after-shutdown")), "still writable");
  } finally {
    await cluster.close();
  }
});

Deno.test("5 durable processes: a node killed and restarted with its data receives only the writes it missed", async () => {
  const ports = freeUdpPorts(5);
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const cluster = await ProcessCluster.create(addresses);
  const dataDir = (a: string) => ["--data-dir", `${cluster.dir}/data-${a.split(":")[1]}`];
  const dbg = await cluster.debugClient();
  try {
    await Promise.all(addresses.map((a) => cluster.start(a, dataDir(a))));
    await cluster.waitMembers(addresses, 5);
    const c0 = await cluster.client(addresses[0]);
    await windowed(2_000, 32, (i) => c0.put(`before-${i}`, `v-${i}`));
    await waitReplicated(dbg, addresses);
    const victim = addresses[4];
    const held = (await dbg.stats(victim)).keys as number;
    await cluster.kill(victim);
    const MISSED = 300;
    await windowed(MISSED, 16, (i) => c0.put(`during-${i}`, `w-${i}`));
    await cluster.start(victim, dataDir(victim));
    await cluster.waitMembers(addresses, 5);
    await waitReplicated(dbg, addresses, 60_000);
    // Hints are handed over once the node is back; give one anti-entropy round on top.
    let s = await dbg.stats(victim);
    const deadline = Date.now() + 30_000;
    while ((s.keys as number) < held && Date.now() < deadline) {
      await delay(250);
      s = await dbg.stats(victim);
    }
    const received = (s.entriesReceived as number) + (s.antiEntropyFetched as number);
    console.log(
      `  restarted node: ${held} keys held before the kill, ${s.keys} after; received ${received} entries ` +
        `from peers for ${MISSED} writes made while it was down`,
    );
    assert.ok(received > 0, "it caught up on what it missed");
    assert.ok(received <= MISSED, `received ${received}: more than the ${MISSED} writes it missed`);
    const fresh = await cluster.client(victim);
    let bad = 0;
    await windowed(MISSED, 32, async (i) => {
      if (new TextDecoder().decode(await fresh.get(`during-${i}`)) !== `w-${i}`) bad++;
    });
    assert.equal(bad, 0);
  } finally {
    dbg.close();
    await cluster.close();
  }
});
