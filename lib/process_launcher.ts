/**
 * Starting KVStore roles as real child processes (local clusters, tests).
 *
 * @module
 */
import { forEachLine } from "./lines.ts";

/** Permission flags of the node role (same as `deno task node`). */
export const NODE_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
  "--allow-env=LOG_TOKENS,LOG_STREAM",
];

const MAIN = new URL("../main.ts", import.meta.url);

/** Whether this process is a `deno compile`d binary (then roles are its own subcommands). */
export function isCompiled(): boolean {
  return !/^deno(\.exe)?$/.test(Deno.execPath().split(/[\\/]/).pop() ?? "");
}

/** Command and arguments that run `role` with `args` in a child process. */
export function roleCommand(
  role: string,
  args: string[],
  extraPermissions: string[] = [],
): { cmd: string; args: string[] } {
  if (isCompiled()) return { cmd: Deno.execPath(), args: [role, ...args] };
  return {
    cmd: Deno.execPath(),
    args: ["run", "--quiet", ...NODE_PERMISSIONS, ...extraPermissions, MAIN.pathname, role, ...args],
  };
}

/** A role running in a child process. */
export class RoleProcess {
  readonly child: Deno.ChildProcess;
  readonly name: string;
  /** Lines printed so far (stdout and stderr). */
  readonly output: string[] = [];
  #readyWaiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  #done: Promise<void>;

  /** Spawns `role` with `args`. */
  constructor(
    name: string,
    role: string,
    args: string[],
    options: { extraPermissions?: string[]; echo?: boolean } = {},
  ) {
    this.name = name;
    const { cmd, args: argv } = roleCommand(role, args, options.extraPermissions);
    this.child = new Deno.Command(cmd, { args: argv, stdout: "piped", stderr: "piped", stdin: "null" }).spawn();
    const echo = options.echo ?? false;
    this.#done = Promise.all([this.#pump(this.child.stdout, echo), this.#pump(this.child.stderr, echo)]).then(() => {});
  }

  #pump(stream: ReadableStream<Uint8Array>, echo: boolean): Promise<void> {
    return forEachLine(stream, (line) => this.#line(line, echo));
  }

  #line(line: string, echo: boolean): void {
    if (this.output.length > 5_000) this.output.shift();
    this.output.push(line);
    if (echo) console.log(`[${this.name}] ${line}`);
    this.#readyWaiters = this.#readyWaiters.filter((w) => {
      if (!w.pattern.test(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  /** Resolves with the first output line matching `pattern`; rejects if the process exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.output.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${this.name}: no line matching ${pattern} within ${timeoutMs} ms; output:\n${this.output.join("\n")}`,
            ),
          ),
        timeoutMs,
      );
      const waiter = {
        pattern,
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      this.#readyWaiters.push(waiter);
      this.child.status.then((s) => {
        if (this.#readyWaiters.includes(waiter)) {
          clearTimeout(timer);
          this.#readyWaiters = this.#readyWaiters.filter((w) => w !== waiter);
          reject(
            new Error(
              `${this.name} exited with code ${s.code} before printing ${pattern}; output:\n${this.output.join("\n")}`,
            ),
          );
        }
      });
    });
  }

  /** Sends `signal` (default SIGTERM) if still running. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
  }

  /** Resolves when the process has exited and its output is drained. */
  async exited(): Promise<Deno.CommandStatus> {
    const s = await this.child.status;
    await this.#done;
    return s;
  }

  /** Kills the process and waits for it to exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.kill(signal);
    return await this.exited();
  }
}

/**
 * Starts a node process on `port` and waits until it listens.
 *
 * @example
 * ```ts ignore
 * const p = await startNodeProcess(4000, ["--max-bytes", "1MiB"]);
 * await p.stop();
 * ```
 */
export async function startNodeProcess(
  port: number,
  args: string[] = [],
  options: { extraPermissions?: string[]; echo?: boolean; name?: string } = {},
): Promise<RoleProcess> {
  const p = new RoleProcess(options.name ?? `node:${port}`, "node", ["--port", String(port), ...args], options);
  try {
    await p.waitFor(/listening on udp/);
  } catch (e) {
    await p.stop("SIGKILL");
    throw e;
  }
  return p;
}

/** Finds `count` free UDP ports on 127.0.0.1 (bound then released). */
export function freeUdpPorts(count: number): number[] {
  const conns = Array.from(
    { length: count },
    () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
  );
  const ports = conns.map((c) => (c.addr as Deno.NetAddr).port);
  for (const c of conns) c.close();
  return ports;
}
