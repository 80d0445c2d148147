/**
 * `deno task bench:gossip`: gossip figures measured in the simulator (real node code on
 * an in-memory network, virtual time, deterministic for `--seed`) for several cluster
 * sizes, next to log2(n) + ln(n):
 *
 * - SWIM dissemination: a fresh node joining through one seed becomes known by all;
 * - failure detection of a killed node: first suspicion anywhere, dead at every live node;
 * - one monitoring round (rumor mongering): hops to 100 % and messages per node;
 * - steady-state membership bytes per node per second.
 *
 * A progress line goes to stderr while it runs; the table goes to stdout.
 *
 * @module
 */
import { parseFlags, parseInteger, runCli, UsageError } from "../lib/base/cli_args.ts";
import { DEFAULT_ROUND_GOSSIP_CONFIG as ROUND } from "../lib/monitoring/agent/round_gossip.ts";
import { type GossipFigures, measureGossip } from "./bench_gossip_measure.ts";
import { type FleetFigures, measureFleet } from "./bench_fleet_measure.ts";
import { type FleetSwimFigures, measureFleetSwim, SWIM_STEP_MS } from "./bench_fleet_swim.ts";

export { type GossipFigures, measureGossip, type MeasureOptions } from "./bench_gossip_measure.ts";

/** Cluster sizes measured by default. */
export const DEFAULT_SIZES: readonly number[] = [10, 100, 1_000];

/** Help text. */
export const BENCH_GOSSIP_HELP = `Usage: deno task bench:gossip [options]

Measures gossip in the simulator (real node code, in-memory network, virtual time,
LAN preset, replication off) and prints one row per cluster size n:

  join → all     a fresh node joins through one seed; SWIM time until every other
                 node lists it alive (in probe periods and ms)
  detect first   a node is killed; first node to suspect it
  detect all     every live node has declared it dead
  round          one monitoring round: node-to-node hops until the last node had it,
                 and round messages pushed per node
  bytes/node/s   membership traffic with nothing happening, over one push-pull interval

Options:
  --sizes A,B,…   cluster sizes, each 3-5000 (default ${DEFAULT_SIZES.join(",")});
                  1000 nodes take about 1.5 min, dominated by the O(n²) join storm
  --seed N        seed of the simulation (default 1)
  --fleet-sizes A,B,…
                  sizes of the fleet-table simulation (default: --sizes); it runs only the
                  fleet-table gossip on the in-memory network with 1 % loss, 10 seeds each:
                  change → 99 % / all of the tables (median, p99), bytes/node/s, table
                  memory, 10 killed → "not responding" everywhere by the K-interval rule
  --swim-sizes A,B,…
                  sizes of the fleet + SWIM simulation (default: --fleet-sizes): real SWIM
                  and the fleet gossip on every node, 1 % loss, 10 seeds each; 10 killed →
                  dead at every live node's SWIM, "not responding" in every fleet table
  --fleet-runs N  seeds per size of both (default 10); a 1,000-node seed costs about
                  55 s of CPU in the pure table and 95 s in fleet + SWIM
  --no-nodes      skip the whole-node table (only the fleet-table one)
  -h, --help      show this help
`;

/** Parsed command line. */
export interface BenchGossipArgs {
  /** Cluster sizes, in order. */
  sizes: number[];
  /** Simulation seed. */
  seed: number;
  /** Sizes of the fleet-table simulation. */
  fleetSizes: number[];
  /** Sizes of the fleet + SWIM simulation. */
  swimSizes: number[];
  /** Seeds per fleet size. */
  fleetRuns: number;
  /** Skip the whole-node simulation. */
  noNodes: boolean;
  /** Whether --help was given. */
  help: boolean;
}

/** Parses the flags; throws {@linkcode UsageError} on a bad one. */
export function parseBenchGossipArgs(args: string[]): BenchGossipArgs {
  const { values, positionals } = parseFlags("bench:gossip", args, {
    sizes: { type: "string" },
    seed: { type: "string" },
    "fleet-sizes": { type: "string" },
    "fleet-runs": { type: "string" },
    "swim-sizes": { type: "string" },
    "no-nodes": { type: "boolean" },
  });
  if (positionals.length > 0) {
    throw new UsageError(`bench:gossip: unexpected argument "${positionals[0]}". Run with --help to see the options.`);
  }
  const sizes = values.sizes === undefined
    ? [...DEFAULT_SIZES]
    : values.sizes.split(",").map((s) => parseInteger(s, "--sizes", 3, 5_000));
  const seed = values.seed === undefined ? 1 : parseInteger(values.seed, "--seed", 0, 2 ** 31 - 1);
  const fleetSizes = values["fleet-sizes"] === undefined
    ? sizes
    : values["fleet-sizes"].split(",").map((s) => parseInteger(s, "--fleet-sizes", 3, 5_000));
  const fleetRuns = values["fleet-runs"] === undefined
    ? 10
    : parseInteger(values["fleet-runs"], "--fleet-runs", 1, 100);
  const swimSizes = values["swim-sizes"] === undefined
    ? fleetSizes
    : values["swim-sizes"].split(",").map((s) => parseInteger(s, "--swim-sizes", 3, 5_000));
  return {
    sizes,
    seed,
    fleetSizes,
    swimSizes,
    fleetRuns,
    noNodes: values["no-nodes"] ?? false,
    help: values.help ?? false,
  };
}

const ms = (x: number) => x >= 10_000 ? `${(x / 1_000).toFixed(1)} s` : `${Math.round(x)} ms`;
const per = (x: number) => x.toFixed(x < 10 ? 2 : 1);

/** The results as a text table with notes. */
export function formatGossipTable(rows: readonly GossipFigures[], seed: number): string {
  const head = [
    "n",
    "log2n+ln n",
    "join → all: periods (time)",
    "detect first",
    "detect all",
    "fleet: down",
    "round hops",
    "msgs/node",
    "bytes/node/s",
  ];
  const body = rows.map((f) => [
    String(f.n),
    (Math.log2(f.n) + Math.log(f.n)).toFixed(1),
    `${per(f.join.periods)} (${ms(f.join.ms)})`,
    `${ms(f.detection.firstMs)} (${per(f.detection.firstPeriods)} p)`,
    `${ms(f.detection.allMs)} (${per(f.detection.allPeriods)} p)`,
    ms(f.detection.fleetDownMs),
    f.round.coverage === 1 ? String(f.round.hops) : `${f.round.hops} (${(f.round.coverage * 100).toFixed(1)} %)`,
    f.round.msgsPerNode.toFixed(1),
    Math.round(f.steady.bytesPerNodePerSec).toLocaleString("en-US"),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i])).join("  ");
  const c = rows[0]?.config;
  const notes = [
    `seed ${seed}; LAN preset: probe period ${c?.probeIntervalMs} ms, gossip every ${c?.gossipIntervalMs} ms to ` +
    `${c?.gossipNodes} members; 1-5 ms links, no loss. A period is one probe interval.`,
    "join → all: n − 1 pre-seeded nodes converge, then node n joins through one seed (SWIM membership, not static).",
    "fleet: down = every live node's fleet table reads the killed node \"not responding\" (SWIM's verdict).",
    "A graceful leave is sent directly to every member (one message delay), so a join is what measures gossip.",
    `round: one monitoring round (fan-out ${ROUND.fanout}, stop probability ${ROUND.stopProbability}, so ` +
    `${ROUND.fanout / ROUND.stopProbability} msgs/node expected) sent to one node, spread over the SWIM view;`,
    "  hops are node-to-node hops (0 = the node the monitor sent to) until 100 % had it.",
    ...rows.map((f) =>
      `n=${f.n}: join → all = ${(f.join.ms / f.config.gossipIntervalMs).toFixed(1)} gossip intervals; ` +
      `cold start converged in ${ms(f.startMs)}; suspicion timeout ${ms(f.detection.suspicionMinMs)}-` +
      `${ms(f.detection.suspicionMaxMs)}; steady ${per(f.steady.datagramsPerNodePerSec)} datagrams/node/s, ` +
      `${Math.round(f.steady.pushPullShare * 100)} % of bytes push-pull (window ${ms(f.steady.windowMs)}); wall ` +
      Object.entries(f.wallMs).map(([k, v]) => `${k} ${(v / 1_000).toFixed(1)} s`).join(", ")
    ),
  ];
  return [line(head), ...body.map(line), "", ...notes].join("\n");
}

/** The fleet-table figures as a text table with notes; `swim` adds the "10 killed" columns with SWIM's verdict. */
export function formatFleetTable(rows: readonly FleetFigures[], swim: readonly FleetSwimFigures[] = []): string {
  const head = [
    "n",
    "row every",
    "change → 99 %",
    "change → all",
    "bytes/node/s",
    "table",
    "killed: K rule alone",
    "SWIM: dead at all",
    "fleet: not responding",
  ];
  const mp = (x: { median: number; p99: number }) => `${ms(x.median)} (p99 ${ms(x.p99)})`;
  const sizes = [...new Set([...rows.map((f) => f.n), ...swim.map((f) => f.n)])].sort((a, b) => a - b);
  const body = sizes.map((n) => {
    const f = rows.find((x) => x.n === n), w = swim.find((x) => x.n === n);
    return [
      String(n),
      f ? ms(f.rowIntervalMs) : "–",
      f ? mp(f.spread99) : "–",
      f ? mp(f.spreadAll) : "–",
      f
        ? `${Math.round(f.bytesPerNodePerSec).toLocaleString("en-US")} (p99 ${
          Math.round(f.bytesPerNodePerSecP99).toLocaleString("en-US")
        })`
        : "–",
      f ? `${(f.tableBytes / 1024).toFixed(0)} KiB` : "–",
      f ? `${f.killed.count}: ${mp(f.killed)}` : "–",
      w ? `${w.killed}: ${mp(w.swimAll)}` : "–",
      w ? `${mp(w.fleetAll)}, ${Math.round(w.byVerdict * 100)} % by verdict` : "–",
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i])).join("  ");
  const r0 = rows[0] ?? swim[0];
  const loss = ((rows[0]?.loss ?? 0.01) * 100).toFixed(0);
  const notes = [
    `Fleet table, ${loss} % loss, virtual time, ${r0?.runs ?? 0} seeds per size: median over seeds, p99 in brackets.`,
    "change, bytes, table, K rule: pure-table simulation (only lib/monitoring/fleet/gossip.ts on the in-memory " +
    "network); tables start filled, two row intervals of warm-up.",
    "change: one node rewrites its row half way between two of its own rewrites; time until 99 % / all other " +
    "tables hold that version (checked every 100 ms).",
    "bytes/node/s: fleet frames sent (payload + frame header + tag) per node per second over one row interval.",
    "table: estimated memory of one node's table (rows as objects).",
    "killed: K rule alone: 10 nodes killed (a third of a small fleet), no SWIM: every other table reads them " +
    "'not responding' at seenAt + K row intervals (K = 3), computed once every table holds their last rows.",
    "SWIM / fleet: every node runs the real SWIM (LAN preset) and the fleet gossip with SWIM's live members and " +
    "verdict; 10 killed: every live node's SWIM declares each dead / its fleet table reads each 'not responding'.",
    ...swim.map((w) =>
      `n=${w.n}: fleet − SWIM at most ${ms(Math.max(0, w.lagMaxMs))} over ${w.runs} seeds (gossip interval ` +
      `${ms(w.gossipIntervalMs)}, row interval ${ms(w.rowIntervalMs)}; checked every ${SWIM_STEP_MS} ms); SWIM ` +
      `suspicion timeout ${ms(w.suspicionMs[0])}-${ms(w.suspicionMs[1])}`
    ),
  ];
  return [line(head), ...body.map(line), "", ...notes].join("\n");
}

/** Runs the command; returns the exit code. */
export async function benchGossipMain(args: string[]): Promise<number> {
  const { sizes, seed, help, fleetSizes, swimSizes, fleetRuns, noNodes } = parseBenchGossipArgs(args);
  if (help) {
    console.log(BENCH_GOSSIP_HELP);
    return 0;
  }
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  const began = performance.now();
  const rows: GossipFigures[] = [];
  for (const n of noNodes ? [] : sizes) {
    let last = 0;
    let lastPhase = "";
    rows.push(
      await measureGossip(n, {
        seed,
        onProgress: (phase, virtualMs) => {
          const now = performance.now();
          if (phase === lastPhase && now - last < (tty ? 250 : 10_000)) return;
          last = now;
          lastPhase = phase;
          const text = `bench:gossip n=${n}: ${phase}, ${(virtualMs / 1_000).toFixed(1)} s virtual ` +
            `(${((now - began) / 1_000).toFixed(0)} s elapsed)`;
          Deno.stderr.writeSync(enc.encode(tty ? `\r${text}\x1b[K` : `${text}\n`));
        },
      }),
    );
  }
  if (tty) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
  if (rows.length > 0) console.log(formatGossipTable(rows, seed));
  const fleetRows: FleetFigures[] = [];
  for (const n of fleetSizes) {
    fleetRows.push(
      await measureFleet(n, {
        seed,
        runs: fleetRuns,
        onProgress: (what) => Deno.stderr.writeSync(enc.encode(tty ? `\r${what}\x1b[K` : `${what}\n`)),
      }),
    );
  }
  const swimRows: FleetSwimFigures[] = [];
  for (const n of swimSizes) {
    swimRows.push(
      await measureFleetSwim(n, {
        seed,
        runs: fleetRuns,
        onProgress: (what) => Deno.stderr.writeSync(enc.encode(tty ? `\r${what}\x1b[K` : `${what}\n`)),
      }),
    );
  }
  if (tty) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
  if (fleetRows.length + swimRows.length > 0) console.log("\n" + formatFleetTable(fleetRows, swimRows));
  console.error(`bench:gossip: done in ${((performance.now() - began) / 1_000).toFixed(1)} s of wall time`);
  return 0;
}

if (import.meta.main) await runCli(() => benchGossipMain(Deno.args));
