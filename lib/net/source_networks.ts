/**
 * Lists of source networks: who may send the destructive client commands
 * (shutdown 0x04, wipeout 0x05) without a proof, and which clients the reply
 * budget exempts. CIDR blocks, bare addresses, and the words `loopback`
 * (127.0.0.0/8 and ::1), `fleet` (the hosts of the fleet file's nodes and
 * monitor), `any` and `none`; and the prefix a source is budgeted under.
 *
 * @module
 */
import { parseAddress } from "./transport.ts";

/**
 * Who may send shutdown and wipeout without a proof when the fleet file names none: the node's own
 * host (the course's tester runs there). Everyone else proves it holds the cluster key.
 */
export const DEFAULT_DESTRUCTIVE_FROM: readonly string[] = ["loopback"];

/** The clients the reply budget exempts when none are named: a loopback source cannot come from another host. */
export const DEFAULT_TRUSTED_CLIENTS: readonly string[] = ["loopback"];

interface Block {
  /** 16 bytes (IPv4 as an IPv4-mapped IPv6 address). */
  bytes: Uint8Array;
  /** Prefix length over the 128 bits. */
  bits: number;
}

/**
 * A list of source networks, matched against the host of an address.
 *
 * @example
 * ```ts
 * const nets = SourceNetworks.parse(["loopback", "10.1.0.0/16"]);
 * console.log(nets.allows("127.0.0.1:5000"), nets.allows("10.1.2.3:9"), nets.allows("192.0.2.1:9")); // true true false
 * ```
 */
export class SourceNetworks {
  #blocks: Block[];
  #hosts: Set<string>;
  #any: boolean;

  private constructor(blocks: Block[], hosts: Set<string>, any: boolean) {
    this.#blocks = blocks;
    this.#hosts = hosts;
    this.#any = any;
  }

  /**
   * Parses `entries`; `fleetHosts` are what `fleet` stands for (IP literals become blocks,
   * host names match by name). Throws `RangeError` naming the entry that is not understood.
   */
  static parse(entries: readonly string[], fleetHosts: readonly string[] = []): SourceNetworks {
    const blocks: Block[] = [], hosts = new Set<string>();
    let any = false;
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === "any") any = true;
      else if (entry === "none") continue;
      else if (entry === "loopback") blocks.push(parseBlock("127.0.0.0/8")!, parseBlock("::1")!);
      else if (entry === "fleet") {
        for (const h of fleetHosts) {
          const b = parseBlock(h);
          if (b) blocks.push(b);
          else hosts.add(h.toLowerCase());
        }
      } else {
        const b = parseBlock(entry);
        if (!b) {
          throw new RangeError(
            `"${entry}" is not a source network: use an address, a CIDR block (10.0.0.0/8, 2001:db8::/32), ` +
              `or one of the words loopback, fleet, any, none`,
          );
        }
        blocks.push(b);
      }
    }
    return new SourceNetworks(blocks, hosts, any);
  }

  /** Whether the host of `address` (`host:port`, IPv6 as `[v6]:port`) is in one of the networks. */
  allows(address: string): boolean {
    if (this.#any) return true;
    let host: string;
    try {
      host = parseAddress(address).hostname;
    } catch {
      return false;
    }
    if (this.#hosts.has(host.toLowerCase())) return true;
    const ip = parseIp(host);
    return ip !== undefined && this.#blocks.some((b) => inBlock(ip, b));
  }
}

/**
 * The network prefix `address` is budgeted under: its /24 for IPv4 (and IPv4-mapped IPv6), its /56
 * for IPv6, as a short string (`"v4 10.1.2"`, `"v6 20010db8000000"`); `undefined` when the host is not
 * an IP literal.
 *
 * @example
 * ```ts
 * console.log(sourcePrefix("10.1.2.3:4000"), sourcePrefix("[2001:db8::1]:4000")); // "v4 10.1.2" "v6 20010db8000000"
 * ```
 */
export function sourcePrefix(address: string): string | undefined {
  let host: string;
  try {
    host = parseAddress(address).hostname;
  } catch {
    return undefined;
  }
  const ip = parseIp(host);
  if (!ip) return undefined;
  let mapped = ip[10] === 0xff && ip[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = ip[i] === 0;
  if (mapped) return `v4 ${ip[12]}.${ip[13]}.${ip[14]}`;
  let hex = "v6 ";
  for (let i = 0; i < 7; i++) hex += ip[i].toString(16).padStart(2, "0");
  return hex;
}

/** Whether `entry` is a valid source-network entry (for the fleet file's schema). */
export function isSourceNetwork(entry: string): boolean {
  return ["any", "none", "loopback", "fleet"].includes(entry.trim()) || parseBlock(entry.trim()) !== undefined;
}

function parseBlock(text: string): Block | undefined {
  const [addr, prefix, extra] = text.split("/");
  if (extra !== undefined) return undefined;
  const bytes = parseIp(addr);
  if (!bytes) return undefined;
  const v4 = !addr.includes(":");
  const max = v4 ? 32 : 128;
  if (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) return undefined;
  const bits = prefix === undefined ? max : Number(prefix);
  if (bits > max) return undefined;
  return { bytes, bits: v4 ? bits + 96 : bits };
}

function inBlock(ip: Uint8Array, b: Block): boolean {
  let bits = b.bits;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i] & mask) !== (b.bytes[i] & mask)) return false;
  }
  return true;
}

/** 16 bytes of an IPv4 (as ::ffff:a.b.c.d) or IPv6 literal; `undefined` for anything else. */
function parseIp(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  const v4 = parseV4(text);
  if (v4) {
    out[10] = out[11] = 0xff;
    out.set(v4, 12);
    return out;
  }
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => s === "" ? [] : s.split(":");
  const head = groups(halves[0]), tail = halves.length === 2 ? groups(halves[1]) : [];
  const words: number[] = [];
  const parts = [...head, ...tail];
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const last = parts.at(-1);
  const embedded = last?.includes(".") ? parseV4(last) : undefined;
  if (last?.includes(".") && !embedded) return undefined;
  const groupCount = parts.length + (embedded ? 1 : 0);
  if (halves.length === 1 ? groupCount !== 8 : groupCount > 7) return undefined;
  const toWords = (gs: string[]) => {
    for (const g of gs) {
      if (g.includes(".")) continue;
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      words.push(parseInt(g, 16));
    }
    return true;
  };
  if (!toWords(head)) return undefined;
  const headWords = words.length;
  if (!toWords(tail)) return undefined;
  const tailWords = words.slice(headWords);
  const all = [...words.slice(0, headWords), ...new Array(8 - groupCount).fill(0), ...tailWords];
  for (let i = 0; i < all.length; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  if (embedded) out.set(embedded, 12);
  return out;
}

function parseV4(text: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? Uint8Array.from(b) : undefined;
}
