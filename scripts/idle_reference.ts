/**
 * The reference an idle node is compared with in the same run: a bare Deno process (no module, no
 * socket) that a 10 Hz timer wakes, started with the node's V8 flags. What it costs is the runtime's
 * price of being woken on this machine at this moment, so a node's idle CPU and RSS can be read as
 * a ratio that does not move with the machine (the same 10 Hz timer read 0.14 % of a core on a quiet
 * machine and 0.43 % on one shared with other work).
 *
 * @module
 */
import { NODE_RUNTIME_FLAGS } from "../lib/roles/process_launcher.ts";
import { type ProcessSample, sampleProcess } from "./proc_stats.ts";

/** How often the reference process wakes (Hz). */
export const REFERENCE_WAKE_HZ = 10;

/**
 * A running reference process; {@linkcode IdleReference.stop} kills it.
 *
 * @example
 * ```ts ignore
 * const ref = IdleReference.start();
 * const a = ref.sample();
 * // … the window …
 * const b = ref.sample();
 * await ref.stop();
 * ```
 */
export class IdleReference {
  #child: Deno.ChildProcess;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
  }

  /** Starts the reference process. */
  static start(): IdleReference {
    // A data: URL, as `deno eval` takes no --no-code-cache.
    const code = `data:application/javascript,setInterval(() => {}, ${1000 / REFERENCE_WAKE_HZ});`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...NODE_RUNTIME_FLAGS, code],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return new IdleReference(child);
  }

  /** Its CPU, memory and wake-ups now. */
  sample(): ProcessSample {
    return sampleProcess(this.#child.pid);
  }

  /** Kills it and waits for its exit. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.#child.status;
  }
}
