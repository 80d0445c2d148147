/**
 * Byte-exact codec for the client UDP protocol described in `docs/PROTOCOL.md`.
 *
 * A request is `id(16) | command(1) | key(32) | valueLength(2, LE) | value(n)`;
 * a reply is `id(16) | code(1) | payload`.
 *
 * @module
 */
import { digestRange, type RequestDigest } from "./request_digest.ts";

/** Length of the opaque request id that starts every packet. */
export const ID_LENGTH = 16;
/** Length of a key in bytes. */
export const KEY_LENGTH = 32;
/** Offset of the command byte in a request. */
export const COMMAND_OFFSET = 16;
/** Offset of the key in a request. */
export const KEY_OFFSET = 17;
/** Offset of the value-length field in a put request. */
export const VALUE_LENGTH_OFFSET = 49;
/** Offset of the value in a put request. */
export const VALUE_OFFSET = 51;
/** Largest value a put may carry. */
export const MAX_VALUE_LENGTH = 15_000;
/** Header length of a keyless command (id + command). */
export const HEADER_LENGTH = 17;

/** Client commands (0x01–0x08). 0x20–0xFF are reserved for internal messages. */
export const Command = {
  Put: 0x01,
  Get: 0x02,
  Remove: 0x03,
  Shutdown: 0x04,
  Wipeout: 0x05,
  IsAlive: 0x06,
  GetPid: 0x07,
  GetMembershipCount: 0x08,
} as const;
/** A client command code. */
export type Command = typeof Command[keyof typeof Command];

/** First command code reserved for internal (node-to-node and admin) messages. */
export const FIRST_INTERNAL_COMMAND = 0x20;

/** Reply error codes. */
export const ErrorCode = {
  Success: 0x00,
  NonExistentKey: 0x01,
  OutOfSpace: 0x02,
  Overload: 0x03,
  InternalFailure: 0x04,
  UnrecognizedCommand: 0x05,
  InvalidKey: 0x06,
  InvalidValueLength: 0x07,
} as const;
/** A reply error code. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** Human-readable sentence for each error code. */
export const ERROR_MESSAGES: Record<number, string> = {
  0x00: "success",
  0x01: "the key does not exist",
  0x02: "the node is out of space (capacity limit reached; nothing was written)",
  0x03: "the node is overloaded; back off and retry",
  0x04: "internal KVStore failure (for example, not enough replicas reachable)",
  0x05: "the node does not recognize this command",
  0x06: "invalid key (the packet is too short to hold a 32-byte key)",
  0x07: "invalid value length (over 15,000 bytes, or longer than the bytes sent)",
};

const KEYLESS = new Set<number>([
  Command.Shutdown,
  Command.Wipeout,
  Command.IsAlive,
  Command.GetPid,
  Command.GetMembershipCount,
]);

/** A decoded, valid client request. */
export interface Request {
  /** The 16-byte request id (a view into the packet). */
  id: Uint8Array;
  /** The command code. */
  command: Command;
  /** The 32-byte key for put/get/remove; an empty array for keyless commands. */
  key: Uint8Array;
  /** The value for put; empty otherwise. */
  value: Uint8Array;
}

/**
 * Result of decoding a packet: a request, or the error code to answer with; and the request's
 * digest (`request_digest.ts`) for the reply cache. The digest covers the bytes the command reads
 * (command byte, key, value-length field, value; a keyless command's byte only; all bytes after the
 * id when the command is unknown, the key is short or the value length is wrong), never the id nor
 * trailing bytes. It is zero when there is no id.
 */
export type DecodeResult =
  & ({ ok: true; request: Request } | { ok: false; id: Uint8Array; code: ErrorCode } | {
    ok: false;
    id: null;
    code: null;
  })
  & { digest: RequestDigest };

const EMPTY = new Uint8Array(0);
const NO_DIGEST: RequestDigest = { lo: 0, hi: 0 };

/**
 * Returns a fresh zero-filled byte array of `length` bytes. Encoders take one so the
 * node can build replies in a slab (lib/base/slab.ts) instead of one buffer each.
 */
export type Allocate = (length: number) => Uint8Array;

const allocate: Allocate = (length) => new Uint8Array(length);

/**
 * Decodes a client request packet.
 *
 * Returns `{ ok: false, id: null }` when the packet is too short to carry an
 * id and command (nothing can be answered), or the error code to reply with. This is the one parser
 * of the request layout: it also digests the bytes it read ({@linkcode DecodeResult}).
 *
 * @example
 * ```ts
 * const packet = encodeRequest(new Uint8Array(16), Command.IsAlive);
 * const result = decodeRequest(packet);
 * if (result.ok) console.log(result.request.command); // 6
 * ```
 */
export function decodeRequest(packet: Uint8Array): DecodeResult {
  if (packet.length < HEADER_LENGTH) return { ok: false, id: null, code: null, digest: NO_DIGEST };
  const id = packet.subarray(0, ID_LENGTH);
  const command = packet[COMMAND_OFFSET];
  if (KEYLESS.has(command)) {
    const request = { id, command: command as Command, key: EMPTY, value: EMPTY };
    return { ok: true, request, digest: digestRange(packet, ID_LENGTH, HEADER_LENGTH) };
  }
  const end = packet.length;
  if (command !== Command.Put && command !== Command.Get && command !== Command.Remove) {
    return { ok: false, id, code: ErrorCode.UnrecognizedCommand, digest: digestRange(packet, ID_LENGTH, end) };
  }
  const keyEnd = KEY_OFFSET + KEY_LENGTH;
  if (end < keyEnd) return { ok: false, id, code: ErrorCode.InvalidKey, digest: digestRange(packet, ID_LENGTH, end) };
  const key = packet.subarray(KEY_OFFSET, keyEnd);
  if (command !== Command.Put) {
    const request = { id, command: command as Command, key, value: EMPTY };
    return { ok: true, request, digest: digestRange(packet, ID_LENGTH, keyEnd) };
  }
  if (end < VALUE_OFFSET) {
    return { ok: false, id, code: ErrorCode.InvalidValueLength, digest: digestRange(packet, ID_LENGTH, end) };
  }
  const length = packet[VALUE_LENGTH_OFFSET] | (packet[VALUE_LENGTH_OFFSET + 1] << 8);
  const valueEnd = VALUE_OFFSET + length;
  if (length > MAX_VALUE_LENGTH || end < valueEnd) {
    const digest = digestRange(packet, ID_LENGTH, Math.min(end, valueEnd));
    return { ok: false, id, code: ErrorCode.InvalidValueLength, digest };
  }
  const request = { id, command: Command.Put, key, value: packet.subarray(VALUE_OFFSET, valueEnd) };
  return { ok: true, request, digest: digestRange(packet, ID_LENGTH, valueEnd) };
}

/**
 * Encodes a client request. Keyless commands are encoded as the 17-byte header.
 *
 * @example
 * ```ts
 * const id = crypto.getRandomValues(new Uint8Array(16));
 * const key = new Uint8Array(32);
 * const put = encodeRequest(id, Command.Put, key, new TextEncoder().encode("v"));
 * console.log(put.length); // 52
 * ```
 */
export function encodeRequest(
  id: Uint8Array,
  command: number,
  key?: Uint8Array,
  value?: Uint8Array,
): Uint8Array {
  if (id.length !== ID_LENGTH) throw new RangeError(`Request id must be ${ID_LENGTH} bytes, got ${id.length}`);
  if (key === undefined) {
    const out = new Uint8Array(HEADER_LENGTH);
    out.set(id, 0);
    out[COMMAND_OFFSET] = command;
    return out;
  }
  if (key.length !== KEY_LENGTH) throw new RangeError(`Key must be ${KEY_LENGTH} bytes, got ${key.length}`);
  const withValue = value !== undefined;
  if (withValue && value.length > 0xffff) {
    throw new RangeError(`Value of ${value.length} bytes does not fit the 2-byte length field`);
  }
  const out = new Uint8Array(withValue ? VALUE_OFFSET + value.length : KEY_OFFSET + KEY_LENGTH);
  out.set(id, 0);
  out[COMMAND_OFFSET] = command;
  out.set(key, KEY_OFFSET);
  if (withValue) {
    out[VALUE_LENGTH_OFFSET] = value.length & 0xff;
    out[VALUE_LENGTH_OFFSET + 1] = value.length >> 8;
    out.set(value, VALUE_OFFSET);
  }
  return out;
}

/**
 * Encodes a reply: the request id, the code, and the payload (only sent for success).
 *
 * @example
 * ```ts
 * const reply = encodeReply(new Uint8Array(16), ErrorCode.NonExistentKey);
 * console.log(reply.length); // 17
 * ```
 */
export function encodeReply(
  id: Uint8Array,
  code: number,
  payload?: Uint8Array,
  alloc: Allocate = allocate,
): Uint8Array {
  const body = code === ErrorCode.Success && payload ? payload : EMPTY;
  const out = alloc(HEADER_LENGTH + body.length);
  out.set(id.subarray(0, ID_LENGTH), 0);
  out[COMMAND_OFFSET] = code;
  out.set(body, HEADER_LENGTH);
  return out;
}

/**
 * Encodes a successful get reply in one step: the same bytes as
 * `encodeReply(id, 0, encodeValuePayload(value))` without the intermediate copy.
 *
 * @example
 * ```ts
 * const reply = encodeValueReply(new Uint8Array(16), new Uint8Array([7]));
 * console.log(reply.length); // 20
 * ```
 */
export function encodeValueReply(id: Uint8Array, value: Uint8Array, alloc: Allocate = allocate): Uint8Array {
  const out = alloc(HEADER_LENGTH + 2 + value.length);
  out.set(id.subarray(0, ID_LENGTH), 0);
  out[COMMAND_OFFSET] = ErrorCode.Success;
  out[HEADER_LENGTH] = value.length & 0xff;
  out[HEADER_LENGTH + 1] = value.length >> 8;
  out.set(value, HEADER_LENGTH + 2);
  return out;
}

/** Encodes a get payload: value length (2 B LE) + value. */
export function encodeValuePayload(value: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + value.length);
  out[0] = value.length & 0xff;
  out[1] = value.length >> 8;
  out.set(value, 2);
  return out;
}

/** Encodes a 4-byte little-endian unsigned integer payload (get-pid, membership count). */
export function encodeU32Payload(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0, true);
  return out;
}

/** A decoded reply. */
export interface Reply {
  /** The request id copied from the request. */
  id: Uint8Array;
  /** The error code. */
  code: number;
  /** The payload after the code (empty unless success). */
  payload: Uint8Array;
}

/**
 * Decodes a reply packet, or returns `null` when it is shorter than 17 bytes.
 *
 * @example
 * ```ts
 * const r = decodeReply(encodeReply(new Uint8Array(16), 0, encodeU32Payload(7)));
 * console.log(r && decodeU32Payload(r.payload)); // 7
 * ```
 */
export function decodeReply(packet: Uint8Array): Reply | null {
  if (packet.length < HEADER_LENGTH) return null;
  return {
    id: packet.subarray(0, ID_LENGTH),
    code: packet[COMMAND_OFFSET],
    payload: packet.subarray(HEADER_LENGTH),
  };
}

/** Decodes a get payload into the value, or `null` if it is malformed. */
export function decodeValuePayload(payload: Uint8Array): Uint8Array | null {
  if (payload.length < 2) return null;
  const length = payload[0] | (payload[1] << 8);
  if (payload.length < 2 + length) return null;
  return payload.subarray(2, 2 + length);
}

/** Decodes a 4-byte little-endian unsigned payload, or `null` if too short. */
export function decodeU32Payload(payload: Uint8Array): number | null {
  if (payload.length < 4) return null;
  return new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
}

/** Whether a command changes the store (and so must never run twice for one id). */
export function isMutating(command: number): boolean {
  return command === Command.Put || command === Command.Remove || command === Command.Wipeout ||
    command === Command.Shutdown;
}

/** Map key for a 16-byte client request id. */
export function idKey(id: Uint8Array): string {
  return String.fromCharCode.apply(null, id as unknown as number[]);
}
