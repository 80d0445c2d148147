/**
 * Shutdown and wipeout against a node in a network namespace, as an outsider would try them: a
 * node with default settings whose fleet file lists another host; an attacker on a third address
 * forging that host's source; kvctl with the fleet file from a non-fleet address; the proven
 * request captured on the wire and replayed at once, after the reply cache forgot it, and after
 * the window. Needs root (namespaces, a packet socket); skips with a message otherwise.
 */
import assert from "node:assert/strict";
import { permissionFlags, roleCommand } from "../../lib/roles/process_launcher.ts";
import { WatchedProcess } from "../../lib/base/watched_process.ts";
import { formatFleet } from "../../lib/config/fleet_file.ts";
import { newClusterKey } from "../../lib/wire/fleet_auth.ts";
import { fromHex, toHex } from "../../lib/base/bytes.ts";
import { DESTRUCTIVE_PROOF_WINDOW_MS, proofTime } from "../../lib/wire/destructive_proof.ts";
import { ChaosNet, chaosUnavailable } from "../chaos/netns.ts";
import { sleep, waitUntil, withTimeout } from "../support/real_time.ts";
import type { StatMap } from "../../lib/monitoring/report.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DRIVER = new URL("../support/netns_driver.ts", import.meta.url).pathname;
const CAPTURE = new URL("../support/capture_udp.py", import.meta.url).pathname;
const PORT = 4000;
const KEYS = 50;
/** The fleet's other host: listed in the fleet file, never started; the attacker forges its address. */
const FLEET_HOST = "10.77.0.2";

const unavailable = await chaosUnavailable();
if (unavailable) console.log(`client port namespace test skipped: ${unavailable}`);

/** Runs `cmd` in `net`'s host namespace; its output (stdout, stderr) and exit code. */
async function inHost(net: ChaosNet, host: string, cmd: string, args: string[]) {
  const prefix = net.execPrefix(host);
  const out = await new Deno.Command(prefix[0], {
    args: [...prefix.slice(1), cmd, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** One step of netns_driver.ts in `host`'s namespace: its JSON line. */
async function drive<T = Record<string, number | null>>(net: ChaosNet, host: string, ...args: string[]): Promise<T> {
  const r = await inHost(net, host, Deno.execPath(), ["run", "--quiet", "-A", DRIVER, ...args]);
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.code !== 0 || !line.startsWith("{")) {
    throw new Error(`driver ${args.join(" ")}: ${r.code} ${r.stdout} ${r.stderr}`);
  }
  return JSON.parse(line) as T;
}

function kvctl(net: ChaosNet, host: string, args: string[]) {
  const { cmd, args: argv } = roleCommand("kvctl", args);
  return inHost(net, host, cmd, argv);
}

function plainRequest(command: number): string {
  const p = crypto.getRandomValues(new Uint8Array(17));
  p[16] = command;
  return toHex(p);
}

Deno.test({
  name:
    "namespaces: forged shutdown/wipeout refused and counted; kvctl proves them; a captured proof replayed is refused",
  ignore: unavailable !== null,
  fn: async () => {
    await ChaosNet.removeStale();
    const net = await ChaosNet.create(["h1", "cl"], "g"); // "g": apart from other namespace tests of this process
    const dir = await Deno.makeTempDir({ prefix: "kvstore-client-port-" });
    const key = newClusterKey();
    const node = `${net.ip("h1")}:${PORT}`;
    const fleet = `${dir}/nodes.yaml`;
    await Deno.writeTextFile(
      fleet,
      formatFleet({
        name: "t",
        preset: "lan",
        clusterKey: key,
        replication: { n: 1, w: 1, r: 1 },
        nodes: [node, `${FLEET_HOST}:${PORT}`],
      }),
    );
    const p = WatchedProcess.deno("h1", [
      ...permissionFlags("node"),
      MAIN,
      "node",
      ...["--host", net.ip("h1"), "--port", String(PORT), "--config", fleet],
    ], { prefix: net.execPrefix("h1") });
    const stats = () => drive<StatMap>(net, "h1", "stats", node, key);
    const stat = (s: StatMap, name: string) => s[name]?.value as number;
    try {
      await p.waitFor(/listening on udp/, 30_000);
      assert.deepEqual(await drive(net, "cl", "put", node, String(KEYS)), { stored: KEYS });
      // The attacker takes the fleet host's address (that host is down) and sends plain shutdown and wipeout.
      await inHost(net, "cl", "ip", ["addr", "add", `${FLEET_HOST}/24`, "dev", "eth0"]);
      const forgedWipe = await drive(net, "cl", "send", FLEET_HOST, node, plainRequest(5));
      const forgedShut = await drive(net, "cl", "send", FLEET_HOST, node, plainRequest(4));
      const kept = await drive(net, "cl", "count", node, String(KEYS));
      let s = await stats();
      console.log(
        `forged from ${FLEET_HOST}: wipeout answered 0x0${forgedWipe.code}, shutdown 0x0${forgedShut.code}; ` +
          `${kept.present}/${KEYS} keys intact; refused_destructive ${stat(s, "refused_destructive")} ` +
          `(unproven ${stat(s, "refused_destructive_unproven")})`,
      );
      assert.equal(forgedWipe.code, 4);
      assert.equal(forgedShut.code, 4);
      assert.equal(kept.present, KEYS);
      assert.equal(stat(s, "refused_destructive"), 2);
      assert.equal(stat(s, "refused_destructive_unproven"), 2);
      // kvctl from the non-fleet address with a fleet file without a key: refused, one sentence saying what to do.
      const noKey = `${dir}/nokey.yaml`;
      await Deno.writeTextFile(
        noKey,
        formatFleet({ name: "t", preset: "lan", replication: { n: 1, w: 1, r: 1 }, nodes: [node] }),
      );
      const unproven = await kvctl(net, "cl", ["wipeout", "--node", node, "--config", noKey]);
      assert.equal(unproven.code, 1, unproven.stderr);
      assert.match(unproven.stderr, /refused \(0x04\).*--config/);
      // kvctl with the fleet file, from 10.77.0.100 (not in the fleet), while the wire is watched.
      const capture = new WatchedProcess("capture", net.execPrefix("cl")[0], [
        ...net.execPrefix("cl").slice(1),
        ...["python3", CAPTURE, "eth0", String(PORT), "49", "4,5", "30"],
      ]);
      await capture.waitFor(/^ready$/, 10_000);
      const wiped = await kvctl(net, "cl", ["wipeout", "--node", node, "--config", fleet]);
      assert.equal(wiped.code, 0, wiped.stderr);
      const afterWipe = await drive(net, "cl", "count", node, String(KEYS));
      assert.equal(afterWipe.present, 0);
      const hex = (await capture.waitFor(/^[0-9a-f]{98}$/, 10_000)).trim();
      await capture.exited();
      const madeAt = proofTime(fromHex(hex));
      console.log(`kvctl wipeout --config from ${net.ip("cl")}: exit 0, 0/${KEYS} keys left; captured ${hex}`);
      assert.deepEqual(await drive(net, "cl", "put", node, String(KEYS)), { stored: KEYS });
      // Replayed at once (from the forged address): the cached reply, nothing runs again.
      const now = await drive(net, "cl", "send", FLEET_HOST, node, hex);
      assert.equal((await drive(net, "cl", "count", node, String(KEYS))).present, KEYS);
      // Once the reply cache forgot it, within the window: refused as replayed.
      const later = await waitUntil(() => drive(net, "cl", "send", FLEET_HOST, node, hex), {
        until: (r) => r.code === 4,
        timeoutMs: 15_000,
        what: "a replay to be refused once the reply cache forgot the request",
      });
      assert.equal((await drive(net, "cl", "count", node, String(KEYS))).present, KEYS);
      s = await stats();
      assert.equal(stat(s, "refused_destructive_replayed"), 1);
      // After the window: refused as stale.
      const wait = madeAt + DESTRUCTIVE_PROOF_WINDOW_MS + 1_000 - Date.now();
      if (wait > 0) await sleep(wait); // the window is a time to pass, not an event
      const late = await drive(net, "cl", "send", FLEET_HOST, node, hex);
      const keptAfter = await drive(net, "cl", "count", node, String(KEYS));
      s = await stats();
      console.log(
        `replay of the captured wipeout: at once 0x0${now.code} (the cached reply), after the reply cache 0x0${later.code} ` +
          `(replayed: ${stat(s, "refused_destructive_replayed")}), after the window 0x0${late.code} ` +
          `(stale: ${stat(s, "refused_destructive_stale")}); ${keptAfter.present}/${KEYS} keys intact; ` +
          `destructive_proven ${stat(s, "destructive_proven")}`,
      );
      assert.equal(late.code, 4);
      assert.equal(stat(s, "refused_destructive_stale"), 1);
      assert.equal(keptAfter.present, KEYS);
      assert.equal(stat(s, "destructive_proven"), 1);
      // kvctl shutdown with the fleet file: the node stops.
      const down = await kvctl(net, "cl", ["shutdown", "--node", node, "--config", fleet]);
      assert.equal(down.code, 0, down.stderr);
      const status = await withTimeout(p.exited(), 10_000, "the node to exit after kvctl shutdown");
      console.log(`kvctl shutdown --config from ${net.ip("cl")}: exit 0, node exited (${status.code})`);
    } finally {
      await p.stop("SIGKILL").catch(() => {});
      await net.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
