/** The bash executor: exit code, environment and output cap. */
import assert from "node:assert/strict";
import { BashExecutor } from "../../lib/admin/runner.ts";

Deno.test("bash executor: exit code, env, output cap", async () => {
  const ex = new BashExecutor();
  const r = await ex.run({
    id: "cafe",
    script: 'echo "id=$KVSTORE_COMMAND_ID x=$X"; echo oops >&2; head -c 5000 /dev/zero | tr "\\0" y; exit 7',
    timeoutMs: 10_000,
    maxOutputBytes: 100,
    env: { X: "1" },
  });
  assert.equal(r.status, "failed");
  assert.equal(r.exitCode, 7);
  assert.equal(r.stdout.length, 100);
  assert.ok(r.stdout.startsWith("id=cafe x=1\nyyy"));
  assert.equal(r.stderr, "oops\n");
  assert.equal(r.truncatedBytes, 12 + 5000 - 100);
});
