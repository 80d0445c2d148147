/**
 * Waiting for test processes with a bound, so a process that never exits fails a test instead of hanging it.
 *
 * @module
 */
import type { RoleProcess } from "../lib/process_launcher.ts";

/**
 * Resolves with `p`'s exit status, or fails if it has not exited within `ms` (a node that ignores
 * shutdown fails the test instead of hanging it; the caller's cleanup then kills it).
 */
export async function exitsWithin(p: RoleProcess, ms = 5_000): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${p.name} did not exit within ${ms} ms; output:\n${p.output.join("\n")}`)),
      ms,
    );
  });
  try {
    return await Promise.race([p.exited(), bound]);
  } finally {
    clearTimeout(timer);
  }
}
