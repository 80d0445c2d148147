/**
 * Internal command codes and the payload of the JSON families.
 *
 * Every internal datagram is a frame of `wire/frame.ts`; this module names the
 * commands its messages carry and encodes the payload of the rare, human-facing
 * families (membership, admin, debug, monitoring rounds), whose typed codecs
 * validate a small JSON header:
 * `headerLength(4, LE) | header JSON | body bytes`.
 * Replication, the request path, uses binary payloads (`cluster/replica_codec.ts`).
 *
 * @module
 */
import { utf8Decoder, utf8Encoder } from "../base/bytes.ts";
import { encodeFrame, type FrameAuth, readFrame } from "./frame.ts";

/**
 * Internal command codes, grouped by subsystem so parts never collide.
 * 0x20 rpc reply; 0x21–0x2F membership; 0x30–0x3F replication;
 * 0x40–0x4F monitoring; 0x50–0x5F admin; 0x60–0x6F debug.
 */
export const InternalCommand = {
  RpcReply: 0x20,
  MembershipBase: 0x21,
  ReplicationBase: 0x30,
  MonitoringBase: 0x40,
  AdminBase: 0x50,
  DebugBase: 0x60,
} as const;

/** A decoded JSON-family message. */
export interface InternalMessage {
  /** Command code (≥ 0x20; 0x20 for a reply). */
  command: number;
  /** Parsed JSON header (unvalidated: each family's codec validates it). */
  header: unknown;
  /** Binary body after the header (a view of the datagram). */
  body: Uint8Array;
}

/**
 * Encodes a JSON header and an optional body as a message payload.
 *
 * @example
 * ```ts
 * const p = encodeJsonPayload({ hello: 1 }, new Uint8Array([7]));
 * console.log(decodeJsonPayload(0x21, p)?.header); // { hello: 1 }
 * ```
 */
export function encodeJsonPayload(header: unknown, body?: Uint8Array): Uint8Array {
  const json = utf8Encoder.encode(JSON.stringify(header ?? null));
  const b = body ?? EMPTY;
  const out = new Uint8Array(4 + json.length + b.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(b, 4 + json.length);
  return out;
}

/** Decodes a JSON-family payload of `command`; `null` if malformed (never throws). */
export function decodeJsonPayload(command: number, payload: Uint8Array): InternalMessage | null {
  if (payload.length < 4) return null;
  const len = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
  if (len > payload.length - 4) return null;
  let header: unknown;
  try {
    header = JSON.parse(utf8Decoder.decode(payload.subarray(4, 4 + len)));
  } catch {
    return null;
  }
  return { command, header, body: payload.subarray(4 + len) };
}

const EMPTY = new Uint8Array(0);

/**
 * One JSON-family message as a whole frame (the monitor's round, tools and tests), tagged
 * when `auth` is given, stamped with the time `now`.
 *
 * @example
 * ```ts
 * const frame = encodeJsonFrame(0x40, { r: "00" });
 * console.log(decodeJsonFrame(frame)?.header); // { r: "00" }
 * ```
 */
export function encodeJsonFrame(
  command: number,
  header: unknown,
  body?: Uint8Array,
  auth?: FrameAuth,
  now: number = Date.now(),
): Uint8Array {
  return encodeFrame([{ command, callId: 0, payload: encodeJsonPayload(header, body) }], auth, now);
}

/** The first message of a frame, decoded as a JSON-family message; `null` if the frame or payload is not valid. */
export function decodeJsonFrame(frame: Uint8Array, auth?: FrameAuth): InternalMessage | null {
  let first: InternalMessage | null = null;
  let seen = false;
  const reason = readFrame(frame, auth, (command, _callId, payload) => {
    if (!seen) first = decodeJsonPayload(command, payload);
    seen = true;
  });
  return reason === undefined ? first : null;
}
