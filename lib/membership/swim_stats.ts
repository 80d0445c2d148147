/**
 * Counters of the membership protocol (monitoring and debugging read them).
 *
 * @module
 */

/** Counters of one node's membership protocol. */
export interface SwimStats {
  /** Membership messages sent. */
  sent: number;
  /** Membership messages received. */
  received: number;
  /** Dropped: header failed validation. */
  malformed: number;
  /** Dropped: a membership command code without a message (0x28–0x2F). */
  unknown: number;
  /** Dropped: the handler failed (never expected; counted rather than thrown). */
  errors: number;
  /** Dropped: a ping meant for another address, or an unsolicited state reply. */
  misdirected: number;
  /** Probes started. */
  probes: number;
  /** Probes that failed (the target became suspect, or the suspicion was confirmed). */
  probeFailures: number;
  /** Indirect probe requests sent. */
  indirectProbes: number;
  /** Times this node refuted a suspicion about itself. */
  refutes: number;
  /** Push-pulls started. */
  pushPulls: number;
  /** Push-pulls answered. */
  pushPullReplies: number;
  /** Members this node moved to suspect (from its own probe or a rumor). */
  suspicions: number;
  /** Members this node moved to dead (its suspicion timed out, or a rumor); a graceful leave is not counted. */
  deaths: number;
}

/**
 * Returns zeroed counters.
 *
 * @example
 * ```ts
 * console.log(newSwimStats().probes); // 0
 * ```
 */
export function newSwimStats(): SwimStats {
  return {
    sent: 0,
    received: 0,
    malformed: 0,
    unknown: 0,
    errors: 0,
    misdirected: 0,
    probes: 0,
    probeFailures: 0,
    indirectProbes: 0,
    refutes: 0,
    pushPulls: 0,
    pushPullReplies: 0,
    suspicions: 0,
    deaths: 0,
  };
}
