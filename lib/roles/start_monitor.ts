/**
 * Assembles a running monitor: UDP socket for rounds, the logic, the HTTP
 * server (listenHttp from lib/net/http_listener.ts + Hono), live updates and optional persistence.
 *
 * @module
 */
import { InternalAddressBook } from "../net/internal_address.ts";
import { type Clock, realClock, type TimerId } from "../base/clock.ts";
import { importClusterKeys } from "../wire/http_key.ts";
import { clusterKeysOf, type FleetConfig } from "../config/fleet_file.ts";
import type { Random } from "../base/random.ts";
import { formatAddress, parseAddress, type Transport } from "../net/transport.ts";
import { UdpTransport } from "../net/udp_transport.ts";
import { reportUrl } from "../monitoring/agent/attach.ts";
import type { Hono } from "hono";
import { createMonitorApp } from "../monitoring/server/app.ts";
import { registerAdminRoutes } from "../admin/monitor/routes.ts";
import { DEFAULT_MONITOR_CONFIG, type MonitorConfig } from "../monitoring/server/config.ts";
import { Coalescer, EventHub } from "../monitoring/server/events.ts";
import { Monitor } from "../monitoring/server/monitor.ts";
import { renderRowById, renderSummary } from "../monitoring/server/page.ts";
import {
  loadSnapshot,
  saveSnapshot,
  setAsideSnapshot,
  SNAPSHOT_FILE,
  UnusableSnapshotError,
} from "../monitoring/server/persist.ts";
import type { TcpProbe } from "../monitoring/server/probe.ts";
import { fleetKeyring } from "../wire/fleet_auth.ts";
import { type HttpListener, type HttpListenerOptions, listenHttp } from "../net/http_listener.ts";
import { Refusals } from "../net/refusals.ts";
import { FleetQueryClient } from "../monitoring/fleet/dump.ts";
import { fillFromFleet } from "../monitoring/server/fleet_fill.ts";

/** Fleet nodes asked for their table at start, at most (each gets one short try). */
const FILL_TRIES = 3;
/** Per-attempt timeout of that query (ms). */
const FILL_TIMEOUT_MS = 300;

/** How to start a monitor. */
export interface StartMonitorOptions {
  /** HTTP interface (default 127.0.0.1). */
  host?: string;
  /** HTTP port (default 8080; 0 picks a free one). */
  port?: number;
  /**
   * UDP interface for round messages (default: the fleet's monitor.udp host, else the HTTP host,
   * or all interfaces when that is loopback and the fleet has nodes on other hosts).
   */
  udpHost?: string;
  /** UDP port (default: the fleet's monitor.udp port, else 0 = any). */
  udpPort?: number;
  /** A transport to use instead of binding UDP (simulation). */
  transport?: Transport;
  /** Time source (default real time). */
  clock?: Clock;
  /** Random source. */
  random?: Random;
  /** The fleet file: nodes, cluster key, name. */
  fleet?: FleetConfig;
  /** Base URL nodes report to (default: the fleet's monitor.url, else http://host:port). */
  publicUrl?: string;
  /** Tunables. */
  config?: Partial<MonitorConfig>;
  /** Keep history in this directory across restarts. */
  dataDir?: string;
  /** Start rounds at once (default true). */
  autoStart?: boolean;
  /** TCP step of probes (null = skip). */
  tcpProbe?: TcpProbe | null;
  /** Limits of the HTTP listener (connection cap, timeouts); defaults in lib/net/http_listener.ts. */
  http?: Partial<Pick<HttpListenerOptions, "maxConnections" | "headerTimeoutMs" | "idleTimeoutMs" | "writeTimeoutMs">>;
  /** Times this monitor was restarted by its supervisor (shown on the page). */
  restarts?: number;
  /** Before the first round, fill the view from a fleet node's table (default false; the monitor command does). */
  fillFromFleet?: boolean;
}

/** A running monitor. */
export interface RunningMonitor {
  /** The logic. */
  monitor: Monitor;
  /** The Hono app (for `app.request` in tests). */
  app: Hono;
  /** Live-update streams. */
  hub: EventHub;
  /** The HTTP listener (limits, refusals, open connections). */
  http: HttpListener;
  /** Base URL of the HTTP server as bound. */
  url: string;
  /** URL put in round messages. */
  reportUrl: string;
  /** UDP address rounds are sent from. */
  udpAddress: string;
  /** Saves history (with a data dir), stops rounds, streams and the server. */
  close(): Promise<void>;
}

/**
 * Starts the status server.
 *
 * @example
 * ```ts ignore
 * const m = await startMonitor({ port: 0, fleet, config: { intervalMs: 1000 } });
 * console.log(m.url);
 * await m.close();
 * ```
 */
export async function startMonitor(options: StartMonitorOptions = {}): Promise<RunningMonitor> {
  const clock = options.clock ?? realClock;
  const config = { ...DEFAULT_MONITOR_CONFIG, ...options.config };
  const fleet = options.fleet;
  const host = options.host ?? "127.0.0.1";
  // The first key signs rounds; reports signed with any key of the list are accepted (a rotation).
  const clusterKeys = await importClusterKeys(fleet ? clusterKeysOf(fleet) : []);
  const transport = options.transport ?? await bindRoundSocket(options, host);
  const ready: { app?: Hono } = {};
  const refusals = new Refusals();
  const server = listenMonitorHttp(options, host, transport, refusals, ready);
  const bound = `http://${formatAddress(server.addr.hostname, server.addr.port)}`;
  const monitor = new Monitor({
    transport,
    clock,
    random: options.random,
    config,
    clusterKey: clusterKeys[0],
    frameAuth: fleetKeyring(fleet),
    internalAddresses: new InternalAddressBook(fleet?.internalAddresses),
    reportUrl: reportUrl(options.publicUrl ?? fleet?.monitor?.url ?? bound),
    fleetNodes: fleet?.nodes,
    name: fleet?.name,
    tcpProbe: options.tcpProbe,
  });
  monitor.server = { http: server, restarts: options.restarts ?? 0 };
  // False when a snapshot that cannot be used could not be moved aside either: saving would overwrite it.
  const persist = options.dataDir ? await restoreHistory(monitor, options.dataDir) : false;
  const { hub, coalescer } = liveUpdates(monitor, config, clock, refusals);
  const verifyKeys = clusterKeys.length > 0 ? clusterKeys : undefined;
  const app = ready.app = createMonitorApp({
    monitor,
    hub,
    clusterKey: verifyKeys,
    refusals,
    extraRoutes: (app) => registerAdminRoutes(app, { clusterKey: verifyKeys, refusals }),
  });
  const history = historySaver(monitor, persist ? options.dataDir : undefined, clock, config.persistIntervalMs);
  if (options.fillFromFleet) await fillFromAnyNode(monitor, fleet);
  if (options.autoStart ?? true) monitor.start();

  let closed: Promise<void> | undefined;
  return {
    monitor,
    app,
    hub,
    http: server,
    url: bound,
    reportUrl: monitor.reportUrl,
    udpAddress: transport.address,
    close: () =>
      closed ??= (async () => {
        history.stop();
        coalescer.close();
        await monitor.close();
        await history.save();
        hub.close();
        await server.close();
        transport.close();
        await (transport as UdpTransport).closed;
      })(),
  };
}

/**
 * The UDP socket rounds are sent from: the fleet's monitor.udp, else the HTTP host (all interfaces
 * when that is loopback and the fleet has nodes elsewhere: rounds must reach them).
 */
async function bindRoundSocket(options: StartMonitorOptions, host: string): Promise<Transport> {
  const fleet = options.fleet;
  const fleetUdp = fleet?.monitor?.udp ? parseAddress(fleet.monitor.udp) : undefined;
  const loopback = (h: string) => /^(127\.|localhost$|::1$|\[::1\])/.test(h);
  const remoteNodes = (fleet?.nodes ?? []).some((a) => !loopback(parseAddress(a).hostname));
  const udpHost = options.udpHost ?? fleetUdp?.hostname ?? (loopback(host) && remoteNodes ? "0.0.0.0" : host);
  return await UdpTransport.listen(udpHost, options.udpPort ?? fleetUdp?.port ?? 0);
}

/** The HTTP listener (answering 503 until `ready.app` is set); closes `transport` when it cannot listen. */
function listenMonitorHttp(
  options: StartMonitorOptions,
  host: string,
  transport: Transport,
  refusals: Refusals,
  ready: { app?: Hono },
): HttpListener {
  try {
    return listenHttp({
      hostname: host,
      port: options.port ?? 8080,
      refusals,
      name: "monitor",
      ...options.http,
      handler: (req, info) => ready.app ? ready.app.fetch(req, info) : new Response("starting", { status: 503 }),
    });
  } catch (e) {
    transport.close();
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `Cannot listen on HTTP ${
          formatAddress(host, options.port ?? 8080)
        }: the port is in use; pick another with --port`,
      );
    }
    throw e;
  }
}

/**
 * Restores the history saved in `dir`. A snapshot that cannot be used is renamed aside so the next
 * save cannot overwrite it; false when that failed too (the history is then not saved this run).
 */
async function restoreHistory(monitor: Monitor, dir: string): Promise<boolean> {
  try {
    const snap = await loadSnapshot(dir);
    if (snap) monitor.restore(snap);
    return true;
  } catch (e) {
    const unusable = e instanceof UnusableSnapshotError;
    const what = unusable
      ? `cannot use ${e.path}: ${e.problem}`
      : `cannot restore ${dir}/${SNAPSHOT_FILE}: ${(e as Error).message}`;
    try {
      const aside = await setAsideSnapshot(dir);
      console.error(
        `monitor: ${what}; moved it to ${aside}, ${
          unusable ? "starting with an empty history" : "keeping what was restored before the error"
        }`,
      );
      return true;
    } catch (m) {
      console.error(
        `monitor: ${what}; cannot move it aside either (${
          (m as Error).message
        }), so the history is not saved this run and the file stays as it is`,
      );
      return false;
    }
  }
}

/** The live-update streams, fed by a coalescer of the monitor's changes (rendering only while someone watches). */
function liveUpdates(
  monitor: Monitor,
  config: MonitorConfig,
  clock: Clock,
  refusals: Refusals,
): { hub: EventHub; coalescer: Coalescer } {
  const hub = new EventHub({
    maxClients: config.maxSseClients,
    keepAliveMs: config.sseKeepAliveMs,
    maxQueuedBytes: config.sseMaxQueuedBytes,
    onSlowClient: () => refusals.add("sse_slow"),
  }, clock);
  const coalescer = new Coalescer(config.sseFlushMs, clock, (ids, removed, _round) => {
    if (hub.clients === 0) return; // nobody watching: render nothing
    const rows = ids.map((id) => ({ id, html: renderRowById(monitor, id) })).filter((r) => r.html !== "");
    const events: [string, unknown][] = [];
    if (rows.length > 0) events.push(["rows", rows]);
    if (removed.length > 0) events.push(["removed", removed]);
    events.push(["summary", { html: renderSummary(monitor) }]);
    hub.publishAll(events);
  });
  monitor.onChange((c) => coalescer.mark(c.nodes, c.removed, c.round || c.nodes.length > 0));
  return { hub, coalescer };
}

/**
 * Saves the history to `dir` every `intervalMs` (nothing without a dir); `save` saves now, after
 * any save in progress, and `stop` ends the saves by time.
 */
function historySaver(
  monitor: Monitor,
  dir: string | undefined,
  clock: Clock,
  intervalMs: number,
): { save: () => Promise<void>; stop: () => void } {
  let timer: TimerId | undefined;
  let saving: Promise<void> = Promise.resolve();
  const save = () => {
    if (dir === undefined) return saving;
    saving = saving.then(() => saveSnapshot(dir, monitor.snapshot())).catch((e) => {
      console.error(`monitor: cannot save history to ${dir}: ${(e as Error).message}`);
    });
    return saving;
  };
  if (dir !== undefined) {
    const tick = () => {
      save();
      timer = clock.setTimeout(tick, intervalMs);
    };
    timer = clock.setTimeout(tick, intervalMs);
  }
  return { save, stop: () => timer !== undefined && clock.clearTimeout(timer) };
}

/** Fills the monitor's view from the table of the first fleet node that answers (quietly gives up). */
async function fillFromAnyNode(monitor: Monitor, fleet: FleetConfig | undefined): Promise<void> {
  const nodes = [...(fleet?.nodes ?? [])].sort(() => Math.random() - 0.5).slice(0, FILL_TRIES);
  if (nodes.length === 0) return;
  let client: FleetQueryClient;
  try {
    const remote = nodes.some((a) => !/^(127\.|localhost$)/.test(parseAddress(a).hostname));
    client = await FleetQueryClient.open(
      remote ? "0.0.0.0" : "127.0.0.1",
      fleetKeyring(fleet),
      new InternalAddressBook(fleet?.internalAddresses),
    );
  } catch {
    return;
  }
  try {
    for (const node of nodes) {
      try {
        const snap = await client.fetch(node, { timeoutMs: FILL_TIMEOUT_MS, retries: 1 });
        const n = fillFromFleet(monitor, snap);
        console.log(`monitor: filled ${n} nodes from the fleet table of ${snap.answeredBy}`);
        return;
      } catch { /* next node */ }
    }
  } finally {
    client.close();
  }
}
