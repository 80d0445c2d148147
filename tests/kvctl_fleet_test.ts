/**
 * kvctl as users expect: without --node it tries the fleet file's nodes until one answers
 * (explicit --node and $KVSTORE_NODE still win), get adds a newline only on a terminal, and
 * members lists every member with its state.
 */
import assert from "node:assert/strict";
import { KVClient } from "../lib/client/client.ts";
import { KVTimeoutError } from "../lib/client/errors.ts";
import { getOutput } from "../lib/cli/kvctl.ts";
import { formatAge } from "../lib/cli/kvctl_members.ts";
import { DEFAULT_NODE, firstAnswering, resolveTargets } from "../lib/cli/kvctl_target.ts";
import { UsageError } from "../lib/base/cli_args.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { kvctl, type KvctlRun } from "./support/child_processes.ts";
import { ProcessCluster } from "./support/process_cluster.ts";
import { waitUntil } from "./support/real_time.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A temporary directory with a nodes.yaml listing `nodes` (no cluster key: nobody need run there). */
async function fleetDir(nodes: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-kvctl-fleet-" });
  await Deno.writeTextFile(
    `${dir}/nodes.yaml`,
    `name: kvctl-test\npreset: lan\nnodes:\n${nodes.map((a) => `  - ${a}\n`).join("")}`,
  );
  return dir;
}

/** Asserts one `error: …` line on stderr matching `pattern`, and exit code `code`. */
function assertError(r: KvctlRun, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, JSON.stringify(r));
  assert.match(r.stderr, /^error: [^\n]+\n$/, `one line, got ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, pattern);
}

Deno.test("getOutput: a newline is added on a terminal (unless the value ends with one); raw bytes otherwise", () => {
  const v = enc.encode("hello");
  assert.deepEqual(getOutput(v, true), enc.encode("hello\n"));
  assert.equal(getOutput(v, false), v, "not a terminal: the very same bytes");
  assert.deepEqual(getOutput(enc.encode("line\n"), true), enc.encode("line\n"), "no second newline");
  assert.deepEqual(getOutput(new Uint8Array(0), true), enc.encode("\n"));
  const binary = Uint8Array.from([0, 255, 10, 13]);
  assert.deepEqual(getOutput(binary, false), binary);
  assert.deepEqual(getOutput(Uint8Array.from([10, 0]), true), Uint8Array.from([10, 0, 10]));
});

Deno.test("resolveTargets: --node wins over $KVSTORE_NODE, which wins over the fleet file; the default last", async () => {
  const dir = await fleetDir(["127.0.0.1:4100", "127.0.0.1:4101", "127.0.0.1:4102"]);
  const config = `${dir}/nodes.yaml`;
  try {
    const explicit = await resolveTargets("get", { node: "10.0.0.1:1", env: "10.0.0.2:2", config });
    assert.deepEqual([explicit.nodes, explicit.source], [["10.0.0.1:1"], "--node"]);
    assert.ok(explicit.fleet, "--config is still read (its clusterKey)");
    const env = await resolveTargets("get", { env: "10.0.0.2:2", config });
    assert.deepEqual([env.nodes, env.source], [["10.0.0.2:2"], "$KVSTORE_NODE"]);
    const fleet = await resolveTargets("get", { config });
    assert.equal(fleet.source, config);
    assert.deepEqual([...fleet.nodes].sort(), ["127.0.0.1:4100", "127.0.0.1:4101", "127.0.0.1:4102"]);
    // One-node verbs never pick a node of the fleet at random.
    await assert.rejects(
      resolveTargets("shutdown", { config, single: true }),
      (e) => e instanceof UsageError && /kvctl shutdown acts on one node: pass --node ADDR .* lists 3/.test(e.message),
    );
    await assert.rejects(
      resolveTargets("get", { env: "nowhere" }),
      (e) => e instanceof UsageError && /\$KVSTORE_NODE: .*host:port/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const none = await resolveTargets("get", { config: undefined });
  // The test runs in the repository, whose nodes.yaml lists nodes; elsewhere the default applies.
  // (or the .kvstore-cluster/nodes.yaml of a local cluster, which comes first: lib/cli/kvctl_config.ts).
  assert.ok(
    ["nodes.yaml", ".kvstore-cluster/nodes.yaml"].includes(none.source) ||
      (none.source === "default" && none.nodes[0] === DEFAULT_NODE),
  );
});

Deno.test("firstAnswering: nodes that do not answer pass to the next; other errors stop; none answering names all tried", async () => {
  const targets = { nodes: ["a:1", "b:2", "c:3"], source: "nodes.yaml" };
  const asked: string[] = [];
  const r = await firstAnswering(targets, (a) => {
    asked.push(a);
    return a === "c:3" ? Promise.resolve("value") : Promise.reject(new KVTimeoutError(a, 4));
  });
  assert.deepEqual([r, asked], [{ value: "value", node: "c:3" }, ["a:1", "b:2", "c:3"]]);
  await assert.rejects(
    firstAnswering(targets, () => Promise.reject(new Error("key not found on a:1"))),
    /^Error: key not found on a:1$/,
  );
  await assert.rejects(
    firstAnswering(targets, (a) => Promise.reject(new KVTimeoutError(a, 4))),
    /^NoAnswerError: no node of nodes\.yaml answered: tried a:1, b:2, c:3 /,
  );
});

Deno.test("formatAge: ms, s, m+s, h+m, d+h", () => {
  assert.deepEqual(
    [350, 12_400, 307_000, 3 * 3_600_000 + 120_000, 4 * 86_400_000 + 5 * 3_600_000].map(formatAge),
    ["350ms", "12s", "5m07s", "3h02m", "4d05h"],
  );
});

Deno.test("kvctl without --node uses ./nodes.yaml or --config and tries its nodes until one answers; --node and $KVSTORE_NODE win", async () => {
  const [live, dead1, dead2] = freeUdpPorts(3);
  const node = await startNodeProcess(live);
  const dir = await fleetDir([`127.0.0.1:${dead1}`, `127.0.0.1:${dead2}`, `127.0.0.1:${live}`]);
  const fast = ["--timeout", "30ms", "--retries", "1"];
  try {
    const put = await kvctl(["put", "fleet-key", "no newline", ...fast], { cwd: dir });
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stderr, /^stored 10 bytes \(via 127\.0\.0\.1:\d+\)\n$/);
    const client = await KVClient.connect(`127.0.0.1:${live}`);
    assert.equal(dec.decode(await client.get("fleet-key")), "no newline");
    client.close();
    // Not a terminal: the raw bytes, without a newline.
    const got = await kvctl(["get", "fleet-key", ...fast], { cwd: dir });
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(got.stdoutBytes, enc.encode("no newline"));
    // --config from anywhere else.
    const other = await kvctl(["get", "fleet-key", "--config", `${dir}/nodes.yaml`, ...fast]);
    assert.equal(other.stdout, "no newline");
    // An explicit node wins, even a dead one: no silent fallback to the fleet.
    assertError(
      await kvctl(["get", "fleet-key", "--node", `127.0.0.1:${dead1}`, ...fast], { cwd: dir }),
      3,
      new RegExp(`^error: cannot reach node 127\\.0\\.0\\.1:${dead1}: .*check --node\\)$`, "m"),
    );
    assertError(
      await kvctl(["get", "fleet-key", ...fast], { cwd: dir, env: { KVSTORE_NODE: `127.0.0.1:${dead2}` } }),
      3,
      new RegExp(`cannot reach node 127\\.0\\.0\\.1:${dead2}: .*check \\$KVSTORE_NODE\\)`),
    );
    // One-node verbs with a fleet of three: a usage error instead of a random node.
    assertError(await kvctl(["pid", ...fast], { cwd: dir }), 2, /kvctl pid acts on one node: pass --node ADDR/);
  } finally {
    await node.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kvctl with a fleet file none of whose nodes answers: one line naming every node tried", async () => {
  const dead = freeUdpPorts(2).map((p) => `127.0.0.1:${p}`);
  const dir = await fleetDir(dead);
  try {
    const r = await kvctl(["get", "k", "--timeout", "20ms", "--retries", "0"], { cwd: dir });
    assertError(r, 3, /^error: no node of nodes\.yaml answered: tried 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+ /);
    for (const a of dead) assert.ok(r.stderr.includes(a), `${a} named`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Polls `kvctl members` in `dir` until `done(stdout)` holds (bounded). */
function membersUntil(dir: string, done: (table: string) => boolean, limitMs = 30_000): Promise<KvctlRun> {
  return waitUntil(() => kvctl(["members"], { cwd: dir }), {
    until: (r) => r.code === 0 && done(r.stdout),
    timeoutMs: limitMs,
    intervalMs: 200,
    what: "kvctl members to match (last value: its run)",
  });
}

Deno.test("kvctl members lists each member with its state (a killed node turns suspect or dead); --count for scripts", async () => {
  const c = await ProcessCluster.create({
    size: 3,
    name: "kvctl-test",
    preset: "lan",
    dirPrefix: "kvstore-kvctl-fleet-",
  });
  const addresses = c.addresses;
  const dir = c.dir;
  try {
    for (const a of addresses) await c.startNode(a);
    const rowOf = (table: string, a: string) => table.split("\n").find((l) => l.startsWith(`${a} `)) ?? "";
    const all = await membersUntil(dir, (t) => addresses.every((a) => /^\S+ +alive /.test(rowOf(t, a))));
    assert.match(all.stdout, /^MEMBER +STATE +INCARNATION +FOR\n/);
    assert.equal(all.stdout.trim().split("\n").length, 4);
    assert.equal(all.stdout.match(/\(self\)/g)?.length, 1);
    assert.match(all.stderr, /^3 members as seen by 127\.0\.0\.1:\d+: 3 alive, 0 suspect, 0 dead\n$/);
    const count = await kvctl(["members", "--count"], { cwd: dir });
    assert.equal(count.stdout, "3\n");
    await c.kill(addresses[2]);
    const after = await membersUntil(dir, (t) => /^\S+ +(suspect|dead) /.test(rowOf(t, addresses[2])));
    assert.match(rowOf(after.stdout, addresses[2]), /^127\.0\.0\.1:\d+ +(suspect|dead) +\d+ +\S+$/);
    // Without the fleet's clusterKey, the node drops the internal query: a clear error, and --count still works.
    const elsewhere = await kvctl(["members", "--node", addresses[0], "--timeout", "50ms", "--retries", "1"]);
    assertError(elsewhere, 3, /answers but not the members query: pass --config with the fleet file/);
    const bare = await kvctl(["members", "--count", "--node", addresses[0]]);
    assert.equal(bare.code, 0, bare.stderr);
  } finally {
    await c.close();
  }
});
