/**
 * The real `deno task cluster` in a temporary directory, as a user runs it (issue 22): free consecutive
 * UDP ports and a free monitor port, the cluster command as a child process in that directory, and
 * kvctl run from that directory with no flags. Everything is stopped by `close()`.
 *
 * @module
 */
import { roleCommand } from "../../lib/roles/process_launcher.ts";
import { defaultInternalPort, MAX_DEFAULT_CLIENT_PORT } from "../../lib/net/internal_address.ts";
import { kvctl, type KvctlRun, processGone, stopPids } from "./child_processes.ts";
import { waitUntil, withTimeout } from "./real_time.ts";

/**
 * Free consecutive UDP ports on 127.0.0.1 (bound then released), from a random base, whose
 * internal ports (each + 10000) are free as well.
 */
export function freeUdpRange(count: number, tries = 50): number {
  for (let t = 0; t < tries; t++) {
    const base = 20_000 + Math.floor(Math.random() * (MAX_DEFAULT_CLIENT_PORT - 20_000 - count));
    const held: Deno.DatagramConn[] = [];
    try {
      for (let i = 0; i < count; i++) {
        held.push(Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: base + i }));
        held.push(
          Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: defaultInternalPort(base + i) }),
        );
      }
      return base;
    } catch {
      /* taken: another base */
    } finally {
      for (const c of held) c.close();
    }
  }
  throw new Error(`no ${count} consecutive free UDP ports found in ${tries} tries`);
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A `deno task cluster` running in its own temporary directory. */
export class ClusterDir {
  /** The directory (the user's current directory). */
  readonly dir: string;
  /** Node addresses. */
  readonly addresses: string[];
  /** The monitor's URL. */
  readonly monitorUrl: string;
  /** What the cluster command printed so far. */
  readonly output: string[] = [];
  #child: Deno.ChildProcess;
  #done: Promise<void>;

  private constructor(dir: string, addresses: string[], monitorUrl: string, child: Deno.ChildProcess) {
    this.dir = dir;
    this.addresses = addresses;
    this.monitorUrl = monitorUrl;
    this.#child = child;
    const lines = async (stream: ReadableStream<Uint8Array>) => {
      let rest = "";
      const dec = new TextDecoder();
      for await (const bytes of stream) {
        const parts = (rest + dec.decode(bytes, { stream: true })).split("\n");
        rest = parts.pop()!;
        this.output.push(...parts);
      }
    };
    this.#done = Promise.all([lines(child.stdout), lines(child.stderr)]).then(() => {});
  }

  /**
   * Starts `deno task cluster` (the cluster role, as the task runs it) with `nodes` nodes in a new directory;
   * `monitor: false` starts no monitor (the test runs its own, with shorter rounds).
   */
  static async start(options: { nodes?: number; allowRun?: boolean; monitor?: boolean } = {}): Promise<ClusterDir> {
    const n = options.nodes ?? 5;
    const dir = await Deno.makeTempDir({ prefix: "kvstore-cluster-dir-" });
    const base = freeUdpRange(n);
    const monitorPort = options.monitor === false ? 0 : freeTcpPort();
    const args = ["--nodes", String(n), "--base-port", String(base), "--monitor-port", String(monitorPort)];
    if (options.allowRun) args.push("--allow-run");
    const { cmd, args: argv } = roleCommand("cluster", args);
    const child = new Deno.Command(cmd, { args: argv, cwd: dir, stdout: "piped", stderr: "piped", stdin: "null" })
      .spawn();
    const addresses = Array.from({ length: n }, (_, i) => `127.0.0.1:${base + i}`);
    const c = new ClusterDir(dir, addresses, `http://127.0.0.1:${monitorPort}`, child);
    try {
      await waitUntil(() => c.output.some((l) => /nodes running; fleet file/.test(l)), {
        timeoutMs: 90_000,
        intervalMs: 50,
        what: () => `the cluster to start; output:\n${c.output.join("\n")}`,
      });
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** Runs kvctl in the cluster's directory, with no flags beyond `args`. */
  kvctl(args: string[], options: { stdin?: Uint8Array; limitMs?: number; env?: Record<string, string> } = {}) {
    return kvctl(args, { ...options, cwd: this.dir });
  }

  /** Polls until every node sees `count` members alive (kvctl members --count). */
  async waitForMembers(count = this.addresses.length, of = this.addresses): Promise<void> {
    await waitUntil(async () => {
      for (const a of of) {
        const r = await this.kvctl(["members", "--count", "--node", a]);
        if (r.stdout.trim() !== String(count)) return false;
      }
      return true;
    }, { timeoutMs: 60_000, intervalMs: 200, what: `${count} members alive on ${of.join(", ")}` });
  }

  /** The pid of the node at `address` (kvctl pid). */
  async pidOf(address: string): Promise<number> {
    const r: KvctlRun = await this.kvctl(["pid", "--node", address]);
    if (r.code !== 0) throw new Error(`kvctl pid --node ${address}: ${r.stderr}`);
    return Number(r.stdout.trim());
  }

  /** Stops the cluster (SIGTERM; after 20 s its nodes and itself are killed) and removes the directory. */
  async close(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* exited */ }
    try {
      await withTimeout(this.#child.status, 20_000, "the cluster command to stop");
    } catch {
      const pids = await Promise.all(this.addresses.map((a) => this.pidOf(a).catch(() => 0)));
      const left: number[] = [];
      for (const p of pids) if (p > 0 && !(await processGone(p))) left.push(p);
      if (left.length > 0) await stopPids(left);
      try {
        this.#child.kill("SIGKILL");
      } catch { /* exited */ }
      await this.#child.status;
    }
    await this.#done;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
