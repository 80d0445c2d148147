/**
 * The monitoring round message (internal command 0x40): round id, the URL to
 * report to, the jitter to wait, the hop count, and an HMAC with the cluster
 * key over everything but the hop count, so nobody outside the cluster can
 * make nodes post their stats somewhere else.
 *
 * @module
 */
import { InternalCommand } from "../wire/envelope.ts";
import { signWithClusterKey, verifyWithClusterKey } from "../wire/http_key.ts";
import { ROUND_ID } from "./report.ts";

/** Monitoring command codes (0x40–0x4F). */
export const MonitoringCommand = {
  /** A round message spreading through the cluster. */
  Round: InternalCommand.MonitoringBase,
} as const;

/** Header of a round message. */
export interface RoundHeader {
  /** Round id (hex). */
  r: string;
  /** Report URL (the monitor's `/api/report`). */
  u: string;
  /** Jitter: the node waits a random time in [0, j) ms before reporting. */
  j: number;
  /** Hops so far (0 when sent by the monitor). */
  h: number;
  /** Hex HMAC of {@linkcode roundMacInput} with the cluster key (absent when the fleet has no key). */
  m?: string;
}

/** Longest report URL accepted in a round message. */
export const MAX_REPORT_URL = 512;
/** Largest jitter a round may ask for (ms). */
export const MAX_ROUND_JITTER_MS = 600_000;

/** The text the round MAC covers: everything but the hop count. */
export function roundMacInput(h: Pick<RoundHeader, "r" | "u" | "j">): string {
  return `kvstore-round\n${h.r}\n${h.u}\n${h.j}`;
}

/**
 * Validates a decoded header; `null` if it is not a well-formed round header.
 *
 * @example
 * ```ts
 * const h = parseRoundHeader({ r: "0011223344556677", u: "http://127.0.0.1:8080/api/report", j: 100, h: 0 });
 * console.log(h?.r); // "0011223344556677"
 * ```
 */
export function parseRoundHeader(header: unknown): RoundHeader | null {
  if (typeof header !== "object" || header === null) return null;
  const { r, u, j, h, m } = header as Record<string, unknown>;
  if (typeof r !== "string" || !ROUND_ID.test(r)) return null;
  if (typeof u !== "string" || u.length > MAX_REPORT_URL || !/^https?:\/\/[^\s]+$/.test(u)) return null;
  if (typeof j !== "number" || !Number.isInteger(j) || j < 0 || j > MAX_ROUND_JITTER_MS) return null;
  if (typeof h !== "number" || !Number.isInteger(h) || h < 0 || h > 1_000) return null;
  if (m !== undefined && (typeof m !== "string" || !/^[0-9a-f]{64}$/.test(m))) return null;
  return m === undefined ? { r, u, j, h } : { r, u, j, h, m };
}

/** Returns `header` with its MAC set (or unchanged without a key). */
export async function signRound(key: CryptoKey | undefined, header: RoundHeader): Promise<RoundHeader> {
  if (!key) return header;
  return { ...header, m: await signWithClusterKey(key, roundMacInput(header)) };
}

/** Whether the header's MAC is valid for `key` (or any of the keys, during a rotation). */
export async function verifyRound(key: CryptoKey | readonly CryptoKey[], header: RoundHeader): Promise<boolean> {
  if (!header.m) return false;
  return await verifyWithClusterKey(key, roundMacInput(header), header.m);
}
