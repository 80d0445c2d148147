/**
 * A child process for benchmarks and fault tests (any command: a Deno script,
 * `ip netns exec … deno run …`, `redis-server`), with output capture and
 * waiting for a line.
 *
 * @module
 */
import { forEachLine } from "../lib/lines.ts";

/**
 * A spawned command whose stdout/stderr lines are kept.
 *
 * @example
 * ```ts ignore
 * const p = ChildProcess.deno("echo", ["--allow-net", "scripts/echo_server.ts"]);
 * await p.waitFor(/listening/);
 * await p.stop();
 * ```
 */
export class ChildProcess {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  /** Output lines so far (bounded). */
  readonly output: string[] = [];
  #waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  #drained: Promise<void>;

  /** Spawns `cmd args`. */
  constructor(name: string, cmd: string, args: string[], options: { echo?: boolean } = {}) {
    this.name = name;
    this.child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
    this.#drained = Promise.all([
      this.#pump(this.child.stdout, options.echo ?? false),
      this.#pump(this.child.stderr, options.echo ?? false),
    ]).then(() => {});
  }

  /** Spawns a Deno script with the given permission flags (`deno run --quiet …`). */
  static deno(name: string, args: string[], options: { echo?: boolean; prefix?: string[] } = {}): ChildProcess {
    const prefix = options.prefix ?? [];
    const argv = [...prefix.slice(1), Deno.execPath(), "run", "--quiet", ...args];
    return prefix.length > 0
      ? new ChildProcess(name, prefix[0], argv, options)
      : new ChildProcess(name, Deno.execPath(), argv.slice(1), options);
  }

  #pump(stream: ReadableStream<Uint8Array>, echo: boolean): Promise<void> {
    return forEachLine(stream, (line) => {
      if (this.output.length >= 2_000) this.output.shift();
      this.output.push(line);
      if (echo) console.log(`[${this.name}] ${line}`);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.pattern.test(line)) return true;
        w.resolve(line);
        return false;
      });
    });
  }

  /** Resolves with the first line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.output.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        f();
      };
      const fail = (why: string) =>
        finish(() => reject(new Error(`${this.name}: ${why}; output:\n${this.output.slice(-30).join("\n")}`)));
      const timer = setTimeout(() => fail(`no line matching ${pattern} within ${timeoutMs} ms`), timeoutMs);
      const waiter = { pattern, resolve: (l: string) => finish(() => resolve(l)) };
      this.#waiters.push(waiter);
      this.child.status.then((s) => fail(`exited with code ${s.code} before printing ${pattern}`));
    });
  }

  /** Sends `signal` if the process still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
  }

  /** Waits for exit and drained output. */
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
