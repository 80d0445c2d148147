/**
 * The node-to-node wire, version 2: every internal datagram is one frame that
 * carries one or more messages and, when the cluster has a key, a tag that
 * authenticates all of it. One fixed layout, checked in one place
 * ({@linkcode readFrame}):
 *
 * ```text
 * offset  size  field
 * 0       1     wire version (2)
 * 1       1     flags: bit 0 = tagged (the last 16 bytes are the tag)
 * 2       2     zero
 * 4       4     key id (u32 BE) of the key that made the tag; 0 when untagged
 * 8       8     zero (reserved)
 * 16      1     0xF0, the frame marker: a command code ≥ 0x20, so the client-protocol
 *               demultiplexer (command at offset 16) hands the datagram to the wire
 * 17      …     messages, each: command(1) | call id(4, LE) | payload length(2, LE) | payload
 * end−16  16    tag: HMAC-SHA256 with the cluster key over bytes 0 … end−17, first 16 bytes
 * ```
 *
 * A receiver drops the whole datagram when anything is off (wrong marker or
 * version, a missing or wrong tag, a message running past the end) and says
 * why, so the reason can be counted.
 *
 * @module
 */
import { ID_LENGTH } from "./client_protocol.ts";

/** Wire version this code speaks. */
export const WIRE_VERSION = 2;
/** Byte at offset 16 of every frame. */
export const FRAME_MARKER = 0xf0;
/** Bytes before the first message. */
export const FRAME_HEADER_BYTES = ID_LENGTH + 1;
/** Bytes of a message's own header (command, call id, length). */
export const MESSAGE_HEADER_BYTES = 7;
/** Bytes of the tag. */
export const TAG_BYTES = 16;
/** Largest frame: one UDP datagram. */
export const MAX_FRAME_BYTES = 65_507;
/** Largest payload of one message: a frame of that one message fits a datagram. */
export const MAX_PAYLOAD_BYTES = MAX_FRAME_BYTES - FRAME_HEADER_BYTES - MESSAGE_HEADER_BYTES - TAG_BYTES;
const FLAG_TAGGED = 1;

/** Signs and verifies frames: the cluster keyring (`lib/wire/keyring.ts`). */
export interface FrameAuth {
  /** Id of the key that signs. */
  readonly primaryKeyId: number;
  /** Writes the 16-byte tag of `data` (made with the signing key) into `out` at `offset`. */
  sign(data: Uint8Array, out: Uint8Array, offset: number): void;
  /** Whether `tag` is the tag of `data` under the key with `keyId`. Never throws. */
  verify(data: Uint8Array, keyId: number, tag: Uint8Array): boolean;
}

/** Why a datagram was dropped. */
export type RejectReason = "malformed" | "version" | "unauthenticated" | "badTag";

/** Every {@linkcode RejectReason}, for counters. */
export const REJECT_REASONS: readonly RejectReason[] = ["malformed", "version", "unauthenticated", "badTag"];

/** A message's payload: bytes, or a writer that puts them straight into the frame. */
export type Payload = Uint8Array | PayloadWriter;

/** Writes a payload of known size into a frame (so a value is copied once, into the datagram). */
export interface PayloadWriter {
  /** Bytes it writes. */
  readonly size: number;
  /** Writes them into `out` from `offset`. */
  write(out: Uint8Array, offset: number): void;
}

/** One message of a frame. */
export interface FrameMessage {
  /** Command code (0x20–0xEF). */
  command: number;
  /** Call id (u32): a request's, echoed by its reply; 0 for casts. */
  callId: number;
  /** Payload. */
  payload: Payload;
}

/** Bytes a payload takes. */
export function payloadSize(p: Payload): number {
  return p instanceof Uint8Array ? p.length : p.size;
}

/**
 * Bytes a frame of messages whose payloads total `payloadBytes` takes.
 *
 * @example
 * ```ts
 * console.log(frameSize(1, 10, true)); // 17 + 7 + 10 + 16 = 50
 * ```
 */
export function frameSize(messages: number, payloadBytes: number, tagged: boolean): number {
  return FRAME_HEADER_BYTES + messages * MESSAGE_HEADER_BYTES + payloadBytes + (tagged ? TAG_BYTES : 0);
}

/**
 * Encodes messages as one frame, tagged when `auth` is given.
 *
 * @example
 * ```ts
 * const frame = encodeFrame([{ command: 0x30, callId: 7, payload: new Uint8Array([1, 2]) }]);
 * const seen: number[] = [];
 * readFrame(frame, undefined, (command, callId, payload) => seen.push(command, callId, payload.length));
 * console.log(seen); // [48, 7, 2]
 * ```
 */
export function encodeFrame(messages: readonly FrameMessage[], auth?: FrameAuth): Uint8Array {
  let bytes = 0;
  for (const m of messages) bytes += payloadSize(m.payload);
  const frame = new Uint8Array(frameSize(messages.length, bytes, auth !== undefined));
  let o = writeFrameHeader(frame, auth);
  for (const m of messages) o = writeMessage(frame, o, m.command, m.callId, m.payload);
  sealFrame(frame, auth);
  return frame;
}

/** Writes the frame header into `frame`; returns the offset of the first message. */
export function writeFrameHeader(frame: Uint8Array, auth: FrameAuth | undefined): number {
  frame[0] = WIRE_VERSION;
  frame[1] = auth ? FLAG_TAGGED : 0;
  if (auth) {
    const id = auth.primaryKeyId;
    frame[4] = id >>> 24;
    frame[5] = id >>> 16;
    frame[6] = id >>> 8;
    frame[7] = id;
  }
  frame[ID_LENGTH] = FRAME_MARKER;
  return FRAME_HEADER_BYTES;
}

/** Writes one message at `o`; returns the offset after it. */
export function writeMessage(frame: Uint8Array, o: number, command: number, callId: number, payload: Payload): number {
  const size = payloadSize(payload);
  if (size > MAX_PAYLOAD_BYTES) throw new RangeError(`Internal message payload of ${size} bytes is over the limit`);
  frame[o] = command;
  frame[o + 1] = callId;
  frame[o + 2] = callId >>> 8;
  frame[o + 3] = callId >>> 16;
  frame[o + 4] = callId >>> 24;
  frame[o + 5] = size;
  frame[o + 6] = size >>> 8;
  o += MESSAGE_HEADER_BYTES;
  if (payload instanceof Uint8Array) frame.set(payload, o);
  else payload.write(frame, o);
  return o + size;
}

/** Writes the tag into the last 16 bytes of a frame written with `auth` (nothing when untagged). */
export function sealFrame(frame: Uint8Array, auth: FrameAuth | undefined): void {
  if (auth) auth.sign(frame.subarray(0, frame.length - TAG_BYTES), frame, frame.length - TAG_BYTES);
}

/** Receives each message of a frame that passed every check. */
export type MessageVisitor = (command: number, callId: number, payload: Uint8Array) => void;

/**
 * Checks a received frame whole, then hands each message to `visit` (payloads are views of
 * `frame`). Returns why it was dropped, or `undefined` when it was read. Never throws (unless
 * `visit` does).
 *
 * With `auth`, only tagged frames whose tag verifies are read; without it (a lone node, or an
 * operator's explicit insecure mode), only untagged frames.
 */
export function readFrame(
  frame: Uint8Array,
  auth: FrameAuth | undefined,
  visit: MessageVisitor,
): RejectReason | undefined {
  if (frame.length < FRAME_HEADER_BYTES || frame[ID_LENGTH] !== FRAME_MARKER) return "malformed";
  if (frame[0] !== WIRE_VERSION) return "version";
  const tagged = (frame[1] & FLAG_TAGGED) !== 0;
  if (tagged !== (auth !== undefined)) return "unauthenticated";
  let end = frame.length;
  if (auth) {
    if (end < FRAME_HEADER_BYTES + TAG_BYTES) return "malformed";
    end -= TAG_BYTES;
    const keyId = ((frame[4] << 24) | (frame[5] << 16) | (frame[6] << 8) | frame[7]) >>> 0;
    if (!auth.verify(frame.subarray(0, end), keyId, frame.subarray(end))) return "badTag";
  }
  // Every message must end inside the frame; nothing is handed on before the whole frame passes.
  let o = FRAME_HEADER_BYTES;
  while (o < end) {
    if (o + MESSAGE_HEADER_BYTES > end) return "malformed";
    o += MESSAGE_HEADER_BYTES + (frame[o + 5] | (frame[o + 6] << 8));
    if (o > end) return "malformed";
  }
  for (o = FRAME_HEADER_BYTES; o < end;) {
    const callId = (frame[o + 1] | (frame[o + 2] << 8) | (frame[o + 3] << 16) | (frame[o + 4] << 24)) >>> 0;
    const length = frame[o + 5] | (frame[o + 6] << 8);
    const start = o + MESSAGE_HEADER_BYTES;
    visit(frame[o], callId, frame.subarray(start, start + length));
    o = start + length;
  }
  return undefined;
}
