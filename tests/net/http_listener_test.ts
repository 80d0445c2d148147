/**
 * listenHttp (lib/net/http_listener.ts) over real sockets: requests with and without bodies,
 * keep-alive, the header timeout, the connection cap with eviction and refusal, malformed and
 * oversized heads; and a server process under `ulimit -n` that runs out of descriptors keeps
 * running and accepts again once they free up.
 */
import assert from "node:assert/strict";
import { listenHttp } from "../../lib/net/http_listener.ts";
import { waitUntil } from "../support/real_time.ts";
import { WatchedProcess } from "../../lib/base/watched_process.ts";

const encoder = new TextEncoder();

async function raw(port: number, text: string): Promise<Deno.Conn> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  if (text) await c.write(encoder.encode(text));
  return c;
}

/** Everything the server sends until it closes the connection. */
async function readAll(c: Deno.Conn): Promise<string> {
  let out = "";
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await c.read(buf).catch(() => null);
    if (n === null) break;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
  c.close();
  return out;
}

Deno.test("listenHttp: GET, POST with content-length and chunked, HEAD, keep-alive", async () => {
  const l = listenHttp({
    port: 0,
    handler: async (req) => new Response(`${req.method} ${new URL(req.url).pathname} ${(await req.text()).length}`),
  });
  try {
    const base = `http://127.0.0.1:${l.addr.port}`;
    assert.equal(await (await fetch(base + "/a")).text(), "GET /a 0");
    assert.equal(
      await (await fetch(base + "/b", { method: "POST", body: "x".repeat(10_000) })).text(),
      "POST /b 10000",
    );
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(encoder.encode("abc"));
        c.enqueue(encoder.encode("de"));
        c.close();
      },
    });
    assert.equal(await (await fetch(base + "/c", { method: "POST", body: chunked })).text(), "POST /c 5");
    const head = await fetch(base + "/d", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    // Two requests on one connection, then the client closes.
    const c = await raw(
      l.addr.port,
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const both = await readAll(c);
    assert.match(both, /GET \/1 0[\s\S]*GET \/2 0/);
    assert.equal(l.refusals.total, 0);
  } finally {
    await l.close();
  }
});

Deno.test("listenHttp: an event stream is written unframed, one write per chunk, and its connection closes after it", async () => {
  const events = [encoder.encode("event: a\ndata: 1\n\n"), encoder.encode("x".repeat(5_000))];
  const l = listenHttp({
    port: 0,
    handler: () =>
      new Response(
        new ReadableStream({
          start(c) {
            for (const e of events) c.enqueue(e);
            c.close();
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      ),
  });
  try {
    // A kept-alive request: the server still closes after the stream (no second response).
    const c = await raw(l.addr.port, "GET /events HTTP/1.1\r\nHost: x\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    const text = await readAll(c);
    const [head, body] = [text.slice(0, text.indexOf("\r\n\r\n")), text.slice(text.indexOf("\r\n\r\n") + 4)];
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /\r\nconnection: close$/i);
    assert.doesNotMatch(head, /transfer-encoding/i, "not chunked");
    assert.equal(body, events.map((e) => new TextDecoder().decode(e)).join(""), "the chunks as they are, then the end");
  } finally {
    await l.close();
  }
});

Deno.test("listenHttp: the timeout sweep runs only while a connection is open", async () => {
  const l = listenHttp({ port: 0, headerTimeoutMs: 300, handler: () => new Response("ok") });
  try {
    assert.equal(l.sweeping, false, "no timer before any connection");
    const c = await raw(l.addr.port, "");
    await waitUntil(() => l.sweeping, { timeoutMs: 2_000, what: "the sweep to start" });
    assert.match(await readAll(c), /^$/, "closed by the header timeout, which the sweep enforces");
    assert.equal(l.refusals.get("header_timeout"), 1);
    await waitUntil(() => !l.sweeping, { timeoutMs: 2_000, what: "the sweep to stop once no connection is open" });
    assert.equal(l.connections, 0);
    const again = await raw(l.addr.port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(await readAll(again), /^HTTP\/1\.1 200 [\s\S]*\r\nok\r\n/, "served after the sweep stopped");
  } finally {
    await l.close();
  }
  assert.equal(l.sweeping, false);
});

Deno.test("listenHttp: a head not complete within the header timeout is closed and counted", async () => {
  const l = listenHttp({ port: 0, headerTimeoutMs: 300, handler: () => new Response("ok") });
  try {
    const t0 = performance.now();
    const c = await raw(l.addr.port, "GET / HT");
    assert.equal(await readAll(c), "", "closed without an answer");
    const ms = performance.now() - t0;
    console.log(`slow head closed after ${Math.round(ms)} ms (timeout 300 ms)`);
    assert.ok(ms >= 280 && ms < 2_000, `closed after ${ms} ms`);
    assert.equal(l.refusals.get("header_timeout"), 1);
  } finally {
    await l.close();
  }
});

Deno.test("listenHttp: at the cap the longest-idle connection makes room; busy ones make the new one refused", async () => {
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  const l = listenHttp({
    port: 0,
    maxConnections: 2,
    handler: async (req) => {
      if (new URL(req.url).pathname === "/hold") await held;
      return new Response("ok");
    },
  });
  const conns: Deno.Conn[] = [];
  try {
    conns.push(await raw(l.addr.port, ""), await raw(l.addr.port, ""));
    await waitUntil(() => l.connections === 2, { timeoutMs: 5_000, what: "2 open" });
    const res = await fetch(`http://127.0.0.1:${l.addr.port}/`, { headers: { connection: "close" } });
    assert.equal(await res.text(), "ok");
    assert.equal(l.refusals.get("evicted"), 1, "the oldest idle connection was closed for room");
    assert.equal(await readAll(conns.shift()!), "");
    // Both slots busy: a new connection is closed at once.
    const busy = [
      await raw(l.addr.port, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"),
      await raw(l.addr.port, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"),
    ];
    await waitUntil(() => l.refusals.get("evicted") === 2 && l.connections === 2, { timeoutMs: 5_000, what: "2 busy" });
    const refused = await raw(l.addr.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(await readAll(refused), "");
    assert.equal(l.refusals.get("connection_cap"), 1);
    release();
    for (const b of busy) assert.match(await readAll(b), /^HTTP\/1\.1 200 OK/);
  } finally {
    release();
    for (const c of conns) c.close();
    await l.close();
  }
});

Deno.test("listenHttp: malformed and oversized heads get 400 and 431", async () => {
  const l = listenHttp({ port: 0, maxHeaderBytes: 1024, handler: () => new Response("ok") });
  try {
    assert.match(await readAll(await raw(l.addr.port, "NOT A REQUEST LINE\r\n\r\n")), /^HTTP\/1\.1 400 /);
    const big = `GET / HTTP/1.1\r\nX-Big: ${"a".repeat(2048)}\r\n\r\n`;
    assert.match(await readAll(await raw(l.addr.port, big)), /^HTTP\/1\.1 431 /);
    const both = "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc";
    assert.match(await readAll(await raw(l.addr.port, both)), /^HTTP\/1\.1 400 /);
    assert.equal(l.refusals.get("bad_request"), 2);
    assert.equal(l.refusals.get("header_too_large"), 1);
  } finally {
    await l.close();
  }
});

Deno.test("listenHttp: a chunked body with a bad size or an endless trailer line is refused, not spun on", async () => {
  const l = listenHttp({
    port: 0,
    handler: async (req) => {
      try {
        return new Response(`read ${(await req.text()).length}`);
      } catch (e) {
        return new Response((e as Error).message, { status: 400 });
      }
    },
  });
  try {
    const post = "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert.match(await readAll(await raw(l.addr.port, post + "3\r\nabc\r\n0\r\n\r\n")), /\r\nread 3\r\n/);
    assert.match(
      await readAll(await raw(l.addr.port, post + "1x\r\na\r\n0\r\n\r\n")),
      /^HTTP\/1\.1 400 [\s\S]*malformed chunked body/,
    );
    const endless = post + "0\r\nX-Trailer: " + "a".repeat(4_000);
    assert.match(await readAll(await raw(l.addr.port, endless)), /^HTTP\/1\.1 400 [\s\S]*malformed chunked trailer/);
  } finally {
    await l.close();
  }
});

Deno.test("listenHttp under ulimit -n 128 with a cap above it: EMFILE is logged once a burst, counted, and accepting resumes", async () => {
  const script = new URL("./listen_server.ts", import.meta.url).pathname;
  const server = new WatchedProcess("server", "bash", [
    "-c",
    `ulimit -n 128 && exec '${Deno.execPath()}' run --quiet --allow-net --allow-read '${script}' 1000`,
  ]);
  const conns: Deno.Conn[] = [];
  try {
    const port = Number((await server.waitFor(/^listening \d+/)).split(" ")[1]);
    for (let i = 0; i < 200; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await server.waitFor(/cannot accept connections \(Too many open files/, 10_000);
    await server.waitFor(/"descriptors",\d+/, 10_000);
    for (const c of conns.splice(0)) c.close();
    const page = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5_000) })
        .catch((e) => assert.fail(`${e.message}; server output:\n${server.output.join("\n")}`));
      assert.equal(await res.text(), "ok");
    };
    await page();
    await new Promise((r) => setTimeout(r, 5_500)); // the burst ends after 5 s without a failed accept
    await page();
    await server.waitFor(/accepting connections again; \d+ accepts failed in the burst/, 10_000);
    const logged = server.output.filter((l) => l.includes("cannot accept connections")).length;
    console.log(`EMFILE: ${server.output.filter((l) => l.startsWith("open")).at(-1)}; logged ${logged} time(s)`);
    assert.equal(logged, 1, `one line for the burst:\n${server.output.join("\n")}`);
  } finally {
    for (const c of conns) c.close();
    await server.stop("SIGKILL");
  }
});
