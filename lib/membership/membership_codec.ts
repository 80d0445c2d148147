/**
 * Wire format of SWIM membership messages (internal commands 0x21–0x2F).
 * Headers are compact JSON inside the internal envelope; every decoded header
 * is checked by hand and rejected as a whole (`null`) when anything is off.
 *
 * @module
 */
import type { Address } from "../net/transport.ts";

/** Membership command codes (inside the 0x21–0x2F range of `InternalCommand`). */
export const MembershipCommand = {
  /** Probe: `{s: seq, t: target, u?: rumors}`. */
  Ping: 0x21,
  /** Probe answer: `{s: seq, u?: rumors}`. */
  Ack: 0x22,
  /** Indirect probe request: `{s: seq, t: target, u?: rumors}`. */
  PingReq: 0x23,
  /** Indirect probe failed (Lifeguard): `{s: seq}`. */
  Nack: 0x24,
  /** Full-state push (also the join request): `{s, j: 0|1, p: part, n: parts, m: entries}`. */
  PushPull: 0x25,
  /** Full-state answer to a push: `{s, p, n, m}`. */
  PushPullReply: 0x26,
  /** Rumors only (gossip round, graceful leave): `{u: rumors}`. */
  Gossip: 0x27,
} as const;

/** First and last code of the membership range; codes without a message are counted as unknown. */
export const MEMBERSHIP_FIRST = 0x21;
/** Last code of the membership range. */
export const MEMBERSHIP_LAST = 0x2f;

/** Member states, in wire order. */
export const STATES = ["alive", "suspect", "dead", "left"] as const;

/** A member's state: alive, suspected, declared dead by others, or left gracefully. */
export type MemberState = typeof STATES[number];

/**
 * One rumor or one full-state entry: "`address` is `state` at `incarnation`",
 * with `from` naming who suspects it (suspect confirmations count distinct senders).
 */
export interface MemberUpdate {
  /** The member the update is about. */
  address: Address;
  /** Its state. */
  state: MemberState;
  /** Its incarnation (only the member itself increases it, to refute suspicion). */
  incarnation: number;
  /** Who declared it (suspect and dead rumors). */
  from?: Address;
}

/** Wire form of an update: `[state, address, incarnation, from?]`. */
export type WireUpdate = [number, string, number] | [number, string, number, string];

/** Encodes an update to its wire tuple. */
export function encodeUpdate(u: MemberUpdate): WireUpdate {
  const code = STATES.indexOf(u.state);
  return u.from === undefined ? [code, u.address, u.incarnation] : [code, u.address, u.incarnation, u.from];
}

/** Longest address accepted (hostnames up to 253 characters, IPv6 brackets, port). */
const MAX_ADDRESS = 300;
/** Rumors accepted in one message. */
const MAX_UPDATES = 2_000;
/** Entries accepted in one full-state chunk. */
const MAX_ENTRIES = 20_000;

/** Shape check of `host:port`, ASCII only (so JSON length = byte length). */
const ADDRESS_RE = /^(?:\[[0-9A-Za-z:.%]+\]|[A-Za-z0-9._-]+):\d{1,5}$/;

/** Whether `a` is a plausible member address. */
export function isAddress(a: unknown): a is Address {
  return typeof a === "string" && a.length <= MAX_ADDRESS && ADDRESS_RE.test(a);
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** Decodes one wire update; `null` if malformed. */
export function decodeUpdate(w: unknown): MemberUpdate | null {
  if (!Array.isArray(w) || (w.length !== 3 && w.length !== 4)) return null;
  const [code, address, incarnation, from] = w;
  if (typeof code !== "number" || !Number.isInteger(code) || code < 0 || code >= STATES.length) return null;
  if (!isAddress(address) || !isCount(incarnation)) return null;
  if (w.length === 4 && !isAddress(from)) return null;
  return w.length === 4
    ? { state: STATES[code], address, incarnation, from: from as Address }
    : { state: STATES[code], address, incarnation };
}

function decodeUpdates(w: unknown, max: number): MemberUpdate[] | null {
  if (w === undefined) return [];
  if (!Array.isArray(w) || w.length > max) return null;
  const out: MemberUpdate[] = [];
  for (const x of w) {
    const u = decodeUpdate(x);
    if (!u) return null;
    out.push(u);
  }
  return out;
}

function isRecord(h: unknown): h is Record<string, unknown> {
  return typeof h === "object" && h !== null && !Array.isArray(h);
}

/** A probe, ack, ping-req or nack. */
export interface ProbeMessage {
  /** Sequence number chosen by the prober (acks echo it). */
  seq: number;
  /** Who should answer (ping, ping-req): a node ignores pings meant for another address. */
  target?: Address;
  /** Piggybacked rumors. */
  updates: MemberUpdate[];
}

/** A full-state chunk (push or reply). */
export interface StateMessage {
  /** Exchange sequence number. */
  seq: number;
  /** Whether the sender is joining (pushes only). */
  join: boolean;
  /** Chunk index. */
  part: number;
  /** Number of chunks. */
  parts: number;
  /** Entries of this chunk. */
  entries: MemberUpdate[];
}

/** A decoded membership message. */
export type MembershipMessage =
  | { kind: "ping" | "ack" | "ping-req" | "nack"; probe: ProbeMessage }
  | { kind: "push" | "reply"; state: StateMessage }
  | { kind: "gossip"; updates: MemberUpdate[] };

/**
 * Validates the JSON header of membership command `command`; `null` when malformed
 * or unknown (never throws).
 *
 * @example
 * ```ts
 * const m = decodeMembership(0x21, { s: 7, t: "10.0.0.2:4000", u: [[0, "10.0.0.3:4000", 1]] });
 * console.log(m?.kind); // "ping"
 * console.log(decodeMembership(0x21, { s: -1, t: "x" })); // null
 * ```
 */
export function decodeMembership(command: number, h: unknown): MembershipMessage | null {
  if (!isRecord(h)) return null;
  switch (command) {
    case MembershipCommand.Ping:
    case MembershipCommand.PingReq: {
      if (!isCount(h.s) || !isAddress(h.t)) return null;
      const updates = decodeUpdates(h.u, MAX_UPDATES);
      if (!updates) return null;
      return {
        kind: command === MembershipCommand.Ping ? "ping" : "ping-req",
        probe: { seq: h.s, target: h.t, updates },
      };
    }
    case MembershipCommand.Ack:
    case MembershipCommand.Nack: {
      if (!isCount(h.s)) return null;
      const updates = command === MembershipCommand.Ack ? decodeUpdates(h.u, MAX_UPDATES) : [];
      if (!updates) return null;
      return { kind: command === MembershipCommand.Ack ? "ack" : "nack", probe: { seq: h.s, updates } };
    }
    case MembershipCommand.PushPull:
    case MembershipCommand.PushPullReply: {
      if (!isCount(h.s) || !isCount(h.p) || !isCount(h.n) || h.p >= h.n || h.n > 10_000) return null;
      if (command === MembershipCommand.PushPull && h.j !== 0 && h.j !== 1) return null;
      const entries = decodeUpdates(h.m, MAX_ENTRIES);
      if (!entries || entries.some((e) => e.from !== undefined)) return null;
      return {
        kind: command === MembershipCommand.PushPull ? "push" : "reply",
        state: { seq: h.s, join: h.j === 1, part: h.p, parts: h.n, entries },
      };
    }
    case MembershipCommand.Gossip: {
      const updates = decodeUpdates(h.u, MAX_UPDATES);
      if (!updates || updates.length === 0) return null;
      return { kind: "gossip", updates };
    }
  }
  return null;
}

/** Bytes of JSON that wrap the entries of a full-state chunk (generous upper bound). */
const STATE_OVERHEAD = 160;

/**
 * Splits full-state entries into chunks whose JSON stays within `maxBytes`
 * (each chunk merges on its own, so no reassembly is needed). Always at least one chunk.
 *
 * @example
 * ```ts
 * const entries = [{ address: "10.0.0.1:4000", state: "alive" as const, incarnation: 0 }];
 * console.log(chunkEntries(entries, 60_000).length); // 1
 * ```
 */
export function chunkEntries(entries: readonly MemberUpdate[], maxBytes: number): WireUpdate[][] {
  const budget = maxBytes - STATE_OVERHEAD;
  const chunks: WireUpdate[][] = [[]];
  let size = 0;
  for (const e of entries) {
    const w = encodeUpdate(e);
    const len = JSON.stringify(w).length + 1;
    if (size + len > budget && chunks[chunks.length - 1].length > 0) {
      chunks.push([]);
      size = 0;
    }
    chunks[chunks.length - 1].push(w);
    size += len;
  }
  return chunks;
}
