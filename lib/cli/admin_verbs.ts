/**
 * kvctl admin verbs: `keygen`, `run`, `push`, `admin-status` (registered in
 * the `extraVerbs` map of lib/cli/kvctl.ts). See docs/admin.md.
 *
 * @module
 */
import { realClock } from "../clock.ts";
import type { FleetConfig } from "../config.ts";
import { fleetKeyring } from "../wire_auth.ts";
import { UdpTransport } from "../udp_transport.ts";
import { parseAddress } from "../transport.ts";
import { AdminClient, createCommand, submitSizeError } from "../admin/client.ts";
import { matchesSelector, selectorError, type SignedCommand } from "../admin/command.ts";
import {
  DEFAULT_ADMIN_CONFIG,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_COMMAND_LIFETIME_MS,
  DEFAULT_SCRIPT_TIMEOUT_MS,
} from "../admin/config.ts";
import { generateAdminKeys, importAdminPrivateKey, publicKeyOf, rawPublicKeyText } from "../admin/keys.ts";
import { FileChunkStore } from "../admin/chunk_store.ts";
import { buildManifest } from "../admin/manifest.ts";
import { isFinal, type NodeResult } from "../admin/protocol.ts";
import { extraVerbs } from "./kvctl.ts";
import { entryNodes, loadFleetOptional } from "./kvctl_target.ts";
import { parseDuration, parseFlags, parseSize, UsageError } from "./args.ts";
import { formatTable, ResultWatcher } from "../admin/watch.ts";
import { utf8Encoder } from "../bytes.ts";
import { ADMIN_HELP, ADMIN_STATUS_HELP, formatDuration, KEYGEN_HELP, PUSH_HELP, RUN_HELP } from "./admin_help.ts";

export { ADMIN_HELP };

/** The limits nodes enforce (lib/admin/config.ts defaults); kvctl checks them before sending. */
const LIMITS = DEFAULT_ADMIN_CONFIG;

const COMMON_FLAGS = {
  config: { type: "string" },
  key: { type: "string" },
  node: { type: "string" },
  nodes: { type: "string" },
  monitor: { type: "string" },
  expires: { type: "string" },
} as const;

interface Common {
  fleet?: FleetConfig;
  configPath?: string;
  privateKey: CryptoKey;
  selector: string;
  lifetimeMs: number;
  entry: string[];
  monitor?: string;
}

/** `--expires` in ms, checked against the lifetime nodes accept. */
function lifetimeOf(verb: string, values: Record<string, unknown>): number {
  const text = values.expires as string | undefined;
  if (text === undefined) return DEFAULT_COMMAND_LIFETIME_MS;
  const ms = parseDuration(text, "--expires");
  if (ms < 1) throw new UsageError(`kvctl ${verb}: --expires must be positive, e.g. --expires 1h`);
  if (ms > LIMITS.maxLifetimeMs) {
    const max = formatDuration(LIMITS.maxLifetimeMs);
    throw new UsageError(
      `kvctl ${verb}: --expires ${text} is longer than nodes accept (at most ${max}, ` +
        `${LIMITS.maxLifetimeMs / 86_400_000} days); pass --expires ${max} or less`,
    );
  }
  return ms;
}

async function common(verb: string, values: Record<string, unknown>): Promise<Common> {
  // Flags first: a usage mistake is reported before the fleet file and the key are read.
  const lifetimeMs = lifetimeOf(verb, values);
  const selector = (values.nodes as string | undefined) ?? "all";
  const bad = selectorError(selector);
  if (bad) throw new UsageError(`kvctl ${verb}: --nodes: ${bad}`);
  const node = values.node as string | undefined;
  if (node) {
    try {
      parseAddress(node);
    } catch (e) {
      throw new UsageError(`kvctl ${verb}: --node ${(e as Error).message}`);
    }
  }
  const { fleet, path } = await loadFleetOptional(values.config as string | undefined);
  const keyPath = (values.key as string | undefined) ?? "admin.key";
  let keyText: string;
  try {
    keyText = await Deno.readTextFile(keyPath);
  } catch {
    throw new UsageError(
      `kvctl ${verb}: cannot read the admin key ${keyPath}; create one with 'kvctl keygen' or pass --key`,
    );
  }
  const privateKey = await importAdminPrivateKey(keyText, keyPath);
  if (fleet?.adminPublicKey && rawPublicKeyText(fleet.adminPublicKey) !== await publicKeyOf(privateKey)) {
    throw new UsageError(
      `kvctl ${verb}: ${keyPath} does not match adminPublicKey in ${path}; nodes would reject the command`,
    );
  }
  const entry = entryNodes(node, fleet);
  if (entry.length === 0) {
    throw new UsageError(`kvctl ${verb}: no node to send to; pass --node ADDR or --config nodes.yaml`);
  }
  return { fleet, configPath: path, privateKey, selector, lifetimeMs, entry, monitor: monitorUrl(values, fleet) };
}

function monitorUrl(values: Record<string, unknown>, fleet?: FleetConfig): string | undefined {
  const url = (values.monitor as string | undefined) ?? fleet?.monitor?.url;
  return url?.replace(/\/+$/, "");
}

/** An admin endpoint near `entry`, signing its frames with the fleet's cluster key (nodes drop unsigned ones). */
async function openClient(entry: string, fleet: FleetConfig | undefined): Promise<AdminClient> {
  const host = parseAddress(entry).hostname;
  const loopback = host === "localhost" || host.startsWith("127.") || host === "::1";
  return new AdminClient(
    await UdpTransport.listen(loopback ? (host === "::1" ? "::1" : "127.0.0.1") : "0.0.0.0", 0),
    realClock,
    {},
    { auth: fleetKeyring(fleet) },
  );
}

/** Whether `path` exists (a dangling symlink counts: writing would follow it). */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function keygen(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl keygen", args, {
    out: { type: "string" },
    force: { type: "boolean" },
  });
  if (values.help) return print(KEYGEN_HELP);
  if (positionals.length > 0) throw new UsageError(`kvctl keygen: unexpected argument "${positionals[0]}"`);
  const out = values.out ?? "admin.key";
  if (!values.force) {
    for (const file of [out, `${out}.pub`]) {
      if (await exists(file)) {
        throw new UsageError(
          `kvctl keygen: ${file} already exists; pass --force to replace the key pair (every node then needs ` +
            `the new adminPublicKey), or --out another file`,
        );
      }
    }
  }
  const keys = await generateAdminKeys();
  const slash = out.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(out.slice(0, slash), { recursive: true });
  // The secret goes to a new file that only its owner can read (chmod: the umask may have taken
  // more bits), then replaces the old key in one rename: it is never readable by others.
  const tmp = `${out}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(tmp, keys.privateKeyFile, { mode: 0o600, createNew: true });
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, out);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await Deno.writeTextFile(`${out}.pub`, `${keys.publicKey}\n`);
  console.log(`wrote the private key to ${out} (mode 600, keep it secret) and the public key to ${out}.pub`);
  console.log(`add this line to nodes.yaml on every node:\n\nadminPublicKey: ${keys.publicKey}`);
  return 0;
}

function print(text: string): number {
  console.log(text);
  return 0;
}

/** Hands the command to a node and, with `wait`, follows it to the end. */
async function sendAndFollow(
  c: Common,
  client: AdminClient,
  signed: SignedCommand,
  wait: boolean,
  deadlineMs: number,
): Promise<number> {
  const entry = await client.submit(signed, c.entry);
  const id = signed.c.id;
  // Without a fleet file the targets are unknown: the watcher then counts nodes as they report (monitor),
  // or asks the node the command was handed to.
  const fleetTargets = (c.fleet?.nodes ?? []).filter((a) => matchesSelector(c.selector, a));
  const targets = fleetTargets.length > 0 || c.monitor || !matchesSelector(c.selector, entry) ? fleetTargets : [entry];
  console.error(`command ${id} handed to ${entry}; it spreads to every node (selector: ${c.selector})`);
  if (!wait) {
    console.error(
      c.monitor
        ? `follow it at ${c.monitor}/admin or with: kvctl admin-status ${id}`
        : `no monitor configured in the fleet file: follow it with: kvctl admin-status ${id} --config …`,
    );
    return 0;
  }
  const watcher = new ResultWatcher({ id, monitor: c.monitor, client, targets });
  await watcher.addMonitorNodes((a) => matchesSelector(c.selector, a));
  if (!c.monitor) console.error(`no monitor configured (monitor.url in nodes.yaml): asking the nodes directly`);
  const results = await watcher.follow(deadlineMs);
  console.log(formatTable(results, watcher.expected()));
  const missing = watcher.expected().filter((n) => !results.has(n)).length;
  const bad = [...results.values()].filter((r) => r.status !== "ok").length;
  return bad === 0 && missing === 0 && results.size > 0 ? 0 : 1;
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl run", args, {
    ...COMMON_FLAGS,
    timeout: { type: "string" },
    wait: { type: "boolean" },
    restart: { type: "boolean" },
  });
  if (values.help) return print(RUN_HELP);
  if (positionals.length !== 1) {
    throw new UsageError("kvctl run: give one script file, e.g. kvctl run fix.sh --nodes all --wait");
  }
  let script: string;
  try {
    script = await Deno.readTextFile(positionals[0]);
  } catch (e) {
    throw new UsageError(`kvctl run: cannot read ${positionals[0]}: ${(e as Error).message}`);
  }
  // The node's limits, checked here so that nothing is sent that a node would refuse.
  const scriptBytes = utf8Encoder.encode(script).length;
  if (scriptBytes > LIMITS.maxScriptBytes) {
    throw new UsageError(
      `kvctl run: ${positionals[0]} is ${scriptBytes.toLocaleString("en-US")} bytes but nodes accept scripts of ` +
        `at most ${LIMITS.maxScriptBytes.toLocaleString("en-US")} bytes (${LIMITS.maxScriptBytes / 1024} KiB, ` +
        `one UDP datagram); shorten it, or copy the bulk with 'kvctl push' and run a short script that uses it`,
    );
  }
  const timeoutMs = values.timeout ? parseDuration(values.timeout, "--timeout") : DEFAULT_SCRIPT_TIMEOUT_MS;
  if (timeoutMs < 1) throw new UsageError("kvctl run: --timeout must be positive");
  if (timeoutMs > LIMITS.maxTimeoutMs) {
    const max = formatDuration(LIMITS.maxTimeoutMs);
    throw new UsageError(
      `kvctl run: --timeout ${values.timeout} is longer than nodes allow (at most ${max}); pass --timeout ${max} ` +
        `or less`,
    );
  }
  const c = await common("run", values);
  const signed = await createCommand(c.privateKey, {
    run: { script, timeoutMs, ...(values.restart ? { restart: true } : {}) },
  }, { selector: c.selector, lifetimeMs: c.lifetimeMs });
  const tooBig = submitSizeError(signed);
  if (tooBig) {
    throw new UsageError(
      `kvctl run: ${tooBig} (${positionals[0]} grows as its quotes, backslashes and control characters are ` +
        `escaped); shorten the script, or copy the bulk with 'kvctl push'`,
    );
  }
  const client = await openClient(c.entry[0], c.fleet);
  try {
    return await sendAndFollow(c, client, signed, values.wait === true, Math.min(c.lifetimeMs, timeoutMs + 60_000));
  } finally {
    client.close();
  }
}

async function push(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl push", args, {
    ...COMMON_FLAGS,
    to: { type: "string" },
    mode: { type: "string" },
    timeout: { type: "string" },
    "chunk-size": { type: "string" },
  });
  if (values.help) return print(PUSH_HELP);
  if (positionals.length !== 1 || !values.to) {
    throw new UsageError(
      "kvctl push: give one file and --to PATH, e.g. kvctl push dist/kvstore-node --to bin/kvstore-node",
    );
  }
  const file = positionals[0];
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(file);
  } catch (e) {
    throw new UsageError(`kvctl push: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!stat.isFile) throw new UsageError(`kvctl push: ${file} is not a regular file`);
  let mode = (stat.mode ?? 0o644) & 0o7777;
  if (values.mode !== undefined) {
    if (!/^[0-7]{3,4}$/.test(values.mode)) {
      throw new UsageError(`kvctl push: --mode "${values.mode}" is not octal like 755`);
    }
    mode = parseInt(values.mode, 8);
  }
  const chunkSize = values["chunk-size"] ? parseSize(values["chunk-size"], "--chunk-size") : DEFAULT_CHUNK_SIZE;
  if (chunkSize < 1024 || chunkSize > 48 * 1024 || chunkSize % 32 !== 0) {
    throw new UsageError("kvctl push: --chunk-size must be a multiple of 32 between 1KiB and 48KiB");
  }
  const timeoutMs = values.timeout ? parseDuration(values.timeout, "--timeout") : 600_000;
  const c = await common("push", values);
  const t0 = performance.now();
  const manifest = await buildManifest(file, chunkSize);
  const spec = { ...manifest.spec, path: values.to, mode };
  const signed = await createCommand(c.privateKey, { push: spec }, { selector: c.selector, lifetimeMs: c.lifetimeMs });
  console.error(
    `${file}: ${spec.size} bytes, SHA-256 ${spec.sha256}, ${Math.ceil(spec.size / chunkSize)} chunks ` +
      `(hashed in ${Math.round(performance.now() - t0)} ms)`,
  );
  const client = await openClient(c.entry[0], c.fleet);
  const store = await FileChunkStore.source(file);
  client.serve(signed.c.id, spec, manifest, store);
  try {
    // kvctl is the first source of the chunks, so it stays until the nodes have the file.
    const code = await sendAndFollow(c, client, signed, true, Math.min(c.lifetimeMs, timeoutMs));
    const secs = (performance.now() - t0) / 1000;
    console.error(`served ${client.served(signed.c.id)} chunks from here in ${secs.toFixed(1)} s`);
    return code;
  } finally {
    client.close();
  }
}

async function status(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl admin-status", args, {
    config: { type: "string" },
    monitor: { type: "string" },
    node: { type: "string" },
  });
  if (values.help) return print(ADMIN_STATUS_HELP);
  const { fleet } = await loadFleetOptional(values.config);
  const monitor = monitorUrl(values, fleet);
  const id = positionals[0];
  if (!id) {
    if (!monitor) {
      throw new UsageError("kvctl admin-status: listing commands needs a monitor (monitor.url or --monitor)");
    }
    const res = await fetch(`${monitor}/api/admin/commands`);
    const body = await res.json() as {
      commands: {
        id: string;
        command: { kind: string; selector: string; issuedAt: number };
        counts: { done: number; reported: number };
      }[];
    };
    if (body.commands.length === 0) console.log("no admin commands on the monitor yet");
    for (const c of body.commands) {
      console.log(
        `${c.id}  ${c.command.kind.padEnd(4)}  ${
          new Date(c.command.issuedAt).toISOString()
        }  ${c.counts.done}/${c.counts.reported} done  nodes ${c.command.selector}`,
      );
    }
    return 0;
  }
  const nodes = values.node ? [values.node] : fleet?.nodes ?? [];
  if (!monitor && nodes.length === 0) {
    throw new UsageError("kvctl admin-status: pass --monitor URL, --config or --node");
  }
  const client = await openClient(nodes[0] ?? "127.0.0.1:1", fleet);
  try {
    const watcher = new ResultWatcher({ id, monitor, client, targets: nodes });
    const results = await watcher.poll();
    console.log(formatTable(results, watcher.expected()));
    return [...results.values()].every((r) => isFinal(r.status)) ? 0 : 1;
  } finally {
    client.close();
  }
}

extraVerbs.set("keygen", { help: ADMIN_HELP, run: keygen });
extraVerbs.set("run", { help: "", run });
extraVerbs.set("push", { help: "", run: push });
extraVerbs.set("admin-status", { help: "", run: status });

export type { NodeResult };
