/**
 * The release archive on a host without Deno (issue 26), as an operator uses it: `deno task
 * release --key` builds it; it is extracted with GNU tar into an empty directory and run with
 * `env -i PATH=… HOME=$tmp` where PATH is /usr/bin and /bin without deno (this machine has
 * /usr/bin/deno) and DENO_DIR an empty directory. The three launchers answer --help; three nodes
 * and a monitor started from them form a cluster; kvctl put/get round-trip; a node started without
 * --allow-run refuses a script; SHA256SUMS and the signature verify; a tampered archive is refused
 * by `kvctl upgrade` and by the nodes; the signed archive of another version upgrades the fleet,
 * which then runs the bundle and the runtime unpacked from it. Prints the archive's size.
 *
 * Run: deno task test:release (about a minute; not part of `deno task test`).
 */
import assert from "node:assert/strict";
import { buildRelease } from "../../scripts/release.ts";
import { checkReleaseArchive } from "../../lib/admin/release.ts";
import { importAdminPublicKey } from "../../lib/admin/keys.ts";
import { fileSha256 } from "../../lib/base/program.ts";
import { WatchedProcess } from "../../lib/base/watched_process.ts";
import { freeUdpPorts } from "../../lib/roles/process_launcher.ts";
import { AdminClient, createCommand } from "../../lib/admin/client.ts";
import { UdpTransport } from "../../lib/net/udp_transport.ts";
import { realClock } from "../../lib/base/clock.ts";
import { ClusterKeyring } from "../../lib/wire/keyring.ts";
import type { NodeResult } from "../../lib/admin/protocol.ts";
import { makeKeys } from "../admin/admin_keys.ts";
import { waitUntil } from "../support/real_time.ts";
import { pidsMentioning, stopPids } from "../support/child_processes.ts";

const dec = new TextDecoder();

/** A directory of links to everything in /usr/bin and /bin except deno: PATH as on a host without Deno. */
async function pathWithoutDeno(dir: string): Promise<string> {
  await Deno.mkdir(dir);
  for (const from of ["/usr/bin", "/bin"]) {
    for (const e of Deno.readDirSync(from)) {
      if (e.name === "deno") continue;
      await Deno.symlink(`${from}/${e.name}`, `${dir}/${e.name}`).catch(() => {}); // /bin may be /usr/bin
    }
  }
  return dir;
}

/** A free TCP port on 127.0.0.1. */
function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Host {
  /** Where the archive was extracted (the launchers' directory). */
  rel: string;
  /** `env -i` arguments: PATH without deno, HOME, an empty DENO_DIR. */
  env: string[];
}

/** `env -C rel -i …env ./LAUNCHER args` as a child process. */
function launch(h: Host, name: string, launcher: string, args: string[]): WatchedProcess {
  return new WatchedProcess(name, "env", ["-C", h.rel, "-i", ...h.env, `./${launcher}`, ...args]);
}

/** Runs a launcher to its end (bounded); exit code and output. */
async function run(h: Host, launcher: string, args: string[], limitMs = 180_000) {
  const p = new Deno.Command("env", {
    args: ["-C", h.rel, "-i", ...h.env, `./${launcher}`, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(limitMs),
  });
  const out = await p.output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function fleetText(o: { nodes: string[]; clusterKey: string; adminPublicKey: string; monitorUrl: string }): string {
  return [
    "name: release-test",
    "preset: lan",
    `clusterKey: "${o.clusterKey}"`,
    `adminPublicKey: ${o.adminPublicKey}`,
    `monitor:\n  url: ${o.monitorUrl}`,
    `nodes: [${o.nodes.join(", ")}]`,
    "",
  ].join("\n");
}

async function commandResults(monitorUrl: string, id: string): Promise<NodeResult[]> {
  const res = await fetch(`${monitorUrl}/api/admin/commands/${id}`);
  if (res.status === 404) {
    await res.body?.cancel();
    return [];
  }
  return ((await res.json()) as { results: NodeResult[] }).results;
}

Deno.test("release archive: runs every role on a host without Deno; signed, verified, upgraded with kvctl", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kvstore-release-suite-" });
  const procs: WatchedProcess[] = [];
  try {
    // Build (offline), signed with the fleet's admin key.
    const keys = await makeKeys();
    await Deno.writeTextFile(`${tmp}/admin.key`, keys.file);
    const built = await buildRelease({ outDir: `${tmp}/dist`, keyFile: `${tmp}/admin.key` });
    const mb = (built.size / 1e6).toFixed(1);
    console.log(
      `archive ${built.archive.split("/").pop()}: ${built.size.toLocaleString("en-US")} bytes (${mb} MB); built in ` +
        `${(built.seconds.bundle + built.seconds.compress).toFixed(1)} s (gzip ${built.seconds.compress.toFixed(1)} s)`,
    );
    assert.ok(built.size > 10e6 && built.size < 200e6, `archive size ${built.size}`);

    // Checksum and signature.
    const sums = await new Deno.Command("sha256sum", { args: ["-c", "SHA256SUMS"], cwd: `${tmp}/dist` }).output();
    assert.ok(sums.success, dec.decode(sums.stdout) + dec.decode(sums.stderr));
    assert.match(dec.decode(sums.stdout), /kvstore-[\d.]+-linux-x64\.tar\.gz: OK/);
    const publicKey = await importAdminPublicKey(keys.publicKey);
    const sig = await checkReleaseArchive(built.archive, publicKey);
    assert.equal(sig.sha256, built.sha256);

    // Extract into an empty directory; a PATH without deno; an empty DENO_DIR.
    const rel = `${tmp}/host`;
    await Deno.mkdir(rel);
    const untar = await new Deno.Command("tar", { args: ["xzf", built.archive, "-C", rel] }).output();
    assert.ok(untar.success, dec.decode(untar.stderr));
    const listing = [...Deno.readDirSync(rel)].map((e) => e.name).sort();
    assert.deepEqual(listing, ["README.txt", "kvctl", "kvstore-monitor", "kvstore-node", "kvstore.js", "runtime"]);
    assert.match(await Deno.readTextFile(`${rel}/runtime/LICENSE`), /MIT License[\s\S]*the Deno authors/);
    const emptyDenoDir = `${tmp}/empty-deno-dir`;
    await Deno.mkdir(emptyDenoDir);
    await Deno.mkdir(`${tmp}/home`);
    const path = await pathWithoutDeno(`${tmp}/path`);
    const h: Host = { rel, env: [`PATH=${path}`, `HOME=${tmp}/home`, `DENO_DIR=${emptyDenoDir}`] };
    const which = await new Deno.Command("env", { args: ["-i", ...h.env, "sh", "-c", "command -v deno"] }).output();
    assert.equal(which.success, false, `deno found on the test PATH: ${dec.decode(which.stdout)}`);

    // --help of each launcher.
    for (
      const [launcher, usage] of [["kvstore-node", "Usage: kvstore node"], ["kvctl", "Usage: kvctl"], [
        "kvstore-monitor",
        "Usage: kvstore monitor",
      ]]
    ) {
      const r = await run(h, launcher, ["--help"]);
      assert.equal(r.code, 0, `${launcher} --help: ${r.stderr}`);
      assert.ok(r.stdout.startsWith(usage), `${launcher} --help:\n${r.stdout}`);
    }

    // A fleet of three nodes and a monitor, from the launchers.
    const ports = freeUdpPorts(4);
    const nodes = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`);
    const monitorUrl = `http://127.0.0.1:${freeTcpPort()}`;
    const clusterKey = crypto.getRandomValues(new Uint8Array(32)).toHex();
    const fleet = `${tmp}/nodes.yaml`;
    await Deno.writeTextFile(fleet, fleetText({ nodes, clusterKey, adminPublicKey: keys.publicKey, monitorUrl }));
    const monitor = launch(h, "monitor", "kvstore-monitor", ["--config", fleet, "--interval", "1s"]);
    procs.push(monitor);
    await monitor.waitFor(/kvstore monitor listening on/, 60_000);
    for (const [i, a] of nodes.entries()) {
      const args = ["--allow-run", "--port", a.split(":")[1], "--config", fleet, "--admin-dir", `${tmp}/node${i}`];
      const p = launch(h, `node${i}`, "kvstore-node", args);
      procs.push(p);
      await p.waitFor(/kvstore node listening on udp/, 60_000);
    }
    for (const a of nodes) {
      await waitUntil(async () => {
        const r = await run(h, "kvctl", ["members", "--count", "--node", a, "--config", fleet], 30_000);
        return r.code === 0 && r.stdout.trim() === "3";
      }, { timeoutMs: 60_000, intervalMs: 200, what: `${a} to count 3 members` });
    }
    await waitUntil(async () => {
      const body = await (await fetch(`${monitorUrl}/api/nodes`)).json() as { nodes: { id: string }[] };
      return nodes.every((a) => body.nodes.some((n) => n.id === a));
    }, { timeoutMs: 60_000, intervalMs: 200, what: "the monitor to see the three nodes" });
    console.log(`cluster: 3 nodes and a monitor from the launchers; every node counts 3 members`);

    // put and get.
    const put = await run(h, "kvctl", ["put", "greeting", "hello from the release", "--config", fleet]);
    assert.equal(put.code, 0, put.stderr);
    const get = await run(h, "kvctl", ["get", "greeting", "--config", fleet, "--node", nodes[2]]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, "hello from the release");

    // A node started without --allow-run (its own one-node fleet) refuses a script.
    const loneFleet = `${tmp}/lone.yaml`;
    const lone = `127.0.0.1:${ports[3]}`;
    await Deno.writeTextFile(
      loneFleet,
      fleetText({ nodes: [lone], clusterKey, adminPublicKey: keys.publicKey, monitorUrl }),
    );
    const loneNode = launch(h, "lone", "kvstore-node", ["--port", String(ports[3]), "--config", loneFleet]);
    procs.push(loneNode);
    await loneNode.waitFor(/kvstore node listening on udp/, 60_000);
    await Deno.writeTextFile(`${tmp}/hello.sh`, "echo hello > /tmp/kvstore-release-suite-must-not-exist\n");
    const refused = await run(h, "kvctl", [
      "run",
      `${tmp}/hello.sh`,
      "--wait",
      "--node",
      lone,
      "--nodes",
      lone,
      "--config",
      loneFleet,
      "--key",
      `${tmp}/admin.key`,
    ]);
    assert.notEqual(refused.code, 0, refused.stdout);
    assert.match(refused.stdout, /refused: started without --allow-run/);
    console.log(
      `node launcher without --allow-run: ${refused.stdout.match(/refused: started without --allow-run/)![0]}`,
    );

    // A tampered archive (signature copied along) is refused by kvctl upgrade ...
    const bytes = await Deno.readFile(built.archive);
    bytes[bytes.length >> 1] ^= 0x01;
    const tampered = `${tmp}/tampered/${built.archive.split("/").pop()}`;
    await Deno.mkdir(`${tmp}/tampered`);
    await Deno.writeFile(tampered, bytes);
    await Deno.copyFile(`${built.archive}.sig`, `${tampered}.sig`);
    const up = await run(h, "kvctl", ["upgrade", tampered, "--config", fleet, "--key", `${tmp}/admin.key`]);
    assert.equal(up.code, 1, up.stdout + up.stderr);
    assert.match(up.stderr, /kvctl upgrade: refused: .* was changed after it was signed/);
    console.log(`kvctl upgrade of a tampered archive: exit 1, "${up.stderr.trim().split("\n").at(-1)}"`);

    // ... and by the nodes: pushed (kvctl push does not check an archive without a .sig beside it) and named
    // in an upgrade command signed by the admin key, with the signature of the real archive.
    await Deno.remove(`${tampered}.sig`);
    const pushed = await run(h, "kvctl", [
      "push",
      tampered,
      "--to",
      "bin/tampered.tar.gz",
      "--config",
      fleet,
      "--key",
      `${tmp}/admin.key`,
    ]);
    assert.equal(pushed.code, 0, pushed.stdout + pushed.stderr);
    const tamperedSha = await fileSha256(tampered);
    const client = new AdminClient(await UdpTransport.listen("127.0.0.1", 0), realClock, {}, {
      auth: ClusterKeyring.fromHex([clusterKey]),
    });
    let id: string;
    try {
      const order = [...nodes].sort();
      const signed = await createCommand(keys.privateKey, {
        run: {
          script: "true",
          timeoutMs: 10_000,
          restart: true,
          rollout: { order, budgetMs: 60_000 },
          program: { path: "bin/tampered.tar.gz", sha256: tamperedSha, signature: sig.signature },
        },
      }, { selector: "all", lifetimeMs: 600_000 });
      id = signed.c.id;
      await client.submit(signed, [nodes[0]]);
      const results = await waitUntil(async () => {
        const r = await commandResults(monitorUrl, id);
        return r.some((x) => x.node === order[0] && x.status === "error") ? r : undefined;
      }, { timeoutMs: 60_000, intervalMs: 200, what: "the first node's refusal of the tampered archive" });
      const first = results!.find((x) => x.node === order[0] && x.status === "error")!;
      assert.match(first.message ?? "", /signature does not verify with the fleet's adminPublicKey/);
      console.log(`node ${order[0]} on the tampered archive: ${first.message}`);
    } finally {
      client.close();
    }
    const still = await run(h, "kvctl", ["get", "greeting", "--config", fleet]);
    assert.equal(still.stdout, "hello from the release", "the nodes kept running the old program");

    // The signed archive of another version: kvctl upgrade rolls the fleet onto it.
    const next = await buildRelease({
      outDir: `${tmp}/dist-next`,
      keyFile: `${tmp}/admin.key`,
      version: "0.1.0-release-suite",
    });
    const t0 = performance.now();
    const upgrade = await run(h, "kvctl", ["upgrade", next.archive, "--config", fleet, "--key", `${tmp}/admin.key`]);
    assert.equal(upgrade.code, 0, upgrade.stdout + upgrade.stderr);
    const build = next.sha256.slice(0, 12);
    assert.ok(
      upgrade.stdout.includes("versions now: 0.1.0-release-suite ("),
      upgrade.stdout,
    );
    assert.match(upgrade.stdout, /every node runs the new program/);
    console.log(
      `kvctl upgrade to the signed archive (${(next.size / 1e6).toFixed(1)} MB): 3 nodes in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    // Each node process now runs the runtime and the bundle unpacked in its admin directory.
    for (const i of [0, 1, 2]) {
      const unpacked = `${tmp}/node${i}/bin/kvstore-${build}`;
      const pids = pidsMentioning(`${unpacked}/kvstore.js`);
      assert.equal(pids.length, 1, `one process runs ${unpacked}/kvstore.js`);
      const argv = (await Deno.readTextFile(`/proc/${pids[0]}/cmdline`)).split("\0");
      assert.equal(argv[0], `${unpacked}/runtime/deno`);
      assert.ok(argv.includes("--allow-run=bash"), "the node keeps its node-admin set");
    }
    const after = await run(h, "kvctl", ["get", "greeting", "--config", fleet]);
    assert.equal(after.stdout, "hello from the release");
    // The launchers never touched a Deno cache but their own.
    assert.deepEqual([...Deno.readDirSync(emptyDenoDir)], []);
    const own = [...Deno.readDirSync(`${rel}/.deno`)].map((e) => e.name);
    assert.ok(!own.includes("remote") && !own.includes("deps"), own.join(", "));
    const npm = own.includes("npm") ? [...Deno.readDirSync(`${rel}/.deno/npm`)] : [];
    assert.deepEqual(npm, [], "no npm packages cached");
  } finally {
    // Nodes restarted in place are not children of this process, and hold the output pipes of the
    // children they replaced: those count as exited only once their replacements are gone too.
    const children = new Set(procs.map((p) => p.child.pid));
    const strays = pidsMentioning(tmp).filter((pid) => !children.has(pid));
    await Promise.all([...procs.map((p) => p.stop()), stopPids(strays)]);
    await Deno.remove(tmp, { recursive: true });
  }
});
