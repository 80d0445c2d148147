/**
 * The monitor's record of admin commands and every node's result for each,
 * bounded in commands and output size. Fed by `POST /api/admin/results`.
 *
 * @module
 */
import { z } from "zod";
import { addressSchema } from "../../net/address_schema.ts";
import type { CommandSummary } from "../command.ts";
import { isFinal, type NodeResult, RESULT_STATUSES } from "../protocol.ts";

/** Limits of the store. */
export interface ResultsStoreLimits {
  /** Commands kept (oldest dropped first). */
  maxCommands: number;
  /** Characters kept per output stream of one result. */
  maxOutputChars: number;
  /** Nodes kept per command. */
  maxNodesPerCommand: number;
}

/**
 * Defaults: 200 commands, 16 Ki characters per stream, 5,000 nodes.
 *
 * @example
 * ```ts
 * console.log(DEFAULT_RESULTS_LIMITS.maxCommands); // 200
 * ```
 */
export const DEFAULT_RESULTS_LIMITS: ResultsStoreLimits = {
  maxCommands: 200,
  maxOutputChars: 16 * 1024,
  maxNodesPerCommand: 5_000,
};

/** Counts of a command's results by status. */
export interface ResultCounts {
  /** Nodes that reported. */
  reported: number;
  /** Nodes with a final status. */
  done: number;
  /** Per status. */
  byStatus: Record<string, number>;
}

/** One command as the monitor knows it. */
export interface CommandRecord {
  /** Command id. */
  id: string;
  /** Summary from the first report. */
  command: CommandSummary;
  /** When the first report arrived (ms). */
  firstSeen: number;
  /** When the last report arrived (ms). */
  updatedAt: number;
  /** Result by node address. */
  results: Map<string, NodeResult>;
}

const address = addressSchema(64);
const ms = z.number().int().min(0).max(8.64e15);

const SummarySchema = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  kind: z.enum(["run", "push"]),
  selector: z.string().max(4096),
  issuedAt: ms,
  expiresAt: ms,
  script: z.string().max(8192).optional(),
  timeoutMs: z.number().optional(),
  restart: z.boolean().optional(),
  rollout: z.object({
    order: z.array(address).max(5_000),
    budgetMs: z.number().optional(),
  }).optional(),
  program: z.object({ path: z.string().max(1024), sha256: z.string().max(64) }).optional(),
  path: z.string().max(1024).optional(),
  size: z.number().optional(),
  mode: z.number().optional(),
  sha256: z.string().max(64).optional(),
});

/**
 * Schema of a result posted by a node.
 *
 * @example
 * ```ts ignore
 * const r = NodeResultSchema.safeParse(JSON.parse(body));
 * ```
 */
export const NodeResultSchema: z.ZodType<NodeResult> = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  node: address,
  status: z.enum(RESULT_STATUSES),
  exitCode: z.number().int().nullable().optional(),
  signal: z.string().max(32).optional(),
  durationMs: z.number().min(0).optional(),
  stdout: z.string().max(1 << 20).optional(),
  stderr: z.string().max(1 << 20).optional(),
  truncatedBytes: z.number().int().min(0).optional(),
  message: z.string().max(4096).optional(),
  startedAt: ms,
  finishedAt: ms.optional(),
  progress: z.object({ have: z.number().int().min(0), total: z.number().int().min(0) }).optional(),
  rollout: z.object({
    position: z.number().int().min(-1),
    total: z.number().int().min(0),
    phase: z.enum(["waiting", "running", "restarting", "catching-up", "back", "failed", "halted", "not-in-order"]),
    keysToGo: z.number().int().optional(),
    views: z.object({ alive: z.number().int().min(0), of: z.number().int().min(0) }).optional(),
    haltedAt: z.string().max(300).optional(),
    reason: z.string().max(1024).optional(),
    restartedAt: ms.optional(),
    backAfterMs: z.number().min(0).optional(),
    program: z.string().max(128).optional(),
  }).optional(),
  command: SummarySchema,
});

/**
 * Commands and results, newest first.
 *
 * @example
 * ```ts ignore
 * const store = new AdminResults();
 * store.accept(result, Date.now());
 * console.log(store.get(result.id)?.results.size);
 * ```
 */
export class AdminResults {
  /** Limits in force. */
  readonly limits: ResultsStoreLimits;
  #commands = new Map<string, CommandRecord>();

  /** Creates an empty store. */
  constructor(limits: Partial<ResultsStoreLimits> = {}) {
    this.limits = { ...DEFAULT_RESULTS_LIMITS, ...limits };
  }

  /** Records a node's result; a late non-final report never replaces a final one. */
  accept(result: NodeResult, now: number): void {
    let rec = this.#commands.get(result.id);
    if (!rec) {
      rec = { id: result.id, command: result.command, firstSeen: now, updatedAt: now, results: new Map() };
      this.#commands.set(result.id, rec);
      while (this.#commands.size > this.limits.maxCommands) {
        this.#commands.delete(this.#commands.keys().next().value!);
      }
    }
    const prev = rec.results.get(result.node);
    if (prev && isFinal(prev.status) && !isFinal(result.status)) return;
    if (!prev && rec.results.size >= this.limits.maxNodesPerCommand) return;
    const cap = this.limits.maxOutputChars;
    const stored: NodeResult = { ...result };
    if (stored.stdout && stored.stdout.length > cap) stored.stdout = stored.stdout.slice(0, cap) + "\n[… cut]";
    if (stored.stderr && stored.stderr.length > cap) stored.stderr = stored.stderr.slice(0, cap) + "\n[… cut]";
    rec.results.set(result.node, stored);
    rec.updatedAt = now;
  }

  /** A command by id. */
  get(id: string): CommandRecord | undefined {
    return this.#commands.get(id);
  }

  /** Every command, newest first. */
  list(): CommandRecord[] {
    return [...this.#commands.values()].sort((a, b) => b.command.issuedAt - a.command.issuedAt);
  }

  /** Number of commands held. */
  get size(): number {
    return this.#commands.size;
  }
}

/**
 * Counts of a record's results.
 *
 * @example
 * ```ts ignore
 * console.log(countResults(store.get(id)!).done);
 * ```
 */
export function countResults(rec: CommandRecord): ResultCounts {
  const byStatus: Record<string, number> = {};
  let done = 0;
  for (const r of rec.results.values()) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    if (isFinal(r.status)) done++;
  }
  return { reported: rec.results.size, done, byStatus };
}

/**
 * A command as `GET /api/admin/commands` (without results) and `GET /api/admin/commands/:id` (with
 * every node's result, sorted by node) give it.
 */
export interface CommandRecordJson {
  /** Command id. */
  id: string;
  /** Summary from the first report. */
  command: CommandSummary;
  /** When the first report arrived (ms). */
  firstSeen: number;
  /** When the last report arrived (ms). */
  updatedAt: number;
  /** Counts of the results. */
  counts: ResultCounts;
  /** Every node's result (one command only). */
  results?: NodeResult[];
}

/**
 * JSON view of a record (results sorted by node).
 *
 * @example
 * ```ts ignore
 * return c.json(recordJson(store.get(id)!, true));
 * ```
 */
export function recordJson(rec: CommandRecord, withResults: boolean): CommandRecordJson {
  const out: CommandRecordJson = {
    id: rec.id,
    command: rec.command,
    firstSeen: rec.firstSeen,
    updatedAt: rec.updatedAt,
    counts: countResults(rec),
  };
  if (withResults) out.results = [...rec.results.values()].sort((a, b) => a.node.localeCompare(b.node));
  return out;
}

const count = z.number().int().min(0);
const CommandRecordJsonSchema: z.ZodType<CommandRecordJson> = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  command: SummarySchema,
  firstSeen: ms,
  updatedAt: ms,
  counts: z.object({ reported: count, done: count, byStatus: z.record(z.string().max(32), count) }),
  results: z.array(NodeResultSchema).max(DEFAULT_RESULTS_LIMITS.maxNodesPerCommand).optional(),
});
const CommandListJsonSchema = z.object({
  commands: z.array(CommandRecordJsonSchema).max(10_000),
  rejected: count.optional(),
});

/**
 * A command read back from the monitor's JSON ({@linkcode CommandRecordJson}), or undefined when
 * it is not one.
 *
 * @example
 * ```ts
 * console.log(parseCommandRecordJson({ id: "x" })); // undefined
 * ```
 */
export function parseCommandRecordJson(value: unknown): CommandRecordJson | undefined {
  const r = CommandRecordJsonSchema.safeParse(value);
  return r.success ? r.data : undefined;
}

/**
 * The command list read back from `GET /api/admin/commands`, or undefined when it is not one.
 *
 * @example
 * ```ts
 * console.log(parseCommandListJson({ commands: [] })); // { commands: [] }
 * ```
 */
export function parseCommandListJson(value: unknown): { commands: CommandRecordJson[]; rejected?: number } | undefined {
  const r = CommandListJsonSchema.safeParse(value);
  return r.success ? r.data : undefined;
}
