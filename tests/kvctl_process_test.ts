/** The kvctl CLI against a real node process: verbs, value sources and its error messages. */
import assert from "node:assert/strict";
import { KVClient } from "../lib/client/client.ts";
import { freeUdpPorts, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { ClusterDebugClient } from "../lib/replication/debug_queries.ts";
import { exitsWithin, kvctl, type KvctlRun } from "./support/child_processes.ts";

/** Asserts a failed run printed one `error: …` sentence on stderr, nothing else, and no stack trace. */
function assertOneSentenceError(r: KvctlRun, pattern: RegExp, what: string): void {
  assert.notEqual(r.code, 0, `${what} must fail`);
  assert.match(r.stderr, pattern, what);
  assert.match(r.stderr, /^error: [^\n]+\n?$/, `${what}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(r.stderr + r.stdout, /^\s+at /m, `no stack trace for ${what}`);
}

Deno.test("kvctl errors are one clear sentence, non-zero exit, no stack trace", async () => {
  const [deadPort] = freeUdpPorts(1);
  const cases: [string[], RegExp][] = [
    [["get", "k", "--node", `127.0.0.1:${deadPort}`, "--timeout", "20ms"], /cannot reach node 127\.0\.0\.1:\d+/],
    [["put", "x".repeat(40), "v"], /bad key: Key is 40 bytes; keys are at most 32 bytes/],
    [["get", "k", "--frobnicate"], /Unknown option '--frobnicate'.*--help/],
    [["teleport"], /unknown verb "teleport"/],
    [["get"], /missing KEY/],
    [["get", "k", "--node", "nowhere"], /expected host:port/],
    [["get", "zz", "--hex"], /Invalid hex/],
  ];
  for (const [args, pattern] of cases) {
    assertOneSentenceError(await kvctl(args), pattern, `kvctl ${args.join(" ")}`);
  }
});

Deno.test("kvctl round trip against a real node, value from stdin-less argument and --file", async () => {
  const [port] = freeUdpPorts(1);
  const node = await startNodeProcess(port);
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeFile(file, new Uint8Array([0, 1, 2, 255]));
    const node_ = ["--node", `127.0.0.1:${port}`];
    assert.equal((await kvctl(["put", "greeting", "hello", ...node_])).code, 0);
    const got = await kvctl(["get", "greeting", ...node_]);
    assert.equal(got.code, 0);
    assert.match(got.stdout, /hello/);
    assert.equal((await kvctl(["put", "bin", "--file", file, ...node_])).code, 0);
    const client = await KVClient.connect(`127.0.0.1:${port}`);
    assert.deepEqual(await client.get("bin"), new Uint8Array([0, 1, 2, 255]));
    client.close();
    assert.equal((await kvctl(["members", "--count", ...node_])).stdout.trim(), "1");
    const table = await kvctl(["members", ...node_]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout.trimEnd(),
      new RegExp(`^MEMBER +STATE +INCARNATION +FOR\n127\\.0\\.0\\.1:${port} +alive +0 .*\\(self\\)$`),
    );
    const missing = await kvctl(["get", "nothing-here", ...node_]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /key not found/);
  } finally {
    await Deno.remove(file);
    await node.stop("SIGKILL");
  }
});

Deno.test("kvctl verbs against a real node: stdin, --hex, remove twice, is-alive, pid, wipeout, shutdown", async () => {
  const [port] = freeUdpPorts(1);
  const address = `127.0.0.1:${port}`;
  const node = await startNodeProcess(port);
  const client = await KVClient.connect(address);
  const at = ["--node", address];
  const dec = new TextDecoder();
  try {
    // put with the value on standard input: stored byte for byte (zeros, newlines, 0xff included).
    const fromStdin = Uint8Array.from([0, 10, 255, 13, ...new TextEncoder().encode(" from stdin\n"), 0]);
    const put = await kvctl(["put", "piped", ...at], { stdin: fromStdin });
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stderr, new RegExp(`stored ${fromStdin.length} bytes`));
    assert.deepEqual(await client.get("piped"), fromStdin);
    const got = await kvctl(["get", "piped", ...at]);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(got.stdoutBytes, fromStdin, "get prints the raw value");

    // --hex: the key is the bytes the digits spell (zero-padded), not the text of the digits.
    const hexPut = await kvctl(["put", "00ff10", "hex value", "--hex", ...at]);
    assert.equal(hexPut.code, 0, hexPut.stderr);
    assert.equal(dec.decode(await client.get(Uint8Array.from([0x00, 0xff, 0x10]))), "hex value");
    await assert.rejects(client.get("00ff10"), { name: "KeyNotFoundError" });
    const hexGet = await kvctl(["get", "00ff10", "--hex", ...at]);
    assert.equal(hexGet.code, 0, hexGet.stderr);
    assert.equal(hexGet.stdout, "hex value");
    assertOneSentenceError(await kvctl(["get", "00ff10", ...at]), /key not found/, "get of the text key 00ff10");

    // remove twice: the first removes, the second says the key is not there.
    await client.put("doomed", "x");
    const removed = await kvctl(["remove", "doomed", ...at]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stderr, /removed/);
    await assert.rejects(client.get("doomed"), { name: "KeyNotFoundError" });
    const again = await kvctl(["remove", "doomed", ...at]);
    assert.equal(again.code, 1);
    assertOneSentenceError(
      again,
      new RegExp(`^error: key not found on ${address.replaceAll(".", "\\.")}$`, "m"),
      "remove twice",
    );

    const alive = await kvctl(["is-alive", ...at]);
    assert.equal(alive.code, 0, alive.stderr);
    assert.equal(alive.stdout.trim(), `${address} is alive`);

    const pid = await kvctl(["pid", ...at]);
    assert.equal(pid.code, 0, pid.stderr);
    assert.equal(pid.stdout.trim(), String(node.child.pid));

    // wipeout: every key is gone.
    const wiped = await kvctl(["wipeout", ...at]);
    assert.equal(wiped.code, 0, wiped.stderr);
    assertOneSentenceError(await kvctl(["get", "piped", ...at]), /key not found/, "get after wipeout");
    assertOneSentenceError(await kvctl(["get", "00ff10", "--hex", ...at]), /key not found/, "hex get after wipeout");
    const dbg = await ClusterDebugClient.open();
    try {
      assert.equal((await dbg.stats(address)).keys, 0, "no live key after wipeout");
    } finally {
      dbg.close();
    }

    // shutdown: kvctl succeeds and the node process exits (bounded: a node that stays up fails here).
    const down = await kvctl(["shutdown", ...at]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /is shutting down/);
    const status = await exitsWithin(node);
    assert.equal(status.success, true, `node exit status ${JSON.stringify(status)}`);

    // is-alive against the dead node: non-zero exit, one clear line, no stack trace.
    const dead = await kvctl(["is-alive", ...at, "--timeout", "20ms"]);
    assert.notEqual(dead.code, 0, "is-alive of a stopped node must fail");
    const printed = (dead.stdout + dead.stderr).trim();
    assert.match(printed, new RegExp(`${address.replaceAll(".", "\\.")} does not answer`));
    assert.equal(printed.split("\n").length, 1, `one line, got ${JSON.stringify(printed)}`);
    assert.doesNotMatch(printed, /^\s+at |Error:/m, "no stack trace");
  } finally {
    client.close();
    await node.stop("SIGKILL");
  }
});

Deno.test("deno task kvctl honours $KVSTORE_NODE (its permission set allows reading it)", async () => {
  const [port] = freeUdpPorts(1);
  const node = await startNodeProcess(port);
  const client = await KVClient.connect(`127.0.0.1:${port}`);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "kvctl", "put", "from-env", "yes"],
      cwd: new URL("..", import.meta.url).pathname,
      env: { KVSTORE_NODE: `127.0.0.1:${port}`, KVSTORE_DEBUG: "0" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `deno task kvctl failed: ${err}`);
    assert.equal(new TextDecoder().decode(await client.get("from-env")), "yes", "the put went to $KVSTORE_NODE");
  } finally {
    client.close();
    await node.stop();
  }
});
