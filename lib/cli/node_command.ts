/**
 * `kvstore node`: runs one KV node.
 *
 * @module
 */
import { loadFleet } from "../config.ts";
import { DEFAULT_NODE_CONFIG } from "../node.ts";
import { DEFAULT_MAX_BYTES, startNode } from "../server.ts";
import { parseAddress } from "../transport.ts";
import { parseDuration, parseFlags, parseInteger, parseSize, UsageError } from "./args.ts";
import { restartAndExit } from "../admin/restart.ts";

/** Help text of `node`. */
export const NODE_HELP = `Usage: kvstore node [options]

Runs a KVStore node that answers the UDP client protocol.

Options:
  --port N              UDP port to serve (default 4000)
  --host ADDR           interface to bind (default 127.0.0.1; 0.0.0.0 for all)
  --config FILE         fleet file (nodes.yaml) listing seeds, monitor and keys
  --seed ADDR           join the cluster through ADDR (repeatable; added to the fleet file's nodes)
  --max-bytes SIZE      store capacity, e.g. 64MiB (default 64MiB)
  --data-dir DIR        keep keys in SQLite under DIR so a restart keeps them
  --reply-cache-ttl D   how long replies are kept for retries (default 5s)
  --max-in-flight N     requests executing at once before replying overload (default 1024)
  --admin-dir DIR       where files sent with 'kvctl push' may be written (refused without it);
                        also keeps the ids of admin commands run, so a restart never reruns one
  -h, --help            show this help

Scripts sent with 'kvctl run' execute only when the node runs with --allow-run
(deno task node:admin); otherwise they are refused and reported. See docs/admin.md.
`;

/** Runs the node command until the process is stopped. */
export async function nodeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("node", args, {
    port: { type: "string" },
    host: { type: "string" },
    config: { type: "string" },
    "max-bytes": { type: "string" },
    "data-dir": { type: "string" },
    "reply-cache-ttl": { type: "string" },
    "max-in-flight": { type: "string" },
    seed: { type: "string", multiple: true },
    "admin-dir": { type: "string" },
  });
  if (values.help) {
    console.log(NODE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`node: unexpected argument "${positionals[0]}". Run with --help to see the options.`);
  }
  const fleet = values.config ? await loadFleet(values.config) : undefined;
  const port = values.port ? parseInteger(values.port, "--port", 0, 65535) : 4000;
  for (const s of values.seed ?? []) {
    try {
      parseAddress(s);
    } catch (e) {
      throw new UsageError(`node: --seed ${(e as Error).message}`);
    }
  }
  if (values["admin-dir"]) await Deno.mkdir(values["admin-dir"], { recursive: true });
  const running = await startNode({
    subsystemOptions: {
      admin: {
        adminDir: values["admin-dir"],
        configPath: values.config,
        restart: () => restartAndExit(() => running.close()),
      },
    },
    host: values.host ?? "127.0.0.1",
    port,
    fleet,
    seeds: values.seed ? [...new Set([...(fleet?.nodes ?? []), ...values.seed])] : undefined,
    maxBytes: values["max-bytes"] ? parseSize(values["max-bytes"], "--max-bytes") : DEFAULT_MAX_BYTES,
    dataDir: values["data-dir"],
    pid: Deno.pid,
    onShutdown: () => Deno.exit(0),
    nodeConfig: {
      replyCacheTtlMs: values["reply-cache-ttl"]
        ? parseDuration(values["reply-cache-ttl"], "--reply-cache-ttl")
        : DEFAULT_NODE_CONFIG.replyCacheTtlMs,
      maxInFlight: values["max-in-flight"]
        ? parseInteger(values["max-in-flight"], "--max-in-flight", 1)
        : DEFAULT_NODE_CONFIG.maxInFlight,
    },
  });
  const loaded = values["data-dir"] ? `, ${running.loadedKeys} keys loaded from ${values["data-dir"]}` : "";
  console.log(`kvstore node listening on udp ${running.node.address} (pid ${Deno.pid}${loaded})`);
  const stop = () => {
    running.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await new Promise(() => {}); // serve until a signal or shutdown command
  return 0;
}
