/**
 * `--data-dir` end to end through startMonitor: signed reports over the HTTP
 * routes, a periodic save, close, a restart on the same directory, and the
 * nodes with their history back. A snapshot that cannot be used is renamed
 * aside (never overwritten by the next save), and the log says where it went.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { type RunningMonitor, startMonitor } from "../../lib/roles/start_monitor.ts";
import { loadSnapshot, setAsideSnapshot, SNAPSHOT_FILE } from "../../lib/monitoring/server/persist.ts";
import { defaultStats, KEY_HEX, report, signedPost, testKey } from "./signed_reports.ts";
import { waitUntil } from "../support/real_time.ts";

const A = "127.0.0.1:4000";
const B = "127.0.0.1:4001";
const C = "127.0.0.1:4002"; // in the file, never reports
const D = "127.0.0.1:4003"; // not in the file, reports
const E = "127.0.0.1:4004"; // only named in A's member list

const fleet = parseFleet(`name: persist\nclusterKey: "${KEY_HEX}"\nnodes: [${A}, ${B}, ${C}]\n`, "nodes.yaml");
const config = { intervalMs: 1_000, historyWindowMs: 60_000, historyPoints: 60, persistIntervalMs: 5_000 };

function start(dir: string, clock: VirtualClock, net: MemoryNetwork, udp: string): Promise<RunningMonitor> {
  return startMonitor({
    port: 0,
    transport: net.createTransport(udp),
    clock,
    fleet,
    autoStart: false,
    tcpProbe: null,
    dataDir: dir,
    config,
  });
}

async function send(m: RunningMonitor, key: CryptoKey, node: string, body: object): Promise<void> {
  const res = await m.app.request("/api/report", await signedPost(key, node, JSON.stringify(body)));
  assert.equal(res.status, 202, await res.clone().text());
  await res.body?.cancel();
}

async function json(m: RunningMonitor, path: string) {
  const res = await m.app.request(path);
  assert.equal(res.status, 200, path);
  return await res.json();
}

/** Runs `fn` with console.error captured; returns the lines logged. */
async function captureErrors(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return lines;
}

Deno.test("--data-dir: nodes, their history and the rounds survive a monitor restart (startMonitor, HTTP reports)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-monitor-restart-" });
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const key = await testKey();
  const file = `${dir}/${SNAPSHOT_FILE}`;
  const ids: string[] = [];
  let m = await start(dir, clock, net, "10.0.99.1:9000");
  try {
    for (let i = 0; i < 3; i++) {
      const r = await m.monitor.startRound();
      ids.push(r.id);
      await send(
        m,
        key,
        A,
        report(A, r.id, { ...defaultStats(10 + i), rps: { value: i, unit: "req/s" } }, {
          members: [B, E],
        }),
      );
      if (i < 2) await send(m, key, B, report(B, r.id, defaultStats(20)));
      await send(m, key, D, report(D, r.id, defaultStats(30 + i)));
      clock.advance(1_000);
    }
    // The periodic save (every persistIntervalMs) writes the file before any shutdown.
    await assert.rejects(Deno.stat(file), Deno.errors.NotFound, "nothing saved yet");
    clock.advance(config.persistIntervalMs);
    await waitUntil(async () => (await loadSnapshot(dir).catch(() => null))?.nodes.length === 5, {
      timeoutMs: 5_000,
      what: "a save",
    });
    await m.close();

    const saved = await loadSnapshot(dir);
    assert.deepEqual(saved!.rounds.map((r) => r.id).sort(), ids.slice().sort());

    // Restart on the same directory: a new monitor, later in time.
    clock.advance(2_000);
    m = await start(dir, clock, net, "10.0.99.2:9000");
    const api = await json(m, "/api/nodes");
    assert.deepEqual(api.nodes.map((n: { id: string }) => n.id).sort(), [A, B, C, D, E]);
    const byId = Object.fromEntries(api.nodes.map((n: { id: string }) => [n.id, n]));
    assert.equal(byId[A].reports, 3);
    assert.equal(byId[A].lastRound, ids[2]);
    assert.equal(byId[A].stats.keys.value, 12);
    assert.equal(byId[A].state, "ok", "reported in the last round before the restart");
    assert.equal(byId[B].reports, 2);
    assert.equal(byId[B].lastRound, ids[1]);
    assert.equal(byId[C].reports, 0);
    assert.equal(byId[C].inFleet, true);
    assert.equal(byId[D].inFleet, false, "learned from its reports, still not in the file");
    assert.equal(byId[D].stats.keys.value, 32);
    assert.equal(byId[E].inFleet, false, "learned from a member list");
    assert.equal(byId[E].reports, 0);

    const a = await json(m, `/api/nodes/${A}`);
    assert.deepEqual(a.history.series.keys.v, [10, 11, 12]);
    assert.deepEqual(a.history.series.rps.v, [0, 1, 2]);
    assert.deepEqual(a.members, [B, E]);
    const d = await json(m, `/api/nodes/${D}`);
    assert.deepEqual(d.history.series.keys.v, [30, 31, 32]);
    assert.deepEqual((await json(m, `/api/nodes/${B}`)).history.series.keys.v, [20, 20]);

    const rounds = await json(m, "/api/rounds");
    assert.deepEqual(rounds.rounds.map((r: { id: string }) => r.id), ids.slice().reverse());
    assert.deepEqual(rounds.rounds.map((r: { reported: number }) => r.reported), [2, 3, 3]);
    // The page draws the restored history: A's req/s sparkline has its 3 points.
    const page = await (await m.app.request("/")).text();
    const rowA = page.match(new RegExp(`<tr data-node="${A}".*?</tr>`))![0];
    assert.equal(/<polyline fill="none" points="([^"]*)"/.exec(rowA)![1].split(" ").length, 3);

    // Round numbers continue, and reports go on adding to the restored history.
    const r4 = await m.monitor.startRound();
    assert.equal(r4.index, 4);
    await send(m, key, A, report(A, r4.id, defaultStats(13)));
    assert.deepEqual((await json(m, `/api/nodes/${A}`)).history.series.keys.v, [10, 11, 12, 13]);
    await m.close();
    assert.deepEqual(
      (await loadSnapshot(dir))!.nodes.find((n) => n.id === A)!.history.series.keys.v,
      [10, 11, 12, 13],
      "saved again at shutdown",
    );
  } finally {
    await m.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--data-dir: a snapshot that cannot be used is renamed aside and kept, not overwritten", async () => {
  // A directory in the file's place stands for "cannot read it": its content is the file `inner`.
  const cases: [string, string | { dir: string }, RegExp][] = [
    ["not JSON", "{broken", /it is not valid JSON/],
    ["unknown format", JSON.stringify({ version: 2, nodes: [], rounds: [] }), /unknown format/],
    ["unreadable", { dir: "inner" }, /cannot read it/],
  ];
  const put = async (path: string, content: string | { dir: string }) => {
    if (typeof content === "string") return await Deno.writeTextFile(path, content);
    await Deno.mkdir(path);
    await Deno.writeTextFile(`${path}/${content.dir}`, content.dir);
  };
  const read = async (path: string, content: string | { dir: string }) =>
    typeof content === "string" ? await Deno.readTextFile(path) : { dir: await Deno.readTextFile(`${path}/inner`) };
  for (const [what, content, problem] of cases) {
    const dir = await Deno.makeTempDir({ prefix: "kvstore-monitor-broken-" });
    const clock = new VirtualClock();
    const net = new MemoryNetwork(clock, { seed: 1 });
    const file = `${dir}/${SNAPSHOT_FILE}`;
    let m: RunningMonitor | undefined;
    try {
      await put(file, content);
      const log = await captureErrors(async () => {
        m = await start(dir, clock, net, "10.0.99.3:9000");
      });
      const names = [];
      for await (const e of Deno.readDir(dir)) names.push(e.name);
      const aside = names.filter((n) => n.startsWith(`${SNAPSHOT_FILE}.broken-`));
      assert.equal(aside.length, 1, `${what}: one file set aside: ${names}`);
      assert.match(aside[0], /^monitor-history\.json\.broken-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z$/);
      assert.deepEqual(await read(`${dir}/${aside[0]}`, content), content, `${what}: kept as it was`);
      assert.equal(log.length, 1, `${what}: ${log}`);
      assert.match(log[0], problem);
      assert.ok(log[0].includes(`moved it to ${dir}/${aside[0]}`), `${what}: the log names the new file: ${log[0]}`);
      assert.doesNotMatch(log[0], /move it away/, "no advice to do what was already done");
      assert.equal(m!.monitor.rounds.index, 0, "starts with an empty history");

      // The monitor works and saves a fresh snapshot; the broken one is still there, untouched.
      const key = await testKey();
      const r = await m!.monitor.startRound();
      await send(m!, key, A, report(A, r.id, defaultStats(7)));
      await m!.close();
      const fresh = await loadSnapshot(dir);
      assert.equal(fresh!.nodes.find((n) => n.id === A)!.stats.keys.value, 7);
      assert.deepEqual(await read(`${dir}/${aside[0]}`, content), content);
    } finally {
      await m?.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("setting a snapshot aside never overwrites an earlier one set aside at the same instant", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-monitor-aside-" });
  try {
    const at = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678));
    const file = `${dir}/${SNAPSHOT_FILE}`;
    await Deno.writeTextFile(file, "first");
    const one = await setAsideSnapshot(dir, at);
    await Deno.writeTextFile(file, "second");
    const two = await setAsideSnapshot(dir, at);
    assert.equal(one, `${file}.broken-2030-01-02T03-04-05.678Z`);
    assert.equal(two, `${file}.broken-2030-01-02T03-04-05.678Z-1`);
    assert.equal(await Deno.readTextFile(one), "first");
    assert.equal(await Deno.readTextFile(two), "second");
    await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
