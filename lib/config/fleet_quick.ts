/**
 * Reads the common plain fleet file without npm:yaml and zod: top-level `key: value` lines, one
 * level of indented block (a `- item` list or `key: value` lines), one-line flow lists and maps,
 * plain, single- and double-quoted scalars without escapes, comments. Everything else (anchors,
 * tags, block scalars, escapes, floats, multi-line values, `internalAddresses`, …) and every file
 * that fails a check answers `undefined`, and the caller parses the file with `fleet_file.ts`,
 * which then gives the canonical result or error. What this accepts it returns exactly as
 * `parseFleet` would (`tests/fleet_quick_test.ts` compares both on a corpus and on mutations).
 *
 * Why: yaml and zod are about 15 MiB of a node's resident memory for the life of the process,
 * for a file read once at start (docs/performance.md, "Idle node cost").
 *
 * @module
 */
import { parseAddress } from "../net/transport.ts";
import { isSourceNetwork } from "../net/source_networks.ts";
import { type FleetConfig, isEd25519PublicKeyText } from "./fleet_config.ts";

/** A scalar as YAML's core schema reads it (only strings and integers are accepted here). */
type Scalar = string | number;
/** A value of the subset: a scalar, a list of scalars, or a map of scalars. */
type Value = Scalar | Scalar[] | Map<string, Scalar>;

/** Gives up: the full parser decides. */
class Unsure extends Error {}

/** Longest fleet file read here (bytes of text); longer ones go to the full parser. */
const MAX_TEXT = 256 * 1024;

const KEY = /^([A-Za-z][A-Za-z0-9]*):(?: (.*))?$/;
const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./:@+=-]*$/;
const INTEGER = /^[0-9]{1,15}$/;
const FLOAT_LIKE = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const SPECIAL = /^(0x|0o|0b|\.)|^(null|Null|NULL|true|True|TRUE|false|False|FALSE)$/;

function unsure(): never {
  throw new Unsure();
}

/**
 * The fleet file `text` read without yaml and zod, or `undefined` when it is not in the plain subset
 * or not valid (then parse it with `parseFleet`, which says what is wrong).
 *
 * @example
 * ```ts
 * const fleet = quickParseFleet("preset: wan\nnodes:\n  - 127.0.0.1:4000\n");
 * console.log(fleet?.nodes, fleet?.preset); // ["127.0.0.1:4000"] "wan"
 * console.log(quickParseFleet("nodes: &a [x]\n")); // undefined: an anchor
 * ```
 */
export function quickParseFleet(text: string): FleetConfig | undefined {
  if (text.length > MAX_TEXT) return undefined;
  try {
    return validate(readPlain(text));
  } catch (e) {
    if (e instanceof Unsure) return undefined;
    throw e;
  }
}

/** The line without its comment (a `#` at the start or after a space, outside quotes). */
function withoutComment(line: string): string {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || line[i - 1] === " ")) return line.slice(0, i);
  }
  return line;
}

/** The top-level map of the plain subset. */
function readPlain(text: string): Map<string, Value> {
  if (text.includes("\t") || text.startsWith("\uFEFF") || /\r(?!\n)/.test(text)) unsure();
  const top = new Map<string, Value>();
  let block: { key: string; indent: number; list?: Scalar[]; map?: Map<string, Scalar> } | undefined;
  const close = () => {
    if (block) top.set(block.key, block.list ?? block.map ?? unsure());
    block = undefined;
  };
  for (const raw of text.split("\n")) {
    const line = withoutComment(raw.endsWith("\r") ? raw.slice(0, -1) : raw).trimEnd();
    if (line === "") continue;
    const indent = line.length - line.trimStart().length;
    const content = line.slice(indent);
    // A list may sit at its key's own indentation ("nodes:\n- a:1"); a map may not.
    const zeroItem = indent === 0 && content.startsWith("- ") && block !== undefined && block.indent <= 0;
    if (indent === 0 && !zeroItem) {
      close();
      const m = KEY.exec(content) ?? unsure();
      if (top.has(m[1])) unsure();
      const value = (m[2] ?? "").trim();
      if (value === "") block = { key: m[1], indent: -1 };
      else top.set(m[1], flowValue(value));
      continue;
    }
    if (!block) unsure();
    if (block.indent === -1) block.indent = indent;
    if (indent !== block.indent) unsure();
    if (content.startsWith("- ") && !block.map) {
      (block.list ??= []).push(scalar(content.slice(2).trim()));
    } else if (!block.list) {
      const m = KEY.exec(content) ?? unsure();
      block.map ??= new Map();
      if (block.map.has(m[1]) || (m[2] ?? "").trim() === "") unsure();
      block.map.set(m[1], scalar(m[2]!.trim()));
    } else unsure();
  }
  close();
  return top;
}

/** A value on the key's line: a one-line flow list or map, or a scalar. */
function flowValue(text: string): Value {
  const open = text[0];
  if (open !== "[" && open !== "{") return scalar(text);
  if (!text.endsWith(open === "[" ? "]" : "}")) unsure();
  const inner = text.slice(1, -1).trim();
  const parts = inner === "" ? [] : inner.split(",").map((p) => p.trim());
  if (open === "[") return parts.map(scalar);
  const map = new Map<string, Scalar>();
  for (const part of parts) {
    const m = KEY.exec(part) ?? unsure();
    if (map.has(m[1]) || (m[2] ?? "").trim() === "") unsure();
    map.set(m[1], scalar(m[2]!.trim()));
  }
  return map;
}

/** A quoted string without escapes, a plain string, or a decimal integer; anything else is unsure. */
function scalar(text: string): Scalar {
  const q = text[0];
  if (q === '"' || q === "'") {
    const inner = text.slice(1, -1);
    if (text.length < 2 || !text.endsWith(q) || inner.includes(q) || inner.includes("\\")) unsure();
    return inner;
  }
  if (!PLAIN.test(text) || text.endsWith(":") || SPECIAL.test(text)) unsure();
  if (INTEGER.test(text)) return Number(text);
  if (FLOAT_LIKE.test(text)) unsure();
  return text;
}

/** The allowed top-level fields, in the order the schema yields them. */
const FIELDS = [
  "name",
  "monitor",
  "clusterKey",
  "adminPublicKey",
  "preset",
  "replication",
  "destructiveCommandsFrom",
  "trustedClients",
  "nodes",
  "internalAddresses",
  "frameWindowMs",
] as const;

const CLUSTER_KEY = /^(?:[0-9a-fA-F]{2}){16,}$/;
const MONITOR_URL = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]*)?$/;
const REPLICATION_TUNING: Record<string, [number, number]> = {
  virtualNodes: [1, 4096],
  replicaTimeoutMs: [1, Number.MAX_SAFE_INTEGER],
  replicaRetries: [0, 10],
  antiEntropyIntervalMs: [100, Number.MAX_SAFE_INTEGER],
  handoffIntervalMs: [100, Number.MAX_SAFE_INTEGER],
  tombstoneGraceMs: [1_000, Number.MAX_SAFE_INTEGER],
};

function str(v: Value | undefined, ok: (s: string) => boolean = () => true): string {
  return typeof v === "string" && ok(v) ? v : unsure();
}

function int(v: Value | undefined, min: number, max: number): number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max ? v : unsure();
}

function list(v: Value | undefined, ok: (s: string) => boolean): string[] {
  if (!Array.isArray(v) || v.length === 0) unsure();
  return v.map((x) => str(x, ok));
}

function map(v: Value | undefined, allowed: readonly string[]): Map<string, Scalar> {
  if (!(v instanceof Map) || [...v.keys()].some((k) => !allowed.includes(k))) unsure();
  return v;
}

function isAddress(s: string): boolean {
  try {
    parseAddress(s);
    return true;
  } catch {
    return false;
  }
}

/** The config as the schema yields it, or unsure where the schema would refuse it. */
function validate(top: Map<string, Value>): FleetConfig {
  if (top.size === 0 || [...top.keys()].some((k) => !(FIELDS as readonly string[]).includes(k))) unsure();
  if (top.has("internalAddresses")) unsure(); // its keys hold colons: left to the full parser
  const out: Partial<FleetConfig> = { name: top.has("name") ? str(top.get("name"), (s) => s.length > 0) : "kvstore" };
  if (top.has("monitor")) {
    const m = map(top.get("monitor"), ["url", "udp"]);
    out.monitor = { url: str(m.get("url"), (s) => MONITOR_URL.test(s) && URL.canParse(s)) };
    if (m.has("udp")) out.monitor.udp = str(m.get("udp"), isAddress);
  }
  if (top.has("clusterKey")) {
    const k = top.get("clusterKey");
    out.clusterKey = Array.isArray(k) ? list(k, (s) => CLUSTER_KEY.test(s)) : str(k, (s) => CLUSTER_KEY.test(s));
  }
  if (top.has("adminPublicKey")) out.adminPublicKey = str(top.get("adminPublicKey"), isEd25519PublicKeyText);
  const preset = top.has("preset") ? str(top.get("preset")) : "lan";
  out.preset = preset === "lan" || preset === "wan" ? preset : unsure();
  out.replication = top.has("replication") ? replication(top.get("replication")) : { n: 3, w: 2, r: 2 };
  if (top.has("destructiveCommandsFrom")) {
    out.destructiveCommandsFrom = list(top.get("destructiveCommandsFrom"), isSourceNetwork);
  }
  if (top.has("trustedClients")) out.trustedClients = list(top.get("trustedClients"), isSourceNetwork);
  out.nodes = list(top.get("nodes"), isAddress);
  if (top.has("frameWindowMs")) out.frameWindowMs = int(top.get("frameWindowMs"), 100, 3_600_000);
  return out as FleetConfig;
}

function replication(v: Value | undefined): FleetConfig["replication"] {
  const m = map(v, ["n", "w", "r", ...Object.keys(REPLICATION_TUNING)]);
  const r: FleetConfig["replication"] = {
    n: m.has("n") ? int(m.get("n"), 1, 7) : 3,
    w: m.has("w") ? int(m.get("w"), 1, 7) : 2,
    r: m.has("r") ? int(m.get("r"), 1, 7) : 2,
  };
  for (const [key, [min, max]] of Object.entries(REPLICATION_TUNING)) {
    if (m.has(key)) (r as unknown as Record<string, number>)[key] = int(m.get(key), min, max);
  }
  if (r.w > r.n || r.r > r.n) unsure();
  return r;
}
