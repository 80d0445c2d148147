/**
 * Restart by takeover: the command line of the replacement process (takeover token, program swapped for
 * a script or a binary), the supervisor line, and the old process's side of a takeover (success, a new
 * process that cannot start, none at all).
 */
import assert from "node:assert/strict";
import { realClock } from "../../lib/base/clock.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { Rpc } from "../../lib/wire/rpc.ts";
import { AdminCommand } from "../../lib/admin/protocol.ts";
import {
  formatRestartLine,
  parseRestartLine,
  ProcessRestarter,
  replacementArgv,
  takeoverErrorFile,
} from "../../lib/admin/restart.ts";
import { waitUntil } from "../support/real_time.ts";

Deno.test("replacement command line: takeover token, program swapped for a script or a binary, clear refusals", () => {
  const argv = ["deno", "run", "--quiet", "-A", "main.ts", "node", "--port", "4000", "--takeover", "0ld0"];
  const o = { token: "abcd1234", mainPath: "/repo/main.ts", cwd: "/repo", compiled: false };
  assert.deepEqual(replacementArgv(argv, o), [
    "deno",
    "run",
    "--quiet",
    "-A",
    "main.ts",
    "node",
    "--port",
    "4000",
    "--takeover",
    "abcd1234",
  ]);
  assert.deepEqual(replacementArgv(argv, { ...o, program: "/srv/bin/k.js" }), [
    "deno",
    "run",
    "--unstable-net",
    "--quiet",
    "-A",
    "/srv/bin/k.js",
    "node",
    "--port",
    "4000",
    "--takeover",
    "abcd1234",
  ]);
  assert.deepEqual(replacementArgv(argv, { ...o, program: "/srv/bin/kvstore-node" }), [
    "/srv/bin/kvstore-node",
    "--port",
    "4000",
    "--takeover",
    "abcd1234",
  ]);
  const compiled = ["/srv/bin/kvstore-node", "--port", "4000", "--takeover=old"];
  assert.deepEqual(replacementArgv(compiled, { ...o, compiled: true, program: "/srv/bin/new" }), [
    "/srv/bin/new",
    "--port",
    "4000",
    "--takeover",
    "abcd1234",
  ]);
  assert.throws(() => replacementArgv(compiled, { ...o, compiled: true, program: "/srv/k.js" }), /compiled binary/);
  assert.throws(() => replacementArgv(argv, { ...o, mainPath: "/elsewhere/main.ts", program: "/k.js" }), /cannot find/);
});

Deno.test("supervisor line: round trip, and anything else is not a request", () => {
  const line = formatRestartLine({ takeover: "abcd1234", program: "/srv/k.js" });
  assert.deepEqual(parseRestartLine(line), { takeover: "abcd1234", program: "/srv/k.js" });
  assert.deepEqual(parseRestartLine(formatRestartLine({ takeover: "abcd1234" })), { takeover: "abcd1234" });
  for (const bad of ["kvstore node listening", "KVSTORE-RESTART {", 'KVSTORE-RESTART {"takeover":"x y"}']) {
    assert.equal(parseRestartLine(bad), undefined, bad);
  }
});

Deno.test("old process's side of a takeover: hands over on the right token, reports a failed start, times out", async () => {
  const net = new MemoryNetwork(realClock, { seed: 1, minDelay: 0, maxDelay: 0 });
  const oldT = net.createTransport("10.0.0.1:4000"), newT = net.createTransport("10.0.0.1:5000");
  const oldRpc = new Rpc(oldT, realClock), newRpc = new Rpc(newT, realClock);
  oldT.onReceive((d, f) => oldRpc.receive(d, f));
  newT.onReceive((d, f) => newRpc.receive(d, f));
  const dir = await Deno.makeTempDir();
  const events: string[] = [];
  let spawned: string[] = [];
  const restarter = new ProcessRestarter({
    rpc: oldRpc,
    clock: realClock,
    supervised: false,
    stateDir: dir,
    handover: () => {
      events.push("handover");
      return Promise.resolve();
    },
    spawn: (argv) => spawned = argv,
    exit: () => events.push("exit"),
  });
  const tokenOf = async () => {
    await waitUntil(() => spawned.length > 0, {
      timeoutMs: 10_000,
      intervalMs: 5,
      what: "the new process to be spawned",
    });
    const t = spawned[spawned.indexOf("--takeover") + 1];
    spawned = [];
    return t;
  };
  try {
    // No new process at all: the wait ends with the reason.
    assert.match(await restarter.restart({ waitMs: 300 }), /no new process took over within 0\.3 s/);
    await tokenOf();
    // The new process could not start and said why.
    const failing = restarter.restart({ waitMs: 10_000 });
    await Deno.writeTextFile(takeoverErrorFile(dir, await tokenOf()), "Invalid nodes.yaml: line 3\n");
    assert.equal(await failing, "the new process could not start: Invalid nodes.yaml: line 3");
    // A wrong token is refused; the right one is taken, the port handed over, the process exits.
    const going = restarter.restart({ waitMs: 10_000 });
    const token = await tokenOf();
    const wrong = await newRpc.call("10.0.0.1:4000", AdminCommand.Takeover, { token: "ffff0000" });
    assert.equal((wrong.header as { ok: boolean }).ok, false);
    const right = await newRpc.call("10.0.0.1:4000", AdminCommand.Takeover, { token });
    assert.equal((right.header as { ok: boolean }).ok, true);
    await waitUntil(() => events.length >= 2, { timeoutMs: 10_000, intervalMs: 5, what: "the handover and the exit" });
    assert.deepEqual(events, ["handover", "exit"]);
    assert.equal(restarter.handingOver, true);
    const again = await newRpc.call("10.0.0.1:4000", AdminCommand.Takeover, { token });
    assert.equal((again.header as { ok: boolean }).ok, true, "a retried takeover is still acknowledged");
    void going; // never resolves: the process has exited
  } finally {
    oldRpc.close();
    newRpc.close();
    oldT.close();
    newT.close();
    await Deno.remove(dir, { recursive: true });
  }
});
