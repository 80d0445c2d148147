/**
 * KVStore command-line entry: one subcommand per role.
 *
 * @module
 */
import { runCli, UsageError } from "./lib/base/cli_args.ts";
import { nodeCommand } from "./lib/cli/node_command.ts";
import { kvctlCommand } from "./lib/cli/kvctl.ts";
import { clusterCommand } from "./lib/cli/cluster_command.ts";
import { monitorCommand } from "./lib/cli/monitor_command.ts";
import { adoptInvocationDirectory } from "./lib/cli/kvctl_config.ts";

const HELP = `KVStore: a distributed key-value store for unreliable, far-apart hosts.

Usage: kvstore <command> [options]

Commands:
  node       run a KV node (UDP protocol)
  monitor    run the status server (web page, API, metrics)
  cluster    start a local N-node cluster for trying it out
  kvctl      client: put/get/remove and admin verbs (alias: client)

Run 'kvstore <command> --help' for the options of each.
`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  node: nodeCommand,
  monitor: monitorCommand,
  cluster: clusterCommand,
  kvctl: kvctlCommand,
  client: kvctlCommand,
};

if (import.meta.main) {
  await runCli(async () => {
    const [command, ...rest] = Deno.args;
    if (command === "kvctl" || command === "client" || command === "cluster") adoptInvocationDirectory();
    if (!command || command === "--help" || command === "-h" || command === "help") {
      console.log(HELP);
      return command ? 0 : 2;
    }
    const run = COMMANDS[command];
    if (!run) {
      throw new UsageError(`unknown command "${command}". Commands: ${Object.keys(COMMANDS).join(", ")}. Run --help.`);
    }
    return await run(rest);
  });
}
