import assert from "node:assert/strict";
import { forEachLine } from "../lib/base/lines.ts";

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk);
      c.close();
    },
  });
}

Deno.test("forEachLine: lines split across chunks, a multi-byte character split across chunks, the trailing line", async () => {
  const bytes = new TextEncoder().encode("first\nsé\ncond\n\nlast without newline");
  const split = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
  const chunks = [bytes.subarray(0, 3), bytes.subarray(3, split), bytes.subarray(split)];
  const lines: string[] = [];
  await forEachLine(streamOf(chunks), (l) => lines.push(l));
  assert.deepEqual(lines, ["first", "sé", "cond", "", "last without newline"]);
});

Deno.test("forEachLine: an empty stream and one ending in a newline give no extra line", async () => {
  const lines: string[] = [];
  await forEachLine(streamOf([]), (l) => lines.push(l));
  await forEachLine(streamOf([new TextEncoder().encode("a\n")]), (l) => lines.push(l));
  assert.deepEqual(lines, ["a"]);
});
