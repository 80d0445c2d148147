/**
 * Tunables of the epidemic admin subsystem (memberlist style: one object of
 * named defaults; tests and flags override single fields).
 *
 * @module
 */

/** Every timing and limit of the admin subsystem. */
export interface AdminConfig {
  /** How often hot rumors are pushed to random members (ms). */
  gossipIntervalMs: number;
  /** Members a hot rumor is pushed to per gossip tick. */
  fanout: number;
  /** A rumor goes cold after this many pushes answered "already known" (feedback counter). */
  rumorStopAfterKnown: number;
  /** A rumor goes cold after this many ticks whatever the answers (unreachable peers). */
  rumorMaxTicks: number;
  /** Period of the push-pull backstop with one random member (ms, jittered ±50%). */
  pushPullIntervalMs: number;
  /** Timeout of one internal request (ms; no retries: gossip repeats anyway). */
  rpcTimeoutMs: number;
  /** Commands (and their bodies) remembered until they expire; new ones are refused when full. */
  maxCommands: number;
  /** Longest lifetime (expiry − issue time) a command may have (ms). */
  maxLifetimeMs: number;
  /** How far in the future a command's issue time may be (clock skew, ms). */
  maxClockSkewMs: number;
  /** Largest script, in UTF-8 bytes (it must travel in one datagram). */
  maxScriptBytes: number;
  /** Longest timeout a script may ask for (ms). */
  maxTimeoutMs: number;
  /** Output kept per stream (stdout, stderr) of a script, in bytes. */
  maxOutputBytes: number;
  /** Results kept on the node for status queries. */
  maxResults: number;
  /** Attempts to deliver a result to the monitor. */
  reportAttempts: number;
  /** Wait before the first retry of a result report (ms; doubles). */
  reportRetryMs: number;
  /** Timeout of one HTTP result report (ms). */
  reportTimeoutMs: number;
  /** Largest chunk a manifest may use (bytes; a chunk travels in one datagram). */
  maxChunkSize: number;
  /** Chunk requests in flight per transfer at the start (adapts: +1 per success, halved on loss). */
  fetchWindow: number;
  /** Upper bound of the adaptive window. */
  maxFetchWindow: number;
  /** Timeout of one chunk request (ms). */
  chunkTimeoutMs: number;
  /** How often a downloader refreshes which chunks its sources have (ms). */
  haveRefreshMs: number;
  /** Peers a downloader pulls from at once (besides hinted sources). */
  maxSources: number;
  /** Transfers running at once on a node; more wait. */
  maxActiveTransfers: number;
  /** Wait for the result report before a restart in place (ms). */
  restartReportWaitMs: number;
  /**
   * Rolling restart: how long a node has, once its script is done, to be back (its new process
   * took over the port, is alive in every member's view and caught up); a command may set its own
   * (`kvctl run --restart --budget D`). A node not back in time halts the rollout.
   */
  rolloutNodeBudgetMs: number;
  /** Longest wait for the new process to take over the port (ms; also bounded by the budget). */
  restartTakeoverMs: number;
  /** After the takeover, how long the old process waits for its requests in flight (ms). */
  restartDrainMs: number;
  /** How often a restarted node checks whether it is back, and reports its progress (ms). */
  rolloutCheckMs: number;
  /** Wait before resending a rollout message nobody acknowledged (ms). */
  rolloutRetryMs: number;
}

/**
 * Defaults: 200 ms gossip with fan-out 3, push-pull every 2 s, 60 s script timeout, 64 KiB output.
 *
 * @example
 * ```ts
 * console.log(DEFAULT_ADMIN_CONFIG.fanout); // 3
 * ```
 */
export const DEFAULT_ADMIN_CONFIG: AdminConfig = {
  gossipIntervalMs: 200,
  fanout: 3,
  rumorStopAfterKnown: 3,
  rumorMaxTicks: 50,
  pushPullIntervalMs: 2_000,
  rpcTimeoutMs: 500,
  maxCommands: 1_000,
  maxLifetimeMs: 7 * 24 * 3_600_000,
  maxClockSkewMs: 5 * 60_000,
  maxScriptBytes: 48 * 1024,
  maxTimeoutMs: 24 * 3_600_000,
  maxOutputBytes: 64 * 1024,
  maxResults: 1_000,
  reportAttempts: 6,
  reportRetryMs: 500,
  reportTimeoutMs: 5_000,
  maxChunkSize: 48 * 1024,
  fetchWindow: 4,
  maxFetchWindow: 24,
  chunkTimeoutMs: 400,
  haveRefreshMs: 300,
  maxSources: 6,
  maxActiveTransfers: 8,
  restartReportWaitMs: 5_000,
  rolloutNodeBudgetMs: 180_000,
  restartTakeoverMs: 60_000,
  restartDrainMs: 2_000,
  rolloutCheckMs: 250,
  rolloutRetryMs: 1_000,
};

/**
 * Default script timeout when `kvctl run` gets no `--timeout` (ms).
 *
 * @example
 * ```ts
 * console.log(DEFAULT_SCRIPT_TIMEOUT_MS / 1000); // 60
 * ```
 */
export const DEFAULT_SCRIPT_TIMEOUT_MS = 60_000;
/**
 * Default chunk size of `kvctl push` (bytes).
 *
 * @example
 * ```ts
 * console.log(DEFAULT_CHUNK_SIZE); // 32768
 * ```
 */
export const DEFAULT_CHUNK_SIZE = 32 * 1024;
/**
 * Default lifetime of a command (ms): nodes that learn of it later do not act on it.
 *
 * @example
 * ```ts
 * console.log(DEFAULT_COMMAND_LIFETIME_MS / 3_600_000); // 1
 * ```
 */
export const DEFAULT_COMMAND_LIFETIME_MS = 3_600_000;

/**
 * Merges overrides into the defaults, ignoring unknown or non-numeric fields.
 *
 * @example
 * ```ts
 * const c = resolveAdminConfig({ fanout: 4 });
 * console.log(c.fanout, c.gossipIntervalMs); // 4 200
 * ```
 */
export function resolveAdminConfig(overrides: unknown): AdminConfig {
  const out = { ...DEFAULT_ADMIN_CONFIG };
  if (overrides && typeof overrides === "object") {
    for (const [k, v] of Object.entries(overrides)) {
      if (k in out && typeof v === "number" && Number.isFinite(v) && v >= 0) (out as Record<string, number>)[k] = v;
    }
  }
  return out;
}
