import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/base/bytes.ts";
import { seededRandom } from "../lib/base/random.ts";

Deno.test("toHex matches a per-byte reference at every length, and fromHex reverses it", () => {
  const rnd = seededRandom(5);
  for (const n of [0, 1, 2, 31, 32, 33, 64, 4096, 4097, 20_000]) {
    const bytes = Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
    const reference = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(toHex(bytes), reference, `length ${n}`);
    assert.deepEqual(fromHex(reference), bytes, `round trip at length ${n}`);
  }
  assert.equal(toHex(new Uint8Array([0, 15, 16, 255])), "000f10ff");
});

Deno.test("two 32-byte keys converted one after the other give their own strings", () => {
  const a = toHex(new Uint8Array(32).fill(0xab));
  const b = toHex(new Uint8Array(32).fill(0x01));
  assert.equal(a, "ab".repeat(32));
  assert.equal(b, "01".repeat(32));
});

Deno.test("toHex of a view converts only its bytes; fromHex takes either case and rejects bad input with a TypeError", () => {
  const buf = Uint8Array.from([1, 2, 3, 4, 5]);
  assert.equal(toHex(buf.subarray(1, 3)), "0203");
  assert.deepEqual(fromHex("ABcd"), Uint8Array.from([0xab, 0xcd]));
  assert.deepEqual(fromHex(""), new Uint8Array(0));
  for (const bad of ["abc", "zz", "0x12", "12 34", "é1"]) {
    assert.throws(
      () => fromHex(bad),
      (e) => e instanceof TypeError && e.message.startsWith(`Invalid hex "${bad}"`),
      bad,
    );
  }
});
