/**
 * The fleet table's parts: the row codec and its validator, digest and row chunking within one
 * datagram, the table's assessment (ok, late, not responding by K intervals or SWIM, left), the
 * gossip on the in-memory network (a change spreads, own-row recovery after a restart), the node's
 * status routes and kvctl's table.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { seededRandom } from "../../lib/base/random.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { FleetGossip } from "../../lib/monitoring/fleet/gossip.ts";
import {
  addressHash,
  chunkDigest,
  chunkRows,
  decodeDigest,
  decodeRows,
  encodeDigest,
  FLEET_CHUNK_BYTES,
  MAX_ENTRIES,
} from "../../lib/monitoring/fleet/protocol.ts";
import { ByteReader, ByteWriter, type FleetRow, readRow, rowBytes, writeRow } from "../../lib/monitoring/fleet/row.ts";
import { assessEntry, type Verdict } from "../../lib/monitoring/fleet/table.ts";
import { createNodeStatusApp } from "../../lib/monitoring/server/node_app.ts";
import { formatStatus } from "../../lib/cli/kvctl_status.ts";
import { Simulation } from "../../lib/testing/simulation.ts";

function row(node: string, version = 1_700_000_000, extra: Partial<FleetRow> = {}): FleetRow {
  return {
    node,
    version,
    updatedAt: 1_700_000_000_000,
    state: "ok",
    program: "0.1.0 (source)",
    uptimeS: 12,
    keys: 3,
    bytesStored: 300,
    capacityUsed: 0.5,
    rps: 12.5,
    errorsPerSec: 0,
    load: 0.61,
    rss: 80e6,
    diskFree: NaN,
    alive: 5,
    suspect: 0,
    dead: 1,
    ...extra,
  };
}

Deno.test("fleet row: encodes and decodes to the same row; the validator refuses bad ones", () => {
  const r = row("127.0.0.1:4000");
  const w = new ByteWriter(rowBytes(r));
  writeRow(w, r);
  assert.equal(w.offset, rowBytes(r), "rowBytes is exact");
  const back = readRow(new ByteReader(w.done()));
  assert.equal(back.load, 0.61, "a 32-bit float comes back with its digits");
  assert.ok(Number.isNaN(back.diskFree), "unavailable travels as NaN");
  assert.deepEqual({ ...back, diskFree: 0 }, { ...r, diskFree: 0 });
  for (const bad of [row("not an address"), row("127.0.0.1:1", 0), row("127.0.0.1:1", 5, { keys: -1 })]) {
    const b = new ByteWriter(rowBytes(bad));
    writeRow(b, bad);
    assert.throws(() => readRow(new ByteReader(b.done())), RangeError);
  }
  assert.throws(() => readRow(new ByteReader(w.done().subarray(0, 20))), RangeError, "truncated");
});

Deno.test("fleet protocol: digests and rows are cut into datagrams that cover everything", () => {
  const nodes = Array.from({ length: 1_000 }, (_, i) => Simulation.address(i));
  const entries = nodes.map((a, i) => ({ hash: addressHash(a), version: i + 1 })).sort((a, b) => a.hash - b.hash);
  const chunks = chunkDigest(entries);
  assert.equal(chunks[0].lo, 0);
  assert.equal(chunks[chunks.length - 1].hi, 0xffff_ffff);
  for (let i = 1; i < chunks.length; i++) assert.equal(chunks[i].lo, chunks[i - 1].hi + 1, "contiguous ranges");
  assert.equal(chunks.reduce((n, c) => n + c.entries.length, 0), 1_000);
  for (const c of chunks) {
    const bytes = encodeDigest(c);
    assert.ok(c.entries.length <= MAX_ENTRIES && bytes.length <= FLEET_CHUNK_BYTES);
    assert.deepEqual(decodeDigest(bytes), c);
  }
  assert.deepEqual(chunkDigest([]), [{ lo: 0, hi: 0xffff_ffff, entries: [] }], "an empty table still sends one");
  const rows = nodes.slice(0, 100).map((a) => row(a));
  const messages = chunkRows(rows);
  assert.ok(messages.every((m) => m.length <= FLEET_CHUNK_BYTES));
  assert.deepEqual(messages.flatMap((m) => decodeRows(m)!).map((r) => r.node), rows.map((r) => r.node));
  assert.equal(decodeDigest(new Uint8Array([1, 2, 3])), null);
});

Deno.test("fleet table: a row reads ok, late, not responding after K intervals or by SWIM, left", () => {
  const e = { row: row("10.0.0.2:4000"), hash: 1, seenAt: 0 };
  const at = (now: number, verdict?: Verdict) => assessEntry(e, "10.0.0.1:4000", now, 1_000, 3, verdict);
  assert.equal(at(1_500).state, "ok");
  assert.equal(at(2_000).state, "late");
  assert.equal(at(3_000).state, "not responding");
  assert.match(at(3_000).reason!, /no update for 3 s/);
  const dead = at(500, { state: "dead", since: 0 });
  assert.equal(dead.state, "not responding");
  assert.match(dead.reason!, /SWIM/);
  assert.equal(at(500, { state: "left", since: 0 }).state, "left");
  assert.equal(
    assessEntry({ ...e, row: row("10.0.0.2:4000", 5, { state: "left" }) }, "x:1", 0, 1_000, 3, undefined).state,
    "left",
  );
  assert.equal(assessEntry(e, "10.0.0.2:4000", 99_999, 1_000, 3, undefined).state, "ok", "its own row is always ok");
});

/** `n` fleet gossips on one in-memory network. */
function fleetOf(n: number, loss = 0) {
  const clock = new VirtualClock();
  const network = new MemoryNetwork(clock, { seed: 7, loss });
  const addresses = Array.from({ length: n }, (_, i) => Simulation.address(i));
  const make = (self: string, i: number) => {
    const t = network.createTransport(self);
    const g = new FleetGossip({}, {
      self,
      clock,
      random: seededRandom(i + 1),
      send: (to, command, payload) => t.send(new Uint8Array([command, ...payload]), to),
      peers: () => addresses,
      summary: () => ({ ...row(self), keys: i }),
    });
    t.onReceive((d, from) => g.receive(d[0], d.subarray(1), from));
    return { g, t };
  };
  const nodes = addresses.map(make);
  for (const { g } of nodes) g.start();
  return { clock, addresses, nodes, make };
}

Deno.test("fleet gossip: tables converge, a change spreads to all, a restarted node continues above its old version", () => {
  const { clock, addresses, nodes, make } = fleetOf(20, 0.01);
  assert.ok(clock.advanceUntil(() => nodes.every(({ g }) => g.table.size === 20), 30_000, 100) >= 0, "converged");
  const changed = nodes[3].g.setOwn({ ...nodes[3].g.table.get(addresses[3])!.row, keys: 999 });
  assert.ok(
    clock.advanceUntil(
      () => nodes.every(({ g }) => g.table.get(addresses[3])!.row.version >= changed.version),
      20_000,
      100,
    ) >= 0,
    "the change reached every table",
  );
  // Node 5 restarts at once (same second): its new row must still win.
  const old = nodes[5].g.table.get(addresses[5])!.row.version;
  nodes[5].g.stop();
  nodes[5].t.close();
  nodes[5] = make(addresses[5], 5);
  nodes[5].g.start();
  clock.advance(10_000);
  assert.ok(nodes[5].g.table.get(addresses[5])!.row.version > old, "above the version of the previous run");
  assert.ok(nodes.every(({ g }) => g.table.get(addresses[5])!.row.version > old), "and everyone holds it");
  for (const { g } of nodes) g.stop();
});

Deno.test("fleet gossip: a leaving node tells peers at once; they list it left", () => {
  const { clock, addresses, nodes } = fleetOf(6);
  clock.advanceUntil(() => nodes.every(({ g }) => g.table.size === 6), 30_000, 100);
  nodes[2].g.leave();
  nodes[2].g.stop();
  clock.advance(3_000);
  for (const [i, { g }] of nodes.entries()) {
    if (i !== 2) assert.equal(g.assess(addresses[2])?.state, "left", `${addresses[i]} lists it left`);
  }
  for (const { g } of nodes) g.stop();
});

Deno.test("node status routes: /api/nodes says who answered and each row's age; the page has one row per node; /metrics ages", async () => {
  const sim = new Simulation({ nodeOptions: { subsystemOptions: { monitoring: { system: false } } } });
  try {
    await sim.addNodes(3);
    sim.clock.advanceUntil(() => [...sim.nodes.values()].every((r) => r.fleet!.gossip.table.size === 3), 30_000, 100);
    const [a] = sim.addresses();
    const { app, close } = createNodeStatusApp(() => sim.nodes.get(a)!.fleet!.snapshot(), sim.clock, "t");
    try {
      const api = await (await app.request("/api/nodes")).json();
      assert.equal(api.answeredBy, a);
      assert.equal(api.nodes.length, 3);
      for (const v of api.nodes) {
        assert.equal(v.state, "ok");
        assert.ok(typeof v.ageMs === "number" && v.ageMs >= 0 && v.ageMs < 2 * api.intervalMs);
      }
      const page = await (await app.request("/")).text();
      for (const n of sim.addresses()) assert.ok(page.includes(`data-node="${n}"`));
      assert.ok(page.includes(`answered by ${a}`));
      const detail = await app.request(`/nodes/${encodeURIComponent(sim.addresses()[1])}`);
      assert.equal(detail.status, 200);
      assert.match(
        await (await app.request("/metrics")).text(),
        /kvstore_fleet_row_age_seconds\{node="10\.0\.0\.2:4000"\}/,
      );
      assert.equal((await app.request("/api/report", { method: "POST", body: "{}" })).status, 404, "no report intake");
      sim.kill(sim.addresses()[2]);
      sim.clock.advance(40_000);
      const after = await (await app.request("/api/nodes")).json();
      const down = after.nodes.filter((v: { state: string }) => v.state === "not responding");
      assert.equal(down.length, 1, JSON.stringify(after.nodes.map((v: { state: string }) => v.state)));
      const html = await (await app.request("/")).text();
      assert.match(html, /not responding/);
      const text = formatStatus(after);
      assert.match(text, /3 nodes as seen by 10\.0\.0\.1:4000: 2 ok, 0 late, 1 not responding, 0 left/);
    } finally {
      close();
    }
  } finally {
    sim.close();
  }
});

Deno.test("node status page: the live-update timer runs only while an event stream is open", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  let fired = 0;
  const counting = {
    now: () => clock.now(),
    setTimeout: (fn: () => void, ms: number) => clock.setTimeout(() => (fired++, fn()), ms),
    clearTimeout: (id: number | ReturnType<typeof setTimeout>) => clock.clearTimeout(id),
  };
  const snapshot = () => ({
    answeredBy: "10.0.0.1:4000",
    at: clock.now(),
    intervalMs: 2_000,
    notRespondingIntervals: 3,
    nodes: [],
  });
  const { app, close } = createNodeStatusApp(snapshot, counting, "t");
  try {
    assert.equal((await app.request("/api/nodes")).status, 200);
    clock.advance(10_000);
    assert.equal(fired, 0, "no timer fired while nobody watched");
    const reader = (await app.request("/events")).body!.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /connected/);
    clock.advance(1_000);
    assert.match(new TextDecoder().decode((await reader.read()).value), /event: summary/, "a watcher gets updates");
    await reader.cancel();
    clock.advance(2_000); // one more tick finds nobody and stops
    fired = 0;
    clock.advance(10_000);
    assert.equal(fired, 0, "no timer fired once the watcher left");
  } finally {
    close();
  }
});
