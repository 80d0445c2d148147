/**
 * A child process whose output lines are kept and can be waited for: what the
 * local cluster, the benchmarks and the process tests need of any command (a
 * KVStore role, an echo server, `redis-server`, `ip netns exec … deno run …`).
 *
 * @module
 */
import { forEachLine } from "./lines.ts";
import { describeProcess } from "./process_state.ts";

/** Output lines kept per process (oldest dropped first). */
export const KEPT_OUTPUT_LINES = 5_000;
/** Output lines quoted in a {@linkcode WatchedProcess.waitFor} error. */
const QUOTED_OUTPUT_LINES = 30;

/** Options of a {@linkcode WatchedProcess}. */
export interface WatchedProcessOptions {
  /** Also print every line, prefixed with the process name (default false). */
  echo?: boolean;
}

/**
 * A spawned command whose stdout and stderr lines are kept.
 *
 * @example
 * ```ts ignore
 * const p = WatchedProcess.deno("echo", ["--allow-net", "scripts/echo_server.ts"]);
 * await p.waitFor(/listening/);
 * await p.stop();
 * ```
 */
export class WatchedProcess {
  /** Name used in printed lines and errors. */
  readonly name: string;
  /** The running child. */
  readonly child: Deno.ChildProcess;
  /** Output lines so far, stdout and stderr interleaved (the last {@linkcode KEPT_OUTPUT_LINES}). */
  readonly output: string[] = [];
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  #listeners = new Set<(line: string) => void>();
  #drained: Promise<void>;

  /** Spawns `cmd args` (stdin closed). */
  constructor(name: string, cmd: string, args: string[], options: WatchedProcessOptions = {}) {
    this.name = name;
    this.child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
    const echo = options.echo ?? false;
    this.#drained = Promise.all([this.#pump(this.child.stdout, echo), this.#pump(this.child.stderr, echo)])
      .then(() => {});
  }

  /** Spawns a Deno script (`deno run --quiet …args`), optionally under a `prefix` command such as `ip netns exec h0`. */
  static deno(
    name: string,
    args: string[],
    options: WatchedProcessOptions & { prefix?: string[] } = {},
  ): WatchedProcess {
    const prefix = options.prefix ?? [];
    const argv = [...prefix.slice(1), Deno.execPath(), "run", "--quiet", ...args];
    return prefix.length > 0
      ? new WatchedProcess(name, prefix[0], argv, options)
      : new WatchedProcess(name, Deno.execPath(), argv.slice(1), options);
  }

  #pump(stream: ReadableStream<Uint8Array>, echo: boolean): Promise<void> {
    return forEachLine(stream, (line) => {
      if (this.output.length >= KEPT_OUTPUT_LINES) this.output.shift();
      this.output.push(line);
      if (echo) console.log(`[${this.name}] ${line}`);
      for (const l of this.#listeners) l(line);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.pattern.test(line)) return true;
        w.resolve(line);
        return false;
      });
    });
  }

  /** Calls `listener` with every later output line; returns a function that stops it. */
  onLine(listener: (line: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves with the first line matching `pattern`; rejects if the process exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.output.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        settle();
      };
      const fail = (why: string) => finish(() => reject(new Error(`${this.name}: ${why}; ${this.quoteOutput()}`)));
      // What the process is doing goes on the first line: a starved process and a blocked one look alike otherwise.
      const timer = setTimeout(
        () => fail(`no line matching ${pattern} within ${timeoutMs} ms; ${describeProcess(this.child.pid)}`),
        timeoutMs,
      );
      const waiter = { pattern, resolve: (l: string) => finish(() => resolve(l)) };
      this.#waiters.push(waiter);
      // After the output is drained: a line printed just before the exit still counts, and is quoted.
      this.exited().then((s) => fail(`exited with code ${s.code} before printing ${pattern}`));
    });
  }

  /** The last output lines, for an error: `output:` and the lines, or `output: none` when it printed nothing. */
  quoteOutput(): string {
    if (this.output.length === 0) return "output: none (nothing on stdout or stderr)";
    return `output:\n${this.output.slice(-QUOTED_OUTPUT_LINES).join("\n")}`;
  }

  /** Sends `signal` (default SIGTERM) if the process still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
  }

  /** Resolves when the process has exited and its output is drained. */
  async exited(): Promise<Deno.CommandStatus> {
    const s = await this.child.status;
    await this.#drained;
    return s;
  }

  /** Kills (SIGTERM by default) and waits for exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.kill(signal);
    return await this.exited();
  }
}
