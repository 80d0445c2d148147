/**
 * kvctl as a user meets it (issue 22): `deno task cluster` in a temporary directory, then kvctl from that
 * directory with no flags. put/get/members/run/push/admin-status work; every verb's --json parses and has
 * its documented shape (docs/kvctl.md); a missing key and an unreachable node exit with different
 * documented codes; --version prints the version; an empty standard input is refused without --empty.
 * And `kvctl upgrade` with one node killed -9 names it within 5 s and finishes on the rest, 0 keys lost.
 */
import { userShellEnv } from "../support/child_processes.ts";
import assert from "node:assert/strict";
import { ClusterDir } from "../support/cluster_dir.ts";
import type { KvctlRun } from "../support/child_processes.ts";
import { waitUntil } from "../support/real_time.ts";
import { EXIT } from "../../lib/cli/exit_codes.ts";
import { KVSTORE_VERSION } from "../../lib/base/program.ts";
import { WIRE_VERSION } from "../../lib/wire/frame.ts";
import { roleCommand } from "../../lib/roles/process_launcher.ts";
import { bundle } from "../../scripts/bundle.ts";
import { lostKeys, writeKeys } from "../admin/rollout_traffic.ts";

type Kind = "string" | "number" | "boolean" | "array" | "object" | "null";
const kindOf = (v: unknown): Kind =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v as "string" | "number" | "boolean" | "object";

/** Parses the run's stdout as one JSON document with exactly `shape`'s keys and kinds. */
function json(r: KvctlRun, shape: Record<string, Kind | Kind[]>, what: string): Record<string, unknown> {
  assert.equal(r.stdout.trim().split("\n").length, 1, `${what}: one line of JSON, got ${r.stdout}`);
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc).sort(), Object.keys(shape).sort(), `${what}: keys of ${r.stdout}`);
  for (const [k, kind] of Object.entries(shape)) {
    const kinds = Array.isArray(kind) ? kind : [kind];
    assert.ok(kinds.includes(kindOf(doc[k])), `${what}: ${k} is ${kindOf(doc[k])}, expected ${kinds.join("|")}`);
  }
  return doc;
}

function ok(r: KvctlRun, what: string): KvctlRun {
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r;
}

const RESULT_DOC = {
  verb: "string",
  id: "string",
  handedTo: "string",
  targets: "array",
  skipped: "array",
  results: "array",
  code: "number",
} as const;

Deno.test("deno task cluster in a directory, then kvctl with no flags: verbs, --json shapes, exit codes, --version", async () => {
  const c = await ClusterDir.start({ nodes: 5, allowRun: true });
  const node = c.addresses[0];
  try {
    await c.waitForMembers();
    // config: the cluster's fleet file and the key beside it, found without flags.
    const cfg = json(ok(await c.kvctl(["config", "--json"]), "config"), {
      cwd: "string",
      fleet: "object",
      key: "object",
    }, "config --json");
    assert.deepEqual(cfg.fleet, {
      path: ".kvstore-cluster/nodes.yaml",
      source: "deno task cluster",
      nodes: 5,
      monitor: c.monitorUrl,
      clusterKey: true,
    });
    assert.deepEqual(cfg.key, {
      path: ".kvstore-cluster/admin.key",
      source: "beside the fleet file",
      readable: true,
      matchesFleet: true,
    });

    // Data verbs, as text and as JSON.
    ok(await c.kvctl(["put", "greeting", "hello"]), "put");
    assert.equal(ok(await c.kvctl(["get", "greeting"]), "get").stdout, "hello");
    const put = json(ok(await c.kvctl(["put", "bin", "--json"], { stdin: Uint8Array.of(0, 255, 10) }), "put --json"), {
      key: "string",
      bytes: "number",
      node: "string",
    }, "put --json");
    assert.deepEqual([put.key, put.bytes], ["bin", 3]);
    const text = json(ok(await c.kvctl(["get", "greeting", "--json"]), "get --json"), {
      key: "string",
      value: "string",
      encoding: "string",
      bytes: "number",
      node: "string",
    }, "get --json");
    assert.deepEqual([text.key, text.value, text.encoding, text.bytes], ["greeting", "hello", "utf8", 5]);
    const bin = JSON.parse(ok(await c.kvctl(["get", "bin", "--json"]), "get bin").stdout);
    assert.deepEqual([bin.value, bin.encoding], [btoa(String.fromCharCode(0, 255, 10)), "base64"]);
    const removed = json(ok(await c.kvctl(["remove", "bin", "--json"]), "remove --json"), {
      key: "string",
      removed: "boolean",
      node: "string",
    }, "remove --json");
    assert.equal(removed.removed, true);

    // Exit codes: a missing key (the node said no) and no answer differ, as documented.
    const missing = await c.kvctl(["get", "missing"]);
    const unreachable = await c.kvctl(["get", "x", "--node", "127.0.0.1:1", "--timeout", "20ms", "--retries", "1"]);
    console.log(`exit codes: get missing → ${missing.code}, get x --node 127.0.0.1:1 → ${unreachable.code}`);
    assert.equal(missing.code, EXIT.notFound, missing.stderr);
    assert.equal(unreachable.code, EXIT.noAnswer, unreachable.stderr);
    assert.notEqual(missing.code, unreachable.code);
    const noFile = await c.kvctl(["get", "x", "--config", "no-such.yaml"]);
    assert.equal(noFile.code, EXIT.usage, `a missing --config file is a configuration error: ${noFile.stderr}`);
    assert.match(noFile.stderr, /^error: Cannot read no-such\.yaml/);
    const empty = await c.kvctl(["put", "e"], { stdin: new Uint8Array(0) });
    assert.equal(empty.code, EXIT.usage);
    assert.match(empty.stderr, /standard input is empty; pass --empty/);
    ok(await c.kvctl(["put", "e", "--empty"], { stdin: new Uint8Array(0) }), "put --empty");
    assert.match(ok(await c.kvctl(["get", "--help"]), "get --help").stdout, /^Usage: kvctl get KEY/);

    // members, members --count, is-alive, pid.
    const members = json(ok(await c.kvctl(["members", "--json"]), "members --json"), {
      node: "string",
      members: "array",
      more: "number",
    }, "members --json");
    const rows = members.members as Record<string, unknown>[];
    assert.deepEqual(rows.map((m) => m.address).sort(), [...c.addresses].sort());
    for (const m of rows) assert.deepEqual(Object.keys(m).sort(), ["address", "forMs", "incarnation", "state"]);
    const count = json(ok(await c.kvctl(["members", "--count", "--json"]), "count"), {
      node: "string",
      alive: "number",
    }, "members --count --json");
    assert.equal(count.alive, 5);
    const alive = json(ok(await c.kvctl(["is-alive", "--node", node, "--json"]), "is-alive"), {
      node: "string",
      alive: "boolean",
    }, "is-alive --json");
    assert.deepEqual(alive, { node, alive: true });
    const pid = json(ok(await c.kvctl(["pid", "--node", node, "--json"]), "pid"), {
      node: "string",
      pid: "number",
    }, "pid --json");
    assert.ok((pid.pid as number) > 1);

    // --version: program version from deno.json, and the wire version.
    assert.match(ok(await c.kvctl(["--version"]), "--version").stdout, new RegExp(`^kvctl ${KVSTORE_VERSION} `));
    const version = json(ok(await c.kvctl(["--version", "--json"]), "--version --json"), {
      program: "string",
      version: "string",
      build: "string",
      wire: "object",
    }, "--version --json");
    assert.deepEqual([version.version, version.wire], [KVSTORE_VERSION, { frame: WIRE_VERSION }]);

    // Admin verbs with no flags: the key beside the fleet file signs.
    await Deno.writeTextFile(`${c.dir}/hello.sh`, 'echo "hello from $KVSTORE_NODE"\nseq 1 30\n');
    const run = ok(await c.kvctl(["run", "hello.sh", "--wait"]), "run --wait");
    assert.match(run.stdout, /5 nodes: 5 ok/);
    const runJson = json(ok(await c.kvctl(["run", "hello.sh", "--wait", "--json"]), "run --json"), RESULT_DOC, "run");
    assert.equal((runJson.results as unknown[]).length, 5);
    assert.deepEqual(runJson.skipped, []);
    await Deno.writeTextFile(`${c.dir}/payload.bin`, "x".repeat(100_000));
    const pushed = json(
      ok(await c.kvctl(["push", "payload.bin", "--to", "files/payload.bin", "--json"]), "push --json"),
      RESULT_DOC,
      "push",
    );
    assert.equal((pushed.results as { status: string }[]).filter((r) => r.status === "ok").length, 5);

    // admin-status: the whole output of each node (or --tail), and the list.
    const id = runJson.id as string;
    const status = ok(await c.kvctl(["admin-status", id]), "admin-status");
    assert.equal(status.stdout.match(/^--- 127\.0\.0\.1:\d+ \(ok\) ---$/gm)?.length, 5, status.stdout);
    assert.match(status.stdout, /^30$/m, "the last line of the output, not only the first");
    const statusJson = json(ok(await c.kvctl(["admin-status", id, "--json", "--tail", "2"]), "status --json"), {
      id: "string",
      expected: "array",
      final: "boolean",
      results: "array",
    }, "admin-status ID --json");
    for (const r of statusJson.results as { stdout: string }[]) assert.equal(r.stdout, "29\n30");
    const list = json(ok(await c.kvctl(["admin-status", "--json"]), "list"), { commands: "array" }, "admin list");
    assert.ok((list.commands as { id: string }[]).some((x) => x.id === id));

    // The task itself, typed in the cluster's directory: deno runs it in the repository and kvctl
    // moves back (INIT_CWD), so it finds .kvstore-cluster/nodes.yaml here.
    const repoConfig = new URL("../../deno.json", import.meta.url).pathname;
    const task = await new Deno.Command(roleCommand("kvctl", []).cmd, {
      args: ["task", "-q", "--config", repoConfig, "kvctl", "get", "greeting"],
      cwd: c.dir,
      ...userShellEnv(),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(task.stdout), "hello", new TextDecoder().decode(task.stderr));
  } finally {
    await c.close();
  }
});

Deno.test("kvctl upgrade with one node killed -9: names it within 5 s, finishes on the rest, 0 keys lost", async () => {
  const c = await ClusterDir.start({ nodes: 5, allowRun: true });
  try {
    await c.waitForMembers();
    const keys = await writeKeys(c.addresses, 300, "i22");
    const victim = c.addresses[3];
    Deno.kill(await c.pidOf(victim), "SIGKILL");
    // The fleet learns it (SWIM: suspect, then dead); kvctl then must not wait on it.
    await waitUntil(async () => {
      const r = await c.kvctl(["members", "--json", "--node", c.addresses[0]]);
      if (r.code !== 0) return false;
      const m = (JSON.parse(r.stdout).members as { address: string; state: string }[]).find((x) =>
        x.address === victim
      );
      return m?.state === "dead";
    }, { timeoutMs: 60_000, intervalMs: 250, what: `${victim} dead in the members list` });
    const version = "0.1.0-i22-upgrade";
    const sha = await bundle(`${c.dir}/next.js`, version);

    const { cmd, args } = roleCommand("kvctl", ["upgrade", "next.js"]);
    const started = performance.now();
    const child = new Deno.Command(cmd, { args, cwd: c.dir, stdout: "piped", stderr: "piped", stdin: "null" }).spawn();
    let namedAfterMs = -1;
    let stderr = "";
    const readErr = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        stderr += chunk;
        if (namedAfterMs < 0 && stderr.includes(`skipped ${victim}: dead since`)) {
          namedAfterMs = performance.now() - started;
        }
      }
    })();
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
    const stdoutText = new Response(child.stdout).text();
    const out = await child.status.finally(() => clearTimeout(timer));
    await readErr;
    const stdout = await stdoutText;
    const totalS = (performance.now() - started) / 1000;
    console.log(
      `upgrade with ${victim} killed: named after ${Math.round(namedAfterMs)} ms, finished in ${
        totalS.toFixed(1)
      } s, ` +
        `exit ${out.code}`,
    );
    assert.equal(out.code, 0, stderr + stdout);
    assert.ok(namedAfterMs >= 0 && namedAfterMs < 5_000, `the dead node named within 5 s (${namedAfterMs} ms)`);
    assert.match(stderr, /rolling restart of 4 nodes/);
    assert.ok(!stderr.includes(`waiting for ${victim}`), "never waits on the dead node");
    assert.match(stdout, /rollout done: 4 of 4 nodes restarted/);
    assert.ok(stdout.includes(`versions now: ${version} (${sha.slice(0, 12)}) on 4 (every node runs the new program)`));
    const lost = await lostKeys(c.addresses[0], keys);
    console.log(`keys lost: ${lost.length} of ${keys.size}`);
    assert.deepEqual(lost, []);
  } finally {
    await c.close();
  }
});
