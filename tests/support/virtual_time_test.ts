/** The virtual-time stepper of the tests (virtual_time.ts): what it checks when, and how it fails. */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { advance, runUntil } from "./virtual_time.ts";

Deno.test("runUntil: a condition is checked before the first step and every stepMs; the virtual ms it took", async () => {
  const clock = new VirtualClock();
  const start = clock.now();
  let fired = false;
  clock.setTimeout(() => fired = true, 120);
  const checkedAt: number[] = [];
  const took = await runUntil(clock, () => (checkedAt.push(clock.now() - start), fired), { stepMs: 50, tickMs: 10 });
  assert.equal(took, 150);
  assert.deepEqual(checkedAt, [0, 50, 100, 150]);
  assert.equal(await runUntil(clock, () => true), 0, "a condition that holds takes no time");
});

Deno.test("runUntil: at the limit it throws naming what it waited for, or resolves -1 when told to go on", async () => {
  const clock = new VirtualClock();
  await assert.rejects(
    runUntil(clock, () => false, { limitMs: 100, stepMs: 10, what: () => "the moon" }),
    /^Error: not within 100 ms of virtual time: the moon$/,
  );
  const start = clock.now();
  assert.equal(await runUntil(clock, () => false, { limitMs: 100, stepMs: 10, failAtLimit: false }), -1);
  assert.equal(clock.now() - start, 110, "checked for the last time once past the limit");
});

Deno.test("runUntil: a promise settles as virtual time passes; its value or its error; a pending one fails", async () => {
  const clock = new VirtualClock();
  const later = <T>(ms: number, f: () => T) =>
    new Promise<T>((resolve, reject) =>
      clock.setTimeout(() => {
        try {
          resolve(f());
        } catch (e) {
          reject(e);
        }
      }, ms)
    );
  const start = clock.now();
  assert.equal(await runUntil(clock, later(42, () => "value")), "value");
  assert.equal(clock.now() - start, 45, "5 ms ticks by default");
  await assert.rejects(runUntil(clock, later(10, () => assert.fail("boom"))), /boom/);
  await assert.rejects(runUntil(clock, new Promise(() => {}), { limitMs: 20 }), /not within 20 ms.*the promise/);
});

Deno.test("runUntil with settle 0 steps synchronously; with microtask rounds, continuations run between ticks", async () => {
  const clock = new VirtualClock();
  const start = clock.now();
  const seen: number[] = [];
  // A continuation started by a timer (as a reply handler's would be).
  const onTimer = () => void Promise.resolve().then(() => seen.push(clock.now() - start));
  clock.setTimeout(onTimer, 5);
  const stepping = runUntil(clock, () => clock.now() - start >= 20, { settle: 0 });
  assert.deepEqual(seen, [], "nothing ran between the ticks");
  assert.equal(await stepping, 20);
  assert.deepEqual(seen, [20], "the continuation ran once the stepping was over");
  clock.setTimeout(onTimer, 5);
  assert.equal(await runUntil(clock, () => seen.length === 2, { settle: 2 }), 5);
  assert.deepEqual(seen, [20, 25], "right after its tick");
});

Deno.test("advance: ticks of tickMs, the last one shorter, pending work let run after each", async () => {
  const clock = new VirtualClock();
  const start = clock.now();
  const ran: number[] = [];
  for (const at of [3, 7, 12]) clock.setTimeout(() => Promise.resolve().then(() => ran.push(at)), at);
  await advance(clock, 12, { tickMs: 5 });
  assert.equal(clock.now() - start, 12);
  assert.deepEqual(ran, [3, 7, 12]);
});
