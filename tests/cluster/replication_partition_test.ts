/**
 * Acceptance: a 2|3 partition of a simulated cluster (real SWIM membership and
 * replication, lib/testing/simulation.ts) with writes on both sides, then heal.
 */
import assert from "node:assert/strict";
import { KVClient } from "../../lib/client/client.ts";
import { Simulation } from "../../lib/testing/simulation.ts";
import type { RunningNode } from "../../lib/roles/start_node.ts";
import { ReplicatedExecutor } from "../../lib/replication/replicated_executor.ts";
import { keyPositionHex, Ring } from "../../lib/replication/ring.ts";
import { toHex } from "../../lib/base/bytes.ts";
import { toKey } from "../../lib/client/keys.ts";
import type { Executor } from "../../lib/node/executor.ts";
import { flush, writeConflictingKeys } from "./replication_helpers.ts";
import { compareVersions, type Version } from "../../lib/storage/hlc.ts";

const dec = new TextDecoder();

/** The replication executor of a running node (possibly wrapped by the membership counter). */
function replicationOf(n: RunningNode): ReplicatedExecutor {
  let e: Executor | undefined = n.node.executor;
  while (e && !(e instanceof ReplicatedExecutor)) e = (e as { inner?: Executor }).inner;
  if (!e) throw new Error(`no replication on ${n.node.address}`);
  return e;
}

async function advance(sim: Simulation, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 5) {
    sim.clock.advance(5);
    await flush();
  }
}

async function run<T>(sim: Simulation, p: Promise<T>, limitMs = 30_000): Promise<T> {
  let done = false;
  p.then(() => done = true, () => done = true);
  for (let t = 0; t < limitMs && !done; t += 5) {
    sim.clock.advance(5);
    await flush();
  }
  return await p;
}

async function until(sim: Simulation, predicate: () => boolean, limitMs: number): Promise<number> {
  const start = sim.clock.now();
  while (!predicate()) {
    if (sim.clock.now() - start > limitMs) return -1;
    await advance(sim, 100);
  }
  return sim.clock.now() - start;
}

Deno.test("partition 2|3 with writes on both sides, then heal: every key has its newest value on all its replicas", async () => {
  const sim = new Simulation({
    seed: 42,
    nodeOptions: { subsystemOptions: { replication: { antiEntropyIntervalMs: 5_000, handoffIntervalMs: 2_000 } } },
  });
  const clients: KVClient[] = [];
  try {
    const nodes = await sim.addNodes(5);
    const all = nodes.map((n) => n.node.address);
    const aliveEverywhere = (count: number, of = all) =>
      of.every((a) => sim.nodes.get(a)!.members.alive().length === count);
    assert.ok(await until(sim, () => aliveEverywhere(5), 30_000) >= 0, "the 5 nodes never saw each other");
    const client = (to: string) => {
      const c = new KVClient(
        sim.network.createTransport(`10.9.9.${clients.length + 1}:5000`),
        to,
        { retries: 6 },
        sim.clock,
      );
      clients.push(c);
      return c;
    };
    // The minority (2 nodes) has the lower addresses, so neither "the majority wins" nor
    // "the higher address wins" can pass for the keys written last on the minority side.
    const left = all.slice(0, 2), right = all.slice(2);
    const lc = client(left[0]), rc = client(right[0]);
    const expected = new Map<string, string | null>();
    /** Version of the last acknowledged write of each key, as its own side stored it. */
    const lastVersion = new Map<string, Version>();
    /** Puts through `c` on `side` (rejects unless acknowledged) and records the version it was stored with. */
    const write = async (side: string[], c: KVClient, name: string, value: string) => {
      await run(sim, c.put(name, value));
      const versions = side.map((a) => sim.nodes.get(a)!.store.getEntry(toHex(toKey(name)))?.version)
        .filter((v) => v !== undefined);
      const v = versions.reduce((a, b) => compareVersions(a, b) >= 0 ? a : b);
      assert.equal(v.n, c.target, `${name}: the newest version on its side was not written by ${c.target}`);
      expected.set(name, value);
      lastVersion.set(name, v);
      return v;
    };
    for (let i = 0; i < 100; i++) {
      await run(sim, (i % 2 ? lc : rc).put(`k-${i}`, `before-${i}`));
      expected.set(`k-${i}`, `before-${i}`);
    }
    sim.network.partition(left, right);
    // Each side soon believes the other dead and serves alone (effective N, W, R shrink on the 2-side).
    const split = await until(sim, () => aliveEverywhere(2, left) && aliveEverywhere(3, right), 60_000);
    assert.ok(split >= 0, "the sides never noticed the partition");
    // k-0..29 are written on both sides, 2 ms apart; the minority side wins every third.
    const { minorityLast, majorityLast } = await writeConflictingKeys(
      (side, name, value) => side === "minority" ? write(left, lc, name, value) : write(right, rc, name, value),
      (ms) => advance(sim, ms),
      2,
    );
    for (let i = 0; i < 50; i++) {
      if (i >= 30 && i % 2 === 0) await write(left, lc, `k-${i}`, `left-${i}`); // k-30..48 even: minority side only
      await write(right, rc, `new-${i}`, `n-${i}`); // new-*: majority side only
    }
    await run(sim, lc.remove("k-99"));
    expected.set("k-99", null);
    sim.network.heal();
    const healedAt = sim.clock.now();
    assert.ok(await until(sim, () => aliveEverywhere(5), 120_000) >= 0, "membership did not merge after heal");
    const ring = new Ring(all, replicationOf(nodes[0]).config.virtualNodes);
    const problems = () => {
      const out: string[] = [];
      for (const [name, want] of expected) {
        const k = toHex(toKey(name));
        const owners = [...ring.preferenceListAt(keyPositionHex(k), 3)].sort();
        const holders = all.filter((a) => sim.nodes.get(a)!.store.getEntry(k)).sort();
        if (want !== null && owners.join() !== holders.join()) out.push(`${name}: held by ${holders}`);
        const v = lastVersion.get(name);
        for (const h of holders) {
          const e = sim.nodes.get(h)!.store.getEntry(k)!;
          const got = e.tombstone ? null : dec.decode(e.value);
          if (got !== want) out.push(`${name} on ${h}: ${got} instead of ${want}`);
          if (v && compareVersions(e.version, v) !== 0) {
            out.push(`${name} on ${h}: version ${e.version.t}@${e.version.n} instead of ${v.t}@${v.n}`);
          }
        }
      }
      return out;
    };
    const took = await until(sim, () => problems().length === 0, 180_000);
    assert.deepEqual(problems().slice(0, 5), []);
    console.log(
      `partition 2|3: sides split after ${split} ms; after heal, membership merged and ${expected.size} keys ` +
        `(${minorityLast.length} conflicts won by the minority side, ${majorityLast.length} by the majority) ` +
        `converged on their replicas ${sim.clock.now() - healedAt} virtual ms after the heal (${took} ms after merge)`,
    );
    // Every client sees the last write, whichever side made it, through a node of either side.
    for (const reader of [client(all[1]), client(all[4])]) {
      for (const [name, want] of expected) {
        if (want === null) await assert.rejects(run(sim, reader.get(name)), { name: "KeyNotFoundError" });
        else assert.equal(dec.decode(await run(sim, reader.get(name))), want, name);
      }
    }
  } finally {
    for (const c of clients) c.close();
    sim.close();
  }
});
