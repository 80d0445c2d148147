import assert from "node:assert/strict";
import { Hono } from "hono";
import { registerAdminRoutes } from "../../lib/admin/monitor/routes.ts";
import { parseCommandListJson, parseCommandRecordJson } from "../../lib/admin/monitor/results_store.ts";
import type { NodeResult } from "../../lib/admin/protocol.ts";
import { signedPost, testKey, WRONG_KEY_HEX } from "../monitor/signed_reports.ts";
import { ORDER, rolloutResult } from "./rollout_results.ts";

const ID = "0123456789abcdef".repeat(2);

function result(node: string, overrides: Partial<NodeResult> = {}): NodeResult {
  return {
    id: ID,
    node,
    status: "ok",
    exitCode: 0,
    durationMs: 12,
    stdout: `hello from ${node}\n`,
    stderr: "",
    startedAt: 1_700_000_000_000,
    finishedAt: 1_700_000_000_012,
    command: {
      id: ID,
      kind: "run",
      selector: "all",
      issuedAt: 1_700_000_000_000,
      expiresAt: 1_700_003_600_000,
      script: "echo <b>hi</b>",
      timeoutMs: 60_000,
    },
    ...overrides,
  };
}

async function setup() {
  const key = await testKey();
  const app = new Hono();
  const store = registerAdminRoutes(app, { clusterKey: key, limits: { maxOutputChars: 64 } });
  const post = async (node: string, r: unknown, signer: CryptoKey | null = key) => {
    const body = JSON.stringify(r);
    return await app.request("/api/admin/results", await signedPost(signer ?? undefined, node, body));
  };
  return { app, store, key, post };
}

Deno.test("admin routes: signed results are stored; unsigned, forged, mismatched and malformed ones refused", async () => {
  const { app, store, post } = await setup();
  assert.equal((await post("127.0.0.1:4000", result("127.0.0.1:4000"))).status, 202);
  assert.equal((await post("127.0.0.1:4001", result("127.0.0.1:4001", { status: "failed", exitCode: 2 }))).status, 202);
  assert.equal((await post("127.0.0.1:4002", result("127.0.0.1:4002"), null)).status, 401);
  assert.equal((await post("127.0.0.1:4002", result("127.0.0.1:4002"), await testKey(WRONG_KEY_HEX))).status, 403);
  assert.equal((await post("127.0.0.1:4002", result("127.0.0.1:4003"))).status, 403, "signed by another node");
  assert.equal((await post("127.0.0.1:4002", { ...result("127.0.0.1:4002"), status: "great" })).status, 400);
  assert.equal((await post("127.0.0.1:4002", result("127.0.0.1:4002", { id: "nope" }))).status, 400);
  assert.equal(store.get(ID)?.results.size, 2);

  const list = await (await app.request("/api/admin/commands")).json();
  assert.equal(list.commands.length, 1);
  assert.deepEqual(list.commands[0].counts, { reported: 2, done: 2, byStatus: { ok: 1, failed: 1 } });
  assert.equal(list.rejected, 5);
  const one = await (await app.request(`/api/admin/commands/${ID}`)).json();
  assert.deepEqual(one.results.map((r: NodeResult) => [r.node, r.status, r.exitCode]), [
    ["127.0.0.1:4000", "ok", 0],
    ["127.0.0.1:4001", "failed", 2],
  ]);
  assert.equal((await app.request(`/api/admin/commands/${"f".repeat(32)}`)).status, 404);
});

Deno.test("admin routes: kvctl reads back the command list and a command as the monitor serves them, and refuses other JSON", async () => {
  const { app, post } = await setup();
  await post("127.0.0.1:4000", result("127.0.0.1:4000", { stdout: "x".repeat(1000) }));
  await post("127.0.0.1:4001", result("127.0.0.1:4001", { status: "running", exitCode: undefined }));
  const list = await (await app.request("/api/admin/commands")).json();
  assert.deepEqual(parseCommandListJson(list), list);
  const one = await (await app.request(`/api/admin/commands/${ID}`)).json();
  const parsed = parseCommandRecordJson(one);
  assert.deepEqual(parsed, one);
  assert.deepEqual(parsed?.results?.map((r) => r.status), ["ok", "running"]);
  assert.equal(parseCommandRecordJson({ ...one, id: "nope" }), undefined);
  assert.equal(parseCommandRecordJson({ ...one, results: [{ node: "x" }] }), undefined);
  assert.equal(parseCommandListJson({ error: "no route" }), undefined);
  assert.equal(parseCommandListJson("<html>"), undefined);
});

Deno.test("admin routes: a late 'running' never replaces a final result; output is capped", async () => {
  const { app, post } = await setup();
  await post("127.0.0.1:4000", result("127.0.0.1:4000", { stdout: "x".repeat(1000) }));
  await post("127.0.0.1:4000", result("127.0.0.1:4000", { status: "running", stdout: undefined }));
  const one = await (await app.request(`/api/admin/commands/${ID}`)).json();
  assert.equal(one.results[0].status, "ok");
  assert.equal(one.results[0].stdout, "x".repeat(64) + "\n[… cut]");
});

Deno.test("admin page: commands with per-node status, exit, duration and escaped output", async () => {
  const { app, post } = await setup();
  await post("127.0.0.1:4000", result("127.0.0.1:4000", { stdout: "<script>alert(1)</script>" }));
  await post(
    "127.0.0.1:4001",
    result("127.0.0.1:4001", { status: "refused", exitCode: null, message: "refused: started without --allow-run" }),
  );
  const res = await app.request("/admin");
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.ok(html.includes(ID));
  assert.ok(html.includes("echo &lt;b&gt;hi&lt;/b&gt;"), "the script is shown, escaped");
  assert.ok(
    html.includes("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.includes("<script>alert"),
    "output escaped",
  );
  assert.match(html, /127\.0\.0\.1:4001<\/td><td><span class="pill refused">refused/);
  assert.ok(html.includes("refused: started without --allow-run"));
  assert.ok(html.includes("12 ms"));
  const empty = await (new Hono().route(
    "/",
    (() => {
      const a = new Hono();
      registerAdminRoutes(a, {});
      return a;
    })(),
  )).request("/admin");
  assert.match(await empty.text(), /No admin commands yet/);
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
  await post(
    rolloutResult(ORDER[0], "ok", { phase: "back", program: "0.1.0 (source)" }, { message: "restarted and back" }),
  );
  await post(
    rolloutResult(ORDER[1], "running", { phase: "catching-up", keysToGo: 812 }, {
      message: "catching up: 812 keys to go",
    }),
  );
  await post(rolloutResult(ORDER[2], "waiting", {}, { message: "waiting for its turn (3 of 3)" }));
  const html = await (await app.request("/admin")).text();
  assert.ok(html.includes("1 of 3 restarted; waiting for 10.0.0.2:4000 to catch up: 812 keys to go"), html);
  assert.ok(html.includes("rolling restart of 3 nodes"));
  assert.ok(html.includes('<span class="pill waiting">waiting'));
  assert.ok(html.includes("1 of 3 · back · 0.1.0 (source)"));
  const row = (n: string) => html.indexOf(`<td class="node">${n}`);
  assert.ok(row(ORDER[0]) > 0 && row(ORDER[0]) < row(ORDER[1]) && row(ORDER[1]) < row(ORDER[2]), "rows in order");
  assert.ok(html.includes('http-equiv="refresh"'), "refreshes while the rollout runs");
});
