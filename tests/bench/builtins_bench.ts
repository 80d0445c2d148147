/**
 * `deno task bench:builtins`: the hand-written helpers against the built-ins and library
 * pieces that could replace them (issue 14, item 8), measured in one run. The decisions and the
 * numbers are in the commit messages and in one line next to each hand-written piece that stayed.
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { html } from "hono/html";
import { SSEStreamingApi } from "hono/streaming";
import { escapeToBuffer } from "hono/utils/html";
import { matchesSelector } from "../../lib/admin/selector.ts";
import { EventHub } from "../../lib/monitoring/server/events.ts";
import { readLimited } from "../../lib/monitoring/server/body.ts";
import { realClock } from "../../lib/base/clock.ts";

// The hand-written versions the built-ins replaced (lib/base/bytes.ts, lib/admin/command.ts, lib/monitoring/server/page.ts before).
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const HEX_PAIRS = Uint16Array.from(HEX, (h) => (h.charCodeAt(0) << 8) | h.charCodeAt(1));
const hexCodes: number[] = new Array<number>(64).fill(0);
function toHex(bytes: Uint8Array): string {
  if (bytes.length > 4096) return Array.from(bytes, (b) => HEX[b]).join("");
  const codes = bytes.length * 2 === hexCodes.length ? hexCodes : new Array<number>(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    codes[2 * i] = HEX_PAIRS[bytes[i]] >> 8;
    codes[2 * i + 1] = HEX_PAIRS[bytes[i]] & 0xff;
  }
  return String.fromCharCode.apply(null, codes);
}
function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError("Invalid hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(s);
}
function fromBase64(text: string): Uint8Array {
  const bin = atob(text.trim());
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function esc(x: unknown): string {
  return String(x).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const bytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const key = bytes(32), id = bytes(16), kib = bytes(1024), big = bytes(48 * 1024);
const keyHex = toHex(key), kibHex = toHex(kib);
const sig = bytes(64), sigB64 = toBase64(sig), bigB64 = toBase64(big);

for (const [name, b] of [["32 B", key], ["16 B", id], ["1 KiB", kib]] as const) {
  Deno.bench({ name: `toHex ${name}: hand-written`, group: `toHex ${name}`, baseline: true, fn: () => void toHex(b) });
  Deno.bench({ name: `toHex ${name}: Uint8Array.prototype.toHex`, group: `toHex ${name}`, fn: () => void b.toHex() });
}
for (const [name, h] of [["64 digits", keyHex], ["2048 digits", kibHex]] as const) {
  Deno.bench({
    name: `fromHex ${name}: hand-written`,
    group: `fromHex ${name}`,
    baseline: true,
    fn: () => void fromHex(h),
  });
  Deno.bench({
    name: `fromHex ${name}: Uint8Array.fromHex`,
    group: `fromHex ${name}`,
    fn: () => void Uint8Array.fromHex(h),
  });
}
for (const [name, b, t] of [["64 B", sig, sigB64], ["48 KiB", big, bigB64]] as const) {
  Deno.bench({
    name: `toBase64 ${name}: hand-written`,
    group: `toBase64 ${name}`,
    baseline: true,
    fn: () => void toBase64(b),
  });
  Deno.bench({
    name: `toBase64 ${name}: Uint8Array.prototype.toBase64`,
    group: `toBase64 ${name}`,
    fn: () => void b.toBase64(),
  });
  Deno.bench({
    name: `fromBase64 ${name}: hand-written`,
    group: `fromBase64 ${name}`,
    baseline: true,
    fn: () => void fromBase64(t),
  });
  Deno.bench({
    name: `fromBase64 ${name}: Uint8Array.fromBase64`,
    group: `fromBase64 ${name}`,
    fn: () => void Uint8Array.fromBase64(t),
  });
}

// The globs of admin selectors (node:path matchesGlob, for comparison; it cannot match "[::1]:4000" literally).
const { matchesGlob } = await import("node:path");
Deno.bench({
  name: "selector glob: admin matchesSelector",
  group: "glob",
  baseline: true,
  fn: () => void matchesSelector("10.0.1.*", "10.0.1.17:4000"),
});
Deno.bench({
  name: "selector glob: node:path matchesGlob",
  group: "glob",
  fn: () => void matchesGlob("10.0.1.17:4000", "10.0.1.*"),
});

// HTML escaping and a table row as the monitor page renders it.
const plain = "127.0.0.1:4000", nasty = `<script>alert("x&y")</script>`;
const honoEsc = (s: string) => {
  const buf = [""];
  escapeToBuffer(s, buf);
  return buf[0];
};
for (const [name, s] of [["address", plain], ["markup", nasty]] as const) {
  Deno.bench({ name: `escape ${name}: five replaces`, group: `escape ${name}`, baseline: true, fn: () => void esc(s) });
  Deno.bench({ name: `escape ${name}: hono escapeToBuffer`, group: `escape ${name}`, fn: () => void honoEsc(s) });
}
const cells = Array.from({ length: 12 }, (_, i) => [`c${i}`, i % 3 ? i * 1.5 : `v${i}<`] as const);
Deno.bench({
  name: "row: template + esc",
  group: "row",
  baseline: true,
  fn: () => void cells.map(([c, v]) => `<td data-col="${c}" data-sort="${esc(v)}">${esc(v)}</td>`).join(""),
});
Deno.bench({
  name: "row: hono/html",
  group: "row",
  fn: () => void String(html`${cells.map(([c, v]) => html`<td data-col="${c}" data-sort="${v}">${v}</td>`)}`),
});

// The report intake: the monitor's own bounded read against hono/body-limit (Request bodies streamed, no length).
const report = JSON.stringify({ pad: "x".repeat(2_000) });
const own = new Hono().post("/r", async (c) => c.text(String((await readLimited(c.req.raw, 256 * 1024))?.length)));
const lib = new Hono().post(
  "/r",
  bodyLimit({ maxSize: 256 * 1024 }),
  async (c) => c.text(String((await c.req.text()).length)),
);
const post = (app: Hono) =>
  app.request("/r", { method: "POST", body: report, headers: { "content-type": "application/json" } });
Deno.bench({
  name: "report body 2 KB: own bounded read",
  group: "body",
  baseline: true,
  fn: async () => void await (await post(own)).text(),
});
Deno.bench({
  name: "report body 2 KB: hono/body-limit",
  group: "body",
  fn: async () => void await (await post(lib)).text(),
});

// Live updates: one ~100 KB event to 20 clients (each drained), EventHub against hono/streaming.
const CLIENTS = 20;
const payload = Array.from(
  { length: 300 },
  (_, i) => ({ id: `10.0.${i >> 8}.${i & 255}:4000`, html: "<td>x</td>".repeat(30) }),
);
async function drain(readers: ReadableStreamDefaultReader<Uint8Array>[], bytesEach: number): Promise<void> {
  await Promise.all(readers.map(async (r) => {
    for (let n = 0; n < bytesEach;) n += (await r.read()).value!.length;
  }));
}
const eventBytes = new TextEncoder().encode(`event: rows\ndata: ${JSON.stringify(payload)}\n\n`).length;
{
  const hub = new EventHub({ maxClients: CLIENTS, keepAliveMs: 3_600_000 }, realClock);
  const readers = Array.from({ length: CLIENTS }, () => hub.connect()!.body!.getReader());
  await drain(readers, 1); // the "connected" line
  Deno.bench({
    name: "SSE 100 KB x 20 clients: EventHub",
    group: "sse",
    baseline: true,
    fn: async () => {
      hub.publish("rows", payload);
      await drain(readers, eventBytes);
    },
  });
  globalThis.addEventListener("unload", () => hub.close());
}
{
  const streams = Array.from({ length: CLIENTS }, () => {
    const { readable, writable } = new TransformStream();
    return new SSEStreamingApi(writable, readable);
  });
  const readers = streams.map((s) => s.responseReadable.getReader());
  Deno.bench({
    name: "SSE 100 KB x 20 clients: hono/streaming writeSSE",
    group: "sse",
    fn: async () => {
      const data = JSON.stringify(payload);
      for (const s of streams) void s.writeSSE({ event: "rows", data });
      await drain(readers, eventBytes);
    },
  });
}
const postSized = (app: Hono) =>
  app.request("/r", {
    method: "POST",
    body: report,
    headers: { "content-type": "application/json", "content-length": String(report.length) },
  });
Deno.bench({
  name: "report body 2 KB with content-length: own bounded read",
  group: "body sized",
  baseline: true,
  fn: async () => void await (await postSized(own)).text(),
});
Deno.bench({
  name: "report body 2 KB with content-length: hono/body-limit",
  group: "body sized",
  fn: async () => void await (await postSized(lib)).text(),
});
const escRow = (v: string | number) => honoEsc(String(v));
Deno.bench({
  name: "row: template + hono escape",
  group: "row",
  fn: () => void cells.map(([c, v]) => `<td data-col="${c}" data-sort="${escRow(v)}">${escRow(v)}</td>`).join(""),
});
