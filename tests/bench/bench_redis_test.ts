/** The redis side of bench:compare: memory per key measured from the process, as for the node. */
import assert from "node:assert/strict";
import { redisInstalled } from "../../scripts/bench_redis.ts";
import { redisMemoryPerKey } from "../../scripts/bench_memory.ts";

const haveRedis = await redisInstalled(); // the test does not install redis; CI's script does

Deno.test({
  name: "redis memory per key: RSS grows with the keys loaded (it read 0 B/key from redis's stale own figure)",
  ignore: !haveRedis,
  fn: async () => {
    const f = await redisMemoryPerKey(50_000, 100, 200);
    assert.equal(f.added, 25_000, "every populated key counted");
    assert.ok(f.after > f.half && f.half > f.idle, JSON.stringify(f));
    assert.ok(f.perKey > 100, `RSS per key ${f.perKey} B: more than the 100-byte value (${JSON.stringify(f)})`);
  },
});
