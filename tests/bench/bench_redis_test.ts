/** The redis side of bench:compare: memory per key measured from the process, as for the node. */
import assert from "node:assert/strict";
import { loadRedisKeys, redisInstalled } from "../../scripts/bench_redis.ts";

const haveRedis = await redisInstalled(); // the test does not install redis; CI's script does

Deno.test({
  name: "redis memory per key: RSS grows with the keys loaded (it read 0 B/key from redis's stale own figure)",
  ignore: !haveRedis,
  fn: async () => {
    const line = await loadRedisKeys(50_000, 100);
    const m = /: (-?\d+) B\/key \(used_memory (\d+) B\/key\)/.exec(line);
    assert.ok(m, line);
    const [rss, used] = [Number(m[1]), Number(m[2])];
    assert.ok(used > 100, `used_memory per key ${used} B: more than the 100-byte value (${line})`);
    assert.ok(rss >= used / 2, `RSS per key ${rss} B against used_memory ${used} B (${line})`);
  },
});
