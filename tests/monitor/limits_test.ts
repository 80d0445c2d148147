/**
 * The monitor's own limits (issue 21): a report or admin-result body that trickles is cut off with
 * 408, and a live-page subscriber that does not read is dropped once its queue is full while a
 * reading one keeps receiving.
 */
import assert from "node:assert/strict";
import { BodyTimeoutError, readLimited, readSignedJson } from "../../lib/monitoring/server/body.ts";
import { EventHub } from "../../lib/monitoring/server/events.ts";
import { realClock } from "../../lib/base/clock.ts";

/** A POST whose body sends `first` and then nothing more until cancelled. */
function trickling(first: string): { req: Request; cancelled: Promise<void> } {
  let cancel = () => {};
  const cancelled = new Promise<void>((r) => cancel = r);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(first));
    },
    cancel: () => cancel(),
  });
  const req = new Request("http://x/api/report", {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
    duplex: "half",
  } as RequestInit);
  return { req, cancelled };
}

Deno.test("readLimited: a body that stops arriving is cut off at the timeout", async () => {
  const { req, cancelled } = trickling('{"node":');
  const t0 = performance.now();
  await assert.rejects(() => readLimited(req, 1024, 100), BodyTimeoutError);
  await cancelled;
  const ms = performance.now() - t0;
  console.log(`trickled body refused after ${Math.round(ms)} ms (timeout 100 ms)`);
  assert.ok(ms >= 95 && ms < 2_000, `${ms} ms`);
});

Deno.test("readSignedJson: a trickled report is answered 408", async () => {
  const { req } = trickling("{");
  const r = await readSignedJson(req, { maxBytes: 1024, noun: "report", timeoutMs: 50 });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.status, 408);
  // A complete body within the time is read as before.
  const ok = await readSignedJson(
    new Request("http://x/", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }),
    { maxBytes: 1024, noun: "report", timeoutMs: 50 },
  );
  assert.deepEqual(ok, { ok: true, value: {}, node: undefined });
});

Deno.test("EventHub: a subscriber that does not read is dropped past its queue bound; a reader keeps receiving", async () => {
  let slow = 0;
  const hub = new EventHub(
    { maxClients: 4, keepAliveMs: 60_000, maxQueuedBytes: 4_096, onSlowClient: () => slow++ },
    realClock,
  );
  const silent = hub.connect()!; // never read
  const reader = hub.connect()!.body!.getReader();
  const received: string[] = [];
  const decoder = new TextDecoder();
  try {
    for (let i = 0; i < 10; i++) {
      hub.publish("summary", { i, pad: "x".repeat(1_000) });
      const { value } = await reader.read(); // the reader stays one chunk behind ("connected" came first)
      received.push(decoder.decode(value));
    }
    received.push(decoder.decode((await reader.read()).value));
    assert.equal(slow, 1, "the silent subscriber was dropped once");
    assert.equal(hub.dropped, 1);
    assert.equal(hub.clients, 1, "the reader is still connected");
    assert.match(received.at(-1)!, /"i":9/, "the reader got the last event");
    await assert.rejects(() => silent.body!.getReader().read(), /does not read/);
  } finally {
    await reader.cancel();
    hub.close();
  }
});

Deno.test("EventHub.publishAll: several events reach a client as one chunk, in order", async () => {
  const hub = new EventHub({ maxClients: 2, keepAliveMs: 60_000 }, realClock);
  const reader = hub.connect()!.body!.getReader();
  const decoder = new TextDecoder();
  try {
    assert.match(decoder.decode((await reader.read()).value), /: connected/);
    hub.publishAll([["rows", [{ id: "a" }]], ["removed", ["b"]], ["summary", { html: "s" }]]);
    const chunk = decoder.decode((await reader.read()).value);
    assert.deepEqual(
      chunk.split("\n\n").filter(Boolean).map((e) => e.split("\n")[0]),
      ["event: rows", "event: removed", "event: summary"],
    );
    assert.match(chunk, /data: \[\{"id":"a"\}\]\n\nevent: removed\ndata: \["b"\]\n\n/);
    assert.equal(hub.sent, 3, "three events counted");
  } finally {
    await reader.cancel();
    hub.close();
  }
});
