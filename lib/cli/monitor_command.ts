/**
 * `kvstore monitor`: the status server.
 *
 * @module
 */
import { type FleetConfig, loadFleet } from "../config/fleet_file.ts";
import { DEFAULT_MONITOR_CONFIG } from "../monitoring/server/config.ts";
import { type RunningMonitor, startMonitor, type StartMonitorOptions } from "../roles/start_monitor.ts";
import { parseDuration, parseFlags, parseInteger, UsageError } from "../base/cli_args.ts";

/** Help text of `monitor`. */
export const MONITOR_HELP = `Usage: kvstore monitor [options]

Runs the status server. Every interval it sends a round message to a random
known node; the round spreads through the cluster by rumor mongering and each
node reports its stats here over HTTP (signed with the cluster key). The page
at / shows every node live; JSON at /api/nodes, /api/nodes/:id, /api/rounds;
Prometheus at /metrics.

Options:
  --config FILE               fleet file (nodes.yaml): nodes, monitor url, clusterKey
                              (default: ./nodes.yaml if it exists)
  --port N                    HTTP port (default: the port of monitor.url in the fleet file, else 8080)
  --host ADDR                 HTTP interface (default 127.0.0.1; 0.0.0.0 for all)
  --url URL                   base URL nodes report to (default: monitor.url, else http://host:port)
  --udp-port N                UDP port rounds are sent from (default: monitor.udp, else any)
  --interval D                time between rounds (default 10s)
  --not-responding-rounds K   rounds without a report before "not responding" (default 3)
  --history D                 history kept per node (default 3h)
  --data-dir DIR              keep the history in DIR across restarts
  --save-interval D           with --data-dir, save the history this often (default 60s)
  --restarts N                restarts so far, shown on the page (set by 'kvstore cluster')
  -h, --help                  show this help
`;

const MONITOR_FLAGS = {
  config: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  url: { type: "string" },
  "udp-port": { type: "string" },
  interval: { type: "string" },
  "not-responding-rounds": { type: "string" },
  history: { type: "string" },
  "data-dir": { type: "string" },
  "save-interval": { type: "string" },
  restarts: { type: "string" },
} as const;

type MonitorValues = ReturnType<typeof parseFlags<typeof MONITOR_FLAGS>>["values"];

/** Runs the monitor until the process is stopped. */
export async function monitorCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("monitor", args, MONITOR_FLAGS);
  if (values.help) {
    console.log(MONITOR_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`monitor: unexpected argument "${positionals[0]}". Run with --help to see the options.`);
  }
  const configPath = await fleetFilePath(values.config);
  const fleet = configPath ? await loadFleet(configPath) : undefined;
  const options = monitorOptions(values, fleet);
  const running = await startMonitor(options);
  printBanner(running, options.port, configPath, fleet);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    running.close().finally(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await new Promise(() => {});
  return 0;
}

/** The fleet file: `--config`, else ./nodes.yaml if it exists, else none. */
async function fleetFilePath(flag: string | undefined): Promise<string | undefined> {
  if (flag) return flag;
  try {
    await Deno.stat("nodes.yaml");
    return "nodes.yaml";
  } catch {
    return undefined; // run without a fleet file
  }
}

/** The options {@linkcode startMonitor} gets from the flags and the fleet file (a usage error for a bad flag). */
function monitorOptions(values: MonitorValues, fleet: FleetConfig | undefined): StartMonitorOptions & { port: number } {
  if (values.url !== undefined && !/^https?:\/\/[^\s/]+/.test(values.url)) {
    throw new UsageError(`--url: "${values.url}" is not an http(s) URL such as http://10.0.0.5:8080`);
  }
  const fleetPort = fleet?.monitor?.url ? Number(new URL(fleet.monitor.url).port || 80) : undefined;
  const port = values.port ? parseInteger(values.port, "--port", 0, 65535) : fleetPort ?? 8080;
  const intervalMs = values.interval ? parseDuration(values.interval, "--interval") : DEFAULT_MONITOR_CONFIG.intervalMs;
  if (intervalMs < 100) throw new UsageError(`--interval: must be at least 100ms`);
  const historyWindowMs = values.history
    ? parseDuration(values.history, "--history")
    : DEFAULT_MONITOR_CONFIG.historyWindowMs;
  return {
    host: values.host ?? "127.0.0.1",
    port,
    udpPort: values["udp-port"] ? parseInteger(values["udp-port"], "--udp-port", 0, 65535) : undefined,
    fleet,
    publicUrl: values.url,
    dataDir: values["data-dir"],
    restarts: values.restarts ? parseInteger(values.restarts, "--restarts", 0, 1_000_000) : 0,
    fillFromFleet: true,
    config: {
      persistIntervalMs: values["save-interval"]
        ? parseDuration(values["save-interval"], "--save-interval")
        : DEFAULT_MONITOR_CONFIG.persistIntervalMs,
      intervalMs,
      historyWindowMs,
      notRespondingRounds: values["not-responding-rounds"]
        ? parseInteger(values["not-responding-rounds"], "--not-responding-rounds", 1, 1000)
        : DEFAULT_MONITOR_CONFIG.notRespondingRounds,
    },
  };
}

/** The listening line, after a warning when nodes are told to report to an address other hosts cannot reach. */
function printBanner(
  running: RunningMonitor,
  port: number,
  configPath: string | undefined,
  fleet: FleetConfig | undefined,
): void {
  if (/^https?:\/\/(0\.0\.0\.0|\[::\])[:/]/.test(running.reportUrl)) {
    console.error(
      `monitor: warning: nodes are told to report to ${running.reportUrl}, which other hosts cannot reach; ` +
        `set monitor.url in the fleet file or pass --url http://<this host>:${port}`,
    );
  }
  const known = running.monitor.registry.size;
  console.log(
    `kvstore monitor listening on ${running.url} (udp ${running.udpAddress}; ${known} known node${
      known === 1 ? "" : "s"
    }${configPath ? ` from ${configPath}` : ""}; reports to ${running.reportUrl}${
      fleet?.clusterKey ? ", signed" : ", UNSIGNED: no clusterKey in the fleet file"
    })`,
  );
}
