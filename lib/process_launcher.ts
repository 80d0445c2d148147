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
export class RoleProcess extends WatchedProcess {
  /** Spawns `role` with `args`. */
  constructor(
    name: string,
    role: string,
    args: string[],
    options: WatchedProcessOptions & { extraPermissions?: string[] } = {},
  ) {
    const { cmd, args: argv } = roleCommand(role, args, options.extraPermissions);
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
