import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  encodeFrame,
  FRAME_HEADER_BYTES,
  FRAME_MARKER,
  type FrameAuth,
  MAX_PAYLOAD_BYTES,
  readFrame,
  TAG_BYTES,
  WIRE_VERSION,
} from "../lib/wire/frame.ts";

/** A FrameAuth over node:crypto, independent of the keyring, so the frame is tested on its own. */
function hmacAuth(keys: string[]): FrameAuth {
  const ids = keys.map((_, i) => 0x1000 + i);
  const tag = (key: string, data: Uint8Array) => createHmac("sha256", key).update(data).digest().subarray(0, TAG_BYTES);
  return {
    primaryKeyId: ids[0],
    sign: (data, out, offset) => out.set(tag(keys[0], data), offset),
    verify: (data, keyId, t) => {
      const i = ids.indexOf(keyId);
      return i >= 0 && t.length === TAG_BYTES && Buffer.from(tag(keys[i], data)).equals(Buffer.from(t));
    },
  };
}

function read(frame: Uint8Array, auth?: FrameAuth) {
  const got: [number, number, number[]][] = [];
  const reason = readFrame(frame, auth, (c, id, p) => got.push([c, id, [...p]]));
  return { reason, got };
}

Deno.test("frame: messages round trip in order with their call ids, header fields at their offsets", () => {
  const frame = encodeFrame([
    { command: 0x30, callId: 0xdeadbeef, payload: new Uint8Array([1, 2, 3]) },
    { command: 0x20, callId: 1, payload: new Uint8Array(0) },
    { command: 0x21, callId: 0, payload: { size: 2, write: (out, o) => out.set([9, 8], o) } },
  ]);
  assert.equal(frame[0], WIRE_VERSION);
  assert.equal(frame[16], FRAME_MARKER);
  assert.equal(frame[1], 0, "untagged");
  assert.deepEqual(read(frame), {
    reason: undefined,
    got: [[0x30, 0xdeadbeef, [1, 2, 3]], [0x20, 1, []], [0x21, 0, [9, 8]]],
  });
});

Deno.test("frame: a tagged frame reads only with a key that made it; tampering, stripping or another key fails", () => {
  const auth = hmacAuth(["k1"]);
  const frame = encodeFrame([{ command: 0x30, callId: 5, payload: new Uint8Array([7]) }], auth);
  assert.equal(frame[1], 1);
  assert.deepEqual(read(frame, auth).got, [[0x30, 5, [7]]]);
  assert.equal(read(frame, hmacAuth(["other"])).reason, "badTag");
  for (let i = 0; i < frame.length; i++) {
    const t = frame.slice();
    t[i] ^= 0x01;
    const r = read(t, auth);
    assert.notEqual(r.reason, undefined, `flipping byte ${i} was not noticed`);
    assert.deepEqual(r.got, [], `byte ${i}: nothing may be handed on from a rejected frame`);
  }
  assert.equal(read(frame).reason, "unauthenticated", "a node without a key does not take tagged frames");
  const untagged = encodeFrame([{ command: 0x30, callId: 5, payload: new Uint8Array([7]) }]);
  assert.equal(read(untagged, auth).reason, "unauthenticated", "a node with a key drops untagged frames");
  // Rotation: a keyring [new, old] reads what [old] signed, by key id.
  const old = hmacAuth(["old"]);
  const both: FrameAuth = {
    primaryKeyId: 0x2000,
    sign: () => assert.fail("not signing here"),
    verify: (d, id, t) => id === old.primaryKeyId ? old.verify(d, id, t) : false,
  };
  assert.equal(
    read(encodeFrame([{ command: 0x21, callId: 0, payload: new Uint8Array(1) }], old), both).reason,
    undefined,
  );
});

Deno.test("frame: wrong marker, version, truncated messages are rejected whole with their reason", () => {
  const frame = encodeFrame([
    { command: 0x30, callId: 1, payload: new Uint8Array(4) },
    { command: 0x31, callId: 2, payload: new Uint8Array(4) },
  ]);
  const v = frame.slice();
  v[0] = 2; // version 2 had no time or nonce
  assert.equal(read(v).reason, "version");
  const m = frame.slice();
  m[16] = 0x30; // a version-1 envelope had its command here
  assert.equal(read(m).reason, "malformed");
  const h = FRAME_HEADER_BYTES;
  for (let cut = 17; cut < frame.length; cut++) {
    const r = read(frame.subarray(0, cut));
    if (cut === h || cut === h + 11) continue; // whole messages: a shorter frame is still a frame
    assert.equal(r.reason, "malformed", `cut at ${cut}`);
    assert.deepEqual(r.got, [], `cut at ${cut}: nothing handed on`);
  }
  const long = frame.slice();
  long[h + 5] = 200; // first message claims more bytes than there are
  assert.equal(read(long).reason, "malformed");
  assert.equal(read(new Uint8Array(5)).reason, "malformed");
});

Deno.test("frame: a payload over the datagram limit is refused when written", () => {
  assert.throws(
    () => encodeFrame([{ command: 0x30, callId: 1, payload: new Uint8Array(MAX_PAYLOAD_BYTES + 1) }]),
    RangeError,
  );
  const biggest = encodeFrame(
    [{ command: 0x30, callId: 1, payload: new Uint8Array(MAX_PAYLOAD_BYTES) }],
    hmacAuth(["k"]),
  );
  assert.equal(biggest.length, 65_507);
});
