/**
 * KVStore command-line entry: one subcommand per role.
 *
 * @module
 */
import { runCli, UsageError } from "./lib/base/cli_args.ts";

const HELP = `KVStore: a distributed key-value store for unreliable, far-apart hosts.

Usage: kvstore <command> [options]

Commands:
  node       run a KV node (UDP protocol)
  monitor    run the status server (web page, API, metrics)
  cluster    start a local N-node cluster for trying it out
  kvctl      client: put/get/remove and admin verbs (alias: client)

Run 'kvstore <command> --help' for the options of each.
`;

/**
 * Each command's module, loaded when that command runs: a node process then holds only the node's
 * code, not the monitor's, the cluster launcher's or kvctl's (each module loaded costs memory for the
 * life of the process; docs/performance.md, "Idle node cost"). Literal specifiers, so `deno compile`
 * and `deno bundle` still include them.
 */
const COMMANDS: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  node: async () => (await import("./lib/cli/node_command.ts")).nodeCommand,
  monitor: async () => (await import("./lib/cli/monitor_command.ts")).monitorCommand,
  cluster: async () => (await import("./lib/cli/cluster_command.ts")).clusterCommand,
  kvctl: async () => (await import("./lib/cli/kvctl.ts")).kvctlCommand,
  client: async () => (await import("./lib/cli/kvctl.ts")).kvctlCommand,
};

if (import.meta.main) {
  await runCli(async () => {
    const [command, ...rest] = Deno.args;
    if (command === "kvctl" || command === "client" || command === "cluster") {
      (await import("./lib/cli/kvctl_config.ts")).adoptInvocationDirectory();
    }
    if (!command || command === "--help" || command === "-h" || command === "help") {
      console.log(HELP);
      return command ? 0 : 2;
    }
    const run = COMMANDS[command];
    if (!run) {
      throw new UsageError(`unknown command "${command}". Commands: ${Object.keys(COMMANDS).join(", ")}. Run --help.`);
    }
    return await (await run())(rest);
  });
}
