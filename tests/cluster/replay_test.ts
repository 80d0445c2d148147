import assert from "node:assert/strict";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { ReplicaCommand } from "../../lib/replication/replica_protocol.ts";
import { newClusterKey } from "../../lib/wire/fleet_auth.ts";
import { readFrame } from "../../lib/wire/frame.ts";
import { hexOf } from "./replication_keys.ts";
import { addr, SimCluster } from "../support/sim_cluster.ts";

Deno.test("a replayed old replica write (authentic bytes, captured on the wire) never replaces a newer value", async () => {
  const keyring = ClusterKeyring.fromHex([newClusterKey()]);
  const c = new SimCluster({ replicas: { auth: keyring } });
  const nodes = [addr(0), addr(1), addr(2)];
  c.startReplicas(nodes);
  // Every datagram between the nodes, as an eavesdropper on the path would record it.
  const captured: { data: Uint8Array; from: string; to: string }[] = [];
  const deliver = c.network.deliver.bind(c.network);
  c.network.deliver = (data, from, to) => {
    if (nodes.includes(from) && nodes.includes(to)) captured.push({ data: data.slice(), from, to });
    deliver(data, from, to);
  };
  try {
    const client = c.client(addr(0));
    await c.run(client.put("replayed", "old"));
    await c.advance(50);
    const oldWrites = captured.filter(({ data }) => {
      let put = false;
      readFrame(data, keyring, (command) => put ||= command === ReplicaCommand.Put);
      return put;
    });
    assert.ok(oldWrites.length >= 2, `captured ${oldWrites.length} replica writes of the old value`);
    await c.run(client.put("replayed", "new"));
    await c.advance(50);
    const rejectedBefore = nodes.map((a) => c.replica(a).node.rpc.stats.rejected.badTag);
    const replaysBefore = nodes.reduce((n, a) => n + c.replica(a).node.rpc.stats.rejected.replay, 0);
    for (const w of oldWrites) deliver(w.data, w.from, w.to); // the replay: authentic, so it passes the tag
    await c.advance(200);
    assert.deepEqual(
      nodes.map((a) => c.replica(a).node.rpc.stats.rejected.badTag),
      rejectedBefore,
      "replays are authentic",
    );
    const replays = nodes.reduce((n, a) => n + c.replica(a).node.rpc.stats.rejected.replay, 0) - replaysBefore;
    assert.equal(replays, oldWrites.length, "each replay is dropped as one (its nonce was seen)");
    for (const a of nodes) {
      const e = c.replica(a).store.getEntry(hexOf("replayed"));
      assert.equal(new TextDecoder().decode(e?.value), "new", `${a} still holds the newer value`);
    }
    assert.equal(new TextDecoder().decode(await c.run(client.get("replayed"))), "new");
  } finally {
    c.close();
  }
});
