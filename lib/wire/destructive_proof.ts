/**
 * The proof that a shutdown (0x04) or wipeout (0x05) comes from a holder of the
 * cluster key: a MAC in the request's 32 key bytes over the request id (which
 * carries the time it was made and a nonce), the command and the node it is
 * meant for. A node checks the MAC with every key of its keyring, the time
 * against a window, and remembers the ids it accepted within that window
 * (`node/destructive_guard.ts`), so a captured request is good for one node,
 * once, and not late.
 *
 * ```text
 * offset  size  field
 * 0       8     time the request was made: ms since the Unix epoch, u64 big-endian
 * 8       8     nonce: random bytes
 * 16      1     command: 0x04 shutdown or 0x05 wipeout
 * 17      4     "KVD1" (0x4B 0x56 0x44 0x31): this key field is a proof
 * 21      4     key id (u32 BE) of the cluster key that made the tag (first 4 bytes of its SHA-256)
 * 25      16    tag: HMAC-SHA256 with that key over
 *               "kvstore destructive command v1\n" | target | "\n" | bytes 0 … 24 of the request,
 *               first 16 bytes; target is the node's address as it is bound, UTF-8 ("10.0.0.1:4000",
 *               "[2001:db8::1]:4000")
 * 41      8     zero
 * ```
 *
 * The MAC input starts with a text no node-to-node frame starts with (a frame's first byte is
 * its wire version), so a frame's tag is never a proof, nor a proof a frame's tag.
 *
 * @module
 */
import { utf8Encoder } from "../base/bytes.ts";
import { Command, HEADER_LENGTH, ID_LENGTH, KEY_LENGTH, KEY_OFFSET } from "./client_protocol.ts";
import { type FrameAuth, TAG_BYTES } from "./frame.ts";

/** Bytes of an authenticated destructive request (id, command, key field). */
export const PROOF_REQUEST_BYTES = HEADER_LENGTH + KEY_LENGTH;
/** The four bytes that open a proof's key field: "KVD1". */
export const PROOF_MAGIC: readonly number[] = [0x4b, 0x56, 0x44, 0x31];
/** Offset of the magic in the request. */
export const PROOF_MAGIC_OFFSET = KEY_OFFSET;
/** Offset of the key id (u32 BE) in the request. */
export const PROOF_KEY_ID_OFFSET = KEY_OFFSET + 4;
/** Offset of the 16-byte tag in the request. */
export const PROOF_TAG_OFFSET = KEY_OFFSET + 8;
/** Request bytes the tag covers (after the domain text and target): 0 … 24, id to key id. */
export const PROOF_SIGNED_BYTES = PROOF_TAG_OFFSET;
/** How far a proof's time may be from the node's clock, either way (ms): clocks of hosts differ a little. */
export const DESTRUCTIVE_PROOF_WINDOW_MS = 30_000;
/** Text the MAC input starts with (domain separation from frames and from any other use of the key). */
export const PROOF_DOMAIN = "kvstore destructive command v1\n";

/** Why a destructive request's proof is not accepted (before the replay check, which the node does). */
export type ProofFailure = "unproven" | "badProof" | "stale";

/**
 * The 49-byte shutdown or wipeout request for the node at `target`, proven with the signing key
 * of `auth`, made at `nowMs` with a random nonce.
 *
 * @example
 * ```ts
 * import { ClusterKeyring } from "./keyring.ts";
 * import { Command } from "./client_protocol.ts";
 * const ring = ClusterKeyring.fromHex(["ab".repeat(32)]);
 * const req = proveDestructive(ring, Command.Wipeout, "10.0.0.1:4000", Date.now());
 * console.log(req.length, checkDestructiveProof(ring, req, "10.0.0.1:4000", Date.now())); // 49 undefined
 * ```
 */
export function proveDestructive(
  auth: FrameAuth,
  command: number,
  target: string,
  nowMs: number,
  nonce: Uint8Array = crypto.getRandomValues(new Uint8Array(8)),
): Uint8Array {
  if (command !== Command.Shutdown && command !== Command.Wipeout) {
    throw new RangeError(`Only shutdown (0x04) and wipeout (0x05) carry a proof, not 0x${command.toString(16)}`);
  }
  if (nonce.length !== 8) throw new RangeError(`The nonce is 8 bytes, got ${nonce.length}`);
  const req = new Uint8Array(PROOF_REQUEST_BYTES);
  const view = new DataView(req.buffer);
  view.setBigUint64(0, BigInt(Math.max(0, Math.floor(nowMs))));
  req.set(nonce, 8);
  req[ID_LENGTH] = command;
  req.set(PROOF_MAGIC, PROOF_MAGIC_OFFSET);
  view.setUint32(PROOF_KEY_ID_OFFSET, auth.primaryKeyId);
  auth.sign(macInput(req, target), req, PROOF_TAG_OFFSET);
  return req;
}

/**
 * Why `packet` (a shutdown or wipeout) is not a valid proof for the node at `target` at `nowMs`,
 * or `undefined` when it is: `unproven` (no proof in the key field, or no key to check it with),
 * `badProof` (unknown key, wrong tag, or bytes after the key field not zero), `stale` (its time is
 * more than `windowMs` away from `nowMs`). Never throws.
 */
export function checkDestructiveProof(
  auth: FrameAuth | undefined,
  packet: Uint8Array,
  target: string,
  nowMs: number,
  windowMs: number = DESTRUCTIVE_PROOF_WINDOW_MS,
): ProofFailure | undefined {
  if (!auth || packet.length !== PROOF_REQUEST_BYTES) return "unproven";
  for (let i = 0; i < PROOF_MAGIC.length; i++) if (packet[PROOF_MAGIC_OFFSET + i] !== PROOF_MAGIC[i]) return "unproven";
  for (let i = PROOF_TAG_OFFSET + TAG_BYTES; i < PROOF_REQUEST_BYTES; i++) if (packet[i] !== 0) return "badProof";
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const keyId = view.getUint32(PROOF_KEY_ID_OFFSET);
  const tag = packet.subarray(PROOF_TAG_OFFSET, PROOF_TAG_OFFSET + TAG_BYTES);
  if (!auth.verify(macInput(packet, target), keyId, tag)) return "badProof";
  const madeAt = proofTime(packet);
  return Math.abs(nowMs - madeAt) > windowMs ? "stale" : undefined;
}

/** The time (ms since the epoch) a proven request says it was made (bytes 0 … 7, u64 BE). */
export function proofTime(packet: Uint8Array): number {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  return view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
}

function macInput(packet: Uint8Array, target: string): Uint8Array {
  const head = utf8Encoder.encode(`${PROOF_DOMAIN}${target}\n`);
  const out = new Uint8Array(head.length + PROOF_SIGNED_BYTES);
  out.set(head);
  out.set(packet.subarray(0, PROOF_SIGNED_BYTES), head.length);
  return out;
}
