/**
 * Help of kvctl's data verbs (`kvctl put --help`, …): one text per verb, with the options they share.
 *
 * @module
 */
import { EXIT_CODE_HELP } from "./exit_codes.ts";

const TARGET = `  --node ADDR         node to talk to (default $KVSTORE_NODE; without either, the nodes of the
                      fleet file in turn until one answers; without a fleet file, 127.0.0.1:4000)
  --config FILE       fleet file (default $KVSTORE_CONFIG, else .kvstore-cluster/nodes.yaml,
                      else ./nodes.yaml; 'kvctl config' says which one is used)
  --timeout D         first timeout, doubled on each retry (default 100ms)
  --retries N         retries with the same request id, per node (default 3)
  --json              print one JSON document (docs/kvctl.md lists its shape)
  -h, --help          show this help`;

const ONE_NODE = `  --yes               do not ask for confirmation (kvctl asks only on a terminal)
  --node ADDR         the node (required when the fleet file lists several nodes)`;

/**
 * `kvctl VERB --help` of each data verb.
 *
 * @example
 * ```ts
 * console.log(DATA_VERB_HELP.get.split("\n")[0]); // "Usage: kvctl get KEY [options]"
 * ```
 */
export const DATA_VERB_HELP: Readonly<Record<string, string>> = {
  put: `Usage: kvctl put KEY [VALUE] [options]

Stores VALUE under KEY (or the contents of --file F, or standard input).

Options:
  --file F            read the value from file F
  --empty             store an empty value (an empty standard input is refused without it)
  --hex               KEY is hex (up to 64 digits) instead of UTF-8 text
${TARGET}

JSON: {"key":KEY,"bytes":N,"node":ADDR}
${EXIT_CODE_HELP}`,
  get: `Usage: kvctl get KEY [options]

Prints the value of KEY: the raw bytes (a newline is added on a terminal).

Options:
  --hex               KEY is hex (up to 64 digits) instead of UTF-8 text
${TARGET}

JSON: {"key":KEY,"value":TEXT,"encoding":"utf8"|"base64","bytes":N,"node":ADDR}; the value is
UTF-8 text when it is valid UTF-8 (without NUL), otherwise base64.
${EXIT_CODE_HELP}`,
  remove: `Usage: kvctl remove KEY [options]

Deletes KEY.

Options:
  --hex               KEY is hex (up to 64 digits) instead of UTF-8 text
${TARGET}

JSON: {"key":KEY,"removed":true,"node":ADDR}
${EXIT_CODE_HELP}`,
  members: `Usage: kvctl members [--count] [options]

Lists the members a node knows with their state (alive, suspect, dead, left) and how long
they have been in it; needs the fleet file's clusterKey. --count prints only how many the
node believes alive (no key needed).

Options:
  --count             print only the number of live members
${TARGET}

JSON: {"node":ADDR,"members":[{"address","state","incarnation","forMs"}],"more":N};
with --count: {"node":ADDR,"alive":N}
${EXIT_CODE_HELP}`,
  "is-alive": `Usage: kvctl is-alive [options]

Checks that the node answers (exit code 0 if it does, 3 if not).

Options:
${TARGET}

JSON: {"node":ADDR,"alive":true}
${EXIT_CODE_HELP}`,
  pid: `Usage: kvctl pid [options]

Prints the node's process id.

Options:
${TARGET}

JSON: {"node":ADDR,"pid":N}
${EXIT_CODE_HELP}`,
  wipeout: `Usage: kvctl wipeout --node ADDR [--yes] [options]

Deletes every key on the node. On a terminal kvctl asks first (unless --yes).

Options:
${ONE_NODE}
${TARGET}

JSON: {"node":ADDR,"done":true}
${EXIT_CODE_HELP}`,
  shutdown: `Usage: kvctl shutdown --node ADDR [--yes] [options]

Stops the node at once (the protocol's 0x04: peers see a crash, not a leave; stop a node
with SIGTERM for a clean leave). On a terminal kvctl asks first (unless --yes).

Options:
${ONE_NODE}
${TARGET}

JSON: {"node":ADDR,"done":true}
${EXIT_CODE_HELP}`,
};
