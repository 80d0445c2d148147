/**
 * Units of the rolling restart: the replacement's command line, the
 * supervisor line, the progress in words, the command checks, the bundle's
 * version, the records kept across a restart, the old process's side of a
 * takeover (success, a new process that cannot start, none at all), and the
 * monitor storing and showing rollout results.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { realClock } from "../../lib/base/clock.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { Rpc } from "../../lib/wire/rpc.ts";
import { checkCommand, type CommandBody, signCommand } from "../../lib/admin/command.ts";
import { DEFAULT_ADMIN_CONFIG } from "../../lib/admin/config.ts";
import { generateAdminKeys, importAdminPrivateKey, importAdminPublicKey } from "../../lib/admin/keys.ts";
import { AdminCommand, type NodeResult, type RolloutInfo } from "../../lib/admin/protocol.ts";
import {
  formatRestartLine,
  parseRestartLine,
  ProcessRestarter,
  replacementArgv,
  takeoverErrorFile,
} from "../../lib/admin/restart.ts";
import { RolloutRecords } from "../../lib/admin/rollout_state.ts";
import { describeRollout } from "../../lib/admin/rollout_view.ts";
import { registerAdminRoutes } from "../../lib/admin/monitor/routes.ts";
import { programOf, versionMix } from "../../lib/monitoring/server/page.ts";
import type { NodeView } from "../../lib/monitoring/server/view.ts";
import { setBundleVersion } from "../../scripts/bundle.ts";
import { signedPost, testKey } from "../monitor/helpers.ts";
import { waitUntil } from "../support/real_time.ts";

const ORDER = ["10.0.0.1:4000", "10.0.0.2:4000", "10.0.0.3:4000"];
const ID = "ab".repeat(16);

function res(
  node: string,
  status: NodeResult["status"],
  rollout: Partial<RolloutInfo>,
  extra: Partial<NodeResult> = {},
) {
  const position = ORDER.indexOf(node);
  return {
    id: ID,
    node,
    status,
    startedAt: 1_700_000_000_000,
    command: {
      id: ID,
      kind: "run",
      selector: "all",
      issuedAt: 1_700_000_000_000,
      expiresAt: 1_700_003_600_000,
      script: "true",
      timeoutMs: 60_000,
      restart: true,
      rollout: { order: ORDER },
    },
    rollout: { position, total: ORDER.length, phase: "waiting", ...rollout },
    ...extra,
  } as NodeResult;
}

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

Deno.test("rollout progress in words: node by node, keys to go, halted, done", () => {
  const m = (...rs: NodeResult[]) => new Map(rs.map((r) => [r.node, r]));
  assert.equal(describeRollout(ORDER, m()).line, "0 of 3 restarted; waiting for 10.0.0.1:4000 to start");
  const back = res(ORDER[0], "ok", { phase: "back" });
  const catching = res(ORDER[1], "running", { phase: "catching-up", keysToGo: 812 }, {
    message: "catching up: 812 keys to go",
  });
  const p = describeRollout(ORDER, m(back, catching, res(ORDER[2], "waiting", {})));
  assert.equal(p.line, "1 of 3 restarted; waiting for 10.0.0.2:4000 to catch up: 812 keys to go");
  assert.equal(p.over, false);
  const rejoin = res(ORDER[1], "running", { phase: "catching-up", views: { alive: 2, of: 4 } }, { message: "x" });
  assert.match(describeRollout(ORDER, m(back, rejoin)).line, /to rejoin: alive in 2 of 4 views$/);
  const failed = res(ORDER[1], "error", { phase: "failed", haltedAt: ORDER[1], reason: "restart failed: boom" });
  const halted = describeRollout(ORDER, m(back, failed));
  assert.equal(halted.line, "1 of 3 restarted; rollout halted at 10.0.0.2:4000: restart failed: boom");
  assert.equal(halted.over, false, "not over until the later nodes know");
  const skipped = res(ORDER[2], "skipped", { phase: "halted", haltedAt: ORDER[1], reason: "restart failed: boom" });
  assert.equal(describeRollout(ORDER, m(back, failed, skipped)).over, true);
  // The node that halted it on behalf of a silent predecessor: over once every later node is final.
  const byNext = res(ORDER[2], "skipped", { phase: "halted", haltedAt: ORDER[1], reason: "not back" });
  const silent = res(ORDER[1], "running", { phase: "restarting" });
  assert.deepEqual(describeRollout(ORDER, m(back, silent, byNext)).halted, { at: ORDER[1], reason: "not back" });
  const all = ORDER.map((n) => res(n, "ok", { phase: "back" }));
  assert.deepEqual(describeRollout(ORDER, m(...all)), {
    line: "rollout done: 3 of 3 restarted",
    restarted: 3,
    total: 3,
    over: true,
  });
});

Deno.test("command checks: a restart needs its order; an order needs a restart; no node twice", async () => {
  const keys = await generateAdminKeys();
  const priv = await importAdminPrivateKey(keys.privateKeyFile);
  const pub = await importAdminPublicKey(keys.publicKey);
  const body = (run: CommandBody["run"]): CommandBody => ({
    v: 1,
    id: ID,
    kind: "run",
    issuedAt: 1_000_000,
    expiresAt: 2_000_000,
    selector: "all",
    run,
  });
  const check = async (run: CommandBody["run"]) => {
    const r = await checkCommand(await signCommand(priv, body(run)), pub, 1_500_000, DEFAULT_ADMIN_CONFIG);
    return r.ok ? "ok" : r.message;
  };
  const base = { script: "true", timeoutMs: 1_000 };
  assert.equal(await check({ ...base, restart: true, rollout: { order: ORDER, budgetMs: 60_000 } }), "ok");
  assert.equal(
    await check({
      ...base,
      restart: true,
      rollout: { order: ORDER },
      program: { path: "bin/k.js", sha256: "0".repeat(64) },
    }),
    "ok",
  );
  assert.match(await check({ ...base, restart: true }), /rollout order/);
  assert.match(await check({ ...base, rollout: { order: ORDER } }), /needs restart/);
  assert.match(await check({ ...base, restart: true, rollout: { order: [ORDER[0], ORDER[0]] } }), /twice/);
  assert.match(await check({ ...base, restart: true, rollout: { order: ["not an address"] } }), /rollout/);
});

Deno.test("bundle version: replaced once, refused when the marker is missing or repeated", () => {
  const text = 'x\nvar deno_default = {\n  name: "@kvstore/kvstore",\n  version: "0.1.0",\n  exports: "./mod.ts"';
  assert.match(setBundleVersion(text, "0.2.0-rc1"), /version: "0\.2\.0-rc1",/);
  assert.throws(() => setBundleVersion("no marker", "1"), /found it 0 times/);
  assert.throws(() => setBundleVersion(text + text, "1"), /found it 2 times/);
});

Deno.test("rollout records survive a restart (file), expire, and an unreadable file is empty", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = res(ORDER[0], "running", { phase: "restarting" });
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

Deno.test("monitor: rollout results are stored and the admin page shows the rollout line and order", async () => {
  const key = await testKey();
  const app = new Hono();
  registerAdminRoutes(app, { clusterKey: key });
  const post = async (r: NodeResult) => {
    const body = JSON.stringify(r);
    const resp = await app.request("/api/admin/results", await signedPost(key, r.node, body));
    assert.equal(resp.status, 202, await resp.text());
  };
  await post(res(ORDER[0], "ok", { phase: "back", program: "0.1.0 (source)" }, { message: "restarted and back" }));
  await post(
    res(ORDER[1], "running", { phase: "catching-up", keysToGo: 812 }, { message: "catching up: 812 keys to go" }),
  );
  await post(res(ORDER[2], "waiting", {}, { message: "waiting for its turn (3 of 3)" }));
  const html = await (await app.request("/admin")).text();
  assert.ok(html.includes("1 of 3 restarted; waiting for 10.0.0.2:4000 to catch up: 812 keys to go"), html);
  assert.ok(html.includes("rolling restart of 3 nodes"));
  assert.ok(html.includes('<span class="pill waiting">waiting'));
  assert.ok(html.includes("1 of 3 · back · 0.1.0 (source)"));
  const row = (n: string) => html.indexOf(`<td class="node">${n}`);
  assert.ok(row(ORDER[0]) > 0 && row(ORDER[0]) < row(ORDER[1]) && row(ORDER[1]) < row(ORDER[2]), "rows in order");
  assert.ok(html.includes('http-equiv="refresh"'), "refreshes while the rollout runs");
});

Deno.test("status page: the versions card counts each version and build, most common first", () => {
  const view = (version?: string, build?: string) =>
    ({
      stats: {
        ...(version ? { version: { value: version } } : {}),
        ...(build ? { build: { value: build } } : {}),
      },
    }) as unknown as NodeView;
  const views = [view("0.2.0", "a9b04b284d86"), view("0.1.0", "source"), view("0.2.0", "a9b04b284d86"), view()];
  assert.deepEqual(versionMix(views), [["0.2.0 (a9b04b284d86)", 2], ["0.1.0 (source)", 1]]);
  assert.equal(programOf(view("0.1.0")), "0.1.0");
});
