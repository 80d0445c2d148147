/**
 * The member table: incarnations decide, suspects refute, a push-pull merge turns a remote "dead" into a
 * local suspicion, and change events.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { seededRandom } from "../../lib/base/random.ts";
import { MemberTable } from "../../lib/membership/membership_table.ts";
import { BroadcastQueue } from "../../lib/membership/swim_broadcasts.ts";
import { LAN_CONFIG, suspicionBounds } from "../../lib/membership/swim_config.ts";

const A = "10.0.0.1:4000", B = "10.0.0.2:4000", C = "10.0.0.3:4000";

function table(self = A) {
  const clock = new VirtualClock();
  const broadcasts = new BroadcastQueue();
  const t = new MemberTable({ self, clock, random: seededRandom(1), config: LAN_CONFIG, broadcasts });
  return { clock, broadcasts, t };
}

Deno.test("member table: incarnations decide, suspects refute, dead is only undone by a newer incarnation", () => {
  const { t, clock, broadcasts } = table();
  t.apply({ address: B, state: "alive", incarnation: 3 }, B);
  t.apply({ address: B, state: "suspect", incarnation: 2, from: C }, C);
  assert.equal(t.get(B)?.state, "alive", "an older suspicion is ignored");
  t.apply({ address: B, state: "suspect", incarnation: 3, from: C }, C);
  assert.equal(t.get(B)?.state, "suspect");
  assert.deepEqual(t.alive(), [A, B], "a suspect is still a member");
  t.apply({ address: B, state: "alive", incarnation: 3 }, B);
  assert.equal(t.get(B)?.state, "suspect", "same incarnation does not refute");
  t.apply({ address: B, state: "alive", incarnation: 4 }, B);
  assert.equal(t.get(B)?.state, "alive");
  // A suspicion that is never refuted ends in death after the max timeout (2 members: min timeout).
  t.apply({ address: B, state: "suspect", incarnation: 4, from: C }, C);
  clock.advance(suspicionBounds(LAN_CONFIG, 2)[0]);
  assert.equal(t.get(B)?.state, "dead");
  assert.deepEqual(t.alive(), [A]);
  t.apply({ address: B, state: "alive", incarnation: 4 }, B);
  assert.equal(t.get(B)?.state, "dead", "a stale alive rumor does not resurrect");
  t.apply({ address: B, state: "alive", incarnation: 5 }, B);
  assert.equal(t.get(B)?.state, "alive");
  // Rumors about self: suspicion is refuted with a higher incarnation, queued for gossip.
  t.apply({ address: A, state: "suspect", incarnation: 0, from: B }, B);
  assert.equal(t.incarnation, 1);
  assert.deepEqual(broadcasts.peek(A), { address: A, state: "alive", incarnation: 1 });
  t.apply({ address: A, state: "dead", incarnation: 7, from: B }, B);
  assert.equal(t.incarnation, 8);
  t.stop();
});

Deno.test("member table: push-pull merge turns remote 'dead' into a local suspicion", () => {
  const { t } = table();
  t.apply({ address: B, state: "alive", incarnation: 1 }, B);
  t.merge([{ address: B, state: "dead", incarnation: 1 }, { address: C, state: "dead", incarnation: 0 }], C);
  assert.equal(t.get(B)?.state, "suspect", "dead in a pushed state only raises suspicion");
  assert.equal(t.get(C), undefined, "a dead stranger is not learned");
  assert.deepEqual(t.counts(), { alive: 1, suspect: 1, dead: 0 });
  t.stop();
});

Deno.test("member table: onChange fires on live-set changes only; events describe transitions", () => {
  const { t } = table();
  let changes = 0;
  const events: string[] = [];
  t.onChange(() => changes++);
  t.onEvent((e) => events.push(`${e.address}:${e.previous}->${e.state}`));
  t.apply({ address: B, state: "alive", incarnation: 0 }, B);
  t.apply({ address: B, state: "suspect", incarnation: 0, from: C }, C);
  t.apply({ address: B, state: "left", incarnation: 0, from: B }, B);
  assert.equal(changes, 2, "join and leave change the live set; suspicion does not");
  assert.deepEqual(events, [`${B}:none->alive`, `${B}:alive->suspect`, `${B}:suspect->left`]);
  t.stop();
});
