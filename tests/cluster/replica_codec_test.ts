import assert from "node:assert/strict";
import {
  decodeReplicaGetReply,
  decodeReplicaPut,
  decodeReplicaPutReply,
  encodeReplicaPutReply,
  replicaGetReplyWriter,
  replicaPutWriter,
} from "../../lib/replication/replica_codec.ts";

function written(w: { size: number; write(out: Uint8Array, o: number): void }): Uint8Array {
  const out = new Uint8Array(w.size);
  w.write(out, 0);
  return out;
}

Deno.test("replica codec: versions of many coordinators read back with their own node ids (ids interned by hash slot)", () => {
  const key = new Uint8Array(32).fill(9);
  // 2,000 distinct ids over 256 slots: every slot is shared and replaced many times.
  const ids = Array.from({ length: 2_000 }, (_, i) => `10.${i >> 8}.${i & 255}.7:${4000 + (i % 7)}`);
  for (let round = 0; round < 2; round++) {
    for (const [i, n] of ids.entries()) {
      const entry = { value: new Uint8Array([i & 255]), version: { t: 1024 * i + round, n }, tombstone: false };
      const put = decodeReplicaPut(written(replicaPutWriter(key, entry, false)));
      assert.ok(typeof put !== "string", put as string);
      assert.deepEqual(put.entry.version, entry.version);
      const got = decodeReplicaGetReply(written(replicaGetReplyWriter(entry)));
      assert.ok(got && typeof got !== "string");
      assert.deepEqual(got.version, entry.version);
      const reply = decodeReplicaPutReply(encodeReplicaPutReply("stale", true, entry.version));
      assert.ok(typeof reply !== "string");
      assert.deepEqual(reply.held, entry.version);
    }
  }
});

Deno.test("replica codec: a version cut inside its node id, or followed by trailing bytes, is rejected", () => {
  const reply = encodeReplicaPutReply("stale", false, { t: 5, n: "127.0.0.1:4000" });
  for (let cut = 3; cut < reply.length; cut++) {
    assert.equal(typeof decodeReplicaPutReply(reply.subarray(0, cut)), "string", `cut at ${cut}`);
  }
  const longer = new Uint8Array(reply.length + 1);
  longer.set(reply);
  assert.equal(decodeReplicaPutReply(longer), "trailing bytes");
});
