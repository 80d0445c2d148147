/**
 * A private network for the chaos suite: one namespace per host, each with a
 * veth into a bridge that lives in its own namespace, addresses in
 * 10.77.0.0/24 that exist only inside these namespaces, and nftables rules at
 * the bridge for drops (one-way, partitions) and random loss. Nothing is
 * created in the root namespace.
 *
 * @module
 */

/** Runs a command; throws with its output if it fails. */
export async function sh(cmd: string, args: string[], stdin?: string): Promise<string> {
  const p = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const r = await p.output();
  const dec = new TextDecoder();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${dec.decode(r.stderr).trim()}`);
  }
  return dec.decode(r.stdout);
}

/** Why the chaos suite cannot run here (not root, no `ip netns`, no nft), or null if it can. */
export async function chaosUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return `needs Linux network namespaces (this is ${Deno.build.os})`;
  if (Deno.uid() !== 0) return "needs root to create network namespaces (CI runs it as root via .ci/run)";
  for (const [cmd, args] of [["ip", ["netns", "list"]], ["nft", ["--version"]]] as const) {
    try {
      await sh(cmd, [...args]);
    } catch (e) {
      return `\`${cmd} ${args.join(" ")}\` is unavailable (${
        (e as Error).message.split("\n")[0]
      }); install iproute2/nftables`;
    }
  }
  return null;
}

const SUBNET = "10.77.0";

/** The network: host namespaces on one bridge. */
export class ChaosNet {
  /** Namespace-name prefix (unique per run: includes the pid). */
  readonly prefix: string;
  /** Host namespaces by host name. */
  readonly hosts = new Map<string, { ns: string; ip: string }>();
  #bridgeNs: string;
  #created: string[] = [];

  private constructor(prefix: string) {
    this.prefix = prefix;
    this.#bridgeNs = `${prefix}br`;
  }

  /** Namespaces left by earlier runs whose process is gone (`kvc<pid>…`). */
  static async removeStale(): Promise<string[]> {
    const list = await sh("ip", ["netns", "list"]);
    const removed: string[] = [];
    for (const line of list.split("\n")) {
      const name = line.split(" ")[0];
      const m = /^kvc(\d+)[a-z]?(br|h\d+|cl)$/.exec(name);
      if (!m) continue;
      let alive = true;
      try {
        Deno.statSync(`/proc/${m[1]}`);
      } catch {
        alive = false;
      }
      if (alive) continue;
      await sh("ip", ["netns", "del", name]).catch(() => {});
      removed.push(name);
    }
    return removed;
  }

  /**
   * Creates the bridge namespace and one namespace per host name; host i gets 10.77.0.(i+1),
   * except a host named "cl" (the client), which gets 10.77.0.100. `tag` (one letter) keeps the
   * names apart from another network of the same process (test files running in parallel).
   */
  static async create(hostNames: string[], tag = ""): Promise<ChaosNet> {
    if (!/^[a-z]?$/.test(tag)) throw new RangeError(`ChaosNet tag must be one letter, got "${tag}"`);
    const net = new ChaosNet(`kvc${Deno.pid}${tag}`);
    try {
      await net.#addNs(net.#bridgeNs);
      await net.#ip(net.#bridgeNs, ["link", "add", "br0", "type", "bridge"]);
      await net.#ip(net.#bridgeNs, ["link", "set", "br0", "up"]);
      let i = 0;
      for (const name of hostNames) {
        const ns = `${net.prefix}${name}`;
        const ip = name === "cl" ? `${SUBNET}.100` : `${SUBNET}.${++i}`;
        await net.#addNs(ns);
        const veth = `v${name}`;
        await net.#ip(net.#bridgeNs, ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
        await net.#ip(net.#bridgeNs, ["link", "set", veth, "master", "br0", "up"]);
        await net.#ip(ns, ["addr", "add", `${ip}/24`, "dev", "eth0"]);
        await net.#ip(ns, ["link", "set", "eth0", "up"]);
        await net.#ip(ns, ["link", "set", "lo", "up"]);
        net.hosts.set(name, { ns, ip });
      }
      await sh(
        "ip",
        ["netns", "exec", net.#bridgeNs, "nft", "-f", "-"],
        [
          "table bridge chaos {",
          "  chain filter {",
          "    type filter hook forward priority 0; policy accept;",
          "  }",
          "}",
          "",
        ].join("\n"),
      );
      return net;
    } catch (e) {
      await net.destroy();
      throw e;
    }
  }

  async #addNs(ns: string): Promise<void> {
    await sh("ip", ["netns", "add", ns]);
    this.#created.push(ns);
  }

  #ip(ns: string, args: string[]): Promise<string> {
    return sh("ip", ["-n", ns, ...args]);
  }

  /** The address of a host. */
  ip(host: string): string {
    const h = this.hosts.get(host);
    if (!h) throw new RangeError(`No host ${host} in the chaos network`);
    return h.ip;
  }

  /** Command prefix that runs a program inside a host's namespace. */
  execPrefix(host: string): string[] {
    return ["ip", "netns", "exec", this.hosts.get(host)!.ns];
  }

  async #nft(rules: string[]): Promise<void> {
    await sh("ip", ["netns", "exec", this.#bridgeNs, "nft", "-f", "-"], rules.join("\n") + "\n");
  }

  /** Drops every packet from any of `from` to any of `to` (one way). */
  async drop(from: string[], to: string[]): Promise<void> {
    const rules: string[] = [];
    for (const a of from) {
      for (const b of to) {
        rules.push(`add rule bridge chaos filter ip saddr ${this.ip(a)} ip daddr ${this.ip(b)} counter drop`);
      }
    }
    await this.#nft(rules);
  }

  /** Drops traffic both ways between the groups `a` and `b`. */
  async partition(a: string[], b: string[]): Promise<void> {
    await this.drop(a, b);
    await this.drop(b, a);
  }

  /** Drops `percent`% of all UDP packets crossing the bridge, at random. */
  async loss(percent: number): Promise<void> {
    await this.#nft([`add rule bridge chaos filter meta l4proto udp numgen random mod 100 lt ${percent} counter drop`]);
  }

  /** Packets dropped by the current drop and loss rules (their nft counters), so a test can show a fault took effect. */
  async dropped(): Promise<number> {
    const listing = await sh("ip", [
      "netns",
      "exec",
      this.#bridgeNs,
      "nft",
      "list",
      "chain",
      "bridge",
      "chaos",
      "filter",
    ]);
    let packets = 0;
    for (const m of listing.matchAll(/counter packets (\d+) bytes \d+/g)) packets += Number(m[1]);
    return packets;
  }

  /** Removes every drop and loss rule. */
  async heal(): Promise<void> {
    await this.#nft(["flush chain bridge chaos filter"]);
  }

  /** Deletes every namespace this network created (their veths go with them). */
  async destroy(): Promise<void> {
    for (const ns of this.#created.splice(0).reverse()) {
      await sh("ip", ["netns", "del", ns]).catch(() => {});
    }
  }
}
