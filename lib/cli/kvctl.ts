/**
 * `kvctl`: the command-line client.
 *
 * @module
 */
import { KVClient } from "../client/client.ts";
import { KeyNotFoundError } from "../client/errors.ts";
import { hexKey, toKey } from "../client/keys.ts";
import { utf8Encoder } from "../base/bytes.ts";
import { parseDuration, parseFlags, parseInteger, UsageError } from "../base/cli_args.ts";
import { firstAnswering, resolveTargets, type Targets } from "./kvctl_target.ts";
import { membersVerb } from "./kvctl_members.ts";
import type { KvctlVerb } from "./kvctl_verb.ts";
import { ADMIN_VERBS } from "./admin_verbs.ts";
import { UPGRADE_VERB } from "./upgrade_verb.ts";
import { BENCH_VERB } from "./bench_verb.ts";
import { sendDestructive } from "./kvctl_destructive.ts";
import { Command } from "../wire/client_protocol.ts";
import { CONFIG_VERB, versionVerb } from "./config_verb.ts";
import { DATA_VERB_HELP } from "./kvctl_help.ts";
import { EXIT, EXIT_CODE_HELP, withExitCode } from "./exit_codes.ts";
import { JSON_FLAG, jsonValue, printJson } from "./json_output.ts";
import { STATUS_VERB } from "./kvctl_status.ts";

/** Help text of kvctl. */
export const KVCTL_HELP = `Usage: kvctl <verb> [arguments] [options]

Verbs:
  put KEY [VALUE]     store VALUE (or --file F, or standard input) under KEY
  get KEY             print the value of KEY (raw bytes; a newline is added on a terminal)
  remove KEY          delete KEY
  members             list the members the node knows, with their state (alive, suspect,
                      dead, left); --count prints only how many it believes alive
  is-alive            check that the node answers
  pid                 print the node's process id
  wipeout             delete every key on the node (asks on a terminal unless --yes; with a
                      fleet file holding a clusterKey, the request carries a proof made with
                      it, so the node accepts it from any host)
  shutdown            stop the node at once (asks and is proven the same way)
  config              which fleet file and admin key kvctl uses, and why
  --version           kvctl's version and the wire versions it speaks

Options:
  --node ADDR         node to talk to (default $KVSTORE_NODE; without either, the nodes of the
                      fleet file are tried in turn until one answers; without a fleet file,
                      127.0.0.1:4000). is-alive, pid, wipeout and shutdown act on one node: they
                      need --node or $KVSTORE_NODE when the fleet file lists several
  --config FILE       fleet file (default $KVSTORE_CONFIG, else .kvstore-cluster/nodes.yaml as
                      written by 'deno task cluster', else ./nodes.yaml): its nodes, and its
                      clusterKey, which members needs to ask a node of a keyed fleet and
                      shutdown and wipeout need to prove themselves to a node on another host
  --hex               KEY is hex (up to 64 digits) instead of UTF-8 text
  --file F            read the value for put from file F
  --count             members: print only the number of live members (for scripts)
  --empty             put: store an empty value (an empty standard input is refused otherwise)
  --json              print one JSON document per run (each verb's --help shows its shape)
  --yes               wipeout, shutdown: do not ask for confirmation
  --timeout D         first timeout, doubled on each retry (default 100ms)
  --retries N         retries with the same request id, per node (default 3)
  -h, --help          show this help ('kvctl VERB --help' for one verb)

Keys are at most 32 bytes (text is UTF-8, zero-padded). Values are at most 15,000 bytes.

${EXIT_CODE_HELP}`;

const VERBS = new Set(["put", "get", "remove", "members", "is-alive", "pid", "wipeout", "shutdown"]);
/** Verbs about one particular node: never sent to a node picked from the fleet file. */
const SINGLE_NODE_VERBS = new Set(["is-alive", "pid", "wipeout", "shutdown"]);

/** The verbs beyond the data verbs: admin, upgrade, bench. A new verb is one more entry here. */
const extraVerbs = new Map<string, KvctlVerb>([
  ...Object.entries(ADMIN_VERBS),
  ["upgrade", UPGRADE_VERB],
  ["bench", BENCH_VERB],
  ["config", CONFIG_VERB],
  ["status", STATUS_VERB],
]);

const NEWLINE = 0x0a;

/**
 * What `kvctl get` writes for `value`: the raw bytes, plus a newline when stdout is a terminal
 * and the value does not already end with one (so the shell prompt starts on its own line).
 *
 * @example
 * ```ts
 * const v = new TextEncoder().encode("hello");
 * console.log(getOutput(v, true).length, getOutput(v, false).length); // 6 5
 * ```
 */
export function getOutput(value: Uint8Array, isTerminal: boolean): Uint8Array {
  if (!isTerminal || value.at(-1) === NEWLINE) return value;
  const out = new Uint8Array(value.length + 1);
  out.set(value);
  out[value.length] = NEWLINE;
  return out;
}

/**
 * Runs one kvctl invocation; returns the exit code.
 *
 * @example
 * ```ts ignore
 * const code = await kvctlCommand(["get", "greeting", "--node", "127.0.0.1:4000"]);
 * ```
 */
export async function kvctlCommand(args: string[]): Promise<number> {
  try {
    return await kvctlVerb(args);
  } catch (e) {
    throw withExitCode(e); // exit codes 1, 2, 3 as lib/cli/exit_codes.ts documents
  }
}

async function kvctlVerb(args: string[]): Promise<number> {
  const verb = args[0];
  if (verb === "--version" || verb === "-V" || verb === "version") return await versionVerb(args.slice(1));
  if (!verb || verb === "--help" || verb === "-h" || verb === "help") {
    console.log(KVCTL_HELP + [...extraVerbs.values()].map((v) => v.help).join(""));
    return verb ? 0 : 2;
  }
  const extra = extraVerbs.get(verb);
  if (extra) return await extra.run(args.slice(1));
  if (!VERBS.has(verb)) {
    throw new UsageError(
      `kvctl: unknown verb "${verb}". Verbs: ${[...VERBS, ...extraVerbs.keys()].join(", ")}. Run kvctl --help.`,
    );
  }
  return await dataVerb(verb, args.slice(1));
}

/** The options of the data verbs (put, get, …, shutdown). */
const DATA_FLAGS = {
  node: { type: "string" },
  config: { type: "string" },
  hex: { type: "boolean" },
  file: { type: "string" },
  count: { type: "boolean" },
  timeout: { type: "string" },
  retries: { type: "string" },
  empty: { type: "boolean" },
  yes: { type: "boolean" },
  ...JSON_FLAG,
} as const;

/** The parsed options of a data verb. */
type DataFlags = ReturnType<typeof parseFlags<typeof DATA_FLAGS>>["values"];

/** One data verb, checked and resolved: what it acts on and how it reaches the nodes. */
interface DataRun {
  verb: string;
  flags: DataFlags;
  /** KEY as typed (for --json). */
  keyText: string | undefined;
  key: Uint8Array | undefined;
  value: Uint8Array | undefined;
  targets: Targets;
  clientOptions: { timeoutMs?: number; retries?: number };
  json: boolean;
}

/** A data verb: its flags and arguments checked, then the request sent. */
async function dataVerb(verb: string, args: string[]): Promise<number> {
  const { values: flags, positionals } = parseFlags(`kvctl ${verb}`, args, DATA_FLAGS);
  if (flags.help) {
    console.log(DATA_VERB_HELP[verb] ?? KVCTL_HELP);
    return 0;
  }
  checkDataArgs(verb, flags, positionals);
  const key = keyVerb(verb) ? parseKeyArg(verb, positionals[0], flags.hex === true) : undefined;
  const value = verb === "put" ? await readValue(positionals[1], flags.file, flags.empty === true) : undefined;
  const targets = await dataTargets(verb, flags);
  const clientOptions = {
    timeoutMs: flags.timeout ? parseDuration(flags.timeout, "--timeout") : undefined,
    retries: flags.retries ? parseInteger(flags.retries, "--retries", 0, 20) : undefined,
  };
  const run = { verb, flags, keyText: positionals[0], key, value, targets, clientOptions, json: flags.json === true };
  return await runDataVerb(run);
}

/** Verbs that take a KEY. */
function keyVerb(verb: string): boolean {
  return verb === "put" || verb === "get" || verb === "remove";
}

/** Usage errors: options of another verb, a missing KEY, extra arguments. */
function checkDataArgs(verb: string, flags: DataFlags, positionals: string[]): void {
  if (flags.empty && verb !== "put") throw new UsageError(`kvctl ${verb}: --empty is an option of put`);
  if (flags.yes && !SINGLE_NODE_VERBS.has(verb)) {
    throw new UsageError(`kvctl ${verb}: --yes is an option of wipeout and shutdown`);
  }
  if (flags.count && verb !== "members") throw new UsageError(`kvctl ${verb}: --count is an option of members`);
  const needsKey = keyVerb(verb);
  const maxArgs = verb === "put" ? 2 : needsKey ? 1 : 0;
  if (needsKey && positionals.length === 0) {
    throw new UsageError(`kvctl ${verb}: missing KEY. Example: kvctl ${verb} user:1${verb === "put" ? " hello" : ""}`);
  }
  if (positionals.length > maxArgs) {
    throw new UsageError(`kvctl ${verb}: unexpected argument "${positionals[maxArgs]}"`);
  }
}

/** KEY as bytes (UTF-8 text, or hex with --hex); a bad one is a usage error. */
function parseKeyArg(verb: string, text: string, hex: boolean): Uint8Array {
  try {
    return hex ? hexKey(text) : toKey(text);
  } catch (e) {
    throw new UsageError(`kvctl ${verb}: bad key: ${(e as Error).message}`);
  }
}

/** The nodes a data verb talks to: --node, $KVSTORE_NODE, or the fleet file. */
async function dataTargets(verb: string, flags: DataFlags): Promise<Targets> {
  let envNode: string | undefined;
  try {
    envNode = Deno.env.get("KVSTORE_NODE");
  } catch { /* no env permission */ }
  return await resolveTargets(verb, {
    node: flags.node,
    config: flags.config,
    env: envNode || undefined,
    single: SINGLE_NODE_VERBS.has(verb),
    wantFleet: (verb === "members" && !flags.count) || verb === "wipeout" || verb === "shutdown",
  });
}

/** Runs `f` with a client of the first target that answers; a missing key names the node. */
function onFirst<T>(run: DataRun, f: (c: KVClient) => Promise<T>): Promise<{ value: T; node: string }> {
  return firstAnswering(run.targets, async (address) => {
    const client = await KVClient.connect(address, run.clientOptions);
    try {
      return await f(client);
    } catch (e) {
      if (e instanceof KeyNotFoundError) throw new Error(`key not found on ${address}`);
      throw e;
    } finally {
      client.close();
    }
  });
}

/** Sends the data verb and prints its outcome; resolves with the exit code. */
async function runDataVerb(run: DataRun): Promise<number> {
  switch (run.verb) {
    case "put":
    case "get":
    case "remove":
      return await runKeyVerb(run);
    case "members":
      return await membersVerb(run.targets, run.clientOptions, run.flags.count === true, run.json);
    case "is-alive":
    case "pid":
      return await runNodeQuery(run);
    case "wipeout":
    case "shutdown":
      return await runDestructive(run);
  }
  return 2;
}

/** put, get, remove. */
async function runKeyVerb(run: DataRun): Promise<number> {
  const { json, keyText, key, value } = run;
  const via = (node: string) => run.targets.nodes.length > 1 ? ` (via ${node})` : "";
  if (run.verb === "put") {
    const { node } = await onFirst(run, (c) => c.put(key!, value!));
    if (json) return printJson({ key: keyText, bytes: value!.length, node });
    console.error(`stored ${value!.length} bytes${via(node)}`);
    return 0;
  }
  if (run.verb === "get") {
    const { value: v, node } = await onFirst(run, (c) => c.get(key!));
    if (json) return printJson({ key: keyText, ...jsonValue(v as Uint8Array), node });
    await writeAll(getOutput(v as Uint8Array, Deno.stdout.isTerminal()));
    return 0;
  }
  const { node } = await onFirst(run, (c) => c.remove(key!));
  if (json) return printJson({ key: keyText, removed: true, node });
  console.error(`removed${via(node)}`);
  return 0;
}

/** is-alive, pid: questions to one node. */
async function runNodeQuery(run: DataRun): Promise<number> {
  if (run.verb === "is-alive") {
    const target = run.targets.nodes[0];
    const { value: alive } = await onFirst(run, (c) => c.isAlive());
    if (run.json) printJson({ node: target, alive });
    else console.log(alive ? `${target} is alive` : `${target} does not answer`);
    return alive ? EXIT.ok : EXIT.noAnswer;
  }
  const { value: pid, node } = await onFirst(run, (c) => c.pid());
  return run.json ? printJson({ node, pid }) : (console.log(pid), 0);
}

/** wipeout, shutdown: confirmed (unless --yes), then sent with the fleet's proof. */
async function runDestructive(run: DataRun): Promise<number> {
  const { verb, targets } = run;
  const target = targets.nodes[0];
  if (!run.flags.yes && !confirm(verb, target)) {
    console.error(`kvctl ${verb}: not confirmed; nothing was sent`);
    return EXIT.usage;
  }
  const command = verb === "wipeout" ? Command.Wipeout : Command.Shutdown;
  await onFirst(run, (c) => sendDestructive(c, command, targets.fleet));
  if (run.json) return printJson({ node: target, done: true });
  console.error(verb === "wipeout" ? `${target} wiped out` : `${target} is shutting down`);
  return 0;
}

/** On a terminal, asks before a destructive verb; elsewhere (scripts) it goes ahead. */
function confirm(verb: string, target: string): boolean {
  if (!Deno.stdin.isTerminal()) return true;
  const what = verb === "wipeout" ? `delete every key on ${target}` : `stop ${target} at once`;
  const answer = prompt(`kvctl ${verb}: ${what}? Type yes to go on (or pass --yes):`);
  return answer?.trim().toLowerCase() === "yes" || answer?.trim().toLowerCase() === "y";
}

async function writeAll(bytes: Uint8Array): Promise<void> {
  for (let o = 0; o < bytes.length;) o += await Deno.stdout.write(bytes.subarray(o));
}

async function readValue(arg: string | undefined, file: string | undefined, empty: boolean): Promise<Uint8Array> {
  if (arg !== undefined && file !== undefined) {
    throw new UsageError("kvctl put: give the value as an argument or with --file, not both");
  }
  let value: Uint8Array;
  if (arg !== undefined) value = utf8Encoder.encode(arg);
  else if (file !== undefined) {
    try {
      value = await Deno.readFile(file);
    } catch (e) {
      throw new UsageError(`kvctl put: cannot read --file ${file}: ${(e as Error).message}`);
    }
  } else {
    if (Deno.stdin.isTerminal()) {
      throw new UsageError("kvctl put: missing VALUE (give it as an argument, with --file, or on standard input)");
    }
    value = new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
    if (value.length === 0 && !empty) {
      throw new UsageError(
        "kvctl put: standard input is empty; pass --empty to store an empty value, or give VALUE or --file",
      );
    }
  }
  if (value.length > 15_000) {
    throw new UsageError(`kvctl put: value is ${value.length} bytes; at most 15,000 are allowed`);
  }
  return value;
}
