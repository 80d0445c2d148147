/**
 * Starting KVStore roles as real child processes (local clusters, tests).
 *
 * @module
 */
import { defaultInternalPort, MAX_DEFAULT_CLIENT_PORT } from "../net/internal_address.ts";
import { WatchedProcess, type WatchedProcessOptions } from "../base/watched_process.ts";
import { describeProcessState, loadAverage, readProcessState } from "../base/process_state.ts";

/**
 * The repository's deno.json, whose `"permissions"` object defines one named permission set per role
 * (the same sets `deno task node|node:admin|monitor|kvctl|cluster` and the compile tasks use).
 *
 * @example
 * ```ts
 * console.log(DENO_CONFIG.pathname.endsWith("/deno.json")); // true
 * ```
 */
export const DENO_CONFIG: URL = new URL("../../deno.json", import.meta.url);

/**
 * The permission sets defined in deno.json (one per role; `node-admin` is the node that may run bash).
 *
 * @example
 * ```ts
 * const set: PermissionSet = "node-admin";
 * console.log(set);
 * ```
 */
export type PermissionSet = "node" | "node-admin" | "monitor" | "kvctl" | "cluster";

/**
 * The permission set each role runs with by default (`client` is kvctl's alias).
 *
 * @example
 * ```ts
 * console.log(ROLE_PERMISSION_SET.client); // "kvctl"
 * ```
 */
export const ROLE_PERMISSION_SET: Readonly<Record<string, PermissionSet>> = {
  node: "node",
  monitor: "monitor",
  kvctl: "kvctl",
  client: "kvctl",
  cluster: "cluster",
};

/**
 * The `deno run` flags that grant permission set `set` from the repository's deno.json: the lists
 * live only there.
 *
 * @example
 * ```ts
 * console.log(permissionFlags("kvctl").slice(-2)); // ["--no-prompt", "-P=kvctl"]
 * ```
 */
export function permissionFlags(set: PermissionSet): string[] {
  return ["--config", DENO_CONFIG.pathname, "--no-prompt", `-P=${set}`];
}

const MAIN = new URL("../../main.ts", import.meta.url);

/**
 * Whether this process is a `deno compile`d binary (then roles are its own subcommands).
 *
 * @example
 * ```ts
 * console.log(isCompiled()); // false under `deno run` or `deno test`
 * ```
 */
export function isCompiled(): boolean {
  return !/^deno(\.exe)?$/.test(Deno.execPath().split(/[\\/]/).pop() ?? "");
}

/**
 * The deno executable child roles run on: this one, or `deno` as found on PATH when only that name
 * may be run. The cluster's permission set allows `run: ["deno"]` because a set cannot name the
 * install path (npx cache, /usr/lib/node_modules/deno/deno behind /usr/bin/deno, ...), and Deno
 * grants the name for the file PATH resolves it to, not for the path behind the symlink.
 */
function denoExecutable(): string {
  const self = Deno.execPath();
  if (Deno.permissions.querySync({ name: "run", command: self }).state === "granted") return self;
  if (Deno.permissions.querySync({ name: "run", command: "deno" }).state === "granted") return "deno";
  return self; // spawning fails with Deno's own "Requires run access" message
}

/**
 * How a role's child process is started.
 *
 * @example
 * ```ts
 * const options: RoleCommandOptions = { permissionSet: "node-admin" };
 * console.log(roleCommand("node", [], options).args.includes("-P=node-admin")); // true
 * ```
 */
export interface RoleCommandOptions {
  /** Permission set instead of the role's own (e.g. `node-admin` for a node that may run scripts). */
  permissionSet?: PermissionSet;
  /** Flags added after the set (tests that need more than a role has). */
  extraPermissions?: string[];
  /**
   * Another program than this one: a bundle from `deno task bundle` (run by deno with
   * `--unstable-net`, since it may lie outside the project), or a binary built with `compile:node`,
   * which has the node role built in (`kvctl upgrade`).
   */
  program?: string;
}

/**
 * Command and arguments that run `role` with `args` in a child process, with the role's permission
 * set from deno.json (as its `deno task` does).
 *
 * @example
 * ```ts
 * const { args } = roleCommand("kvctl", ["pid"]);
 * console.log(args.includes("-P=kvctl")); // true
 * ```
 */
export function roleCommand(
  role: string,
  args: string[],
  options: RoleCommandOptions = {},
): { cmd: string; args: string[] } {
  const program = options.program;
  if (program && !/\.(m?js|ts)$/.test(program)) return { cmd: program, args };
  if (isCompiled() && !program) return { cmd: Deno.execPath(), args: [role, ...args] };
  const set = options.permissionSet ?? ROLE_PERMISSION_SET[role];
  if (!set) throw new Error(`roleCommand: unknown role "${role}"`);
  return {
    cmd: isCompiled() ? "deno" : denoExecutable(),
    args: [
      "run",
      "--quiet",
      ...(program ? ["--unstable-net"] : []),
      ...permissionFlags(set),
      ...(options.extraPermissions ?? []),
      ...(role === "node" ? NODE_RUNTIME_FLAGS : []),
      program ?? MAIN.pathname,
      role,
      ...args,
    ],
  };
}

/**
 * V8's flags for a node process (also in its compile task): young-generation semi-spaces of at most
 * 2 MiB. Under churn at 45,000 requests/s V8 grew them to its default maximum, and the node's RSS
 * settled at 508-513 MiB; with this flag at 412-418 MiB (103 MiB of live data), for 3% fewer requests
 * in the same minute and 3 MiB less when idle (docs/performance.md, "Churn").
 */
export const NODE_V8_FLAGS = "--v8-flags=--max-semi-space-size=2";

/**
 * Runtime flags of a node process (also in deno.json's node tasks and the release's node launcher):
 * without V8's code cache a node compiles its functions as they run instead of loading the cached
 * code of every module, 3-4 MiB less resident memory for life for about 50 ms more CPU at start
 * (docs/performance.md, "Idle node cost"); and {@linkcode NODE_V8_FLAGS}.
 */
export const NODE_RUNTIME_FLAGS: readonly string[] = ["--no-code-cache", NODE_V8_FLAGS];

/** A role running in a child process. */
export class RoleProcess extends WatchedProcess {
  /** Spawns `role` with `args`. */
  constructor(
    name: string,
    role: string,
    args: string[],
    options: WatchedProcessOptions & RoleCommandOptions = {},
  ) {
    const { cmd, args: argv } = roleCommand(role, args, options);
    super(name, cmd, argv, options);
  }
}

/**
 * How a node start is watched besides its timeout (`/proc`, Linux, `--allow-all`): a start that is only
 * slow (a process runnable but waiting for a core on an overloaded machine) is waited for up to the
 * timeout, while one that is stuck is given up early, with what it was doing.
 *
 * @example
 * ```ts
 * const watch: StartWatch = { cpuLimitMs: 30_000, stallMs: 60_000 };
 * console.log(watch.stallMs / 1000); // 60
 * ```
 */
export interface StartWatch {
  /** Give up when the process has used this much CPU time without listening (a start uses under 1 s). */
  cpuLimitMs: number;
  /** Give up when the process has been asleep (not runnable) without using CPU for this long. */
  stallMs: number;
}

/** How often a watched start looks at the process. */
const START_WATCH_INTERVAL_MS = 1_000;

/** How {@linkcode startNodeProcess} starts a node. */
export interface NodeStartOptions extends RoleCommandOptions {
  /** Also print every line of the node. */
  echo?: boolean;
  /** Name in printed lines and errors (default `node:<port>`). */
  name?: string;
  /** How long the node may take to listen (default 30 s). */
  startTimeoutMs?: number;
  /** Give a stuck start up before the timeout (default: only the timeout). */
  startWatch?: StartWatch;
}

/**
 * Starts a node process on `port` and waits until it listens (at most `options.startTimeoutMs`,
 * default 30 s). An error says what the process was doing (`/proc`) and quotes its output.
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
  options: NodeStartOptions = {},
): Promise<RoleProcess> {
  const p = new RoleProcess(options.name ?? `node:${port}`, "node", ["--port", String(port), ...args], options);
  const listening = p.waitFor(/listening on udp/, options.startTimeoutMs);
  let stopWatch = () => {};
  try {
    if (!options.startWatch) await listening;
    else {
      const watch = watchStart(p, options.startWatch);
      stopWatch = watch.stop;
      await Promise.race([listening, watch.failed]);
    }
  } catch (e) {
    listening.catch(() => {}); // rejects too once the process is killed
    await p.stop("SIGKILL");
    throw e;
  } finally {
    stopWatch();
  }
  return p;
}

/** Rejects when the starting process `p` is stuck (see {@linkcode StartWatch}); `stop` ends the watch. */
function watchStart(p: RoleProcess, watch: StartWatch): { failed: Promise<never>; stop: () => void } {
  let timer: ReturnType<typeof setInterval> | undefined;
  const failed = new Promise<never>((_, reject) => {
    let lastCpu = -1, lastProgress = performance.now();
    timer = setInterval(() => {
      const s = readProcessState(p.child.pid);
      if (!s) return; // exited (the wait for its line says so) or /proc unreadable
      const now = performance.now();
      if (s.state === "R" || s.cpuMs !== lastCpu) lastProgress = now;
      lastCpu = s.cpuMs;
      let why = "";
      if (s.cpuMs > watch.cpuLimitMs) why = `used over ${watch.cpuLimitMs / 1000} s of CPU without listening`;
      else if (now - lastProgress > watch.stallMs) why = `asleep without using CPU for ${watch.stallMs / 1000} s`;
      if (why) reject(new Error(`${p.name}: ${why}; ${describeProcessState(s, loadAverage())}; ${p.quoteOutput()}`));
    }, START_WATCH_INTERVAL_MS);
  });
  failed.catch(() => {}); // awaited through the race only
  return { failed, stop: () => clearInterval(timer) };
}

/** Attempts at finding one client port whose internal port is free as well. */
const FREE_PORT_ATTEMPTS = 200;

/**
 * Finds `count` free UDP ports on 127.0.0.1 (bound then released) whose internal ports (the port
 * + 10000, `net/internal_address.ts`) are free as well, so a node started on one can bind both.
 */
export function freeUdpPorts(count: number): number[] {
  const held: Deno.DatagramConn[] = [];
  const ports: number[] = [];
  const bind = (port: number) => {
    try {
      const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
      held.push(c);
      return c;
    } catch {
      return undefined;
    }
  };
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      if (attempt >= FREE_PORT_ATTEMPTS * count) throw new Error(`Cannot find ${count} free UDP port pairs`);
      const c = bind(0);
      const port = c ? (c.addr as Deno.NetAddr).port : 0;
      if (port > 0 && port <= MAX_DEFAULT_CLIENT_PORT && bind(defaultInternalPort(port))) ports.push(port);
    }
  } finally {
    for (const c of held) c.close();
  }
  return ports;
}
