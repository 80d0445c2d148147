/**
 * `deno bench tests/bench/request_digest_bench.ts`: the request path's parse and digest (issue 25,
 * item 3). Baseline: the former two parsers (`node/request_digest.ts` read the layout itself into a
 * module-level result, then `decodeRequest` parsed it again), copied here; against it,
 * `decodeRequest` alone, which now returns the digest with the request.
 *
 * @module
 */
import { Command, decodeRequest, encodeRequest, ID_LENGTH } from "../../lib/wire/client_protocol.ts";

const KEY_END = ID_LENGTH + 1 + 32;
const VALUE_START = KEY_END + 2;
const former = { lo: 0, hi: 0 };
function formerEnd(packet: Uint8Array): number {
  const command = packet[ID_LENGTH];
  if (command === Command.Put && packet.length >= VALUE_START) {
    return Math.min(packet.length, VALUE_START + (packet[KEY_END] | (packet[KEY_END + 1] << 8)));
  }
  if (command === Command.Put || command === Command.Get || command === Command.Remove) {
    return Math.min(packet.length, KEY_END);
  }
  if (command >= Command.Shutdown && command <= Command.GetMembershipCount) return ID_LENGTH + 1;
  return packet.length;
}
function formerDigest(packet: Uint8Array): void {
  const end = formerEnd(packet);
  let a = 0x9e3779b9 ^ end, b = 0x85ebca6b ^ Math.imul(end, 0x27d4eb2f);
  let i = ID_LENGTH;
  for (; i + 4 <= end; i += 4) {
    const w = packet[i] | (packet[i + 1] << 8) | (packet[i + 2] << 16) | (packet[i + 3] << 24);
    a = Math.imul(a ^ w, 0x01000193);
    a ^= a >>> 15;
    b = Math.imul(b + w, 0xcc9e2d51);
    b = (b << 13) | (b >>> 19);
  }
  let tail = 0;
  for (let shift = 0; i < end; i++, shift += 8) tail |= packet[i] << shift;
  a = Math.imul(a ^ tail, 0x01000193);
  b = Math.imul(b + tail, 0xcc9e2d51);
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 15;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  former.lo = a | 0;
  former.hi = b | 0;
}

const id = crypto.getRandomValues(new Uint8Array(16)), key = crypto.getRandomValues(new Uint8Array(32));
const packets = {
  "put 100 B": encodeRequest(id, Command.Put, key, crypto.getRandomValues(new Uint8Array(100))),
  "get": encodeRequest(id, Command.Get, key),
};
let sink = 0;
for (const [name, packet] of Object.entries(packets)) {
  // The two must agree, or the comparison is void.
  formerDigest(packet);
  const now = decodeRequest(packet).digest;
  if (now.lo !== former.lo || now.hi !== former.hi) throw new Error(`${name}: the digests differ`);
  Deno.bench({
    name: `${name}: digest, then decode (former)`,
    group: name,
    baseline: true,
    fn: () => {
      formerDigest(packet);
      const d = decodeRequest(packet);
      sink ^= former.lo ^ (d.ok ? d.request.command : 0);
    },
  });
  Deno.bench({
    name: `${name}: decode with its digest`,
    group: name,
    fn: () => {
      const d = decodeRequest(packet);
      sink ^= d.digest.lo ^ (d.ok ? d.request.command : 0);
    },
  });
}
addEventListener("unload", () => void (sink === 0.5 && console.log(sink)));
