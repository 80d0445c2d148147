/**
 * `kvctl`: the command-line client.
 *
 * @module
 */
import { KVClient } from "../client.ts";
import { KeyNotFoundError, KVTimeoutError } from "../errors.ts";
import { hexKey, toKey } from "../keys.ts";
import { utf8Encoder } from "../bytes.ts";
import { parseAddress } from "../transport.ts";
import { parseDuration, parseFlags, parseInteger, UsageError } from "./args.ts";

/** Help text of kvctl. */
export const KVCTL_HELP = `Usage: kvctl <verb> [arguments] [options]

Verbs:
  put KEY [VALUE]     store VALUE (or --file F, or standard input) under KEY
  get KEY             print the value of KEY (raw bytes to stdout)
  remove KEY          delete KEY
  is-alive            check that the node answers
  pid                 print the node's process id
  members             print how many members the node believes alive
  wipeout             delete every key on the node
  shutdown            stop the node at once

Options:
  --node ADDR         node to talk to (default 127.0.0.1:4000, or $KVSTORE_NODE)
  --hex               KEY is hex (up to 64 digits) instead of UTF-8 text
  --file F            read the value for put from file F
  --timeout D         first timeout, doubled on each retry (default 100ms)
  --retries N         retries with the same request id (default 3)
  -h, --help          show this help

Keys are at most 32 bytes (text is UTF-8, zero-padded). Values are at most 15,000 bytes.
`;

const VERBS = new Set(["put", "get", "remove", "is-alive", "pid", "members", "wipeout", "shutdown"]);

/** Extra verbs other parts register (admin, bench, status): verb → handler. */
export const extraVerbs = new Map<string, { help: string; run: (args: string[]) => Promise<number> }>();

/** Runs one kvctl invocation; returns the exit code. */
export async function kvctlCommand(args: string[]): Promise<number> {
  const verb = args[0];
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
  const { values, positionals } = parseFlags(`kvctl ${verb}`, args.slice(1), {
    node: { type: "string" },
    hex: { type: "boolean" },
    file: { type: "string" },
    timeout: { type: "string" },
    retries: { type: "string" },
  });
  if (values.help) {
    console.log(KVCTL_HELP);
    return 0;
  }
  let envNode: string | undefined;
  try {
    envNode = Deno.env.get("KVSTORE_NODE");
  } catch { /* no env permission */ }
  const target = values.node ?? envNode ?? "127.0.0.1:4000";
  try {
    parseAddress(target);
  } catch (e) {
    throw new UsageError(`kvctl: --node ${(e as Error).message}`);
  }
  const needsKey = verb === "put" || verb === "get" || verb === "remove";
  const maxArgs = verb === "put" ? 2 : needsKey ? 1 : 0;
  if (needsKey && positionals.length === 0) {
    throw new UsageError(`kvctl ${verb}: missing KEY. Example: kvctl ${verb} user:1${verb === "put" ? " hello" : ""}`);
  }
  if (positionals.length > maxArgs) {
    throw new UsageError(`kvctl ${verb}: unexpected argument "${positionals[maxArgs]}"`);
  }
  let key: Uint8Array | undefined;
  if (needsKey) {
    try {
      key = values.hex ? hexKey(positionals[0]) : toKey(positionals[0]);
    } catch (e) {
      throw new UsageError(`kvctl ${verb}: bad key: ${(e as Error).message}`);
    }
  }
  const client = await KVClient.connect(target, {
    timeoutMs: values.timeout ? parseDuration(values.timeout, "--timeout") : undefined,
    retries: values.retries ? parseInteger(values.retries, "--retries", 0, 20) : undefined,
  });
  try {
    switch (verb) {
      case "put": {
        const value = await readValue(positionals[1], values.file);
        await client.put(key!, value);
        console.error(`stored ${value.length} bytes`);
        return 0;
      }
      case "get": {
        const v = await client.get(key!);
        await Deno.stdout.write(v);
        if (Deno.stdout.isTerminal()) await Deno.stdout.write(utf8Encoder.encode("\n"));
        return 0;
      }
      case "remove":
        await client.remove(key!);
        console.error("removed");
        return 0;
      case "is-alive": {
        const alive = await client.isAlive();
        console.log(alive ? `${target} is alive` : `${target} does not answer`);
        return alive ? 0 : 1;
      }
      case "pid":
        console.log(await client.pid());
        return 0;
      case "members":
        console.log(await client.membershipCount());
        return 0;
      case "wipeout":
        await client.wipeout();
        console.error("wiped out");
        return 0;
      case "shutdown":
        await client.shutdown();
        console.error(`${target} is shutting down`);
        return 0;
    }
    return 2;
  } catch (e) {
    if (e instanceof KeyNotFoundError) throw new Error(`key not found on ${target}`);
    if (e instanceof KVTimeoutError) {
      throw new Error(`cannot reach node ${target}: no reply after retries (is it running? check --node)`);
    }
    throw e;
  } finally {
    client.close();
  }
}

async function readValue(arg: string | undefined, file: string | undefined): Promise<Uint8Array> {
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
  }
  if (value.length > 15_000) {
    throw new UsageError(`kvctl put: value is ${value.length} bytes; at most 15,000 are allowed`);
  }
  return value;
}
