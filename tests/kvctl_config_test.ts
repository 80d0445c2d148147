/**
 * The pieces of kvctl that scripts rely on (issue 22): where the fleet file and the admin key are found,
 * the exit code each error stands for, get --json's value encoding, and the live/skipped split of the
 * admin verbs' target list.
 */
import assert from "node:assert/strict";
import { ADMIN_KEY_FILE, CLUSTER_FLEET_FILE, findAdminKey, findFleetFile } from "../lib/cli/kvctl_config.ts";
import { EXIT, exitCodeOf, NoAnswerError, withExitCode } from "../lib/cli/exit_codes.ts";
import { jsonValue } from "../lib/cli/json_output.ts";
import { skippedLine, splitMembers } from "../lib/cli/fleet_targets.ts";
import { UsageError } from "../lib/base/cli_args.ts";
import { KeyNotFoundError, KVTimeoutError, OutOfSpaceError } from "../lib/client/errors.ts";
import { ConfigError } from "../lib/config/fleet_file.ts";
import { RpcTimeoutError } from "../lib/wire/rpc.ts";

Deno.test("findFleetFile: --config, then $KVSTORE_CONFIG, then .kvstore-cluster/nodes.yaml, then ./nodes.yaml", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kvstore-kvctl-config-" });
  const home = Deno.cwd();
  const saved = Deno.env.get("KVSTORE_CONFIG");
  Deno.env.delete("KVSTORE_CONFIG");
  try {
    Deno.chdir(dir);
    assert.deepEqual(await findFleetFile(undefined), { source: "none" });
    await Deno.writeTextFile("nodes.yaml", "nodes: [127.0.0.1:1]\n");
    assert.deepEqual(await findFleetFile(undefined), { path: "nodes.yaml", source: "current directory" });
    await Deno.mkdir(".kvstore-cluster");
    await Deno.writeTextFile(CLUSTER_FLEET_FILE, "nodes: [127.0.0.1:2]\n");
    assert.deepEqual(await findFleetFile(undefined), { path: CLUSTER_FLEET_FILE, source: "deno task cluster" });
    Deno.env.set("KVSTORE_CONFIG", "/etc/kvstore/nodes.yaml");
    assert.deepEqual(await findFleetFile(undefined), { path: "/etc/kvstore/nodes.yaml", source: "$KVSTORE_CONFIG" });
    assert.deepEqual(await findFleetFile("mine.yaml"), { path: "mine.yaml", source: "--config" });
  } finally {
    Deno.chdir(home);
    if (saved === undefined) Deno.env.delete("KVSTORE_CONFIG");
    else Deno.env.set("KVSTORE_CONFIG", saved);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findAdminKey: --key, then $KVSTORE_ADMIN_KEY, then admin.key beside the fleet file", () => {
  const saved = Deno.env.get("KVSTORE_ADMIN_KEY");
  Deno.env.delete("KVSTORE_ADMIN_KEY");
  try {
    assert.deepEqual(findAdminKey(undefined, CLUSTER_FLEET_FILE), {
      path: ".kvstore-cluster/admin.key",
      source: "beside the fleet file",
    });
    assert.equal(findAdminKey(undefined, "nodes.yaml").path, ADMIN_KEY_FILE);
    assert.deepEqual(findAdminKey(undefined, undefined), { path: ADMIN_KEY_FILE, source: "current directory" });
    Deno.env.set("KVSTORE_ADMIN_KEY", "/secrets/a.key");
    assert.deepEqual(findAdminKey(undefined, CLUSTER_FLEET_FILE), {
      path: "/secrets/a.key",
      source: "$KVSTORE_ADMIN_KEY",
    });
    assert.deepEqual(findAdminKey("k.key", CLUSTER_FLEET_FILE), { path: "k.key", source: "--key" });
  } finally {
    if (saved === undefined) Deno.env.delete("KVSTORE_ADMIN_KEY");
    else Deno.env.set("KVSTORE_ADMIN_KEY", saved);
  }
});

Deno.test("exitCodeOf: 1 the node said no, 2 usage or configuration, 3 no answer; an own exitCode wins", () => {
  assert.equal(exitCodeOf(new KeyNotFoundError()), EXIT.notFound);
  assert.equal(exitCodeOf(new OutOfSpaceError()), 1);
  assert.equal(exitCodeOf(new Error("refused")), 1);
  assert.equal(exitCodeOf(new UsageError("bad flag")), EXIT.usage);
  assert.equal(exitCodeOf(new ConfigError("Cannot read x.yaml")), 2);
  assert.equal(exitCodeOf(new KVTimeoutError("127.0.0.1:1", 4)), EXIT.noAnswer);
  assert.equal(exitCodeOf(new RpcTimeoutError("127.0.0.1:1", 0x63)), 3);
  assert.equal(exitCodeOf(new NoAnswerError("nobody")), 3);
  assert.equal(exitCodeOf(new Deno.errors.ConnectionRefused("x")), 3);
  const e = withExitCode(new ConfigError("Cannot read x.yaml")) as Error & { exitCode: number };
  assert.equal(e.exitCode, 2, "runCli reads the exit code from the error");
  assert.equal(exitCodeOf(Object.assign(new Error("x"), { exitCode: 7 })), 7);
  assert.deepEqual(new Set(Object.values(EXIT)), new Set([0, 1, 2, 3]));
});

Deno.test("jsonValue: UTF-8 text as text, anything else (invalid UTF-8, NUL) as base64", () => {
  const enc = new TextEncoder();
  assert.deepEqual(jsonValue(enc.encode("héllo")), { value: "héllo", encoding: "utf8", bytes: 6 });
  assert.deepEqual(jsonValue(Uint8Array.of(0xff, 0xfe)), { value: "//4=", encoding: "base64", bytes: 2 });
  assert.equal(jsonValue(Uint8Array.of(0x61, 0)).encoding, "base64");
  assert.deepEqual(jsonValue(new Uint8Array(0)), { value: "", encoding: "utf8", bytes: 0 });
});

Deno.test("splitMembers: alive members are targets; dead, left and unknown fleet nodes are skipped with a time", () => {
  const rows = [
    { address: "127.0.0.1:4003", state: "dead", incarnation: 0, forMs: 10_000 },
    { address: "127.0.0.1:4000", state: "alive", incarnation: 0, forMs: 1 },
    { address: "127.0.0.1:4001", state: "suspect", incarnation: 0, forMs: 500 },
    { address: "127.0.0.1:4002", state: "left", incarnation: 1, forMs: 2_000 },
    { address: "127.0.0.1:10000", state: "alive", incarnation: 0, forMs: 1 },
  ];
  const now = Date.UTC(2026, 0, 1, 12, 1, 17);
  const s = splitMembers(rows, "all", now, ["127.0.0.1:4000", "127.0.0.1:4009"]);
  assert.deepEqual(s.live, ["127.0.0.1:4000", "127.0.0.1:10000"], "address order, numeric");
  assert.deepEqual(s.suspect, ["127.0.0.1:4001"], "probed before it is a target or skipped");
  assert.deepEqual(s.skipped.map((x) => [x.address, x.state]), [
    ["127.0.0.1:4002", "left"],
    ["127.0.0.1:4003", "dead"],
    ["127.0.0.1:4009", "not a member"],
  ]);
  assert.equal(s.skipped[1].since, now - 10_000);
  assert.match(skippedLine(s.skipped[1]), /^skipped 127\.0\.0\.1:4003: dead since \d\d:\d\d:\d\d$/);
  assert.equal(skippedLine(s.skipped[2]), "skipped 127.0.0.1:4009: not a member");
  const some = splitMembers(rows, "127.0.0.1:400*", now, []);
  assert.deepEqual(some.live, ["127.0.0.1:4000"], "the selector applies to targets and skipped alike");
});
