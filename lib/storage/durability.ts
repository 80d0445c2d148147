/**
 * Group commit's contract between a node and its durable storage: a turn's writes are committed
 * together before that turn's replies leave, and writes whose commit failed are answered as failed.
 *
 * @module
 */
import { ErrorCode } from "../wire/client_protocol.ts";

/**
 * When durable storage reaches the disk, named after what each promises:
 * - `always`: synced before any reply of a turn: an acknowledged write survives a power loss;
 * - `batch` (default): synced at least every second: a kill or crash of the process loses nothing
 *   acknowledged (the write reached the OS before the reply), a power loss at most the last second;
 * - `off`: when the OS decides: a process crash loses nothing acknowledged, a power loss may lose more.
 */
export type FsyncPolicy = "always" | "batch" | "off";

/** Every {@linkcode FsyncPolicy}, for flags and messages. */
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ["always", "batch", "off"];

/** What group commit needs of durable storage (`LogPersistence`). */
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
