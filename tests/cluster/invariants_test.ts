/**
 * Invariants stay on in production (issue 25): `assert` counts and throws; a request whose
 * invariant breaks fails with 0x04 and the node goes on; the count is the `assertions_failed` stat.
 */
import assert from "node:assert/strict";
import { assert as invariant, assertionsFailed, InvariantError, lastAssertionFailure } from "../../lib/base/assert.ts";
import { KVError } from "../../lib/client/errors.ts";
import type { RunningNode } from "../../lib/roles/start_node.ts";
import { ErrorCode } from "../../lib/wire/client_protocol.ts";
import { SimCluster } from "../support/sim_cluster.ts";
import type { Coordinator } from "../../lib/replication/coordinator.ts";
import { newReplicationStats } from "../../lib/replication/local_replica.ts";
import { encodeReplicaPutReply } from "../../lib/replication/replica_codec.ts";
import { WriteRequest } from "../../lib/replication/replicated_write.ts";

/** The node's stats as its reports carry them (every stats source merged). */
function statsOf(node: RunningNode): Record<string, { value: number | string }> {
  return Object.assign({}, ...node.stats.list().map((source) => source()));
}

Deno.test("assert: a holding invariant costs nothing; a broken one is counted, kept and thrown as InvariantError", () => {
  const before = assertionsFailed();
  invariant(1 < 2, "one below two");
  assert.equal(assertionsFailed(), before);
  assert.throws(
    () => invariant(2 < 1, "two below one"),
    (e) => e instanceof InvariantError && /two below one/.test(e.message),
  );
  assert.equal(assertionsFailed(), before + 1);
  assert.equal(lastAssertionFailure(), "two below one");
});

Deno.test("a write or read whose W or R bound breaks fails with 0x04, counted in assertions_failed; the node goes on", async () => {
  const c = await SimCluster.start(3, { seed: 25, converge: { limitMs: 30_000 } });
  try {
    const [a] = c.addresses();
    const node = c.node(a);
    const config = node.cluster.replication!.config as { w: number; r: number };
    const client = c.client(a);
    await c.run(client.put("k", "v1"));
    const before = Number(statsOf(node).assertions_failed.value);
    assert.equal(before, assertionsFailed());
    // A bug that made W zero: the write must not "succeed" with no ack; the request fails instead.
    const w = config.w;
    config.w = 0;
    await assert.rejects(
      c.run(client.put("k", "v2")),
      (e) => e instanceof KVError && e.code === ErrorCode.InternalFailure,
    );
    config.w = w;
    assert.equal(lastAssertionFailure(), "1 <= W <= owners of the key");
    const r = config.r;
    config.r = 0;
    await assert.rejects(c.run(client.get("k")), (e) => e instanceof KVError && e.code === ErrorCode.InternalFailure);
    config.r = r;
    assert.equal(lastAssertionFailure(), "1 <= R <= owners of the key");
    assert.equal(Number(statsOf(node).assertions_failed.value), before + 2, "both counted in the node's stats");
    // The node still serves, and the failed write changed nothing.
    assert.equal(new TextDecoder().decode(await c.run(client.get("k")) ?? undefined), "v1");
    await c.run(client.put("k", "v3"));
    assert.equal(new TextDecoder().decode(await c.run(client.get("k")) ?? undefined), "v3");
  } finally {
    c.close();
  }
});

Deno.test("a write whose step throws inside a replica's reply resolves once, with 0x04; later replies change nothing", async () => {
  const callbacks = new Map<string, (reply: Uint8Array | undefined) => void>();
  const stats = newReplicationStats();
  const coordinator = {
    deps: {
      self: "a:1",
      rpc: {
        request: (to: string, _c: number, _p: unknown, _o: unknown, cb: (r?: Uint8Array) => void) =>
          callbacks.set(to, cb),
      },
      store: { getEntry: () => undefined },
      replica: {
        apply: () => invariant(false, "planted: the local apply breaks an invariant"),
        remove: () => invariant(false, "planted"),
      },
      config: { w: 2 },
      stats,
    },
    callOptions: { timeoutMs: 100, retries: 0 },
    handoff: { record: () => {} },
    closed: () => false,
    standInsAt: () => ["a:1"], // this node stands in: its apply throws
    write: () => Promise.reject(new Error("no reissue here")),
  } as unknown as Coordinator;
  const entry = { value: Uint8Array.of(1), version: { t: 1, n: "a" }, tombstone: false };
  const result = new WriteRequest(coordinator, new Uint8Array(32), entry, false, true, 0, ["b:1", "c:1"]).run();
  assert.ok(result instanceof Promise);
  const before = assertionsFailed();
  callbacks.get("b:1")!(undefined); // b times out; the stand-in's apply throws inside the callback
  assert.equal(assertionsFailed(), before + 1);
  callbacks.get("c:1")!(encodeReplicaPutReply("ok", false)); // a late ack: no second resolution, no throw
  assert.deepEqual(await result, { code: ErrorCode.InternalFailure });
  assert.equal(stats.writesFailed, 1);
  assert.equal(stats.writesOk, 0);
  assert.equal(stats.pendingReplicaWrites, 0);
});
