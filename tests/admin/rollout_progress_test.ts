/**
 * What a rolling restart reports and keeps: its progress in words (node by node, keys to go, halted,
 * done) and the records a node keeps across its own restart.
 */
import assert from "node:assert/strict";
import type { NodeResult } from "../../lib/admin/protocol.ts";
import { RolloutRecords } from "../../lib/admin/rollout_state.ts";
import { describeRollout } from "../../lib/admin/rollout_view.ts";
import { ID, ORDER, rolloutResult } from "./rollout_results.ts";

Deno.test("rollout progress in words: node by node, keys to go, halted, done", () => {
  const m = (...rs: NodeResult[]) => new Map(rs.map((r) => [r.node, r]));
  assert.equal(describeRollout(ORDER, m()).line, "0 of 3 restarted; waiting for 10.0.0.1:4000 to start");
  const back = rolloutResult(ORDER[0], "ok", { phase: "back" });
  const catching = rolloutResult(ORDER[1], "running", { phase: "catching-up", keysToGo: 812 }, {
    message: "catching up: 812 keys to go",
  });
  const p = describeRollout(ORDER, m(back, catching, rolloutResult(ORDER[2], "waiting", {})));
  assert.equal(p.line, "1 of 3 restarted; waiting for 10.0.0.2:4000 to catch up: 812 keys to go");
  assert.equal(p.over, false);
  const rejoin = rolloutResult(ORDER[1], "running", { phase: "catching-up", views: { alive: 2, of: 4 } }, {
    message: "x",
  });
  assert.match(describeRollout(ORDER, m(back, rejoin)).line, /to rejoin: alive in 2 of 4 views$/);
  const failed = rolloutResult(ORDER[1], "error", {
    phase: "failed",
    haltedAt: ORDER[1],
    reason: "restart failed: boom",
  });
  const halted = describeRollout(ORDER, m(back, failed));
  assert.equal(halted.line, "1 of 3 restarted; rollout halted at 10.0.0.2:4000: restart failed: boom");
  assert.equal(halted.over, false, "not over until the later nodes know");
  const skipped = rolloutResult(ORDER[2], "skipped", {
    phase: "halted",
    haltedAt: ORDER[1],
    reason: "restart failed: boom",
  });
  assert.equal(describeRollout(ORDER, m(back, failed, skipped)).over, true);
  // The node that halted it on behalf of a silent predecessor: over once every later node is final.
  const byNext = rolloutResult(ORDER[2], "skipped", { phase: "halted", haltedAt: ORDER[1], reason: "not back" });
  const silent = rolloutResult(ORDER[1], "running", { phase: "restarting" });
  assert.deepEqual(describeRollout(ORDER, m(back, silent, byNext)).halted, { at: ORDER[1], reason: "not back" });
  const all = ORDER.map((n) => rolloutResult(n, "ok", { phase: "back" }));
  assert.deepEqual(describeRollout(ORDER, m(...all)), {
    line: "rollout done: 3 of 3 restarted",
    restarted: 3,
    total: 3,
    over: true,
  });
});

Deno.test("rollout records survive a restart (file), expire, and an unreadable file is empty", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = rolloutResult(ORDER[0], "running", { phase: "restarting" });
    new RolloutRecords(dir).put({
      id: ID,
      position: 0,
      phase: "restarting",
      restartedAt: 5,
      expiresAt: 100,
      result: r,
    });
    const loaded = new RolloutRecords(dir);
    assert.equal(loaded.load(50).length, 1);
    assert.equal(loaded.get(ID)?.result.rollout?.phase, "restarting");
    assert.equal(new RolloutRecords(dir).load(100).length, 0, "expired");
    await Deno.writeTextFile(`${dir}/.kvstore-rollout.json`, "{not json");
    assert.equal(new RolloutRecords(dir).load(50).length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
