/**
 * The kvctl admin verbs as a user meets them: limits checked before anything
 * is sent (real kvctl child processes, a UDP socket standing in for the node
 * that records whatever arrives), per-verb help, keygen's files and refusals,
 * the submit errors of the admin client, and the wording of the summary.
 */
import assert from "node:assert/strict";
import { AdminClient, createCommand, SubmitError } from "../../lib/admin/client.ts";
import type { SignedCommand } from "../../lib/admin/command.ts";
import { importAdminPrivateKey, publicKeyOf } from "../../lib/admin/keys.ts";
import type { NodeResult } from "../../lib/admin/protocol.ts";
import { formatTable, ResultWatcher } from "../../lib/admin/watch.ts";
import { VirtualClock } from "../../lib/base/clock.ts";
import { UdpTransport } from "../../lib/net/udp_transport.ts";
import { defaultInternalPort } from "../../lib/net/internal_address.ts";
import { freeUdpPorts } from "../../lib/roles/process_launcher.ts";
import { makeKeys } from "./admin_keys.ts";
import { kvctl as runKvctl, type KvctlRun } from "../support/child_processes.ts";
import { poll, sleep } from "../support/real_time.ts";

/** Runs the real kvctl CLI in `cwd`. */
function kvctl(args: string[], cwd: string): Promise<KvctlRun> {
  return runKvctl(args, { cwd });
}

/** A UDP socket in place of a node: it never answers and keeps every datagram that reaches it. */
/** A node that never answers: its address, and what reached its internal port (client port + 10000). */
async function fakeNode(): Promise<{ address: string; received: Uint8Array[]; close(): Promise<void> }> {
  const [port] = freeUdpPorts(1);
  const t = await UdpTransport.listen("127.0.0.1", defaultInternalPort(port));
  const received: Uint8Array[] = [];
  t.onReceive((d) => received.push(d));
  return {
    address: `127.0.0.1:${port}`,
    received,
    async close() {
      t.close();
      await t.closed;
    },
  };
}

/** A usage error as kvctl prints it: one `error:` line, exit code 2, no stack trace. */
function assertUsageError(r: { code: number; stderr: string; stdout: string }, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit code 2 expected; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: kvctl /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-cli-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const commentLines = (bytes: number) => ("# " + "a".repeat(77) + "\n").repeat(Math.ceil(bytes / 80)).slice(0, bytes);

Deno.test("kvctl run: a script over the nodes' 48 KiB is refused before anything is sent, exit 2", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/admin.key`, (await makeKeys()).file);
    await Deno.writeTextFile(`${dir}/big.sh`, commentLines(70_000)); // more than one datagram
    await Deno.writeTextFile(`${dir}/mid.sh`, commentLines(50_000)); // fits a datagram, over maxScriptBytes
    // 45,000 backslashes: under 48 KiB, but twice that once JSON-escaped.
    await Deno.writeTextFile(`${dir}/escaped.sh`, `echo "${"\\".repeat(45_000)}"\n`);
    const node = await fakeNode();
    try {
      for (
        const [file, pattern] of [
          ["big.sh", /big\.sh is 70,000 bytes but nodes accept scripts of at most 49,152 bytes.*kvctl push/],
          ["mid.sh", /mid\.sh is 50,000 bytes but nodes accept scripts of at most 49,152 bytes.*kvctl push/],
          ["escaped.sh", /the signed command is [\d,]+ bytes, more than one UDP datagram holds \(65,507 bytes\)/],
        ] as const
      ) {
        assertUsageError(await kvctl(["run", file, "--node", node.address, "--wait"], dir), pattern);
      }
      await sleep(100);
      assert.equal(node.received.length, 0, "nothing may reach the node");
    } finally {
      await node.close();
    }
  });
});

Deno.test("kvctl run: --timeout and --expires beyond the nodes' limits are refused before sending, exit 2", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/admin.key`, (await makeKeys()).file);
    await Deno.writeTextFile(`${dir}/s.sh`, "echo hi\n");
    const node = await fakeNode();
    try {
      const to = ["--node", node.address];
      assertUsageError(
        await kvctl(["run", "s.sh", "--timeout", "48h", ...to], dir),
        /--timeout 48h is longer than nodes allow \(at most 24h\); pass --timeout 24h or less$/,
      );
      assertUsageError(
        await kvctl(["run", "s.sh", "--expires", "200h", ...to], dir),
        /--expires 200h is longer than nodes accept \(at most 168h, 7 days\); pass --expires 168h or less$/,
      );
      assertUsageError(
        await kvctl(["push", "s.sh", "--to", "s.sh", "--expires", "169h", ...to], dir),
        /^error: kvctl push: --expires 169h is longer than nodes accept/,
      );
      await sleep(100);
      assert.equal(node.received.length, 0, "nothing may reach the node");
    } finally {
      await node.close();
    }
  });
});

Deno.test("every admin verb has its own --help: Usage line, description, each option with its default", async () => {
  const signing = ["--nodes", "--expires", "--config", "--key", "--node", "--monitor"];
  const verbs: [string, string[]][] = [
    ["keygen", ["--out", "--force"]],
    ["run", ["--timeout", "--wait", "--restart", "--budget", ...signing]],
    ["upgrade", ["--budget", "--timeout", ...signing]],
    ["push", ["--to", "--mode", "--timeout", "--chunk-size", ...signing]],
    ["admin-status", ["--config", "--monitor", "--node"]],
  ];
  await withDir(async (dir) => {
    for (const [verb, options] of verbs) {
      const r = await kvctl([verb, "--help"], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.startsWith(`Usage: kvctl ${verb} `), `kvctl ${verb} --help starts with its Usage line`);
      assert.match(r.stdout, /^Usage: .*\n\n[A-Z][^\n]+\n/, "then a blank line and a description");
      for (const option of [...options, "--help"]) {
        // The option starts a line of the Options block and is explained on that line.
        assert.match(r.stdout, new RegExp(`^  (-h, )?${option}\\b[^\\n]*\\s{2,}\\w`, "m"), `${verb}: ${option}`);
      }
    }
    const run = (await kvctl(["run", "--help"], dir)).stdout;
    assert.match(run, /--timeout D .*\(default 60s, at most 24h\)/);
    assert.match(run, /--expires D[^]*?\(default 1h, at most 168h/);
    assert.match(run, /--wait[^]*?\(default: print the command id and return\)/);
    assert.match(run, /--restart[^]*?\(default off;/);
    assert.match(run, /--budget D[^]*?\(default 3m\)/);
    const push = (await kvctl(["push", "--help"], dir)).stdout;
    assert.match(push, /--chunk-size SIZE .*\(default 32KiB\)/);
    assert.match(push, /--timeout D .*\(default 10m\)/);
    const all = await kvctl(["--help"], dir);
    for (const verb of ["keygen", "run SCRIPT.sh", "push FILE --to PATH", "upgrade FILE", "admin-status [ID]"]) {
      assert.ok(all.stdout.includes(`\n  ${verb}`), `kvctl --help lists ${verb}`);
    }
  });
});

Deno.test("kvctl keygen: private key mode 600, .pub matches, no overwrite without --force", async () => {
  await withDir(async (dir) => {
    const key = `${dir}/keys/admin.key`;
    const mode = async (p: string) => (await Deno.stat(p)).mode! & 0o777;
    const pubOf = async (p: string) => await publicKeyOf(await importAdminPrivateKey(await Deno.readTextFile(p)));

    const first = await kvctl(["keygen", "--out", "keys/admin.key"], dir);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(await mode(key), 0o600);
    const pub = (await Deno.readTextFile(`${key}.pub`)).trim();
    assert.equal(pub, await pubOf(key));
    assert.match(first.stdout, new RegExp(`^adminPublicKey: ${pub.replace(/[+/]/g, "\\$&")}$`, "m"));
    const secret = await Deno.readTextFile(key);

    assertUsageError(
      await kvctl(["keygen", "--out", "keys/admin.key"], dir),
      /keys\/admin\.key (already )?exists; pass --force to replace/,
    );
    assert.equal(await Deno.readTextFile(key), secret, "the key is untouched");
    assert.equal((await Deno.readTextFile(`${key}.pub`)).trim(), pub);

    // --force replaces both, and a key file someone made readable ends up 600 again.
    await Deno.chmod(key, 0o644);
    const forced = await kvctl(["keygen", "--out", "keys/admin.key", "--force"], dir);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(await Deno.readTextFile(key), secret);
    assert.equal(await mode(key), 0o600);
    const newPub = (await Deno.readTextFile(`${key}.pub`)).trim();
    assert.notEqual(newPub, pub);
    assert.equal(newPub, await pubOf(key));

    // A lone .pub (its private key gone) is not silently replaced either.
    await Deno.remove(key);
    assertUsageError(
      await kvctl(["keygen", "--out", "keys/admin.key"], dir),
      /keys\/admin\.key\.pub already exists; pass --force/,
    );
    assert.equal((await Deno.readTextFile(`${key}.pub`)).trim(), newPub);
    const left = [];
    for await (const e of Deno.readDir(`${dir}/keys`)) left.push(e.name);
    assert.deepEqual(left, ["admin.key.pub"], "no temporary files left behind");
  });
});

async function runCommand(script: string): Promise<SignedCommand> {
  const { privateKey } = await makeKeys();
  return await createCommand(privateKey, { run: { script, timeoutMs: 1_000 } });
}

/** Submits through a client on virtual time; `between` runs after the first send, before the retries. */
async function submitError(
  signed: SignedCommand,
  to: string,
  between: (udp: UdpTransport) => Promise<void> = async (udp) => {
    await sleep(0); // the first send leaves at the end of its turn
    await udp.flush();
  },
): Promise<SubmitError> {
  const clock = new VirtualClock();
  const udp = await UdpTransport.listen("127.0.0.1", 0);
  // A real socket: its messages leave at the end of the turn, as a node's do, not on the virtual clock.
  const client = new AdminClient(udp, clock, {}, { defer: queueMicrotask });
  try {
    const p = client.submit(signed, [to]).then(() => assert.fail("submit must fail"), (e) => e);
    await between(udp);
    clock.advance(10_000); // every retry times out
    const e = await p;
    await udp.flush();
    assert.ok(e instanceof SubmitError, String(e));
    return e;
  } finally {
    client.close();
    await udp.closed;
  }
}

Deno.test("AdminClient.submit tells a command too big to send from a send failure and from no reply", async () => {
  const node = await fakeNode();
  try {
    // Too big for one datagram: refused at once, nothing sent.
    let e = await submitError(await runCommand("#".repeat(70_000)), node.address);
    assert.match(e.message, /^the signed command is [\d,]+ bytes, more than one UDP datagram holds \(65,507 bytes\)/);
    assert.match(e.message, /nothing was sent/);
    await sleep(50);
    assert.equal(node.received.length, 0);

    // Cannot be encoded at all.
    const small = await runCommand("echo hi");
    e = await submitError({ ...small, s: 1n as unknown as string }, node.address);
    assert.match(e.message, /^the command cannot be encoded: .*BigInt/);

    // The socket refuses the datagram (an IPv6 address from an IPv4 socket): a send failure, not a timeout.
    e = await submitError(small, "[::1]:4000");
    assert.match(e.message, /^could not send the command to \[::1\]:4000: the operating system refused the datagram/);
    assert.doesNotMatch(e.message, /no node answered/);

    // Sent, never answered: a timeout.
    e = await submitError(small, node.address, async (udp) => {
      await udp.flush();
      await poll(() => node.received.length > 0, { timeoutMs: 2_000, intervalMs: 5 });
    });
    assert.match(e.message, /^no node answered: tried 127\.0\.0\.1:\d+ \(no reply within 4\.5 s each\); are they/);
    assert.ok(node.received.length >= 1);
  } finally {
    await node.close();
  }
});

function result(node: string, status: NodeResult["status"]): NodeResult {
  return {
    id: "ab".repeat(16),
    node,
    status,
    exitCode: 0,
    durationMs: 10,
    stdout: "hi\n",
    startedAt: 0,
    command: { kind: "run", selector: "all" } as NodeResult["command"],
  };
}

Deno.test("the summary and the progress line say 1 node, 2 nodes", async () => {
  const a = "127.0.0.1:4000", b = "127.0.0.1:4001";
  assert.match(formatTable(new Map([[a, result(a, "ok")]]), [a]), /\n\n1 node: 1 ok$/);
  assert.match(formatTable(new Map([[a, result(a, "ok")]]), [a, b]), /\n\n2 nodes: 1 ok, 1 no report$/);
  const lines: string[] = [];
  const client = { status: () => Promise.resolve(result(a, "ok")) } as unknown as AdminClient;
  const watcher = new ResultWatcher({
    id: "ab".repeat(16),
    client,
    targets: [a],
    pollMs: 1,
    progress: (l) => lines.push(l),
  });
  await watcher.follow(1_000);
  assert.deepEqual(lines, ["1 of 1 node done"]);
});

Deno.test("kvctl run --budget without --restart, and kvctl upgrade of a missing or non-program file: one sentence, exit 2", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/s.sh`, "true\n");
    await Deno.writeTextFile(`${dir}/notes.txt`, "hello\n");
    const cases: [string[], RegExp][] = [
      [["run", "s.sh", "--budget", "1m"], /--budget is for rolling restarts; add --restart/],
      [["run", "s.sh", "--restart", "--budget", "10ms"], /--budget must be at least 1s/],
      [["upgrade", "missing.js"], /cannot read missing\.js/],
      [["upgrade", "notes.txt"], /neither a script \(\.js\) nor an executable binary/],
      [["upgrade"], /give one program file/],
    ];
    for (const [args, message] of cases) {
      const r = await kvctl(args, dir);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, "one line, no stack trace");
    }
  });
});
