import assert from "node:assert/strict";
import { processCpuMs, processCpuNs, processResidentSplit } from "../../scripts/proc_stats.ts";
import { IdleReference } from "../../scripts/idle_reference.ts";
import { isSettled, SETTLED_CHANGE } from "../../scripts/bench_scale_phases.ts";

Deno.test("processCpuNs: counts this process's CPU in nanoseconds, not above stat's ticks", () => {
  const ns0 = processCpuNs(Deno.pid), ms0 = processCpuMs(Deno.pid);
  const until = performance.now() + 200;
  let spins = 0;
  while (performance.now() < until) spins++;
  const ns = processCpuNs(Deno.pid) - ns0, ms = processCpuMs(Deno.pid) - ms0;
  assert.ok(spins > 0);
  // 200 ms of spinning on the main thread: at least most of it was on a core (a busy machine may steal some).
  assert.ok(ns > 50e6, `spinning 200 ms counted ${ns} ns`);
  // Ticks are 10 ms; stat also keeps the CPU of threads that ended meanwhile (test workers), so it is
  // never much below the threads' sum.
  assert.ok(ns / 1e6 - ms < 60, `schedstat ${ns / 1e6} ms against stat ${ms} ms`);
});

Deno.test("processResidentSplit: own memory and proportional share are parts of the RSS", () => {
  const before = processResidentSplit(Deno.pid);
  assert.ok(before.anonymous > 0 && before.anonymous < before.rss, JSON.stringify(before));
  assert.ok(before.pss > 0 && before.pss <= before.rss, JSON.stringify(before));
  // 32 MiB written by this process is its own memory: the anonymous part grows by about that much.
  const held = new Uint8Array(32 * 2 ** 20).fill(1);
  const after = processResidentSplit(Deno.pid);
  assert.equal(held[held.length - 1], 1);
  assert.ok(
    after.anonymous - before.anonymous > 24 * 2 ** 20,
    `grew ${(after.anonymous - before.anonymous) / 2 ** 20} MiB`,
  );
});

Deno.test("processCpuNs and processResidentSplit name the process when it does not exist", () => {
  assert.throws(() => processCpuNs(2 ** 22 + 7), /Cannot read \/proc\/4194311\/task/);
  assert.throws(() => processResidentSplit(2 ** 22 + 7), /Cannot read \/proc\/4194311\/smaps_rollup/);
});

Deno.test("IdleReference: a bare Deno process woken 10 times a second, read like a node and killed", async () => {
  const ref = IdleReference.start();
  try {
    // Up and timing: its wake-ups advance (the event, not a sleep of a guessed length, is what is awaited).
    let first = ref.sample();
    while (first.wakeups === 0 || first.memory.rss < 2 ** 20) {
      await new Promise((r) => setTimeout(r, 50));
      first = ref.sample();
    }
    let later = ref.sample();
    while (later.wakeups < first.wakeups + 5) {
      await new Promise((r) => setTimeout(r, 50));
      later = ref.sample();
    }
    assert.ok(later.cpuNs > first.cpuNs, "it used CPU while woken");
    assert.ok(later.memory.anonymous < later.memory.rss);
  } finally {
    await ref.stop();
  }
  assert.throws(() => ref.sample(), /Cannot read \/proc/);
});

Deno.test("bench:scale settles when three windows' CPU medians are within 10 % of their lowest", () => {
  assert.equal(isSettled([]), false);
  assert.equal(isSettled([0.3, 0.3]), false, "two windows are not enough");
  assert.equal(isSettled([0.53, 0.49]), false, "a plateau of the join's after-effects (12 nodes: 0.3 % after it)");
  assert.equal(isSettled([0.54, 0.35, 0.35]), false, "still falling into the last two");
  assert.equal(isSettled([0.54, 0.35, 0.35, 0.34]), true);
  assert.equal(isSettled([0.46, 0.55, 0.3, 0.29, 0.3]), true);
  assert.equal(isSettled([0.3, 0.3 * (1 + 0.9 * SETTLED_CHANGE), 0.3]), true, "just inside the bound");
  assert.equal(isSettled([0.3, 0.3 * (1 + 1.1 * SETTLED_CHANGE), 0.3]), false, "just outside it");
  assert.equal(isSettled([0.3, 0.3, 0.3 * (1 - 1.1 * SETTLED_CHANGE)]), false, "just outside it, falling");
});
