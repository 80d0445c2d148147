/**
 * Acceptance: a 2|3 partition of a simulated cluster (real SWIM membership and
 * replication, lib/testing/simulation.ts) with writes on both sides, then heal.
 */
import assert from "node:assert/strict";
import type { KVClient } from "../../lib/client/client.ts";
import type { RunningNode } from "../../lib/roles/start_node.ts";
import { ReplicatedExecutor } from "../../lib/replication/replicated_executor.ts";
import { keyPositionHex, Ring } from "../../lib/replication/ring.ts";
import { toHex } from "../../lib/base/bytes.ts";
import { toKey } from "../../lib/client/keys.ts";
import type { Executor } from "../../lib/node/executor.ts";
import { writeConflictingKeys } from "./replication_keys.ts";
import { SimCluster } from "../support/sim_cluster.ts";
import { compareVersions, type Version } from "../../lib/storage/hlc.ts";

const dec = new TextDecoder();

/** The replication executor of a running node (possibly wrapped by the membership counter). */
function replicationOf(n: RunningNode): ReplicatedExecutor {
  let e: Executor | undefined = n.node.executor;
  while (e && !(e instanceof ReplicatedExecutor)) e = (e as { inner?: Executor }).inner;
  if (!e) throw new Error(`no replication on ${n.node.address}`);
  return e;
}

Deno.test("partition 2|3 with writes on both sides, then heal: every key has its newest value on all its replicas", async () => {
  const sim = await SimCluster.start(5, {
    seed: 42,
    nodeOptions: { subsystemOptions: { replication: { antiEntropyIntervalMs: 5_000, handoffIntervalMs: 2_000 } } },
    // Requests run in 5 ms ticks from the first tick on; conditions are checked every 100 ms.
    time: { run: { settleFirst: false }, until: { stepMs: 100, tickMs: 5 } },
    converge: { limitMs: 30_000, what: "the 5 nodes to see each other" },
  });
  try {
    const nodes = [...sim.nodes.values()];
    const all = nodes.map((n) => n.node.address);
    const aliveEverywhere = (count: number, of = all) =>
      of.every((a) => sim.nodes.get(a)!.members.alive().length === count);
    const client = (to: string) => sim.client(to, { retries: 6 });
    // The minority (2 nodes) has the lower addresses, so neither "the majority wins" nor
    // "the higher address wins" can pass for the keys written last on the minority side.
    const left = all.slice(0, 2), right = all.slice(2);
    const lc = client(left[0]), rc = client(right[0]);
    const expected = new Map<string, string | null>();
    /** Version of the last acknowledged write of each key, as its own side stored it. */
    const lastVersion = new Map<string, Version>();
    /** Puts through `c` on `side` (rejects unless acknowledged) and records the version it was stored with. */
    const write = async (side: string[], c: KVClient, name: string, value: string) => {
      await sim.run(c.put(name, value));
      const versions = side.map((a) => sim.nodes.get(a)!.store.getEntry(toHex(toKey(name)))?.version)
        .filter((v) => v !== undefined);
      const v = versions.reduce((a, b) => compareVersions(a, b) >= 0 ? a : b);
      assert.equal(v.n, c.target, `${name}: the newest version on its side was not written by ${c.target}`);
      expected.set(name, value);
      lastVersion.set(name, v);
      return v;
    };
    for (let i = 0; i < 100; i++) {
      await sim.run((i % 2 ? lc : rc).put(`k-${i}`, `before-${i}`));
      expected.set(`k-${i}`, `before-${i}`);
    }
    sim.network.partition(left, right);
    // Each side soon believes the other dead and serves alone (effective N, W, R shrink on the 2-side).
    const split = await sim.until(() => aliveEverywhere(2, left) && aliveEverywhere(3, right), {
      limitMs: 60_000,
      what: "the sides to notice the partition",
    });
    // k-0..29 are written on both sides, one 5 ms tick apart; the minority side wins every third.
    const { minorityLast, majorityLast } = await writeConflictingKeys(
      (side, name, value) => side === "minority" ? write(left, lc, name, value) : write(right, rc, name, value),
      (ms) => sim.advance(ms),
      5,
    );
    for (let i = 0; i < 50; i++) {
      if (i >= 30 && i % 2 === 0) await write(left, lc, `k-${i}`, `left-${i}`); // k-30..48 even: minority side only
      await write(right, rc, `new-${i}`, `n-${i}`); // new-*: majority side only
    }
    await sim.run(lc.remove("k-99"));
    expected.set("k-99", null);
    sim.network.heal();
    const healedAt = sim.clock.now();
    await sim.until(() => aliveEverywhere(5), { limitMs: 120_000, what: "membership to merge after the heal" });
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
    const took = await sim.until(() => problems().length === 0, { limitMs: 180_000, failAtLimit: false });
    assert.deepEqual(problems().slice(0, 5), []);
    console.log(
      `partition 2|3: sides split after ${split} ms; after heal, membership merged and ${expected.size} keys ` +
        `(${minorityLast.length} conflicts won by the minority side, ${majorityLast.length} by the majority) ` +
        `converged on their replicas ${sim.clock.now() - healedAt} virtual ms after the heal (${took} ms after merge)`,
    );
    // Every client sees the last write, whichever side made it, through a node of either side.
    for (const reader of [client(all[1]), client(all[4])]) {
      for (const [name, want] of expected) {
        if (want === null) await assert.rejects(sim.run(reader.get(name)), { name: "KeyNotFoundError" });
        else assert.equal(dec.decode(await sim.run(reader.get(name))), want, name);
      }
    }
  } finally {
    sim.close();
  }
});
