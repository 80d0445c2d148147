/**
 * Prints, as one JSON line, which permissions this process holds (queried, never requested):
 * tests/permissions_test.ts runs it with each role's exact `deno task` flags.
 *
 * @module
 */

/**
 * Environment variables, sys calls and programs probed (the granted ones and a few that must not be).
 *
 * @example
 * ```ts
 * console.log(PROBED.run); // ["bash", "sh", "deno"]
 * ```
 */
export const PROBED = {
  env: ["LOG_TOKENS", "LOG_STREAM", "KVSTORE_NODE", "KVSTORE_DEBUG", "HOME", "PATH"],
  sys: [
    "hostname",
    "osRelease",
    "osUptime",
    "loadavg",
    "networkInterfaces",
    "systemMemoryInfo",
    "uid",
    "gid",
    "cpus",
    "homedir",
    "username",
    "getPriority",
    "umask",
    "statfs",
  ],
  run: ["bash", "sh", "deno"],
} as const;

/**
 * The granted subset of {@linkcode PROBED}, plus whether net, read, write and ffi are granted without a scope.
 *
 * @example
 * ```ts ignore
 * console.log(probePermissions().run); // [] for kvctl
 * ```
 */
export function probePermissions(): Record<string, string[] | boolean> {
  const granted = (d: Deno.PermissionDescriptor) => Deno.permissions.querySync(d).state === "granted";
  return {
    env: PROBED.env.filter((variable) => granted({ name: "env", variable })),
    sys: PROBED.sys.filter((kind) => granted({ name: "sys", kind })),
    run: PROBED.run.filter((command) => granted({ name: "run", command })),
    net: granted({ name: "net" }),
    read: granted({ name: "read" }),
    write: granted({ name: "write" }),
    ffi: granted({ name: "ffi" }),
  };
}

if (import.meta.main) console.log(JSON.stringify(probePermissions()));
