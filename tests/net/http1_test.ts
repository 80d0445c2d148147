/**
 * writeResponse (lib/net/http1.ts) against a recording writer: how many writes a response costs
 * and which bytes each carries.
 */
import assert from "node:assert/strict";
import { writeResponse } from "../../lib/net/http1.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk);
      c.close();
    },
  });
}

async function written(res: Response, keepAlive = true): Promise<Uint8Array[]> {
  const writes: Uint8Array[] = [];
  await writeResponse(res, { method: "GET", version: "HTTP/1.1", keepAlive }, (bytes) => {
    writes.push(bytes);
    return Promise.resolve();
  });
  return writes;
}

Deno.test("writeResponse: an event stream costs one write per chunk, the chunk itself, not a copy", async () => {
  const chunks = [encoder.encode("event: a\ndata: 1\n\n"), encoder.encode("x".repeat(5_000)), encoder.encode("z")];
  const writes = await written(new Response(streamOf(chunks), { headers: { "content-type": "text/event-stream" } }));
  assert.equal(writes.length, chunks.length + 1, "the head with the first chunk, one write per other chunk, the end");
  const first = decoder.decode(writes[0]);
  assert.match(first, /connection: close\r\n\r\nevent: a\ndata: 1\n\n$/, "closed after it, though asked to keep alive");
  assert.doesNotMatch(first, /transfer-encoding/);
  assert.equal(writes[1], chunks[1], "the same bytes object every client shares");
  assert.equal(writes[2], chunks[2]);
  assert.equal(writes[3].length, 0, "no terminating chunk");
});

Deno.test("writeResponse: other bodies stay chunked on HTTP/1.1", async () => {
  const writes = await written(new Response(streamOf([encoder.encode("abc"), encoder.encode("x".repeat(300))])));
  const all = writes.map((w) => decoder.decode(w)).join("");
  assert.match(all, /transfer-encoding: chunked\r\n/);
  assert.match(all, /\r\n\r\n3\r\nabc\r\n12c\r\nx{300}\r\n0\r\n\r\n$/);
});
