import assert from "node:assert/strict";
import { describeProcessState, readProcessState } from "../lib/base/process_state.ts";
import { startNodeProcess } from "../lib/roles/process_launcher.ts";
import { processGone } from "./support/child_processes.ts";

/** A "node" program that never prints its listening line: a shell script doing `body`. */
async function fakeNode(body: string): Promise<{ program: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "start-watch-" });
  const program = `${dir}/node.sh`;
  await Deno.writeTextFile(program, `#!/bin/sh\necho "starting $*" >&2\n${body}\n`);
  await Deno.chmod(program, 0o755);
  return { program, dir };
}

/** Starts `program` as a node with a start watch; returns the error and how long it took to come. */
async function failedStart(program: string, watch: { cpuLimitMs: number; stallMs: number }) {
  const started = performance.now();
  let pid = 0;
  const e = await startNodeProcess(1, [], { program, startTimeoutMs: 60_000, startWatch: watch }).then(
    () => assert.fail("the start succeeded"),
    (e: Error) => e,
  );
  pid = Number(/process (\d+):/.exec(e.message)?.[1]);
  return { message: e.message, ms: performance.now() - started, pid };
}

Deno.test("start watch: a node asleep without using CPU is given up long before the timeout, saying so", async () => {
  const { program, dir } = await fakeNode("exec sleep 60");
  try {
    const { message, ms, pid } = await failedStart(program, { cpuLimitMs: 10_000, stallMs: 1_500 });
    assert.match(message, /^node:1: asleep without using CPU for 1\.5 s; process \d+: S \(sleeping\)/);
    assert.match(message, /output:\nstarting --port 1/, "its stderr is quoted");
    assert.ok(ms < 20_000, `given up after ${ms} ms, not at the 60 s timeout`);
    assert.ok(await processGone(pid), "the stuck process is killed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start watch: a node spinning without listening is given up at its CPU limit, saying so", async () => {
  const { program, dir } = await fakeNode("while :; do :; done");
  try {
    const { message, ms, pid } = await failedStart(program, { cpuLimitMs: 300, stallMs: 60_000 });
    assert.match(message, /^node:1: used over 0\.3 s of CPU without listening; process \d+: R/);
    assert.ok(ms < 50_000, `given up after ${ms} ms`);
    assert.ok(await processGone(pid), "the spinning process is killed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("process state: a runnable process with little CPU over its life reads as waiting for a core", () => {
  const state = {
    pid: 7,
    state: "R",
    cpuMs: 400,
    ageMs: 180_000,
    threads: [{ tid: 7, name: "deno", state: "R", wchan: "" }],
  };
  assert.equal(
    describeProcessState(state, 132),
    "process 7: R (running or runnable), 0.40 s of CPU in 180.0 s (0.2 % of a core: waiting for a core: the machine " +
      "is overloaded; load average 132.0); threads: deno R",
  );
  const self = readProcessState(Deno.pid);
  assert.ok(self && self.cpuMs > 0 && self.ageMs > 0 && self.threads.some((t) => t.tid === Deno.pid));
});
