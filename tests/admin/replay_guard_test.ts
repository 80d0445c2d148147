/** The replay guard: ids and commands a node acted on survive its restart until they expire. */
import assert from "node:assert/strict";
import type { CommandBody } from "../../lib/admin/command.ts";
import { ReplayGuard } from "../../lib/admin/replay_guard.ts";

/** A run command valid from 1,000,000 to 2,000,000 (ms). */
const COMMAND: CommandBody = {
  v: 1,
  id: "ab".repeat(16),
  kind: "run",
  issuedAt: 1_000_000,
  expiresAt: 2_000_000,
  selector: "all",
  run: { script: "echo hi", timeoutMs: 1000 },
};

Deno.test("replay guard: acted-on ids and commands survive a restart until they expire", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const g = new ReplayGuard(10, dir);
    const c = { c: COMMAND, s: "sig" };
    g.keep(c);
    await g.markActed(c.c.id, c.c.expiresAt);
    const again = new ReplayGuard(10, dir);
    assert.deepEqual(again.load(1_500_000), [c]);
    assert.ok(again.has(c.c.id) && again.acted(c.c.id));
    const later = new ReplayGuard(10, dir);
    assert.deepEqual(later.load(2_000_000), []);
    assert.ok(!later.has(c.c.id), "expired ids are forgotten");
    await Deno.writeTextFile(`${dir}/.kvstore-admin-state.json`, "{not json");
    assert.throws(() => new ReplayGuard(10, dir).load(0), /not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
