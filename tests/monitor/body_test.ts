/** The monitor's bounded request bodies and escaped pages (readLimited, readSignedJson, esc on hono's escaper, the 404 page). */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { readLimited, readSignedJson } from "../../lib/monitoring/server/body.ts";
import { importClusterKey } from "../../lib/wire/http_key.ts";
import { signedHeaders } from "../../lib/wire/signed_request.ts";
import { esc } from "../../lib/monitoring/server/page.ts";
import { registerAdminRoutes } from "../../lib/admin/monitor/routes.ts";
import { startMonitor } from "../../lib/roles/start_monitor.ts";
import { VirtualClock } from "../../lib/base/clock.ts";
import { MemoryNetwork } from "../../lib/net/memory_network.ts";

/** A request whose body arrives in `chunks` pieces of `size` bytes, with no content-length. */
function streamed(chunks: number, size: number, counter: { pulled: number }, path = "/"): Request {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent++ === chunks) return c.close();
      counter.pulled++;
      c.enqueue(new Uint8Array(size).fill(0x61));
    },
  });
  return new Request(`http://monitor${path}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
}

Deno.test("readSignedJson: each refusal has its status and names the body; a signed JSON body is read with its node", async () => {
  const key = await importClusterKey("ab".repeat(32));
  const other = await importClusterKey("cd".repeat(32));
  const body = JSON.stringify({ n: 1 });
  const post = (headers: Record<string, string>, text = body) =>
    new Request("http://m/", { method: "POST", body: text, headers });
  const read = (req: Request, clusterKey?: CryptoKey) =>
    readSignedJson(req, { maxBytes: 64, clusterKey, noun: "report" });
  const signed = await signedHeaders(key, "n1:1", body);

  assert.deepEqual(await read(post({ ...signed, "content-type": "text/plain" }), key), {
    ok: false,
    status: 415,
    error: "send the report as application/json",
  });
  const long = await read(post(signed, "x".repeat(65)), key);
  assert.equal(long.ok ? 0 : long.status, 413);
  const unsigned = await read(post({ "content-type": "application/json" }), key);
  assert.equal(unsigned.ok ? 0 : unsigned.status, 401);
  assert.match(unsigned.ok ? "" : unsigned.error, /sign the report with the cluster key/);
  const wrong = await read(post(await signedHeaders(other, "n1:1", body)), key);
  assert.equal(wrong.ok ? 0 : wrong.status, 403);
  const altered = await read(post(signed, JSON.stringify({ n: 2 })), key);
  assert.equal(altered.ok ? 0 : altered.status, 403);
  const notJson = await read(post(await signedHeaders(key, "n1:1", "{"), "{"), key);
  assert.equal(notJson.ok ? 0 : notJson.status, 400);

  assert.deepEqual(await read(post(signed), key), { ok: true, value: { n: 1 }, node: "n1:1" });
  assert.deepEqual(await read(post({ "content-type": "application/json" })), {
    ok: true,
    value: { n: 1 },
    node: undefined,
  });
});

Deno.test("readLimited: a body within the limit is read whole; a longer one is refused by content-length or as it streams", async () => {
  assert.equal(await readLimited(new Request("http://m/", { method: "POST", body: "héllo" }), 6), "héllo");
  assert.equal(await readLimited(new Request("http://m/", { method: "POST", body: "héllo" }), 5), null, "6 bytes");
  assert.equal(await readLimited(new Request("http://m/"), 5), "", "no body");
  const declared = new Request("http://m/", { method: "POST", body: "x", headers: { "content-length": "999" } });
  assert.equal(await readLimited(declared, 10), null);
  const counter = { pulled: 0 };
  assert.equal(await readLimited(streamed(1_000, 1024, counter), 10 * 1024), null);
  assert.ok(counter.pulled <= 12, `stopped reading soon after the limit (pulled ${counter.pulled} KiB of 1,000)`);
  assert.equal((await readLimited(streamed(10, 1024, { pulled: 0 }), 10 * 1024))?.length, 10 * 1024);
});

Deno.test("admin results route: a streamed body over the limit is 413 before anything else is looked at", async () => {
  const app = new Hono();
  registerAdminRoutes(app, { maxBodyBytes: 4 * 1024 });
  const counter = { pulled: 0 };
  const res = await app.request(streamed(1_000, 1024, counter, "/api/admin/results"));
  assert.equal(res.status, 413);
  assert.match((await res.json()).error, /larger than 4096 bytes/);
  assert.ok(counter.pulled <= 6, `the whole body was not buffered (pulled ${counter.pulled} KiB)`);
});

Deno.test("esc (hono's escaper) escapes the five characters and nothing else; the 404 page escapes the path", async () => {
  assert.equal(
    esc(`<a href="x" title='y'>&amp;</a>`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;",
  );
  assert.equal(esc("127.0.0.1:4000 é ✓"), "127.0.0.1:4000 é ✓");
  assert.equal(esc(42), "42");
  const clock = new VirtualClock();
  const m = await startMonitor({
    port: 0,
    transport: new MemoryNetwork(clock, { seed: 1 }).createTransport("10.0.99.1:9000"),
    clock,
    autoStart: false,
    tcpProbe: null,
  });
  try {
    const res = await m.app.request(`/nodes/${encodeURIComponent('<img src=x onerror="alert(1)">')}`);
    assert.equal(res.status, 404);
    const page = await res.text();
    assert.match(page, /Nothing at &lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;\./);
    assert.doesNotMatch(page, /<img/);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  } finally {
    await m.close();
  }
});
