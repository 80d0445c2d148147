/** The real-time waiting module of the tests (real_time.ts): what it resolves with, and how it fails. */
import assert from "node:assert/strict";
import { poll, sleep, waitUntil, withTimeout } from "./real_time.ts";

Deno.test("waitUntil: polls a sync or async condition and resolves with the first value that passes", async () => {
  let n = 0;
  assert.equal(await waitUntil(() => ++n >= 3 && n, { timeoutMs: 5_000, intervalMs: 1, what: "three checks" }), 3);
  const counts = await waitUntil(() => Promise.resolve([n, n]), {
    until: (c) => c.every((x) => x === 3),
    timeoutMs: 5_000,
    what: "counts",
  });
  assert.deepEqual(counts, [3, 3]);
});

Deno.test("waitUntil: at the deadline it throws naming what it waited for and the last value", async () => {
  await assert.rejects(
    waitUntil(() => ({ members: 2 }), { until: (v) => v.members === 3, timeoutMs: 30, what: () => "3 members" }),
    /^Error: timed out after 30 ms waiting for 3 members; last value: \{"members":2\}$/,
  );
});

Deno.test("poll: reports the deadline instead of throwing", async () => {
  const r = await poll(() => false, { timeoutMs: 30, intervalMs: 5 });
  assert.equal(r.done, false);
  assert.ok(r.elapsedMs >= 30, `checked until ${r.elapsedMs} ms`);
});

Deno.test("withTimeout: the promise's outcome in time, else an error naming what did not happen", async () => {
  assert.equal(await withTimeout(sleep(1).then(() => "done"), 5_000, "a short sleep"), "done");
  await assert.rejects(withTimeout(Promise.reject(new Error("own error")), 5_000, "x"), /own error/);
  const never = Promise.withResolvers<void>();
  await assert.rejects(
    withTimeout(never.promise, 20, "the node to exit"),
    /^Error: not within 20 ms: the node to exit$/,
  );
  never.resolve();
});
