/** `kvstore monitor` on the command line: --help, and clear usage errors. */
import assert from "node:assert/strict";
import { RoleProcess } from "../../lib/roles/process_launcher.ts";

Deno.test("kvstore monitor: --help, and clear usage errors", async () => {
  const help = new RoleProcess("monitor-help", "monitor", ["--help"]);
  assert.equal((await help.exited()).code, 0);
  assert.match(help.output.join("\n"), /--not-responding-rounds K/);
  const bad = new RoleProcess("monitor-bad", "monitor", ["--interval", "soon"]);
  assert.equal((await bad.exited()).code, 2);
  assert.match(bad.output.join("\n"), /--interval: "soon" is not a duration/);
  const missing = new RoleProcess("monitor-missing", "monitor", ["--config", "/nonexistent/nodes.yaml"]);
  assert.equal((await missing.exited()).code, 1);
  assert.match(missing.output.join("\n"), /no such file; pass --config/);
});
