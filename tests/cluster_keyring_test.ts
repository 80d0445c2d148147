import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { fromHex, toHex } from "../lib/base/bytes.ts";
import { ClusterKeyring, hmacSha256, keyIdOf } from "../lib/wire/keyring.ts";
import { seededRandom } from "../lib/base/random.ts";

const text = (s: string) => new TextEncoder().encode(s);
const fill = (byte: number, n: number) => new Uint8Array(n).fill(byte);

/** RFC 4231, HMAC-SHA-256 test cases (case 5 is checked truncated, as the RFC gives it). */
const RFC_4231 = [
  {
    key: fill(0x0b, 20),
    data: text("Hi There"),
    mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  },
  {
    key: text("Jefe"),
    data: text("what do ya want for nothing?"),
    mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  },
  {
    key: fill(0xaa, 20),
    data: fill(0xdd, 50),
    mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
  },
  {
    key: Uint8Array.from({ length: 25 }, (_, i) => i + 1),
    data: fill(0xcd, 50),
    mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
  },
  {
    key: fill(0xaa, 131),
    data: text("Test Using Larger Than Block-Size Key - Hash Key First"),
    mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
  },
  {
    key: fill(0xaa, 131),
    data: text(
      "This is a test using a larger than block-size key and a larger than block-size data. " +
        "The key needs to be hashed before being used by the HMAC algorithm.",
    ),
    mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
  },
];

Deno.test("keyring: HMAC-SHA256 matches the RFC 4231 test vectors, and the keyring's tag is their first 16 bytes", () => {
  for (const [i, v] of RFC_4231.entries()) {
    assert.equal(toHex(hmacSha256(v.key, v.data)), v.mac, `RFC 4231 vector ${i}`);
    if (v.key.length < 16) continue; // the keyring takes keys of 16 bytes and more
    const ring = ClusterKeyring.fromHex([toHex(v.key)]);
    const tag = new Uint8Array(16);
    ring.sign(v.data, tag, 0);
    assert.equal(toHex(tag), v.mac.slice(0, 32), `vector ${i}: the tag is the truncated HMAC`);
  }
  // Case 5: truncation to 128 bits.
  const ring = ClusterKeyring.fromHex([toHex(fill(0x0c, 20))]);
  const tag = new Uint8Array(20);
  ring.sign(text("Test With Truncation"), tag, 4);
  assert.equal(toHex(tag.subarray(4)), "a3b6167473100ee06e0c796c2955552b");
  assert.deepEqual([...tag.subarray(0, 4)], [0, 0, 0, 0], "writes only its 16 bytes");
});

Deno.test("keyring: tags agree with node:crypto on random keys and data, call after call (the cloned state is reused)", () => {
  const rnd = seededRandom(7);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  for (let i = 0; i < 200; i++) {
    const key = bytes(16 + Math.floor(rnd() * 64));
    const ring = ClusterKeyring.fromHex([toHex(key)]);
    for (let j = 0; j < 3; j++) {
      const data = bytes(Math.floor(rnd() * 1_500));
      const tag = new Uint8Array(16);
      ring.sign(data, tag, 0);
      assert.equal(toHex(tag), createHmac("sha256", key).update(data).digest("hex").slice(0, 32));
      assert.ok(ring.verify(data, ring.primaryKeyId, tag));
    }
  }
});

Deno.test("keyring: rotation, tampering, unknown key ids and bad tags", () => {
  const oldKey = "11".repeat(32), newKey = "22".repeat(32);
  const old = ClusterKeyring.fromHex([oldKey]);
  const both = ClusterKeyring.fromHex([newKey, oldKey]);
  const fresh = ClusterKeyring.fromHex([newKey]);
  const data = text("frame bytes");
  const tag = new Uint8Array(16);
  old.sign(data, tag, 0);
  assert.ok(both.verify(data, old.primaryKeyId, tag), "[new, old] accepts what [old] signed");
  assert.equal(fresh.verify(data, old.primaryKeyId, tag), false, "[new] alone refuses it");
  assert.equal(both.primaryKeyId, keyIdOf(fromHex(newKey)), "the first key signs");
  assert.deepEqual(both.keyIds, [keyIdOf(fromHex(newKey)), keyIdOf(fromHex(oldKey))]);
  const bothTag = new Uint8Array(16);
  both.sign(data, bothTag, 0);
  assert.ok(fresh.verify(data, both.primaryKeyId, bothTag));
  for (let i = 0; i < 16; i++) {
    const t = tag.slice();
    t[i] ^= 0x80;
    assert.equal(old.verify(data, old.primaryKeyId, t), false, `tag byte ${i} flipped`);
  }
  const d = data.slice();
  d[0] ^= 1;
  assert.equal(old.verify(d, old.primaryKeyId, tag), false, "data tampered");
  assert.equal(old.verify(data, old.primaryKeyId ^ 1, tag), false, "unknown key id");
  assert.equal(old.verify(data, old.primaryKeyId, tag.subarray(0, 15)), false, "short tag");
  assert.equal(old.verify(data, old.primaryKeyId, new Uint8Array(32)), false, "long tag");
});

Deno.test("keyring: unusable keys are refused with a message that says which and what to do", () => {
  assert.throws(() => ClusterKeyring.fromHex([]), RangeError);
  assert.throws(() => ClusterKeyring.fromHex(["ab".repeat(32), "abc"]), /Cluster key 2 of 2 .*at least 32 hex digits/);
  assert.throws(() => ClusterKeyring.fromHex(["zz".repeat(32)]), /Cluster key 1 of 1/);
  assert.throws(() => ClusterKeyring.fromHex(["ab".repeat(15)]), RangeError);
});
