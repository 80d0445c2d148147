import { internalAddressOf } from "../../lib/net/internal_address.ts";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/base/clock.ts";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";
import { type RunningMonitor, startMonitor } from "../../lib/roles/start_monitor.ts";
import { NODE_HEADER, SIGNATURE_HEADER } from "../../lib/wire/signed_request.ts";
import { decodeJsonFrame } from "../../lib/wire/envelope.ts";
import {
  MonitoringCommand,
  parseRoundHeader,
  type RoundHeader,
  verifyRound,
} from "../../lib/monitoring/round_message.ts";
import { defaultStats, KEY_HEX, report, signedPost, testKey, WRONG_KEY_HEX } from "./signed_reports.ts";

const A = "127.0.0.1:4000";
const B = "127.0.0.1:4001";
const C = "127.0.0.1:4002";

async function setup(): Promise<{ m: RunningMonitor; clock: VirtualClock; key: CryptoKey; net: MemoryNetwork }> {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, { seed: 1 });
  const fleet = parseFleet(
    `name: apptest\nclusterKey: "${KEY_HEX}"\nnodes:\n  - ${A}\n  - ${B}\n  - ${C}\n`,
    "nodes.yaml",
  );
  const m = await startMonitor({
    port: 0,
    transport: net.createTransport("10.0.99.1:9000"),
    clock,
    fleet,
    autoStart: false,
    tcpProbe: null,
    config: { intervalMs: 1_000, sseFlushMs: 100, notRespondingRounds: 3, historyWindowMs: 60_000, historyPoints: 60 },
  });
  return { m, clock, key: await testKey(), net };
}

async function post(m: RunningMonitor, init: RequestInit): Promise<Response> {
  return await m.app.request("/api/report", init);
}

async function json(m: RunningMonitor, path: string) {
  const res = await m.app.request(path);
  return { status: res.status, body: await res.json() };
}

/** Reads an SSE response until `pattern` appears in the text (or `timeoutMs`); returns the text read. */
export async function readSseUntil(res: Response, pattern: RegExp, timeoutMs: number): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (!pattern.test(text)) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<null>((r) => timer = setTimeout(() => r(null), left)),
      ]);
      clearTimeout(timer);
      if (chunk === null || chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    await reader.cancel();
  }
  return text;
}

Deno.test("a signed report is accepted and shows in the API, the page and /metrics", async () => {
  const { m, key } = await setup();
  try {
    const round = await m.monitor.startRound();
    const body = JSON.stringify(report(A, round.id, defaultStats(7)));
    const res = await post(m, await signedPost(key, A, body));
    assert.equal(res.status, 202, await res.clone().text());
    assert.deepEqual(await res.json(), { accepted: 1, rejected: [] });

    const { body: api } = await json(m, "/api/nodes");
    assert.equal(api.cluster.total, 3);
    const a = api.nodes.find((n: { id: string }) => n.id === A);
    assert.equal(a.stats.keys.value, 7);
    assert.equal(a.state, "ok");
    assert.equal(a.lastRound, round.id);

    const one = await json(m, `/api/nodes/${encodeURIComponent(A)}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.history.series.keys.v, [7]);
    assert.equal((await json(m, "/api/nodes/10.1.1.1:1")).status, 404);

    const rounds = await json(m, "/api/rounds");
    assert.equal(rounds.body.current.id, round.id);
    assert.equal(rounds.body.current.reported, 1);
    assert.equal(rounds.body.current.expected, 3);

    const page = await (await m.app.request("/")).text();
    assert.match(page, new RegExp(`<tr data-node="${A}"`));
    assert.match(page, /<table class="nodes"/);
    const detail = await m.app.request(`/nodes/${encodeURIComponent(A)}`);
    assert.equal(detail.status, 200);
    assert.match(await detail.text(), /<tr data-stat="keys"><td>keys<\/td><td class="num">7<\/td>/);
    assert.equal((await m.app.request("/nodes/10.1.1.1:1")).status, 404);

    const metrics = await (await m.app.request("/metrics")).text();
    assert.match(metrics, new RegExp(`^kvstore_keys\\{node="${A}"\\} 7$`, "m"));
    assert.match(metrics, new RegExp(`^kvstore_node_up\\{node="${A}"\\} 1$`, "m"));
    assert.match(metrics, new RegExp(`^kvstore_bytes_stored_bytes\\{node="${A}"\\} 700$`, "m"));
    assert.match(metrics, /^# TYPE kvstore_node_up gauge$/m);
  } finally {
    await m.close();
  }
});

Deno.test("garbage, oversized and forged reports get 4xx and change nothing", async () => {
  const { m, key } = await setup();
  try {
    const round = await m.monitor.startRound();
    const good = JSON.stringify(report(A, round.id));
    const before = JSON.stringify((await json(m, "/api/nodes")).body.nodes);
    const wrongKey = await testKey(WRONG_KEY_HEX);
    const cases: [string, RequestInit, number][] = [
      ["not JSON", await signedPost(key, A, "{not json"), 400],
      ["wrong content type", { method: "POST", headers: { "content-type": "text/plain" }, body: good }, 415],
      ["oversized", await signedPost(key, A, JSON.stringify({ pad: "x".repeat(300_000) })), 413],
      ["unsigned", { method: "POST", headers: { "content-type": "application/json" }, body: good }, 401],
      ["signed with another key", await signedPost(wrongKey, A, good), 403],
      ["signed by another node", await signedPost(key, B, good), 403],
      ["body altered after signing", {
        ...(await signedPost(key, A, good)),
        body: good.replace('"keys":{"value":5}', '"keys":{"value":999}'),
      }, 403],
      ["garbage signature", {
        method: "POST",
        headers: { "content-type": "application/json", [NODE_HEADER]: A, [SIGNATURE_HEADER]: "zz" },
        body: good,
      }, 403],
      [
        "stat value is an object",
        await signedPost(key, A, JSON.stringify(report(A, round.id, { x: { value: {} } } as never))),
        400,
      ],
      [
        "stat name with spaces",
        await signedPost(key, A, JSON.stringify(report(A, round.id, { "a b": { value: 1 } }))),
        400,
      ],
      [
        "too many stats",
        await signedPost(
          key,
          A,
          JSON.stringify(
            report(A, round.id, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`s${i}`, { value: i }]))),
          ),
        ),
        400,
      ],
      ["node is not host:port", await signedPost(key, "nohost", JSON.stringify(report("nohost", round.id))), 400],
      ["unknown round", await signedPost(key, A, JSON.stringify(report(A, "00000000deadbeef"))), 409],
      ["JSON array", await signedPost(key, A, "[1,2,3]"), 400],
    ];
    for (const [what, init, status] of cases) {
      const res = await post(m, init);
      const text = await res.text();
      assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${text}`);
      assert.ok(JSON.parse(text).error.length > 0, `${what}: the answer says what is wrong`);
    }
    assert.equal(JSON.stringify((await json(m, "/api/nodes")).body.nodes), before, "nothing changed");
    assert.equal(m.monitor.stats.reportsAccepted, 0);
    assert.equal(m.monitor.stats.reportsRejected, cases.length);

    // The genuine report passes; sending it again (a replay) is refused.
    assert.equal((await post(m, await signedPost(key, A, good))).status, 202);
    const replay = await post(m, await signedPost(key, A, good));
    assert.equal(replay.status, 409);
    await replay.body?.cancel();
    // Once its round is out of the accept window, an old report is refused as well.
    for (let i = 0; i < m.monitor.config.acceptRounds; i++) await m.monitor.startRound();
    const old = await post(m, await signedPost(key, B, JSON.stringify(report(B, round.id))));
    assert.equal(old.status, 409);
    await old.body?.cancel();
    assert.equal((await json(m, `/api/nodes/${B}`)).body.reports, 0);
  } finally {
    await m.close();
  }
});

Deno.test("a batch of reports signed by one node is accepted per report", async () => {
  const { m, key } = await setup();
  try {
    const round = await m.monitor.startRound();
    const body = JSON.stringify({ reports: [report(A, round.id), report(B, round.id), report(C, "00000000deadbeef")] });
    const res = await post(m, await signedPost(key, A, body));
    assert.equal(res.status, 202);
    const r = await res.json();
    assert.equal(r.accepted, 2);
    assert.equal(r.rejected[0].node, C);
  } finally {
    await m.close();
  }
});

Deno.test("a new stat name shows on the page, the detail page and /metrics with no monitor change", async () => {
  const { m, key } = await setup();
  try {
    const round = await m.monitor.startRound();
    const stats = { ...defaultStats(), compactions_total: { value: 42 }, "zone.name": { value: "rack-7" } };
    assert.equal((await post(m, await signedPost(key, A, JSON.stringify(report(A, round.id, stats))))).status, 202);
    const page = await (await m.app.request("/")).text();
    assert.match(page, /<span class="chip" data-stat="compactions_total">compactions_total 42<\/span>/);
    assert.match(page, /data-stat="zone.name">zone.name rack-7</);
    const detail = await (await m.app.request(`/nodes/${A}`)).text();
    assert.match(detail, /<tr data-stat="compactions_total"><td>compactions_total<\/td><td class="num">42</);
    const metrics = await (await m.app.request("/metrics")).text();
    assert.match(metrics, new RegExp(`^kvstore_compactions_total\\{node="${A}"\\} 42$`, "m"));
    assert.match(metrics, new RegExp(`^kvstore_zone_name_info\\{node="${A}",value="rack-7"\\} 1$`, "m"));
  } finally {
    await m.close();
  }
});

Deno.test("not responding after K silent rounds; problems first; sort links order the table", async () => {
  const { m, clock, key } = await setup();
  try {
    const send = async (node: string, id: string, keys: number) => {
      const res = await post(m, await signedPost(key, node, JSON.stringify(report(node, id, defaultStats(keys)))));
      assert.equal(res.status, 202);
      await res.body?.cancel();
    };
    let r = await m.monitor.startRound();
    await send(A, r.id, 1);
    await send(B, r.id, 3);
    await send(C, r.id, 2);
    // C goes silent; A and B keep reporting.
    for (let i = 1; i <= 3; i++) {
      clock.advance(1_000);
      r = await m.monitor.startRound();
      await send(A, r.id, 1);
      await send(B, r.id, 3);
      const c = (await json(m, `/api/nodes/${C}`)).body;
      if (i < 3) assert.notEqual(c.state, "not_responding", `round ${i}: only ${c.missedRounds} missed`);
    }
    clock.advance(1_000);
    r = await m.monitor.startRound();
    const c = (await json(m, `/api/nodes/${C}`)).body;
    assert.equal(c.state, "not_responding");
    assert.equal(c.missedRounds, 3);
    assert.equal(c.up, false);
    // Problems first: C's row comes first; sorting by keys (desc) gives B, C, A.
    const order = (html: string) => [...html.matchAll(/<tr data-node="([^"]+)"/g)].map((x) => x[1]);
    const page = await (await m.app.request("/")).text();
    assert.deepEqual(order(page), [C, A, B]);
    assert.match(page, /not responding \(3 rounds\)/);
    assert.deepEqual(order(await (await m.app.request("/?sort=keys&dir=desc")).text()), [B, C, A]);
    assert.deepEqual(order(await (await m.app.request("/?sort=keys&dir=asc")).text()), [A, C, B]);
    assert.deepEqual(order(await (await m.app.request("/?sort=node&dir=desc")).text()), [C, B, A]);
    const metrics = await (await m.app.request("/metrics")).text();
    assert.match(metrics, new RegExp(`^kvstore_node_up\\{node="${C}"\\} 0$`, "m"));
    // C comes back: ok again at once.
    await send(C, r.id, 2);
    assert.equal((await json(m, `/api/nodes/${C}`)).body.state, "ok");
  } finally {
    await m.close();
  }
});

Deno.test("the live stream sends changed rows and the summary", async () => {
  const { m, clock, key } = await setup();
  try {
    const round = await m.monitor.startRound();
    clock.advance(200); // the round's own update goes out before the client connects
    const res = await m.app.request("/events");
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const body = JSON.stringify(report(B, round.id));
    assert.equal((await post(m, await signedPost(key, B, body))).status, 202);
    clock.advance(200); // coalescing period
    const text = await readSseUntil(res, /event: summary/, 2_000);
    assert.match(text, /^: connected$/m);
    const rows = JSON.parse(/event: rows\ndata: (.*)\n/.exec(text)![1]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].id, B);
    assert.match(rows[0].html, /^<tr data-node="127.0.0.1:4001"/);
  } finally {
    await m.close();
  }
});

Deno.test("round messages go to seeds, carry the report URL and a valid MAC; misses get it directly", async () => {
  const { m, clock, key, net } = await setup();
  const got: { to: string; header: RoundHeader }[] = [];
  const nodes = [A, B, C].map((addr) => {
    const t = net.createTransport(internalAddressOf(addr), addr); // rounds go to a node's internal port
    t.onReceive((data) => {
      const msg = decodeJsonFrame(data, ClusterKeyring.fromHex([KEY_HEX]));
      if (msg?.command === MonitoringCommand.Round) got.push({ to: addr, header: parseRoundHeader(msg.header)! });
    });
    return t;
  });
  try {
    const r1 = await m.monitor.startRound();
    clock.advance(50);
    assert.equal(got.length, m.monitor.config.seedsPerRound, "first round: only the seeds");
    for (const g of got) {
      assert.equal(g.header.r, r1.id);
      assert.equal(g.header.u, m.reportUrl);
      assert.equal(g.header.h, 0);
      assert.equal(g.header.j, 500, "jitter = jitterFraction x interval");
      assert.equal(await verifyRound(key, g.header), true);
      assert.equal(await verifyRound(key, { ...g.header, u: "http://127.0.0.9:1/api/report" }), false);
    }
    // Only A reports: next round goes to A (the only responsive seed) and directly to B and C.
    const res = await post(m, await signedPost(key, A, JSON.stringify(report(A, r1.id))));
    assert.equal(res.status, 202);
    got.length = 0;
    clock.advance(1_000);
    const r2 = await m.monitor.startRound();
    clock.advance(50);
    assert.deepEqual(got.map((g) => g.to).sort(), [A, B, C]);
    assert.ok(got.every((g) => g.header.r === r2.id));
    assert.deepEqual(r2.seeds, [A]);
    assert.equal(r2.direct, 2);
  } finally {
    for (const t of nodes) t.close();
    await m.close();
  }
});

Deno.test("the page draws a req/s sparkline per node row and the round coverage line", async () => {
  const { m, clock, key } = await setup();
  try {
    const send = async (node: string, id: string, rps: number) => {
      const stats = { ...defaultStats(), rps: { value: rps, unit: "req/s" } };
      const res = await post(m, await signedPost(key, node, JSON.stringify(report(node, id, stats))));
      assert.equal(res.status, 202);
      await res.body?.cancel();
    };
    // Round 1: all three report; round 2: C is silent. One second (one history bucket) apart.
    const r1 = await m.monitor.startRound();
    await send(A, r1.id, 1);
    await send(B, r1.id, 4);
    await send(C, r1.id, 2);
    clock.advance(1_000);
    const r2 = await m.monitor.startRound();
    await send(A, r2.id, 3);
    await send(B, r2.id, 4);
    clock.advance(1_000);
    await m.monitor.startRound(); // closes round 2

    const page = await (await m.app.request("/")).text();
    const rps = (node: string) => {
      const row = new RegExp(`<tr data-node="${node}"[^>]*>.*?</tr>`).exec(page);
      assert.ok(row, `a row for ${node}`);
      const cell = /<td data-col="rps"[^>]*>(.*?)<\/td>/.exec(row[0]);
      assert.ok(cell, `${node}: a req/s cell`);
      const svgs = cell[1].match(/<svg class="spark"/g) ?? [];
      assert.equal(svgs.length, 1, `${node}: one sparkline in ${cell[1]}`);
      const points = /<polyline fill="none" points="([^"]*)"\/>/.exec(cell[1]);
      assert.ok(points, `${node}: a polyline`);
      return {
        points: points[1].split(" "),
        label: /aria-label="([^"]*)"/.exec(cell[1])![1],
        circle: /<circle cx="([^"]*)" cy="([^"]*)"/.exec(cell[1])!.slice(1).join(","),
      };
    };
    // 72 x 18 with 2 px padding: oldest point on the left, newest on the right, low at the bottom.
    const a = rps(A);
    assert.deepEqual(a.points, ["2.0,16.0", "70.0,2.0"], "A: two reports, rising");
    assert.equal(a.label, "req/s: last 3, min 1, max 3");
    assert.equal(a.circle, "70.0,2.0", "the dot marks the newest point");
    const b = rps(B);
    assert.deepEqual(b.points, ["2.0,9.0", "70.0,9.0"], "B: two equal values, a flat line in the middle");
    assert.equal(b.label, "req/s: last 4, min 4, max 4");
    const c = rps(C);
    assert.deepEqual(c.points, ["70.0,9.0"], "C: one report, one point");
    assert.equal(c.label, "req/s: last 2, min 2, max 2");

    // The coverage line of the last closed round, the round in progress, and a bar per closed round.
    const summary = /<section id="summary" class="cards">(.*?)<\/section>/s.exec(page)![1];
    assert.match(summary, /<b>Round 2<\/b>: 2 of 3 nodes reported \(66\.7%\)\. Time from the round's start until half/);
    assert.match(summary, /all: not reached\./, "a share never reached is said in words, not as –");
    assert.match(summary, /round 3 in progress: 0 of 3 so far/);
    const bars = [...summary.matchAll(/<rect class="(\w+)"[^>]*><title>([^<]*)<\/title><\/rect>/g)];
    assert.deepEqual(bars.map((x) => [x[1], x[2]]), [["full", "100%"], ["low", "66.7%"]], "oldest first");
    assert.match(summary, /coverage of the last 2 rounds/);
  } finally {
    await m.close();
  }
});
