/**
 * Least privilege, defined once: every role runs with its named permission set from deno.json
 * (`deno task`, `deno compile`, the process launcher), and each set holds what the role uses and
 * nothing more. Roles run as real child processes, as their tasks run them.
 */
import assert from "node:assert/strict";
import { KVClient } from "../lib/client/client.ts";
import {
  freeUdpPorts,
  NODE_RUNTIME_FLAGS,
  NODE_V8_FLAGS,
  permissionFlags,
  ROLE_PERMISSION_SET,
  roleCommand,
} from "../lib/roles/process_launcher.ts";
import { WatchedProcess } from "../lib/base/watched_process.ts";
import { counterOf, NodeStatsReader } from "./node_stats_reader.ts";
import { startNodeProcess } from "../lib/roles/process_launcher.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PROBE = new URL("./permission_probe.ts", import.meta.url).pathname;
const denoJson = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`)) as {
  tasks: Record<string, string>;
  permissions: Record<string, Record<string, unknown>>;
};

/** Role tasks: task name → [permission set, main.ts subcommand]. */
const ROLE_TASKS: Record<string, [string, string]> = {
  node: ["node", "node"],
  "node:admin": ["node-admin", "node"],
  monitor: ["monitor", "monitor"],
  kvctl: ["kvctl", "kvctl"],
  cluster: ["cluster", "cluster"],
};

/** The argv of a role task (its deno.json command line, `deno` replaced by this deno), with `args` appended. */
function taskArgv(task: string, args: string[] = []): string[] {
  const words = denoJson.tasks[task].split(" ");
  assert.equal(words[0], "deno");
  return [...words.slice(1), ...args];
}

/** Runs `deno task --quiet TASK ARGS` in the repository with `env` added; exit code and output. */
async function denoTask(
  task: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", task, ...args],
    cwd: REPO,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno.json: each role's task, its compile task and the process launcher use one named set; no task repeats the lists", () => {
  for (const [task, [set, sub]] of Object.entries(ROLE_TASKS)) {
    assert.ok(denoJson.permissions[set], `no permission set "${set}" in deno.json`);
    // A node runs with its runtime flags (the launcher adds the same ones).
    const runtime = sub === "node" ? `${NODE_RUNTIME_FLAGS.join(" ")} ` : "";
    assert.equal(denoJson.tasks[task], `deno run --quiet --no-prompt ${runtime}-P=${set} main.ts ${sub}`);
    const compile = denoJson.tasks[`compile:${task}`];
    // A compiled node carries its V8 flags in the binary.
    const v8 = sub === "node" ? `${NODE_V8_FLAGS} ` : "";
    if (compile) {
      assert.equal(
        compile.replace(/--output \S+/, "--output X"),
        `deno compile ${v8}-P=${set} --output X main.ts ${sub}`,
      );
    }
  }
  assert.deepEqual(Object.keys(denoJson.tasks).filter((t) => t.startsWith("compile:")).sort(), [
    "compile:kvctl",
    "compile:monitor",
    "compile:node",
  ]);
  // The launcher starts child roles with the same sets, read from this deno.json.
  for (const role of ["node", "monitor", "kvctl", "cluster"]) {
    const { args } = roleCommand(role, []);
    assert.deepEqual(args.slice(0, 6), [
      "run",
      "--quiet",
      "--config",
      `${REPO}/deno.json`,
      "--no-prompt",
      `-P=${role}`,
    ]);
    assert.ok(!args.some((a) => a.startsWith("--allow-")), `roleCommand(${role}) adds its own --allow flags`);
    assert.equal(ROLE_PERMISSION_SET[role], ROLE_TASKS[role][0]);
  }
  assert.ok(roleCommand("node", [], { permissionSet: "node-admin" }).args.includes("-P=node-admin"));
  assert.deepEqual(roleCommand("node", []).args.slice(6, 6 + NODE_RUNTIME_FLAGS.length), [...NODE_RUNTIME_FLAGS]);
  // The admin node is the node plus bash, nothing else (deno.json has no set inheritance to say so).
  assert.deepEqual(denoJson.permissions["node-admin"], { ...denoJson.permissions.node, run: ["bash"] });
});

/** What each set must grant, as probed in a child process started with the task's exact flags. */
const EXPECTED: Record<string, Record<string, string[] | boolean>> = {
  node: {
    env: ["LOG_TOKENS", "LOG_STREAM", "KVSTORE_DEBUG"],
    sys: ["loadavg", "systemMemoryInfo", "statfs"],
    run: [],
    net: true,
    read: true,
    write: true,
    ffi: false,
  },
  "node:admin": {
    env: ["LOG_TOKENS", "LOG_STREAM", "KVSTORE_DEBUG"],
    sys: ["loadavg", "systemMemoryInfo", "statfs"],
    run: ["bash"],
    net: true,
    read: true,
    write: true,
    ffi: false,
  },
  monitor: {
    env: ["LOG_TOKENS", "LOG_STREAM", "KVSTORE_DEBUG"],
    sys: [],
    run: [],
    net: true,
    read: true,
    write: true,
    ffi: false,
  },
  kvctl: {
    env: ["LOG_TOKENS", "LOG_STREAM", "KVSTORE_NODE", "KVSTORE_DEBUG"],
    sys: [],
    run: [],
    net: true,
    read: true,
    write: true,
    ffi: false,
  },
  cluster: { env: ["KVSTORE_DEBUG"], sys: [], run: ["deno"], net: false, read: true, write: true, ffi: false },
};

Deno.test("each role's set, probed with its task's flags: only the variables it reads, its sys calls, subprocesses only where documented", async () => {
  await Promise.all(
    Object.entries(ROLE_TASKS).map(async ([task, [, sub]]) => {
      const argv = taskArgv(task);
      const at = argv.indexOf("main.ts");
      assert.deepEqual(argv.slice(at), ["main.ts", sub]);
      const out = await new Deno.Command(Deno.execPath(), {
        args: [...argv.slice(0, at), PROBE],
        cwd: REPO,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.deepEqual(JSON.parse(text), EXPECTED[task], `deno task ${task}`);
    }),
  );
});

Deno.test("$KVSTORE_NODE and $KVSTORE_DEBUG take effect through deno task kvctl", async () => {
  const [port] = freeUdpPorts(1);
  const node = await startNodeProcess(port);
  const client = await KVClient.connect(`127.0.0.1:${port}`);
  try {
    const env = { KVSTORE_NODE: `127.0.0.1:${port}` };
    const put = await denoTask("kvctl", ["put", "perm-env", "yes"], env);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(new TextDecoder().decode(await client.get("perm-env")), "yes", "the put went to $KVSTORE_NODE");
    const get = await denoTask("kvctl", ["get", "perm-env"], env);
    assert.equal(get.stdout, "yes");
    // Without the variable (and with an explicit --node that is wrong), the node is not reached.
    const wrong = await denoTask("kvctl", ["get", "perm-env", "--node", "127.0.0.1:1", "--retries", "0"], env);
    assert.equal(wrong.code, 3, "no answer: exit code 3 (lib/cli/exit_codes.ts)");
    assert.match(wrong.stderr, /127\.0\.0\.1:1/);
    // $KVSTORE_CONFIG and $KVSTORE_ADMIN_KEY are read (a missing file is a configuration error, exit 2).
    const config = await denoTask("kvctl", ["get", "perm-env"], { KVSTORE_CONFIG: "/nonexistent/fleet.yaml" });
    assert.equal(config.code, 2, config.stderr);
    assert.match(config.stderr, /Cannot read \/nonexistent\/fleet\.yaml/);
    const key = await denoTask("kvctl", ["config", "--json"], { KVSTORE_ADMIN_KEY: "/nonexistent/admin.key" });
    assert.equal(JSON.parse(key.stdout).key.source, "$KVSTORE_ADMIN_KEY", key.stderr);
    const plain = await denoTask("kvctl", ["frobnicate"]);
    assert.equal(plain.code, 2);
    assert.doesNotMatch(plain.stderr, /\n\s+at /, "no stack without KVSTORE_DEBUG");
    const debug = await denoTask("kvctl", ["frobnicate"], { KVSTORE_DEBUG: "1" });
    assert.equal(debug.code, 2);
    assert.match(debug.stderr, /^error: kvctl: unknown verb "frobnicate"/);
    assert.match(debug.stderr, /\n\s+at (async )?kvctl(Command|Verb) /, "KVSTORE_DEBUG=1 prints the stack");
  } finally {
    client.close();
    await node.stop();
  }
});

Deno.test("$KVSTORE_DEBUG takes effect in the node, node:admin, monitor and cluster tasks", async () => {
  const mistakes: Record<string, string[]> = {
    node: ["--port", "x"],
    "node:admin": ["--port", "x"],
    monitor: ["--interval", "1"],
    cluster: ["--nodes", "0"],
  };
  await Promise.all(
    Object.entries(mistakes).map(async ([task, args]) => {
      const plain = await denoTask(task, args);
      assert.equal(plain.code, 2, `${task}: ${plain.stderr}`);
      assert.doesNotMatch(plain.stderr, /\n\s+at /);
      const debug = await denoTask(task, args, { KVSTORE_DEBUG: "1" });
      assert.equal(debug.code, 2);
      assert.match(
        debug.stderr,
        /UsageError: .*\n\s+at /,
        `${task}: KVSTORE_DEBUG=1 prints the stack: ${debug.stderr}`,
      );
    }),
  );
});

Deno.test("$LOG_TOKENS reaches the yaml library in the roles that read the fleet file (node, monitor, kvctl)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-perm-" });
  try {
    const fleet = `${dir}/nodes.yaml`;
    // An anchor: a node reads a plain fleet file without yaml (config/fleet_quick.ts), this one with it.
    await Deno.writeTextFile(fleet, "name: perm\nnodes: &seeds\n  - 127.0.0.1:4000\n  - 127.0.0.1:4001\n");
    // Each mistake is found after the fleet file is parsed: kvctl pid needs one node, the fleet lists two.
    const cases: [string, string[]][] = [
      ["node", ["--config", fleet, "--port", "x"]],
      ["monitor", ["--config", fleet, "--url", "x"]],
      ["kvctl", ["pid", "--config", fleet]],
    ];
    for (const [task, args] of cases) {
      const quiet = await denoTask(task, args);
      assert.equal(quiet.code, 2, quiet.stderr);
      assert.doesNotMatch(quiet.stdout, /^\| /m);
      const tokens = await denoTask(task, args, { LOG_TOKENS: "1" });
      assert.equal(tokens.code, 2, tokens.stderr);
      assert.match(tokens.stdout, /^\| .*perm/m, `${task}: the parser printed its tokens`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the node task's scoped sys calls are the ones it makes: load, memory and disk space appear in its stats", async () => {
  const [port] = freeUdpPorts(1);
  const node = new WatchedProcess("node", Deno.execPath(), taskArgv("node", ["--port", String(port)]));
  const reader = new NodeStatsReader();
  try {
    await node.waitFor(/listening on udp/);
    const stats = await reader.stats(port);
    counterOf(stats, "load_1m");
    assert.ok(counterOf(stats, "mem_total") > 0);
    counterOf(stats, "disk_free");
    assert.equal(stats.load, undefined, "no 'unavailable (needs --allow-sys)'");
  } finally {
    await reader.close();
    await node.stop();
  }
});

Deno.test("the kvctl task cannot start subprocesses: bench without --target says it needs --allow-run", async () => {
  const r = await denoTask("kvctl", ["bench", "--duration", "1s"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^error: bench: give --target host:port \(starting a local node needs --allow-run\)$/m);
  // The flags the launcher would give a child kvctl carry the same set.
  assert.ok(permissionFlags("kvctl").includes("-P=kvctl"));
});
