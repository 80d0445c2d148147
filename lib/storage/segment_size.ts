/**
 * How large a store's value segments are: a record names at most {@linkcode MAX_SEGMENT} + 1
 * segments, so a large capacity needs larger segments.
 *
 * @module
 */
import { MAX_SEGMENT, MAX_VALUE_OFFSET } from "./key_table.ts";
import { DEFAULT_SEGMENT_BYTES } from "./value_arena.ts";

/** Largest capacity a store takes: its segments may hold twice the capacity (compaction's slack) at 64 MiB each. */
export const MAX_STORE_CAPACITY = ((MAX_SEGMENT + 1) * MAX_VALUE_OFFSET) / 2;

/**
 * The value segment size for a store of `capacity` bytes: {@linkcode DEFAULT_SEGMENT_BYTES}, or the
 * power of two that lets the segments a record can name hold twice the capacity (values plus the
 * space freed before compaction takes it back). Throws a RangeError above {@linkcode MAX_STORE_CAPACITY}.
 *
 * @example
 * ```ts
 * console.log(segmentBytesFor(64 * 1024 * 1024)); // 1048576
 * console.log(segmentBytesFor(4 * 1024 ** 3)); // 33554432
 * ```
 */
export function segmentBytesFor(capacity: number): number {
  if (!(capacity <= MAX_STORE_CAPACITY)) {
    throw new RangeError(
      `A store holds at most ${MAX_STORE_CAPACITY / 1024 ** 3} GiB, got ${capacity} bytes: lower --max-bytes`,
    );
  }
  let bytes = DEFAULT_SEGMENT_BYTES;
  while (bytes * (MAX_SEGMENT + 1) < 2 * capacity) bytes *= 2;
  return bytes;
}
