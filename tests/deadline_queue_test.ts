import assert from "node:assert/strict";
import { VirtualClock } from "../lib/base/clock.ts";
import { DEADLINE_TICK_MS, DeadlineQueue } from "../lib/base/deadline_queue.ts";
import { seededRandom } from "../lib/base/random.ts";

Deno.test("deadline queue: every entry fires once, in deadline order, no earlier than its deadline", () => {
  const clock = new VirtualClock(0);
  const random = seededRandom(7);
  const fired: { id: number; deadline: number; at: number }[] = [];
  const q = new DeadlineQueue(clock, (id, deadline) => fired.push({ id, deadline, at: clock.now() }));
  const deadlines = new Map<number, number>();
  for (let id = 1; id <= 5_000; id++) {
    const deadline = Math.floor(random() * 2_000);
    deadlines.set(id, deadline);
    q.add(id, deadline);
  }
  assert.ok(q.size === 5_000, "the heap grew past its first capacity");
  clock.advance(3_000);
  assert.equal(fired.length, 5_000);
  assert.deepEqual(new Set(fired.map((f) => f.id)).size, 5_000);
  for (let i = 0; i < fired.length; i++) {
    const f = fired[i];
    assert.equal(f.deadline, deadlines.get(f.id));
    assert.ok(f.at >= f.deadline, `entry ${f.id} fired at ${f.at} before its deadline ${f.deadline}`);
    assert.ok(f.at <= f.deadline + DEADLINE_TICK_MS, `entry ${f.id} fired ${f.at - f.deadline} ms late`);
    if (i > 0) assert.ok(fired[i - 1].deadline <= f.deadline, "deadlines in order");
  }
  assert.equal(q.size, 0);
  q.close();
});

Deno.test("deadline queue: an earlier deadline added later moves the timer forward; checks are a tick apart", () => {
  const clock = new VirtualClock(0);
  const fired: [number, number][] = [];
  const q = new DeadlineQueue(clock, (id) => fired.push([id, clock.now()]));
  q.add(1, 500);
  q.add(2, 100);
  clock.advance(100);
  assert.deepEqual(fired, [[2, 100]]);
  q.add(3, 101); // due 1 ms after the last check: waits for the tick
  clock.advance(400);
  assert.deepEqual(fired, [[2, 100], [3, 100 + DEADLINE_TICK_MS], [1, 500]]);
  q.close();
});

Deno.test("deadline queue: entries added from the callback are kept; close stops everything", () => {
  const clock = new VirtualClock(0);
  let fires = 0;
  const q = new DeadlineQueue(clock, (id, deadline) => {
    fires++;
    if (id < 3) q.add(id + 1, deadline + 50); // a retry re-arms its call
  });
  q.add(1, 50);
  clock.advance(1_000);
  assert.equal(fires, 3);
  q.add(9, 2_000);
  q.close();
  clock.advance(5_000);
  assert.equal(fires, 3, "nothing fires after close");
  assert.equal(q.size, 0);
});
