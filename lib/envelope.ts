/**
 * Envelope for internal (node-to-node, monitoring, admin) messages, which use
 * command codes 0x20–0xFF on the same UDP port as the client protocol:
 * `id(16) | command(1) | headerLength(4, LE) | header JSON | body bytes`.
 *
 * @module
 */
import { utf8Decoder, utf8Encoder } from "./bytes.ts";
import { FIRST_INTERNAL_COMMAND, ID_LENGTH } from "./protocol.ts";

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

/** A decoded internal message. */
export interface InternalMessage {
  /** 16-byte message id (request/reply correlation). */
  id: Uint8Array;
  /** Command code (≥ 0x20). */
  command: number;
  /** Parsed JSON header (unvalidated: handlers must validate it). */
  header: unknown;
  /** Binary body after the header. */
  body: Uint8Array;
}

/** Upper bound on an encoded internal message, to stay inside one UDP datagram. */
export const MAX_DATAGRAM = 65_000;

/**
 * Encodes an internal message.
 *
 * @example
 * ```ts
 * const m = encodeInternal(new Uint8Array(16), 0x21, { hello: 1 });
 * console.log(decodeInternal(m)?.header); // { hello: 1 }
 * ```
 */
export function encodeInternal(id: Uint8Array, command: number, header: unknown, body?: Uint8Array): Uint8Array {
  if (command < FIRST_INTERNAL_COMMAND || command > 0xff) {
    throw new RangeError(`Internal command must be 0x20-0xFF, got ${command}`);
  }
  const json = utf8Encoder.encode(JSON.stringify(header ?? null));
  const b = body ?? new Uint8Array(0);
  const out = new Uint8Array(ID_LENGTH + 1 + 4 + json.length + b.length);
  out.set(id.subarray(0, ID_LENGTH), 0);
  out[ID_LENGTH] = command;
  new DataView(out.buffer).setUint32(ID_LENGTH + 1, json.length, true);
  out.set(json, ID_LENGTH + 5);
  out.set(b, ID_LENGTH + 5 + json.length);
  return out;
}

/** Decodes an internal message; `null` if malformed (never throws). */
export function decodeInternal(packet: Uint8Array): InternalMessage | null {
  if (packet.length < ID_LENGTH + 5) return null;
  const command = packet[ID_LENGTH];
  if (command < FIRST_INTERNAL_COMMAND) return null;
  const len = new DataView(packet.buffer, packet.byteOffset + ID_LENGTH + 1, 4).getUint32(0, true);
  if (len > packet.length - ID_LENGTH - 5) return null;
  let header: unknown;
  try {
    header = JSON.parse(utf8Decoder.decode(packet.subarray(ID_LENGTH + 5, ID_LENGTH + 5 + len)));
  } catch {
    return null;
  }
  return {
    id: packet.subarray(0, ID_LENGTH),
    command,
    header,
    body: packet.subarray(ID_LENGTH + 5 + len),
  };
}
