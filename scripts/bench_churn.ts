/**
 * `deno task bench:churn`: memory of a node under churn. One node process is
 * loaded with `--keys` keys of `--value-min`…`--value-max` random bytes, then
 * takes 50% gets and 50% puts (overwrites with new random sizes, so the space
 * of replaced values must come back) for `--duration`. Its RSS and the store's
 * own figures (debug stats query) are sampled as it runs; at the end it prints
 * the steady RSS (the largest sample of the second half) against the bound
 * `2 × live data + idle baseline`, live data being the store's bytes (32 B per
 * key plus the values), the idle baseline the RSS of the node just started,
 * and how much of the space that overwrites freed the value arena gave back.
 * With `--check` it exits 1 when the steady RSS is over the bound.
 *
 * ```sh
 * deno task bench:churn                  # 100,000 keys of 100–2,000 B, 3 minutes
 * deno task bench:churn --duration 30s   # the short run CI makes
 * ```
 *
 * @module
 */
import { parseDuration, parseFlags, parseInteger, runCli } from "../lib/base/cli_args.ts";
import { DEFAULT_BENCH_OPTIONS, formatProgress, runBench } from "../lib/bench/run.ts";
import { ClusterDebugClient } from "../lib/replication/debug_queries.ts";
import type { ReplicationDebugStats } from "../lib/replication/debug_messages.ts";
import type { StoreMemory } from "../lib/storage/store.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { processRssBytes } from "./proc_stats.ts";

const HELP = `Usage: deno task bench:churn [options]

Loads one node with random-size values, then overwrites them for a while
(50% gets, 50% puts) and compares its steady RSS with 2 × live data + the
RSS of the idle node. Prints the value arena's reuse of freed space.

Options:
  --keys N          distinct keys (default 100000)
  --value-min B     smallest value (default 100)
  --value-max B     largest value (default 2000)
  --duration D      churn time (default 180s; CI runs 30s)
  --sample D        RSS sampling interval (default 5s)
  --data-dir        run the node durable (--data-dir in a temporary directory, --fsync batch)
  --check           exit 1 when the steady RSS is over 2 × live data + baseline
  -h, --help        show this help
`;

/** Wait after the start before reading the idle RSS. */
const IDLE_MS = 1_000;
/** Timeout of a debug stats query. */
const STATS_TIMEOUT_MS = 1_000;

/** One sample of the node while it runs. */
interface Sample {
  seconds: number;
  rss: number;
  live: number;
  keys: number;
  storage?: StoreMemory;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Runs the churn case; returns the exit code. */
async function churnMain(args: string[]): Promise<number> {
  const { values } = parseFlags("bench:churn", args, {
    keys: { type: "string" },
    "value-min": { type: "string" },
    "value-max": { type: "string" },
    duration: { type: "string" },
    sample: { type: "string" },
    "data-dir": { type: "boolean" },
    check: { type: "boolean" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const keys = values.keys ? parseInteger(values.keys, "--keys", 1, 10_000_000) : 100_000;
  const valueMin = values["value-min"] ? parseInteger(values["value-min"], "--value-min", 0, 15_000) : 100;
  const valueMax = values["value-max"] ? parseInteger(values["value-max"], "--value-max", valueMin, 15_000) : 2_000;
  const durationMs = values.duration ? parseDuration(values.duration, "--duration") : 180_000;
  const sampleMs = values.sample ? parseDuration(values.sample, "--sample") : 5_000;
  const dir = values["data-dir"] ? await Deno.makeTempDir({ prefix: "kvstore-churn-" }) : undefined;
  const [port] = freeUdpPorts(1);
  const address = `127.0.0.1:${port}`;
  // A capacity well over the live data (the default, 64 MiB, would refuse most of the puts).
  const nodeArgs = ["--max-bytes", "1GiB", ...(dir ? ["--data-dir", dir, "--fsync", "batch"] : [])];
  const node = await startNodeProcess(port, nodeArgs);
  const debug = await ClusterDebugClient.open();
  try {
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idle = processRssBytes(node.child.pid);
    console.log(
      `bench:churn: ${keys.toLocaleString("en-US")} keys of ${valueMin}–${valueMax} B, 50% puts, ${
        durationMs / 1000
      } s${dir ? ", durable (fsync batch)" : ""}; idle node RSS ${mib(idle)}`,
    );
    const load = { ...DEFAULT_BENCH_OPTIONS, targets: [address], keyspace: keys, valueMin, valueMax, warmupMs: 0 };
    const preload = await runBench({ ...load, preload: true, getRatio: 1, durationMs: 200, timeoutMs: 1_000 });
    if (preload.failed > 0) throw new Error(`Loading the keys: ${preload.failed} puts failed`);
    const stats = () => debug.stats(address, { timeoutMs: STATS_TIMEOUT_MS }).catch(() => undefined);
    const sample = async (seconds: number): Promise<Sample> => {
      const s: ReplicationDebugStats | undefined = await stats();
      return {
        seconds,
        rss: processRssBytes(node.child.pid),
        live: s?.bytes ?? NaN,
        keys: s?.keys ?? NaN,
        storage: s?.storage,
      };
    };
    const samples = [await sample(0)];
    console.log(formatSample(samples[0], "loaded"));
    const started = performance.now();
    const timer = setInterval(async () => {
      const s = await sample((performance.now() - started) / 1000);
      samples.push(s);
      console.log(formatSample(s, ""));
    }, sampleMs);
    let last = "";
    const churn = await runBench(
      { ...load, preload: false, getRatio: 0.5, durationMs },
      (p) => last = formatProgress(p),
    )
      .finally(() => clearInterval(timer));
    console.log(`  churn: ${churn.ops.toLocaleString("en-US")} requests, ${churn.failed} failed; last ${last}`);
    samples.push(await sample((performance.now() - started) / 1000));
    return report(samples, idle) || !values.check ? 0 : 1;
  } finally {
    debug.close();
    await node.stop();
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function formatSample(s: Sample, note: string): string {
  const m = s.storage;
  const arena = m ? `, value segments ${mib(m.segmentBytes)} for ${mib(m.liveValueBytes)} of values` : "";
  return `  [${s.seconds.toFixed(0).padStart(4)} s] RSS ${mib(s.rss)}, live data ${mib(s.live)} in ${
    s.keys.toLocaleString("en-US")
  } keys${arena}${note ? ` (${note})` : ""}`;
}

/** Prints the verdict and the arena's reuse figures; returns whether the steady RSS is within the bound. */
function report(samples: Sample[], idle: number): boolean {
  const end = samples[samples.length - 1];
  const steady = samples.slice(Math.floor(samples.length / 2));
  const rss = Math.max(...steady.map((s) => s.rss));
  const live = end.live;
  const bound = 2 * live + idle;
  console.log(
    `\nSteady RSS (largest sample of the second half) ${mib(rss)}; live data ${mib(live)}; idle baseline ${
      mib(idle)
    }\nRSS / (2 × live + baseline) = ${(rss / bound).toFixed(2)} (at most 1.00 is the target); RSS / live = ${
      (rss / live).toFixed(2)
    }; (RSS − baseline) / live = ${((rss - idle) / live).toFixed(2)}`,
  );
  const m = end.storage, first = samples[0].storage;
  if (m && first) {
    const freed = (m.releasedBytes - m.movedBytes) - (first.releasedBytes - first.movedBytes);
    const dropped = m.droppedBytes - first.droppedBytes, moved = m.movedBytes - first.movedBytes;
    const reused = m.reusedBytes - first.reusedBytes;
    console.log(
      `Value arena during the churn: overwrites freed ${mib(freed)}; compaction moved ${mib(moved)} of live values ` +
        `out of the emptiest segments and dropped ${mib(dropped)} of segments; ${mib(reused)} of new segments were ` +
        `dropped ones written again\n  reclaimed / freed = (dropped − moved) / freed = ${
          ((dropped - moved) / freed).toFixed(2)
        }; reused / dropped = ${(reused / dropped).toFixed(2)}; copying = moved / freed = ${
          (moved / freed).toFixed(2)
        }; fragmentation at the end = segments / values = ${(m.segmentBytes / m.liveValueBytes).toFixed(2)}; ` +
        `key records ${mib(m.recordBytes)}, index ${mib(m.indexBytes)}`,
    );
  }
  const ok = rss <= bound;
  console.log(ok ? "PASS: within 2 × live data + baseline" : "OVER: RSS over 2 × live data + baseline");
  return ok;
}

if (import.meta.main) await runCli(() => churnMain(Deno.args));
