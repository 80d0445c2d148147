/**
 * `kvctl status` as a process: exit 3 when no node answers, 2 for a usage error, help.
 * (The table itself: tests/ops/fleet_process.ts.)
 */
import assert from "node:assert/strict";
import { freeUdpPorts } from "../lib/roles/process_launcher.ts";
import { kvctl } from "./support/child_processes.ts";

Deno.test("kvctl status: no answer exits 3 naming the node, a usage error exits 2, --help exits 0", async () => {
  const [port] = freeUdpPorts(1);
  const none = await kvctl(["status", "--node", `127.0.0.1:${port}`, "--timeout", "50ms", "--retries", "0"]);
  assert.equal(none.code, 3, JSON.stringify(none));
  assert.match(none.stderr, new RegExp(`no answer from 127\\.0\\.0\\.1:${port}`));
  const usage = await kvctl(["status", "extra"]);
  assert.equal(usage.code, 2, JSON.stringify(usage));
  assert.match(usage.stderr, /unexpected argument "extra"/);
  const bad = await kvctl(["status", "--node", "nonsense"]);
  assert.equal(bad.code, 2, JSON.stringify(bad));
  const help = await kvctl(["status", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: kvctl status/);
});
