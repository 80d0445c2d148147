/**
 * Counters of a node's admin subsystem; the monitor shows them as `admin_*`.
 *
 * @module
 */

/** Counters of the admin subsystem. */
export interface AdminStats {
  /** Commands offered (kvctl, rumors, push-pull), valid or not. */
  received: number;
  /** New valid commands. */
  accepted: number;
  /** Commands already seen (gossip repeats and replays): dropped. */
  duplicates: number;
  /** Dropped: no signature. */
  rejected_unsigned: number;
  /** Dropped: signature does not match the admin public key (forged or altered). */
  rejected_signature: number;
  /** Dropped: expired, issued in the future, or too long-lived. */
  rejected_expired: number;
  /** Dropped: not a well-formed command. */
  rejected_malformed: number;
  /** Dropped: this node has no adminPublicKey. */
  rejected_nokey: number;
  /** Dropped: too many unexpired commands held. */
  rejected_full: number;
  /** Valid commands whose selector does not name this node (relayed, not acted on). */
  not_selected: number;
  /** Scripts run (whatever their exit code). */
  executed: number;
  /** Commands refused (no --allow-run, no --admin-dir, path outside it). */
  refused: number;
  /** Pushed files written and verified. */
  files_written: number;
  /** Pushed files that failed. */
  files_failed: number;
  /** Chunks served to peers. */
  chunks_served: number;
  /** Chunks received that failed their hash check. */
  chunks_bad: number;
}

/**
 * Zeroed counters.
 *
 * @example
 * ```ts
 * const s = newAdminStats();
 * s.executed++;
 * ```
 */
export function newAdminStats(): AdminStats {
  return {
    received: 0,
    accepted: 0,
    duplicates: 0,
    rejected_unsigned: 0,
    rejected_signature: 0,
    rejected_expired: 0,
    rejected_malformed: 0,
    rejected_nokey: 0,
    rejected_full: 0,
    not_selected: 0,
    executed: 0,
    refused: 0,
    files_written: 0,
    files_failed: 0,
    chunks_served: 0,
    chunks_bad: 0,
  };
}
