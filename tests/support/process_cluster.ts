/**
 * The fixture for clusters of real node processes on loopback UDP: free ports, a temporary directory with
 * the fleet file (`nodes.yaml`: cluster key, optionally an admin public key and a monitor), node processes
 * started with `startNodeProcess` (lib/roles/process_launcher.ts), clients, a wait for the membership, stop,
 * kill and restart of one node, and one `close()` that leaves no process and no file behind.
 *
 * With `admin: true` the cluster also has an admin key pair (`admin.key` in its directory), an admin
 * directory per node and an admin client; with `monitor: "in-process"` a monitor runs in this process and
 * the fleet file names it; `kvctl()` runs the real CLI in the cluster's directory.
 *
 * @example
 * ```ts ignore
 * const c = await ProcessCluster.start({ size: 3 });
 * try {
 *   await c.waitForMembers(3);
 *   await (await c.client(c.addresses[0])).put("k", "v");
 *   await c.kill(c.addresses[2]);
 * } finally {
 *   await c.close();
 * }
 * ```
 *
 * @module
 */
import { type ClientOptions, KVClient } from "../../lib/client/client.ts";
import { AdminClient } from "../../lib/admin/client.ts";
import { generateAdminKeys, importAdminPrivateKey } from "../../lib/admin/keys.ts";
import type { NodeResult } from "../../lib/admin/protocol.ts";
import { realClock } from "../../lib/base/clock.ts";
import { parseFleet } from "../../lib/config/fleet_file.ts";
import { UdpTransport } from "../../lib/net/udp_transport.ts";
import { ClusterDebugClient } from "../../lib/replication/debug_queries.ts";
import {
  freeUdpPorts,
  type PermissionSet,
  type RoleProcess,
  startNodeProcess,
  type StartWatch,
} from "../../lib/roles/process_launcher.ts";
import { type RunningMonitor, startMonitor } from "../../lib/roles/start_monitor.ts";
import { newClusterKey } from "../../lib/wire/fleet_auth.ts";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import { kvctl, type KvctlRun, pidsMentioning, stopPids } from "./child_processes.ts";
import { waitUntil } from "./real_time.ts";

/** How a {@linkcode ProcessCluster} is made. */
export interface ProcessClusterOptions {
  /** How many addresses (free UDP ports on 127.0.0.1) the cluster has. */
  size: number;
  /** How many of them (the first ones) the fleet file lists (default: all); the others join through them. */
  fleetSize?: number;
  /** The fleet's `name` (default: none). */
  name?: string;
  /** The fleet's `preset` (default: none, which is LAN). */
  preset?: "lan" | "wan";
  /** Cluster keys, signing key first (default: one new key). */
  clusterKeys?: string[];
  /** An admin key pair, an admin directory per node (`node<i>`) and an admin client. */
  admin?: boolean;
  /**
   * A monitor: `"in-process"` runs one here (reporting every 5 s, no TCP probe) and names it in the fleet
   * file; `{ url }` only names one (the test runs it).
   */
  monitor?: "in-process" | { url: string };
  /** Each node reads its own copy of the fleet file, in its admin directory (a script may edit it). */
  perNodeConfig?: boolean;
  /** Permission set of the node processes (default `node`; `node-admin` may run scripts). */
  permissionSet?: PermissionSet;
  /** Options of the clients {@linkcode ProcessCluster.client} opens. */
  clientOptions?: Partial<ClientOptions>;
  /** Signal `close()` stops the nodes with (default SIGKILL). */
  stopSignal?: Deno.Signal;
  /** Prefix of the temporary directory (default `kvstore-cluster-`). */
  dirPrefix?: string;
  /** How long a node may take to listen (default 30 s; a hundred nodes on two busy cores take longer). */
  startTimeoutMs?: number;
  /** Give a stuck node start up before `startTimeoutMs` (default: only the timeout). */
  startWatch?: StartWatch;
  /** Round interval of the in-process monitor (default 5 s). */
  monitorIntervalMs?: number;
}

/** How {@linkcode ProcessCluster.startNode} starts one node, where it differs from the cluster's options. */
export interface StartOptions {
  /** Its fleet file (default: the cluster's, or its own copy with `perNodeConfig`). */
  config?: string;
  /** Its permission set (default: the cluster's). */
  permissionSet?: PermissionSet;
  /** With `admin`: false starts it without `--admin-dir`. */
  adminDir?: boolean;
}

/** How {@linkcode ProcessCluster.waitForMembers} polls. */
export interface MembersWaitOptions {
  /** The nodes asked (default: every running node). */
  of?: string[];
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Pause between two rounds of questions (default 250 ms). */
  intervalMs?: number;
  /** Options of the client that asks each node (default: the cluster's client options). */
  client?: Partial<ClientOptions>;
  /** What is awaited, for the error at the deadline (default: `<count> members on each of <nodes>`). */
  what?: string;
}

/** A cluster of node processes: see the module documentation. */
export class ProcessCluster {
  /** The cluster's temporary directory (fleet file, admin key, admin directories, data). */
  readonly dir: string;
  /** UDP ports of the cluster's nodes, on 127.0.0.1. */
  readonly ports: number[];
  /** Addresses of the cluster's nodes (`127.0.0.1:<port>`), running or not. */
  readonly addresses: string[];
  /** The fleet file every node reads (unless `perNodeConfig`). */
  readonly fleetFile: string;
  /** Running node processes by address. */
  readonly procs = new Map<string, RoleProcess>();
  /** Admin directory of each node (with `admin`). */
  readonly adminDirs: string[];
  /** The admin private key file (with `admin`). */
  readonly keyFile: string;
  #options: ProcessClusterOptions;
  #clusterKeys: string[];
  #started = new Map<string, { args: string[]; options: StartOptions }>();
  #clients = new Map<string, KVClient>();
  #monitor?: RunningMonitor;
  #monitorUrl?: string;
  #admin?: { client: AdminClient; privateKey: CryptoKey; publicKey: string };

  private constructor(dir: string, options: ProcessClusterOptions) {
    this.dir = dir;
    this.#options = options;
    this.#clusterKeys = options.clusterKeys ?? [newClusterKey()];
    this.ports = freeUdpPorts(options.size);
    this.addresses = this.ports.map((p) => `127.0.0.1:${p}`);
    this.fleetFile = `${dir}/nodes.yaml`;
    this.adminDirs = this.addresses.map((_, i) => `${dir}/node${i}`);
    this.keyFile = `${dir}/admin.key`;
  }

  /** Makes the cluster's directory, fleet file, admin keys and monitor; starts no node. */
  static async create(options: ProcessClusterOptions): Promise<ProcessCluster> {
    const c = new ProcessCluster(await Deno.makeTempDir({ prefix: options.dirPrefix ?? "kvstore-cluster-" }), options);
    try {
      await c.#prepare();
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** {@linkcode ProcessCluster.create}, then starts the fleet file's nodes at once. */
  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    const c = await ProcessCluster.create(options);
    try {
      await c.startNodes(c.fleetAddresses);
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  async #prepare(): Promise<void> {
    if (this.#options.admin) {
      const k = await generateAdminKeys();
      await Deno.writeTextFile(this.keyFile, k.privateKeyFile);
      this.#admin = {
        privateKey: await importAdminPrivateKey(k.privateKeyFile),
        publicKey: k.publicKey,
        client: new AdminClient(await UdpTransport.listen("127.0.0.1", 0), realClock, {}, {
          auth: ClusterKeyring.fromHex(this.#clusterKeys),
        }),
      };
    }
    const monitor = this.#options.monitor;
    if (monitor === "in-process") {
      this.#monitor = await startMonitor({
        port: 0,
        fleet: parseFleet(this.fleetText(), "test"),
        config: { intervalMs: this.#options.monitorIntervalMs ?? 5_000 },
        tcpProbe: null,
      });
      this.#monitorUrl = this.#monitor.url;
    } else if (monitor) this.#monitorUrl = monitor.url;
    await this.writeFleet();
  }

  /** Addresses the fleet file lists. */
  get fleetAddresses(): string[] {
    return this.addresses.slice(0, this.#options.fleetSize ?? this.addresses.length);
  }

  /** The cluster keys the fleet file holds, signing key first. */
  get clusterKeys(): string[] {
    return this.#clusterKeys.slice();
  }

  /** URL of the monitor the fleet file names, if any. */
  get monitorUrl(): string {
    if (!this.#monitorUrl) throw new Error("this cluster has no monitor");
    return this.#monitorUrl;
  }

  /** The admin client (with `admin`): UDP, holding the cluster key. */
  get admin(): AdminClient {
    return this.#adminParts().client;
  }

  /** The admin private key (with `admin`). */
  get privateKey(): CryptoKey {
    return this.#adminParts().privateKey;
  }

  #adminParts() {
    if (!this.#admin) throw new Error("this cluster was made without admin: true");
    return this.#admin;
  }

  /** The fleet file's text: name, preset, cluster keys, admin key, monitor, nodes (in this order). */
  fleetText(): string {
    const o = this.#options;
    const keys = this.#clusterKeys;
    return [
      o.name ? `name: ${o.name}\n` : "",
      o.preset ? `preset: ${o.preset}\n` : "",
      keys.length === 1 ? `clusterKey: "${keys[0]}"\n` : `clusterKey: [${keys.map((k) => `"${k}"`).join(", ")}]\n`,
      this.#admin ? `adminPublicKey: ${this.#admin.publicKey}\n` : "",
      this.#monitorUrl ? `monitor:\n  url: ${this.#monitorUrl}\n` : "",
      `nodes:\n${this.fleetAddresses.map((a) => `  - ${a}\n`).join("")}`,
    ].join("");
  }

  /** (Re)writes the fleet file, with `clusterKeys` from now on when given (nodes read it again on SIGHUP). */
  async writeFleet(options: { clusterKeys?: string[] } = {}): Promise<void> {
    if (options.clusterKeys) this.#clusterKeys = options.clusterKeys.slice();
    await Deno.writeTextFile(this.fleetFile, this.fleetText());
  }

  /**
   * Starts the node at `address` with `--config` (the fleet file, or its own copy with `perNodeConfig`,
   * or `options.config`), `args`, and `--admin-dir` with `admin` (unless `options.adminDir` is false);
   * waits until it listens.
   */
  async startNode(address: string, args: string[] = [], options: StartOptions = {}): Promise<RoleProcess> {
    if (this.procs.has(address)) throw new Error(`${address} is running`);
    const i = this.addresses.indexOf(address);
    if (i < 0) throw new RangeError(`${address} is not an address of this cluster`);
    let config = options.config ?? this.fleetFile;
    const argv = [...args];
    if (this.#options.admin && options.adminDir !== false) argv.push("--admin-dir", this.adminDirs[i]);
    if (this.#options.perNodeConfig && !options.config) {
      await Deno.mkdir(this.adminDirs[i], { recursive: true });
      config = `${this.adminDirs[i]}/nodes.yaml`;
      await Deno.writeTextFile(config, this.fleetText());
    }
    this.#started.set(address, { args, options });
    const p = await startNodeProcess(this.ports[i], ["--config", config, ...argv], {
      permissionSet: options.permissionSet ?? this.#options.permissionSet,
      startTimeoutMs: this.#options.startTimeoutMs,
      startWatch: this.#options.startWatch,
    });
    this.procs.set(address, p);
    return p;
  }

  /** Starts the nodes at `addresses` at once (default: the fleet file's), each with `args`. */
  async startNodes(addresses: string[] = this.fleetAddresses, args: string[] = []): Promise<RoleProcess[]> {
    return await Promise.all(addresses.map((a) => this.startNode(a, args)));
  }

  /** The running process at `address`. */
  proc(address: string): RoleProcess {
    const p = this.procs.get(address);
    if (!p) throw new RangeError(`no node process at ${address}`);
    return p;
  }

  /** Stops the node at `address` with `signal` (SIGTERM: a graceful leave) and waits until it has exited. */
  async stop(address: string, signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const p = this.procs.get(address);
    this.procs.delete(address);
    this.#clients.get(address)?.close();
    this.#clients.delete(address);
    await p?.stop(signal);
  }

  /** Kills the node at `address` (SIGKILL, as kill -9) and waits until it has exited. */
  kill(address: string): Promise<void> {
    return this.stop(address, "SIGKILL");
  }

  /** Forgets the process at `address` that exited by itself (a shutdown request, a crash). */
  exited(address: string): void {
    this.procs.delete(address);
    this.#clients.get(address)?.close();
    this.#clients.delete(address);
  }

  /**
   * Starts the node at `address` again as it was last started (arguments and options), stopping it first
   * with `signal` if it runs.
   */
  async restart(address: string, signal: Deno.Signal = "SIGTERM"): Promise<RoleProcess> {
    await this.stop(address, signal);
    const last = this.#started.get(address);
    return await this.startNode(address, last?.args, last?.options);
  }

  /** A client of `address` with the cluster's client options, kept open until the node stops or `close()`. */
  async client(address: string): Promise<KVClient> {
    let c = this.#clients.get(address);
    if (!c) this.#clients.set(address, c = await KVClient.connect(address, this.#options.clientOptions));
    return c;
  }

  /** The membership count each of `of` answers (a fresh client each), -1 for a node that does not answer. */
  async membershipCounts(of: string[] = [...this.procs.keys()], client?: Partial<ClientOptions>): Promise<number[]> {
    return await Promise.all(of.map(async (a) => {
      const k = await KVClient.connect(a, client ?? this.#options.clientOptions);
      try {
        return await k.membershipCount();
      } catch {
        return -1;
      } finally {
        k.close();
      }
    }));
  }

  /** Polls until every node of `of` counts `count` members; resolves with the milliseconds that took. */
  async waitForMembers(count: number, options: MembersWaitOptions = {}): Promise<number> {
    const of = options.of ?? [...this.procs.keys()];
    const start = Date.now();
    await waitUntil(() => this.membershipCounts(of, options.client), {
      until: (counts) => counts.every((n) => n === count),
      timeoutMs: options.timeoutMs ?? 60_000,
      intervalMs: options.intervalMs ?? 250,
      what: `${options.what ?? `${count} members on each of ${of.join(", ")}`} (last value: the counts they answer)`,
    });
    return Date.now() - start;
  }

  /** A debug client holding the cluster keys (nodes answer nothing without them). */
  debugClient(): Promise<ClusterDebugClient> {
    return ClusterDebugClient.open("127.0.0.1", ClusterKeyring.fromHex(this.#clusterKeys));
  }

  /** The in-process monitor's view of admin command `id` (null if it has none). */
  async commandResults(id: string): Promise<NodeResult[] | null> {
    const res = await fetch(`${this.monitorUrl}/api/admin/commands/${id}`);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    return ((await res.json()) as { results: NodeResult[] }).results;
  }

  /** Runs the real kvctl in the cluster's directory (bounded by 5 minutes: a whole-cluster run takes a while). */
  kvctl(args: string[]): Promise<KvctlRun> {
    return kvctl(args, { cwd: this.dir, limitMs: 300_000 });
  }

  /**
   * Closes the clients; stops every node process (with `stopSignal`) and, at the same time, any other process
   * whose command line names the cluster's directory (a node restarted in place is not a child of this
   * process, and holds the output pipes of the child it replaced, so that child counts as exited only once
   * it is gone too); closes the monitor and removes the directory.
   */
  async close(): Promise<void> {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
    this.#admin?.client.close();
    const children = new Set([...this.procs.values()].map((p) => p.child.pid));
    const strays = pidsMentioning(this.dir).filter((pid) => !children.has(pid));
    await Promise.all([
      ...[...this.procs.values()].map((p) => p.stop(this.#options.stopSignal ?? "SIGKILL")),
      stopPids(strays),
    ]);
    this.procs.clear();
    await this.#monitor?.close();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
