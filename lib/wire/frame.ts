/**
 * The node-to-node wire, version 3: every internal datagram is one frame that
 * carries one or more messages and, when the cluster has a key, a tag that
 * authenticates all of it, its sender's time and a nonce. One fixed layout,
 * checked in one place ({@linkcode readFrame}):
 *
 * ```text
 * offset  size  field
 * 0       1     wire version (3)
 * 1       1     flags: bit 0 = tagged (the last 16 bytes are the tag)
 * 2       2     zero
 * 4       4     key id (u32 BE) of the key that made the tag; 0 when untagged
 * 8       8     time: the sender's clock, ms since the Unix epoch (u64 BE)
 * 16      1     0xF0, the frame marker: a command code ≥ 0x20, so the client-protocol
 *               demultiplexer (command at offset 16) knows the datagram for the wire
 * 17      4     session (u32 BE): random, per sending endpoint and destination  ┐ the nonce
 * 21      4     sequence (u32 BE) within the session, from 1                    ┘
 * 25      …     messages, each: command(1) | call id(4, LE) | payload length(2, LE) | payload
 * end−16  16    tag: HMAC-SHA256 with the cluster key over bytes 0 … end−17, first 16 bytes
 * ```
 *
 * A receiver drops the whole datagram when anything is off (wrong marker or
 * version, a missing or wrong tag, a message running past the end, and, for
 * tagged frames, a time outside its window or a nonce seen before:
 * `wire/freshness.ts`) and says why, so the reason can be counted.
 *
 * @module
 */
import { ID_LENGTH } from "./client_protocol.ts";

/** Wire version this code speaks. */
export const WIRE_VERSION = 3;
/** Byte at offset 16 of every frame. */
export const FRAME_MARKER = 0xf0;
/** Offset of the time (u64 BE, ms since the epoch). */
const TIME_OFFSET = 8;
/** Offset of the session id (u32 BE). */
const SESSION_OFFSET = ID_LENGTH + 1;
/** Offset of the sequence number (u32 BE). */
const SEQUENCE_OFFSET = SESSION_OFFSET + 4;
/** Bytes before the first message. */
export const FRAME_HEADER_BYTES = SEQUENCE_OFFSET + 4;
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
export type RejectReason = "malformed" | "version" | "unauthenticated" | "badTag" | "stale" | "replay";

/** Every {@linkcode RejectReason}, for counters. */
export const REJECT_REASONS: readonly RejectReason[] = [
  "malformed",
  "version",
  "unauthenticated",
  "badTag",
  "stale",
  "replay",
];

/** A frame's time and nonce. */
export interface FrameStamp {
  /** Sender's clock, ms since the epoch. */
  time: number;
  /** Random id of the sending endpoint's session with the destination (u32). */
  session: number;
  /** Sequence number within the session (u32, from 1). */
  sequence: number;
}

/**
 * Judges a tagged frame's time and nonce after its tag verified: `"stale"`, `"replay"`, or
 * `undefined` to read it (see `wire/freshness.ts`).
 */
export type FrameGuard = (time: number, session: number, sequence: number) => "stale" | "replay" | undefined;

/**
 * Stamps of the frames made one at a time ({@linkcode encodeFrame}: tools, the monitor's rounds):
 * one random session per process, a sequence counted up.
 */
const oneOff = { session: randomSession(), sequence: 0 };

/** A random session id (u32, never 0). */
export function randomSession(): number {
  return Math.floor(Math.random() * 0xffff_fffe) + 1;
}

/**
 * The next stamp of a session kept in `s` (time `now`): when its sequence would pass 2³² − 1, a new
 * session starts, so a nonce is never used twice.
 */
export function nextStamp(s: { session: number; sequence: number }, now: number): FrameStamp {
  if (s.sequence >= 0xffff_ffff) {
    s.session = randomSession();
    s.sequence = 0;
  }
  s.sequence++;
  return { time: now, session: s.session, sequence: s.sequence };
}

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
 * console.log(frameSize(1, 10, true)); // 25 + 7 + 10 + 16 = 58
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
export function encodeFrame(messages: readonly FrameMessage[], auth?: FrameAuth, now = Date.now()): Uint8Array {
  let bytes = 0;
  for (const m of messages) bytes += payloadSize(m.payload);
  const frame = new Uint8Array(frameSize(messages.length, bytes, auth !== undefined));
  let o = writeFrameHeader(frame, auth, nextStamp(oneOff, now));
  for (const m of messages) o = writeMessage(frame, o, m.command, m.callId, m.payload);
  sealFrame(frame, auth);
  return frame;
}

/** Writes the frame header (stamped with `stamp`) into `frame`; returns the offset of the first message. */
export function writeFrameHeader(frame: Uint8Array, auth: FrameAuth | undefined, stamp: FrameStamp): number {
  frame[0] = WIRE_VERSION;
  frame[1] = auth ? FLAG_TAGGED : 0;
  if (auth) {
    const id = auth.primaryKeyId;
    frame[4] = id >>> 24;
    frame[5] = id >>> 16;
    frame[6] = id >>> 8;
    frame[7] = id;
  }
  const t = stamp.time;
  writeU32(frame, TIME_OFFSET, Math.floor(t / 0x1_0000_0000));
  writeU32(frame, TIME_OFFSET + 4, t >>> 0);
  frame[ID_LENGTH] = FRAME_MARKER;
  writeU32(frame, SESSION_OFFSET, stamp.session);
  writeU32(frame, SEQUENCE_OFFSET, stamp.sequence);
  return FRAME_HEADER_BYTES;
}

function writeU32(out: Uint8Array, o: number, v: number): void {
  out[o] = v >>> 24;
  out[o + 1] = v >>> 16;
  out[o + 2] = v >>> 8;
  out[o + 3] = v;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * The time and nonce of a frame (unchecked: read a frame with {@linkcode readFrame}).
 *
 * @example
 * ```ts
 * const frame = encodeFrame([{ command: 0x30, callId: 1, payload: new Uint8Array(0) }], undefined, 1234);
 * console.log(frameStamp(frame).time); // 1234
 * ```
 */
export function frameStamp(frame: Uint8Array): FrameStamp {
  return {
    time: readU32(frame, TIME_OFFSET) * 0x1_0000_0000 + readU32(frame, TIME_OFFSET + 4),
    session: readU32(frame, SESSION_OFFSET),
    sequence: readU32(frame, SEQUENCE_OFFSET),
  };
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
 * With `auth`, only tagged frames whose tag verifies are read, and then only those `guard` finds
 * fresh; without it (a lone node, or an operator's explicit insecure mode), only untagged frames
 * (a time or nonce anyone could forge is not checked).
 */
export function readFrame(
  frame: Uint8Array,
  auth: FrameAuth | undefined,
  visit: MessageVisitor,
  guard?: FrameGuard,
): RejectReason | undefined {
  if (frame.length < FRAME_HEADER_BYTES || frame[ID_LENGTH] !== FRAME_MARKER) return "malformed";
  if (frame[0] !== WIRE_VERSION) return "version";
  const tagged = (frame[1] & FLAG_TAGGED) !== 0;
  if (tagged !== (auth !== undefined)) return "unauthenticated";
  let end = frame.length;
  if (auth) {
    if (end < FRAME_HEADER_BYTES + TAG_BYTES) return "malformed";
    end -= TAG_BYTES;
    if (!auth.verify(frame.subarray(0, end), readU32(frame, 4), frame.subarray(end))) return "badTag";
  }
  if (auth && guard) {
    const time = readU32(frame, TIME_OFFSET) * 0x1_0000_0000 + readU32(frame, TIME_OFFSET + 4);
    const verdict = guard(time, readU32(frame, SESSION_OFFSET), readU32(frame, SEQUENCE_OFFSET));
    if (verdict !== undefined) return verdict;
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
