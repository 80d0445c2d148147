import assert from "node:assert/strict";
import {
  Command,
  decodeReply,
  decodeRequest,
  decodeU32Payload,
  decodeValuePayload,
  encodeReply,
  encodeRequest,
  encodeU32Payload,
  encodeValuePayload,
  ErrorCode,
  MAX_VALUE_LENGTH,
} from "../lib/wire/client_protocol.ts";
import { seededRandom } from "../lib/base/random.ts";

const id = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const key = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);

function packet(command: number, extra: number[] = []): Uint8Array {
  return Uint8Array.from([...id, command, ...extra]);
}

Deno.test("put request layout is byte-exact (offsets 0/16/17/49/51, little-endian length)", () => {
  const value = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const p = encodeRequest(id, Command.Put, key, value);
  assert.equal(p.length, 51 + 300);
  assert.deepEqual(p.subarray(0, 16), id);
  assert.equal(p[16], 0x01);
  assert.deepEqual(p.subarray(17, 49), key);
  assert.equal(p[49], 300 & 0xff);
  assert.equal(p[50], 300 >> 8);
  assert.deepEqual(p.subarray(51), value);
});

Deno.test("every client command decodes", () => {
  for (const c of [Command.Get, Command.Remove]) {
    const r = decodeRequest(encodeRequest(id, c, key));
    assert.ok(r.ok);
    assert.equal(r.request.command, c);
    assert.deepEqual(r.request.key, key);
  }
  const put = decodeRequest(encodeRequest(id, Command.Put, key, new Uint8Array([9, 8])));
  assert.ok(put.ok);
  assert.deepEqual(put.request.value, new Uint8Array([9, 8]));
});

Deno.test("keyless commands are accepted as the 17-byte header and with key bytes", () => {
  for (const c of [Command.Shutdown, Command.Wipeout, Command.IsAlive, Command.GetPid, Command.GetMembershipCount]) {
    const short = decodeRequest(packet(c));
    assert.ok(short.ok, `command ${c} as 17 bytes`);
    assert.equal(short.request.command, c);
    const long = decodeRequest(encodeRequest(id, c, key));
    assert.ok(long.ok, `command ${c} with key bytes`);
  }
});

Deno.test("packets shorter than the header cannot be answered", () => {
  for (let n = 0; n < 17; n++) {
    const r = decodeRequest(new Uint8Array(n));
    assert.equal(r.ok, false);
    assert.equal(r.ok === false && r.id, null);
  }
});

Deno.test("short keys give 0x06 invalid key for put, get and remove", () => {
  for (const c of [Command.Put, Command.Get, Command.Remove]) {
    for (const keyBytes of [0, 1, 31]) {
      const r = decodeRequest(packet(c, new Array(keyBytes).fill(1)));
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.code, ErrorCode.InvalidKey);
    }
  }
});

Deno.test("value length over 15,000 or longer than the bytes sent gives 0x07", () => {
  const tooLong = encodeRequest(id, Command.Put, key, new Uint8Array(MAX_VALUE_LENGTH + 1));
  const r1 = decodeRequest(tooLong);
  assert.equal(!r1.ok && r1.code, ErrorCode.InvalidValueLength);
  const underSent = encodeRequest(id, Command.Put, key, new Uint8Array(100)).subarray(0, 51 + 99);
  const r2 = decodeRequest(underSent);
  assert.equal(!r2.ok && r2.code, ErrorCode.InvalidValueLength);
  const noLengthField = packet(Command.Put, [...key, 5]);
  const r3 = decodeRequest(noLengthField);
  assert.equal(!r3.ok && r3.code, ErrorCode.InvalidValueLength);
  const max = decodeRequest(encodeRequest(id, Command.Put, key, new Uint8Array(MAX_VALUE_LENGTH)));
  assert.ok(max.ok);
  assert.equal(max.request.value.length, MAX_VALUE_LENGTH);
});

Deno.test("trailing bytes after a put value are ignored", () => {
  const p = encodeRequest(id, Command.Put, key, new Uint8Array([1, 2, 3]));
  const withTrailer = Uint8Array.from([...p, 7, 7, 7, 7]);
  const r = decodeRequest(withTrailer);
  assert.ok(r.ok);
  assert.deepEqual(r.request.value, new Uint8Array([1, 2, 3]));
});

Deno.test("unknown commands give 0x05, including 0x00, 0x09 and 0x1F", () => {
  for (const c of [0x00, 0x09, 0x10, 0x1f]) {
    const r = decodeRequest(packet(c, [...key]));
    assert.equal(!r.ok && r.code, ErrorCode.UnrecognizedCommand, `command 0x${c.toString(16)}`);
    assert.deepEqual(!r.ok && r.id, id);
  }
});

Deno.test("replies: id copied, code, payload only on success", () => {
  const ok = encodeReply(id, ErrorCode.Success, encodeValuePayload(new Uint8Array([5, 6])));
  assert.deepEqual([...ok], [...id, 0, 2, 0, 5, 6]);
  for (const code of Object.values(ErrorCode).filter((c) => c !== 0)) {
    const r = encodeReply(id, code, new Uint8Array([1, 2]));
    assert.equal(r.length, 17, `code ${code} carries no payload`);
    assert.equal(decodeReply(r)?.code, code);
  }
  assert.equal(decodeU32Payload(encodeU32Payload(0xdeadbeef)), 0xdeadbeef);
  assert.deepEqual([...encodeU32Payload(258)], [2, 1, 0, 0]);
  assert.equal(decodeReply(new Uint8Array(16)), null);
});

Deno.test("property: random requests round-trip through the codec", () => {
  const rnd = seededRandom(2024);
  const commands = Object.values(Command);
  for (let i = 0; i < 5_000; i++) {
    const rid = Uint8Array.from({ length: 16 }, () => rnd() * 256);
    const command = commands[Math.floor(rnd() * commands.length)];
    const k = Uint8Array.from({ length: 32 }, () => rnd() * 256);
    const len = Math.floor(rnd() * rnd() * (MAX_VALUE_LENGTH + 1));
    const v = Uint8Array.from({ length: len }, () => rnd() * 256);
    const keyed = command === Command.Put || command === Command.Get || command === Command.Remove;
    const p = encodeRequest(rid, command, keyed ? k : undefined, command === Command.Put ? v : undefined);
    const r = decodeRequest(p);
    assert.ok(r.ok);
    assert.deepEqual(r.request.id, rid);
    assert.equal(r.request.command, command);
    if (keyed) assert.deepEqual(r.request.key, k);
    if (command === Command.Put) assert.deepEqual(r.request.value, v);
    const reply = decodeReply(encodeReply(rid, 0, encodeValuePayload(v)));
    assert.deepEqual(decodeValuePayload(reply!.payload), v);
  }
});

Deno.test("encoder rejects bad ids and keys with clear errors", () => {
  assert.throws(() => encodeRequest(new Uint8Array(3), Command.IsAlive), /Request id must be 16 bytes/);
  assert.throws(() => encodeRequest(id, Command.Get, new Uint8Array(5)), /Key must be 32 bytes/);
});
