/**
 * Internal messages of the admin subsystem (0x50–0x5F, JSON header + binary
 * body in the envelope of lib/wire/envelope.ts), shared by nodes and kvctl.
 *
 * | code | name | request header | reply |
 * |---|---|---|---|
 * | 0x50 | submit | `{c, s}` signed command, from kvctl | `{ok, id}` or `{ok:false, reason, message}` |
 * | 0x51 | rumor | `{c, s, src?}` pushed by a node | `{known}` (true when it already had it) |
 * | 0x52 | digest | `{ids}` ids this node knows (push-pull) | `{ids}` ids the peer knows |
 * | 0x53 | fetch | `{id}` | `{c, s}` or `{missing:true}` |
 * | 0x54 | chunk | `{id, i}` index (pieces first, then data chunks) | `{id, i}` + bytes, or `{missing:true}` |
 * | 0x55 | have | `{id}` | `{state, count, total, have}` (base64 bitmap) |
 * | 0x56 | status | `{id}` | `{result}` this node's result, or `{result:null}` |
 * | 0x57 | stats | `{}` | `{stats}` admin counters |
 * | 0x58 | rollout | `{id, from, event, …}` a rolling restart's progress (lib/admin/rollout.ts) | `{ok}` |
 * | 0x59 | takeover | `{token, pid}` from a node's new process to its old one (lib/admin/restart.ts) | `{ok}` |
 *
 * @module
 */
import { InternalCommand } from "../wire/envelope.ts";

/**
 * Admin command codes.
 *
 * @example
 * ```ts
 * console.log(AdminCommand.Rumor.toString(16)); // "51"
 * ```
 */
export const AdminCommand = {
  Submit: InternalCommand.AdminBase,
  Rumor: InternalCommand.AdminBase + 1,
  Digest: InternalCommand.AdminBase + 2,
  Fetch: InternalCommand.AdminBase + 3,
  Chunk: InternalCommand.AdminBase + 4,
  Have: InternalCommand.AdminBase + 5,
  Status: InternalCommand.AdminBase + 6,
  Stats: InternalCommand.AdminBase + 7,
  Rollout: InternalCommand.AdminBase + 8,
  Takeover: InternalCommand.AdminBase + 9,
} as const;

/**
 * A command id: 32 lower-case hex digits.
 *
 * @example
 * ```ts
 * console.log(COMMAND_ID.test("ab".repeat(16))); // true
 * ```
 */
export const COMMAND_ID = /^[0-9a-f]{32}$/;

/**
 * The command id in a header, or undefined if absent or malformed.
 *
 * @example
 * ```ts
 * console.log(headerId({ id: "ab".repeat(16) })); // "abab…"
 * ```
 */
export function headerId(header: unknown): string | undefined {
  const id = (header as { id?: unknown } | null)?.id;
  return typeof id === "string" && COMMAND_ID.test(id) ? id : undefined;
}

/**
 * The admin headers read field by field, by kind, with their layout (JSON objects; other fields
 * are ignored). The signed command of submit, rumor and a fetch reply (`{c, s}`) is checked by
 * `command.ts`, a rollout event by `rollout_state.ts`, a status reply's result by the result
 * schema (`monitor/results_store.ts`).
 *
 * | kind | messages | fields |
 * |---|---|---|
 * | `id` | fetch, have, status requests | `id`: a command id ({@linkcode COMMAND_ID}) |
 * | `chunk` | chunk request | `id`: a command id; `i`: the piece or chunk index, an integer ≥ 0 |
 * | `digest` | digest request and reply | `ids`: an array; its command ids are kept, other entries dropped |
 * | `takeover` | takeover request | `token`: a string (8–64 hex digits when sent); `pid`: a number, optional |
 * | `hints` | rumor request | `src`: where the command's chunks may be had: up to 4 `host:port` strings (others dropped; absent: none) |
 * | `known` | rumor reply | `known`: a boolean, true when the node had the command already |
 * | `ok` | submit, rollout and takeover replies | `ok`: a boolean; `reason`, `message`: strings, optional (why not) |
 * | `missing` | fetch reply | `missing`: true when the node does not hold the command (any other value: false) |
 * | `chunkReply` | chunk reply (the bytes are the body) | `i`: the index served, an integer ≥ 0, optional; `missing` as above |
 * | `haveReply` | have reply | `state`: the transfer's state, optional; `have`: base64 bitmap of the chunks held, optional |
 * | `statsReply` | stats reply | `stats` (required), `gossip`: counters by name (the numeric fields of each object) |
 */
export interface AdminHeaders {
  /** Fetch, have and status: which command. */
  id: { id: string };
  /** Chunk: which command, which index. */
  chunk: { id: string; i: number };
  /** Digest: the command ids a node holds. */
  digest: { ids: string[] };
  /** Takeover: the token the old process was given; the new process's pid. */
  takeover: { token: string; pid?: number };
  /** Rumor: chunk sources of the command. */
  hints: { src: string[] };
  /** Rumor reply: whether the node had the command already. */
  known: { known: boolean };
  /** Submit, rollout and takeover replies: done, or why not. */
  ok: { ok: boolean; reason?: string; message?: string };
  /** Fetch reply without the command. */
  missing: { missing: boolean };
  /** Chunk reply: the index served, or missing. */
  chunkReply: { i?: number; missing: boolean };
  /** Have reply: the transfer's state and the chunks held. */
  haveReply: { state?: string; have?: string };
  /** Stats reply: the admin counters and the gossip's. */
  statsReply: { stats: Record<string, number>; gossip: Record<string, number> };
}

/** A kind of admin header ({@linkcode AdminHeaders}). */
export type AdminHeaderKind = keyof AdminHeaders;

/** Reads one field of a header. */
type FieldOf = (name: string) => unknown;

const isCommandId = (v: unknown): v is string => typeof v === "string" && COMMAND_ID.test(v);
const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
/** The numeric fields of `v` (an object), by name; none for anything else. */
function counters(v: unknown): Record<string, number> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === "number"));
}
/** Most chunk-source hints a rumor carries. */
const MAX_HINTS = 4;

const HEADER_READERS: { [K in AdminHeaderKind]: (field: FieldOf) => AdminHeaders[K] | undefined } = {
  id: (field) => {
    const id = field("id");
    return isCommandId(id) ? { id } : undefined;
  },
  chunk: (field) => {
    const id = field("id"), i = field("i");
    return isCommandId(id) && isIndex(i) ? { id, i } : undefined;
  },
  digest: (field) => {
    const ids = field("ids");
    return Array.isArray(ids) ? { ids: ids.filter(isCommandId) } : undefined;
  },
  takeover: (field) => {
    const token = field("token"), pid = field("pid");
    if (typeof token !== "string") return undefined;
    return typeof pid === "number" ? { token, pid } : { token };
  },
  hints: (field) => {
    const src = field("src");
    if (!Array.isArray(src)) return { src: [] };
    const ok = (v: unknown): v is string => typeof v === "string" && v.length < 64 && /^[^\s]+:\d+$/.test(v);
    return { src: src.filter(ok).slice(0, MAX_HINTS) };
  },
  missing: (field) => ({ missing: Boolean(field("missing")) }),
  chunkReply: (field) => {
    const i = field("i");
    return isIndex(i) ? { i, missing: Boolean(field("missing")) } : { missing: Boolean(field("missing")) };
  },
  haveReply: (field) => {
    const state = field("state"), have = field("have");
    return { ...(typeof state === "string" ? { state } : {}), ...(typeof have === "string" ? { have } : {}) };
  },
  statsReply: (field) => {
    const stats = field("stats");
    if (typeof stats !== "object" || stats === null) return undefined;
    return { stats: counters(stats), gossip: counters(field("gossip")) };
  },
  known: (field) => {
    const known = field("known");
    return typeof known === "boolean" ? { known } : undefined;
  },
  ok: (field) => {
    const ok = field("ok"), reason = field("reason"), message = field("message");
    if (typeof ok !== "boolean") return undefined;
    return {
      ok,
      ...(typeof reason === "string" ? { reason } : {}),
      ...(typeof message === "string" ? { message } : {}),
    };
  },
};

/**
 * The one validator of admin headers: the header of `kind` with its fields typed, or undefined when
 * it is not an object or a required field is missing or malformed (layout: {@linkcode AdminHeaders}).
 *
 * @example
 * ```ts
 * console.log(parseAdminHeader("chunk", { id: "ab".repeat(16), i: 3 })); // { id: "abab…", i: 3 }
 * console.log(parseAdminHeader("chunk", { id: "ab".repeat(16), i: -1 })); // undefined
 * ```
 */
export function parseAdminHeader<K extends AdminHeaderKind>(kind: K, header: unknown): AdminHeaders[K] | undefined {
  if (typeof header !== "object" || header === null || Array.isArray(header)) return undefined;
  const fields = header as Record<string, unknown>;
  const read = HEADER_READERS[kind] as (field: FieldOf) => AdminHeaders[K] | undefined;
  return read((name) => Object.hasOwn(fields, name) ? fields[name] : undefined);
}

/** What a node reports for one command (to the monitor, and to status queries). */
export interface NodeResult {
  /** Command id. */
  id: string;
  /** Reporting node's address. */
  node: string;
  /**
   * waiting (a rollout node before its turn), running, fetching while in progress; then ok,
   * failed, timeout, refused, error, or skipped (a rollout node not restarted: the rollout halted).
   */
  status: ResultStatus;
  /** Exit code of the script (null if killed or not run). */
  exitCode?: number | null;
  /** Signal that ended the script. */
  signal?: string;
  /** Duration in ms. */
  durationMs?: number;
  /** Captured stdout (capped). */
  stdout?: string;
  /** Captured stderr (capped). */
  stderr?: string;
  /** Output bytes dropped by the cap. */
  truncatedBytes?: number;
  /** Human note (refusal reason, file written …). */
  message?: string;
  /** When the node started acting (ms since epoch). */
  startedAt: number;
  /** When it finished. */
  finishedAt?: number;
  /** Transfer progress for push: chunks held and total. */
  progress?: { have: number; total: number };
  /** This node's part in a rolling restart. */
  rollout?: RolloutInfo;
  /** Summary of the command (so the monitor can show it without the node). */
  command: import("./command.ts").CommandSummary;
}

/** Every status a result may have. */
export const RESULT_STATUSES = [
  "waiting",
  "running",
  "fetching",
  "ok",
  "failed",
  "timeout",
  "refused",
  "error",
  "skipped",
] as const;

/** A result's status. */
export type ResultStatus = typeof RESULT_STATUSES[number];

/**
 * Where a node is in a rolling restart: `waiting` for its turn, `running` its script,
 * `restarting` (its new process is starting), `catching-up` (new process up, not back yet),
 * `back` (done), `failed` (its own turn failed and it halted the rollout), `halted` (not
 * restarted because the rollout halted elsewhere), `not-in-order` (joined after the command).
 */
export type RolloutPhase =
  | "waiting"
  | "running"
  | "restarting"
  | "catching-up"
  | "back"
  | "failed"
  | "halted"
  | "not-in-order";

/** A node's part in a rolling restart, as it reports it. */
export interface RolloutInfo {
  /** Its position in the order (0-based), -1 when not in it. */
  position: number;
  /** Nodes in the order. */
  total: number;
  /** Phase. */
  phase: RolloutPhase;
  /** While catching up: estimated entries still to come. */
  keysToGo?: number;
  /** While catching up: members that see it alive, of those asked. */
  views?: { alive: number; of: number };
  /** Where the rollout halted (failed or halted). */
  haltedAt?: string;
  /** Why it halted there. */
  reason?: string;
  /** When the node began its restart (ms since epoch). */
  restartedAt?: number;
  /** Time from the start of its restart to back (ms). */
  backAfterMs?: number;
  /** The program it runs now ("0.1.0 (3f2a9c1b7d10)"). */
  program?: string;
}

/**
 * Whether a result status is final.
 *
 * @example
 * ```ts
 * console.log(isFinal("running"), isFinal("ok")); // false true
 * ```
 */
export function isFinal(status: NodeResult["status"]): boolean {
  return status !== "running" && status !== "fetching" && status !== "waiting";
}
