/**
 * Tunables of the monitor, with named defaults (memberlist style).
 *
 * @module
 */

/** Every timing and bound of the monitor. */
export interface MonitorConfig {
  /** Time between rounds (ms). */
  intervalMs: number;
  /** Rounds without a report after which a node shows as not responding (K). */
  notRespondingRounds: number;
  /** Nodes the monitor sends each round to (chosen among those that answered the last round). */
  seedsPerRound: number;
  /** Nodes that missed the last round and get the new round directly (repair), at most. */
  maxDirectPerRound: number;
  /** Nodes wait a random time in [0, jitterFraction × interval) before reporting. */
  jitterFraction: number;
  /** Upper bound of that jitter (ms). */
  maxJitterMs: number;
  /** Reports are accepted for this many most recent rounds (older ones get 409). */
  acceptRounds: number;
  /** Round summaries kept for the page and API. */
  keepRounds: number;
  /** Known nodes at most (fleet + reports + member lists). */
  maxNodes: number;
  /** Nodes outside the fleet file, silent and unmentioned this many rounds, are forgotten. */
  forgetAfterRounds: number;
  /** History window per node (ms). */
  historyWindowMs: number;
  /** Points per history series (resolution = window / points). */
  historyPoints: number;
  /** Numeric stats with history per node, at most. */
  maxSeriesPerNode: number;
  /** Disk free below this fraction of the disk is a problem. */
  lowDiskFraction: number;
  /** Disk free below this many bytes is a problem. */
  lowDiskBytes: number;
  /** Store use above this percentage is a problem. */
  capacityWarnPercent: number;
  /** Time a probe of a silent node waits for an answer (ms). */
  probeTimeoutMs: number;
  /** Probes started per round, at most. */
  maxProbesPerRound: number;
  /** A not-responding node is probed again after this many rounds. */
  reprobeRounds: number;
  /** Live-page updates are coalesced over this period (ms). */
  sseFlushMs: number;
  /** SSE keep-alive comment period (ms). */
  sseKeepAliveMs: number;
  /** Open live-page streams, at most. */
  maxSseClients: number;
  /** Bytes queued for one live-page stream, at most: a client that does not read is dropped past it. */
  sseMaxQueuedBytes: number;
  /** With a data dir, the history is saved this often (ms). */
  persistIntervalMs: number;
}

/** Defaults: 10 s rounds, not responding after 3 silent rounds, 3 h of history at 1-minute resolution. */
export const DEFAULT_MONITOR_CONFIG: MonitorConfig = {
  intervalMs: 10_000,
  notRespondingRounds: 3,
  seedsPerRound: 2,
  maxDirectPerRound: 32,
  jitterFraction: 0.5,
  maxJitterMs: 30_000,
  acceptRounds: 8,
  keepRounds: 360,
  maxNodes: 10_000,
  forgetAfterRounds: 360,
  historyWindowMs: 3 * 3_600_000,
  historyPoints: 180,
  maxSeriesPerNode: 48,
  lowDiskFraction: 0.05,
  lowDiskBytes: 512 * 1024 * 1024,
  capacityWarnPercent: 90,
  probeTimeoutMs: 1_000,
  maxProbesPerRound: 8,
  reprobeRounds: 6,
  sseFlushMs: 500,
  sseKeepAliveMs: 15_000,
  maxSseClients: 256,
  sseMaxQueuedBytes: 64 * 1024,
  persistIntervalMs: 60_000,
};
