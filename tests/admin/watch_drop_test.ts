/**
 * ResultWatcher stops waiting on a target the fleet declares dead while it follows a command (issue 22):
 * the node is named once and dropped; the others finish the command.
 */
import assert from "node:assert/strict";
import { ResultWatcher } from "../../lib/admin/watch.ts";
import type { AdminClient } from "../../lib/admin/client.ts";
import type { NodeResult } from "../../lib/admin/protocol.ts";

Deno.test("ResultWatcher: a target declared dead while following is named and dropped, not waited on", async () => {
  const ok = (node: string) => ({ id: "c1", node, status: "ok", startedAt: 1 }) as unknown as NodeResult;
  const client = { status: (n: string) => Promise.resolve(n === "a:1" ? ok(n) : undefined) } as unknown as AdminClient;
  const said: string[] = [];
  let asked = 0;
  const w = new ResultWatcher({
    id: "c1",
    client,
    targets: ["a:1", "b:2"],
    pollMs: 10,
    progress: (l) => said.push(l),
    dropDead: {
      everyMs: 0,
      dead: (expected) => {
        asked++;
        assert.deepEqual(expected, ["b:2"], "only nodes still waited on are asked about");
        return Promise.resolve([{ address: "b:2", line: "skipped b:2: dead since 12:01:07" }]);
      },
    },
  });
  const t0 = performance.now();
  const results = await w.follow(10_000);
  assert.ok(performance.now() - t0 < 5_000, "it did not wait for the deadline");
  assert.deepEqual([...results.keys()], ["a:1"]);
  assert.deepEqual(w.expected(), ["a:1"]);
  assert.deepEqual([...w.dropped()], [["b:2", "skipped b:2: dead since 12:01:07"]]);
  assert.equal(said.filter((l) => l.startsWith("skipped b:2")).length, 1, "named once");
  assert.ok(asked >= 1);
});
