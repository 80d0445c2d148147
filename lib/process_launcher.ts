/**
 * Starting KVStore roles as real child processes (local clusters, tests).
 *
 * @module
 */
import { WatchedProcess, type WatchedProcessOptions } from "./watched_process.ts";

/** Permission flags of the node role (same as `deno task node`). */
export const NODE_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
  // The yaml library's switches, and the variables the roles document (kvctl's default node, stacks).
  "--allow-env=LOG_TOKENS,LOG_STREAM,KVSTORE_NODE,KVSTORE_DEBUG",
];

const MAIN = new URL("../main.ts", import.meta.url);

/** Whether this process is a `deno compile`d binary (then roles are its own subcommands). */
export function isCompiled(): boolean {
  return !/^deno(\.exe)?$/.test(Deno.execPath().split(/[\\/]/).pop() ?? "");
}

/**
 * Command and arguments that run `role` with `args` in a child process: this program's, or
 * `program` (a bundle from `deno task bundle`, run by deno with `--unstable-net` since it may lie
 * outside the project; or a binary built with `compile:node`, which has the node role built in).
 */
export function roleCommand(
  role: string,
  args: string[],
  extraPermissions: string[] = [],
  program?: string,
): { cmd: string; args: string[] } {
  if (program && !/\.(m?js|ts)$/.test(program)) return { cmd: program, args };
  if (isCompiled() && !program) return { cmd: Deno.execPath(), args: [role, ...args] };
  const script = program ?? MAIN.pathname;
  const unstable = program ? ["--unstable-net"] : [];
  return {
    cmd: isCompiled() ? "deno" : Deno.execPath(),
    args: ["run", "--quiet", ...unstable, ...NODE_PERMISSIONS, ...extraPermissions, script, role, ...args],
  };
}

/** A role running in a child process. */
export class RoleProcess extends WatchedProcess {
  /** Spawns `role` with `args`. */
  constructor(
    name: string,
    role: string,
    args: string[],
    options: WatchedProcessOptions & { extraPermissions?: string[]; program?: string } = {},
  ) {
    const { cmd, args: argv } = roleCommand(role, args, options.extraPermissions, options.program);
    super(name, cmd, argv, options);
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
