/**
 * Load test of the status server: 1,000 (or --reports N) signed node reports
 * per round, posted from this process at a monitor running in its own process.
 * Prints reports/s and latency per round.
 *
 *   deno run -A scripts/monitor_load.ts [--reports 1000] [--rounds 3] [--concurrency 64]
 *                                       [--batch 1] [--spread 0] [--watch] [--url URL --key HEX]
 *
 * --spread MS posts each round's reports evenly over MS (as jittered nodes do) instead of at once;
 * --watch keeps a live-page stream (SSE) open meanwhile, as a browser on the page would.
 *
 * Without --url it starts `kvstore monitor` itself (fresh cluster key, temp dir).
 * Reports come from made-up nodes on 127.77.x.y:4000 (loopback: the monitor's
 * round messages and probes to them stay on this host).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { importClusterKey } from "../lib/wire/http_key.ts";
import { toHex } from "../lib/base/bytes.ts";
import { freeUdpPorts, RoleProcess } from "../lib/roles/process_launcher.ts";
import { signedHeaders } from "../lib/wire/signed_request.ts";
import type { NodeReport, StatMap } from "../lib/monitoring/report.ts";
import { processRssBytes } from "./proc_stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    reports: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "64" },
    batch: { type: "string", default: "1" },
    spread: { type: "string", default: "0" },
    url: { type: "string" },
    key: { type: "string" },
    interval: { type: "string", default: "4s" },
    watch: { type: "boolean", default: false },
  },
});
const reportsPerRound = Number(values.reports);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const batch = Math.max(1, Number(values.batch));
const spreadMs = Number(values.spread);

function nodeAddress(i: number): string {
  return `127.77.${Math.floor(i / 250)}.${(i % 250) + 1}:4000`;
}

/** A stat map shaped like a real node's (about 40 stats). */
function stats(i: number, round: number): StatMap {
  const s: StatMap = {
    uptime: { value: 1000 + round * 10, unit: "s" },
    version: { value: "0.1.0" },
    keys: { value: 1000 + i },
    bytes_stored: { value: 250_000 + i * 17, unit: "bytes" },
    capacity: { value: 67_108_864, unit: "bytes" },
    capacity_used: { value: 0.37, unit: "%" },
    rps: { value: 12.5, unit: "req/s" },
    errors: { value: 0 },
    members_alive: { value: reportsPerRound },
    members_suspect: { value: 0 },
    members_dead: { value: 0 },
    load_1m: { value: 0.4 },
    load_5m: { value: 0.3 },
    load_15m: { value: 0.2 },
    rss: { value: 80_000_000, unit: "bytes" },
    heap_used: { value: 20_000_000, unit: "bytes" },
    heap_total: { value: 30_000_000, unit: "bytes" },
    disk_free: { value: 80_000_000_000, unit: "bytes" },
    disk_total: { value: 250_000_000_000, unit: "bytes" },
    round_hops: { value: 7 },
    reply_cache_entries: { value: 120 },
    reply_cache_bytes: { value: 30_000, unit: "bytes" },
  };
  for (const c of ["put", "get", "remove", "other"]) s[`rps.${c}`] = { value: 3.1, unit: "req/s" };
  for (const e of ["out_of_space", "overload", "internal_failure", "unrecognized_command", "invalid_key"]) {
    s[`errors.${e}`] = { value: 0 };
  }
  return s;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

let monitorProc: RoleProcess | undefined;
let dir: string | undefined;
let base = values.url;
let keyHex = values.key;
if (!base) {
  keyHex = toHex(crypto.getRandomValues(new Uint8Array(32)));
  dir = await Deno.makeTempDir({ prefix: "kvstore-monitor-load-" });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  base = `http://127.0.0.1:${port}`;
  await Deno.writeTextFile(
    `${dir}/nodes.yaml`,
    `name: load\nmonitor: { url: "${base}" }\nclusterKey: "${keyHex}"\nnodes:\n  - 127.0.0.1:${freeUdpPorts(1)[0]}\n`,
  );
  monitorProc = new RoleProcess("monitor", "monitor", ["--config", `${dir}/nodes.yaml`, "--interval", values.interval]);
  await monitorProc.waitFor(/listening on/);
}
if (!keyHex) throw new Error("--key HEX is needed with --url");
const key = await importClusterKey(keyHex);

async function currentRound(after: string | undefined): Promise<string> {
  for (;;) {
    const r = await (await fetch(`${base}/api/rounds?limit=1`)).json();
    if (r.current && r.current.id !== after) return r.current.id;
    await new Promise((res) => setTimeout(res, 50));
  }
}

let sseBytes = 0;
const watcher = values.watch ? new AbortController() : undefined;
const watching = watcher
  ? fetch(`${base}/events`, { signal: watcher.signal }).then(async (res) => {
    for await (const chunk of res.body!) sseBytes += chunk.length;
  }).catch(() => {})
  : Promise.resolve();
console.log(
  `posting ${reportsPerRound} signed reports per round, ${rounds} rounds, concurrency ${concurrency}, ` +
    `batch ${batch}, spread ${spreadMs} ms, at ${base}`,
);
let round: string | undefined;
try {
  for (let r = 0; r < rounds; r++) {
    round = await currentRound(round);
    // Build and sign every request first: what is timed is the monitor, not this client's HMACs.
    const requests: { body: string; headers: Record<string, string>; count: number }[] = [];
    for (let i = 0; i < reportsPerRound; i += batch) {
      const reports: NodeReport[] = [];
      for (let j = i; j < Math.min(reportsPerRound, i + batch); j++) {
        reports.push({ node: nodeAddress(j), round, hops: 5, waitMs: 100, stats: stats(j, r) });
      }
      const body = JSON.stringify(batch === 1 ? reports[0] : { reports });
      requests.push({ body, headers: await signedHeaders(key, reports[0].node, body), count: reports.length });
    }
    const latencies: number[] = [];
    let accepted = 0;
    let refused = 0;
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < requests.length) {
        const k = next++;
        const due = t0 + (spreadMs * k) / requests.length;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
        const req = requests[k];
        const s = performance.now();
        const res = await fetch(`${base}/api/report`, { method: "POST", headers: req.headers, body: req.body });
        const out = await res.json();
        latencies.push(performance.now() - s);
        if (res.status === 202) accepted += out.accepted;
        else refused += req.count;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const bytes = requests.reduce((n, q) => n + q.body.length, 0) / reportsPerRound;
    const rss = monitorProc ? processRssBytes(monitorProc.child.pid) : undefined;
    console.log(
      `round ${r + 1}: ${accepted} accepted, ${refused} refused in ${seconds.toFixed(2)} s = ${
        Math.round(reportsPerRound / seconds)
      } reports/s; latency p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${
        percentile(latencies, 0.99).toFixed(1)
      } ms, max ${latencies.at(-1)!.toFixed(1)} ms; ${Math.round(bytes)} B/report${
        rss ? `; monitor RSS ${Math.round(rss / 1048576)} MiB` : ""
      }${watcher ? `; live stream ${Math.round(sseBytes / 1024)} KiB so far` : ""}`,
    );
  }
  const page = performance.now();
  const html = await (await fetch(`${base}/`)).text();
  const api = await (await fetch(`${base}/api/nodes`)).text();
  const metrics = await (await fetch(`${base}/metrics`)).text();
  console.log(
    `with ${reportsPerRound} nodes: page ${Math.round(html.length / 1024)} KiB, /api/nodes ${
      Math.round(api.length / 1024)
    } KiB, /metrics ${Math.round(metrics.length / 1024)} KiB, all three in ${Math.round(performance.now() - page)} ms`,
  );
} finally {
  watcher?.abort();
  await watching;
  await monitorProc?.stop("SIGTERM");
  if (dir) await Deno.remove(dir, { recursive: true });
}
