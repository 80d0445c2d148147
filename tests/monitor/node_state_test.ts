/**
 * How the monitor tells a crash from a shutdown (issue 22): its peers' `gone` lists say dead or left;
 * the node's row reads "not responding" with the reason, or "left" with the time; a healthy node that
 * sees a dead peer has no problem of its own; a report of its own after it went clears it.
 */
import assert from "node:assert/strict";
import { NodeRegistry } from "../../lib/monitoring/server/registry.ts";
import { DEFAULT_MONITOR_CONFIG } from "../../lib/monitoring/server/config.ts";
import { displayedState } from "../../lib/monitoring/server/node_state.ts";
import type { NodeReport } from "../../lib/monitoring/report.ts";
import { ReportSchema } from "../../lib/monitoring/report_schema.ts";

const A = "127.0.0.1:4000", B = "127.0.0.1:4001", C = "127.0.0.1:4002";

function report(node: string, extra: Partial<NodeReport> = {}): NodeReport {
  return {
    node,
    round: "abcdef0123456789",
    hops: 0,
    waitMs: 0,
    stats: { members_alive: { value: 1 }, members_dead: { value: 2 } },
    ...extra,
  };
}

Deno.test("registry: peers' gone lists make a node left or not responding at once; the observers have no problem", () => {
  const reg = new NodeRegistry(DEFAULT_MONITOR_CONFIG);
  for (const n of [A, B, C]) reg.apply(report(n), 1, 1_000);
  const gone = [{ node: B, state: "left" as const, forMs: 500 }, { node: C, state: "dead" as const, forMs: 400 }];
  assert.ok(ReportSchema.safeParse(report(A, { gone })).success, "the schema accepts gone");
  assert.ok(!ReportSchema.safeParse(report(A, { gone: [{ node: B, state: "gone", forMs: 1 }] as never })).success);
  reg.apply(report(A, { gone, members: [] }), 2, 5_000);

  const a = reg.assess(reg.get(A)!, 2);
  assert.deepEqual([a.state, a.problems, a.severity], ["ok", [], 0], "seeing dead peers is not A's problem");

  const b = reg.assess(reg.get(B)!, 2);
  assert.equal(b.state, "left");
  assert.deepEqual(b.problems, [], "a node that left on purpose has no problem");
  assert.equal(b.departure?.at, 4_500);
  const bShown = displayedState(b);
  assert.equal(bShown.word, "left");
  assert.match(bShown.label, /^left \d\d:\d\d:\d\d$/);
  assert.ok(bShown.stale);

  const c = reg.assess(reg.get(C)!, 2);
  assert.equal(c.state, "not_responding", "dead per its peers: not responding before K silent rounds");
  assert.equal(c.severity, 4);
  assert.match(c.problems[0], /^dead since \d\d:\d\d:\d\d \(its peers say\)$/);
  assert.equal(c.problems.length, 1, "only what is still true: no stale problems from its last report");
  const cShown = displayedState(c);
  assert.equal(cShown.word, "not responding");
  assert.match(cShown.reason ?? "", /dead since/);

  // C comes back: its own report clears the departure.
  reg.apply(report(C), 3, 6_000);
  assert.equal(reg.assess(reg.get(C)!, 3).state, "ok");
  // B back too, seen alive by a peer before its own report arrives.
  reg.apply(report(A, { members: [B, C] }), 3, 6_500);
  assert.equal(reg.assess(reg.get(B)!, 3).state, "late", "no longer left: late by the monitor's own count");
  // An old gone entry (before the node's last report) does not make it left.
  reg.apply(report(A, { gone: [{ node: C, state: "left", forMs: 5_000 }] }), 4, 7_000);
  assert.equal(reg.assess(reg.get(C)!, 4).state, "ok");
});

Deno.test("displayedState: ok, late and waiting read as they are, not stale", () => {
  for (const state of ["ok", "late", "waiting"] as const) {
    const d = displayedState({ state, problems: [] });
    assert.deepEqual([d.word, d.label, d.stale], [state, state, false]);
  }
});
