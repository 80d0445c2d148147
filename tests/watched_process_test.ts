import assert from "node:assert/strict";
import { WatchedProcess } from "../lib/base/watched_process.ts";

const script = (code: string) => ["eval", code];

Deno.test("watched process: waits for lines on stdout and stderr and keeps them in order", async () => {
  const p = new WatchedProcess(
    "t",
    Deno.execPath(),
    script(`
    console.log("one"); console.error("two on stderr");
    await new Promise((r) => setTimeout(r, 50));
    console.log("three");`),
  );
  assert.equal(await p.waitFor(/two/), "two on stderr");
  assert.equal(await p.waitFor(/^three$/), "three");
  assert.equal((await p.exited()).code, 0);
  assert.deepEqual([...p.output].sort(), ["one", "three", "two on stderr"]);
  assert.equal(await p.waitFor(/one/), "one", "a line already seen answers at once");
});

Deno.test("watched process: waitFor rejects when the process exits first, quoting its output", async () => {
  const p = new WatchedProcess("quitter", Deno.execPath(), script(`console.log("bye"); Deno.exit(3);`));
  await assert.rejects(p.waitFor(/never/), (e: Error) => {
    assert.match(e.message, /^quitter: exited with code 3 before printing \/never\//);
    assert.match(e.message, /output:\nbye/);
    return true;
  });
  assert.equal((await p.exited()).code, 3);
});

Deno.test("watched process: a line printed just before the exit is found (40 processes at once)", async () => {
  const missed: string[] = [];
  await Promise.all(Array.from({ length: 40 }, async (_, i) => {
    const p = new WatchedProcess(`quick-${i}`, Deno.execPath(), script(`console.log("bye"); Deno.exit(3);`));
    await p.waitFor(/bye/).catch((e: Error) => missed.push(e.message));
    assert.equal((await p.exited()).code, 3);
  }));
  assert.deepEqual(missed, [], "the exit was seen before the last line was read");
});

Deno.test("watched process: waitFor rejects after its timeout; stop kills and drains", async () => {
  const p = new WatchedProcess("sleeper", Deno.execPath(), script(`console.log("up"); setInterval(() => {}, 1000);`));
  await p.waitFor(/up/);
  await assert.rejects(p.waitFor(/never/, 100), /sleeper: no line matching \/never\/ within 100 ms/);
  const status = await p.stop("SIGKILL");
  assert.equal(status.signal, "SIGKILL");
});

Deno.test("watched process: a timeout says what the silent process was doing (/proc) and that it printed nothing", async () => {
  const p = new WatchedProcess("silent", "sleep", ["30"]);
  try {
    await assert.rejects(p.waitFor(/never/, 300), (e: Error) => {
      const first = e.message.split("\n")[0];
      assert.match(first, /^silent: no line matching \/never\/ within 300 ms; process \d+: S \(sleeping\)/);
      assert.match(first, /s of CPU in \d+\.\d s .*sleeping in \w+/);
      assert.match(first, /threads: sleep S/);
      assert.match(first, /output: none \(nothing on stdout or stderr\)$/);
      return true;
    });
  } finally {
    await p.stop("SIGKILL");
  }
});
