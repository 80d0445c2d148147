/**
 * Help texts of the kvctl admin verbs (`keygen`, `run`, `push`, `admin-status`):
 * the summary block appended to `kvctl --help`, and one full text per verb for
 * `kvctl VERB --help`. The limits quoted come from the node defaults in
 * lib/admin/config.ts, which kvctl also checks before it sends anything.
 *
 * @module
 */
import {
  DEFAULT_ADMIN_CONFIG,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_COMMAND_LIFETIME_MS,
  DEFAULT_SCRIPT_TIMEOUT_MS,
} from "../admin/config.ts";

/**
 * A duration in the largest unit that divides it exactly, in the syntax `--timeout` accepts.
 *
 * @example
 * ```ts
 * console.log(formatDuration(24 * 3_600_000)); // "24h"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const KIB = (n: number) => `${n / 1024} KiB`;
const LIMITS = {
  script: KIB(DEFAULT_ADMIN_CONFIG.maxScriptBytes),
  timeout: formatDuration(DEFAULT_ADMIN_CONFIG.maxTimeoutMs),
  lifetime: formatDuration(DEFAULT_ADMIN_CONFIG.maxLifetimeMs),
  chunk: KIB(DEFAULT_ADMIN_CONFIG.maxChunkSize),
};
const LIFETIME = formatDuration(DEFAULT_COMMAND_LIFETIME_MS);

/** The options every signing verb (run, push) shares. */
const SIGNING_OPTIONS = `  --nodes SEL         nodes that act: all, or a comma list of addresses and globs
                      such as 10.0.1.*,10.0.2.7:4000 (default all; every node relays). kvctl
                      waits on the live members only: those the fleet knows as dead or left
                      are named at once ("skipped ADDR: dead since 12:01:07")
  --expires D         lifetime of the command: nodes that learn of it later ignore it
                      (default ${LIFETIME}, at most ${LIMITS.lifetime} = ${
  DEFAULT_ADMIN_CONFIG.maxLifetimeMs / 86_400_000
} days)
  --config FILE       fleet file: nodes, monitor.url, adminPublicKey (default $KVSTORE_CONFIG, else
                      .kvstore-cluster/nodes.yaml, else ./nodes.yaml; see 'kvctl config')
  --key FILE          admin private key written by kvctl keygen (default $KVSTORE_ADMIN_KEY, else
                      admin.key beside the fleet file)
  --node ADDR         node to hand the command to (default: a live member)
  --json              print one JSON document: {"verb","id","handedTo","targets":[ADDR],
                      "skipped":[LINE],"results":[{"node","status","exitCode",…}],"code"}
  --monitor URL       monitor to follow the results on (default monitor.url of the fleet file;
                      without one, kvctl asks the nodes directly)
  -h, --help          show this help`;

/**
 * The admin block of `kvctl --help` (it starts with a blank line: it follows the basic verbs).
 *
 * @example
 * ```ts ignore
 * console.log(KVCTL_HELP + ADMIN_HELP);
 * ```
 */
export const ADMIN_HELP = `
Admin verbs (signed with the admin key; 'kvctl VERB --help' lists each one's options; docs/admin.md):
  keygen              make an Ed25519 admin key pair; prints adminPublicKey for nodes.yaml
  run SCRIPT.sh       run a bash script on the nodes (epidemic, at most once per node)
  push FILE --to PATH copy FILE (any size, binary) to PATH under each node's --admin-dir
  upgrade FILE        push a new program and restart the nodes onto it, one at a time
  admin-status [ID]   list admin commands, or show one command's results per node
`;

/** Help of `kvctl keygen`. */
export const KEYGEN_HELP = `Usage: kvctl keygen [--out admin.key] [--force]

Makes an Ed25519 admin key pair and prints the adminPublicKey line for nodes.yaml.

Options:
  --out FILE          where the private key goes (default admin.key, mode 600); the
                      public key goes to FILE.pub
  --force             replace FILE and FILE.pub if they exist (default: refuse; every
                      node then needs the new adminPublicKey)
  -h, --help          show this help

Keep the private key off the nodes: whoever holds it can run anything on them.
`;

/** Help of `kvctl run`. */
export const RUN_HELP = `Usage: kvctl run SCRIPT.sh [options]

Runs a bash script once on every selected node: the signed command is handed to one
node and spreads to the others by gossip.

Options:
  --timeout D         kill the script's whole process group after D (default ${
  DEFAULT_SCRIPT_TIMEOUT_MS / 1000
}s, at most ${LIMITS.timeout})
  --wait              follow the results until every node is done, then print a table
                      (default: print the command id and return); exit 0 only if all ok
  --restart           rolling restart: one node at a time (in address order), each runs the
                      script, restarts in place and must be back (alive in every member's
                      view, caught up with its data) before the next one starts; a node not
                      back in time halts the rollout (default off; nodes need --admin-dir
                      or --data-dir)
  --budget D          with --restart: how long each node has to be back after its script
                      (default ${formatDuration(DEFAULT_ADMIN_CONFIG.rolloutNodeBudgetMs)})
${SIGNING_OPTIONS}

The script is at most ${LIMITS.script} (it travels in one UDP datagram); copy bigger files with
kvctl push. kvctl checks the size, --timeout and --expires before it sends anything.
`;

/** Help of `kvctl push`. */
export const PUSH_HELP = `Usage: kvctl push FILE --to PATH [options]

Copies FILE (any size, binary) to PATH on every selected node; nodes fetch its chunks
from kvctl and from each other, check every SHA-256 and rename the file into place.

Options:
  --to PATH           target, relative to each node's --admin-dir or absolute inside it (required)
  --mode OCTAL        file mode on the nodes, e.g. 755 (default: the mode of FILE here)
  --timeout D         how long kvctl serves the file and waits for the nodes (default 10m)
  --chunk-size SIZE   chunk size, a multiple of 32 from 1KiB to ${LIMITS.chunk.replace(" ", "")} (default ${
  KIB(DEFAULT_CHUNK_SIZE).replace(" ", "")
})
${SIGNING_OPTIONS}

kvctl is the first source of the chunks, so it always waits (like run --wait) and prints a table.
A release archive (.tar.gz) with FILE.sig beside it is pushed only if the signature verifies
with the fleet's adminPublicKey ('kvctl upgrade ARCHIVE' also unpacks and runs it).
`;

/** Help of `kvctl admin-status`. */
export const ADMIN_STATUS_HELP = `Usage: kvctl admin-status [ID] [options]

Without ID, lists the admin commands the monitor knows (newest first); with ID, prints
one row per node (status, exit code, duration, first line of output), then each node's
whole output (standard output, then standard error).

Options:
  --tail N            print only the last N lines of each node's output
  --json              without ID: {"commands":[{"id","command","counts"}]}; with ID:
                      {"id","expected":[ADDR],"final":BOOL,"results":[{"node","status","exitCode",
                      "durationMs","stdout","stderr","message",…}]}
  --config FILE       fleet file: nodes and monitor.url (default $KVSTORE_CONFIG, else
                      .kvstore-cluster/nodes.yaml, else ./nodes.yaml)
  --monitor URL       monitor to ask (default monitor.url of the fleet file)
  --node ADDR         without a monitor, ask this node for its result (default: every fleet node)
  -h, --help          show this help

Exit code 0 when every reported result is final (ok, failed, timeout, refused, error).
`;
