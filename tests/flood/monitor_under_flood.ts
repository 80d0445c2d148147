/**
 * Shared by the flood tests: a monitor process (optionally under `ulimit -n`), flood children
 * (`flood_client.ts`), the page's answer time and the monitor's RSS.
 *
 * @module
 */
import { WatchedProcess } from "../../lib/base/watched_process.ts";
import { permissionFlags } from "../../lib/roles/process_launcher.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A monitor process with the URL it listens on. */
export interface MonitorUnderTest {
  proc: WatchedProcess;
  url: string;
  host: string;
  port: number;
  /** Settles when it exits. */
  exited: Promise<Deno.CommandStatus>;
}

/** Starts `kvstore monitor` on a free port, under `ulimit -n limit` (soft and hard) if given. */
export async function startMonitorProcess(limit?: number, extra: string[] = []): Promise<MonitorUnderTest> {
  // The monitor's own permission set (deno.json), as `deno task monitor` runs it.
  const deno = [Deno.execPath(), "run", "--quiet", ...permissionFlags("monitor"), `${ROOT}main.ts`, "monitor"]
    .concat(["--port", "0", ...extra])
    .map((a) => `'${a}'`).join(" ");
  const ulimit = limit ? `ulimit -n ${limit} && ` : "";
  const proc = new WatchedProcess("monitor", "bash", ["-c", `${ulimit}exec ${deno}`]);
  const exited = proc.child.status;
  const line = await proc.waitFor(/listening on http:\/\/\S+/, 30_000);
  const url = line.match(/listening on (http:\/\/\S+)/)![1];
  const u = new URL(url);
  return { proc, url, host: u.hostname, port: Number(u.port), exited };
}

/**
 * Starts a flood child: `count` connections in `mode` for `seconds` (its own limit raised where allowed),
 * at a lower CPU priority: on a shared machine the attacker would otherwise take the CPU the server and
 * the measuring test need (an attacker on another host does not).
 */
export function startFlood(m: MonitorUnderTest, count: number, mode: "hold" | "trickle" | "sse", seconds: number) {
  const deno = [Deno.execPath(), "run", "--quiet", "--allow-net", `${ROOT}tests/flood/flood_client.ts`]
    .concat([m.host, String(m.port), String(count), mode, String(seconds)]).map((a) => `'${a}'`).join(" ");
  const need = count + 64;
  return new WatchedProcess(`flood-${mode}`, "bash", [
    "-c",
    `ulimit -n ${need} 2>/dev/null; exec nice -n 10 ${deno}`,
  ]);
}

/** Milliseconds `GET /` takes on a fresh connection (Infinity if it fails or takes over 5 s). */
export async function pageMs(url: string): Promise<number> {
  const t0 = performance.now();
  try {
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      const res = await fetch(url + "/", { client, signal: AbortSignal.timeout(5_000) });
      const text = await res.text();
      if (res.status !== 200 || !text.includes("<table")) return Infinity;
    } finally {
      client.close();
    }
  } catch {
    return Infinity;
  }
  return performance.now() - t0;
}

/** The monitor's resident set size (bytes). */
export function rssBytes(pid: number): number {
  const line = Deno.readTextFileSync(`/proc/${pid}/status`).split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) * 1024;
}

/** `http_refused_total` lines of the monitor's /metrics. */
export async function refusedMetrics(url: string): Promise<string> {
  const res = await fetch(url + "/metrics", { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  return text.split("\n").filter((l) => l.startsWith("http_refused_total{")).join(", ");
}

/** Stops a process (SIGKILL) and waits for it. */
export async function kill(p: WatchedProcess): Promise<void> {
  await p.stop("SIGKILL").catch(() => p.exited());
}
