/**
 * `kvctl config`: which fleet file and admin key kvctl uses and which rule chose them; and
 * `kvctl --version`: the program's version and the wire versions it speaks.
 *
 * @module
 */
import { parseFlags, UsageError } from "../base/cli_args.ts";
import { loadProgramInfo } from "../base/program.ts";
import { WIRE_VERSION } from "../wire/frame.ts";
import { importAdminPrivateKey, publicKeyOf, rawPublicKeyText } from "../admin/keys.ts";
import { clusterKeysOf } from "../config/fleet_file.ts";
import { discoverFleet, findAdminKey } from "./kvctl_config.ts";
import { JSON_FLAG, printJson } from "./json_output.ts";
import type { KvctlVerb } from "./kvctl_verb.ts";

/** Help of `kvctl config`. */
export const CONFIG_HELP = `Usage: kvctl config [--config FILE] [--key FILE] [--json]

Says which fleet file and admin key kvctl uses, and why:
  fleet file  --config, else $KVSTORE_CONFIG, else .kvstore-cluster/nodes.yaml in the current
              directory (written by 'deno task cluster'), else ./nodes.yaml
  admin key   --key, else $KVSTORE_ADMIN_KEY, else admin.key beside the fleet file

Options:
  --config FILE       fleet file to check
  --key FILE          admin key to check
  --json              {"cwd","fleet":{"path","source","nodes","monitor","clusterKey"},
                       "key":{"path","source","readable","matchesFleet"}}
  -h, --help          show this help
`;

/** What `kvctl config --json` prints. */
export interface ConfigReport {
  /** The directory kvctl ran in. */
  cwd: string;
  /** The fleet file, if any. */
  fleet: { path: string | null; source: string; nodes: number; monitor: string | null; clusterKey: boolean };
  /** The admin key. */
  key: { path: string | null; source: string; readable: boolean; matchesFleet: boolean | null };
}

/**
 * Builds the `kvctl config` report.
 *
 * @example
 * ```ts ignore
 * console.log((await configReport(undefined, undefined)).fleet.source); // "deno task cluster"
 * ```
 */
export async function configReport(config: string | undefined, keyFlag: string | undefined): Promise<ConfigReport> {
  const found = await discoverFleet(config);
  const key = findAdminKey(keyFlag, found.path);
  let readable = false;
  let matches: boolean | null = null;
  try {
    const text = await Deno.readTextFile(key.path!);
    readable = true;
    const pub = found.fleet?.adminPublicKey;
    if (pub) matches = rawPublicKeyText(pub) === await publicKeyOf(await importAdminPrivateKey(text, key.path!));
  } catch { /* unreadable or not a key: readable/matches say so */ }
  return {
    cwd: Deno.cwd(),
    fleet: {
      path: found.path ?? null,
      source: found.source,
      nodes: found.fleet?.nodes.length ?? 0,
      monitor: found.fleet?.monitor?.url ?? null,
      clusterKey: found.fleet ? clusterKeysOf(found.fleet).length > 0 : false,
    },
    key: { path: key.path ?? null, source: key.source, readable, matchesFleet: matches },
  };
}

async function config(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags("kvctl config", args, {
    config: { type: "string" },
    key: { type: "string" },
    ...JSON_FLAG,
  });
  if (values.help) return (console.log(CONFIG_HELP), 0);
  if (positionals.length > 0) throw new UsageError(`kvctl config: unexpected argument "${positionals[0]}"`);
  const r = await configReport(values.config, values.key);
  if (values.json) return printJson(r);
  const f = r.fleet;
  console.log(`directory:  ${r.cwd}`);
  console.log(
    f.path
      ? `fleet file: ${f.path} (${f.source}): ${f.nodes} nodes, ${f.clusterKey ? "clusterKey" : "no clusterKey"}` +
        `${f.monitor ? `, monitor ${f.monitor}` : ""}`
      : "fleet file: none (no --config, $KVSTORE_CONFIG, .kvstore-cluster/nodes.yaml or ./nodes.yaml); " +
        "kvctl talks to 127.0.0.1:4000",
  );
  const k = r.key;
  const match = k.matchesFleet === null
    ? ""
    : k.matchesFleet
    ? ", matches adminPublicKey"
    : ", does NOT match adminPublicKey";
  console.log(`admin key:  ${k.path} (${k.source})${k.readable ? match : ": cannot be read (admin verbs need it)"}`);
  return 0;
}

/** `kvctl config`. */
export const CONFIG_VERB: KvctlVerb = { help: "", run: config };

/**
 * `kvctl --version [--json]`: program version and build, and the wire versions.
 *
 * @example
 * ```ts ignore
 * await versionVerb(["--json"]); // {"program":"kvctl","version":"0.1.0","build":"source","wire":{"frame":2}}
 * ```
 */
export async function versionVerb(args: string[]): Promise<number> {
  const { values } = parseFlags("kvctl --version", args, JSON_FLAG);
  const p = await loadProgramInfo();
  if (values.json) {
    return printJson({ program: "kvctl", version: p.version, build: p.build, wire: { frame: WIRE_VERSION } });
  }
  console.log(`kvctl ${p.version} (build ${p.build})`);
  console.log(`wire: node-to-node frames version ${WIRE_VERSION}; client protocol: UDP, as in PROTOCOL.md`);
  return 0;
}
