/**
 * Group commit's contract between a node and its durable storage: a turn's writes are committed
 * together before that turn's replies leave, and writes whose commit failed are answered as failed.
 *
 * @module
 */
import { ErrorCode } from "./protocol.ts";

/** What group commit needs of durable storage (`SqlitePersistence`). */
export interface Durability {
  /** Whether changes wait to be committed. */
  readonly dirty: boolean;
  /** Commits them; throws if they could not be stored. */
  commit(): void;
}

/**
 * The answer to writes whose commit failed (0x02 for a full disk, else 0x04), logging the reason
 * when `log` (once per node: a failing disk fails every turn).
 */
export function durabilityFailure(e: unknown, log: boolean): number {
  const message = (e as Error)?.message ?? String(e);
  if (log) console.error(`kvstore node: cannot store writes, answering them as failed: ${message}`);
  return /full/i.test(message) ? ErrorCode.OutOfSpace : ErrorCode.InternalFailure;
}
