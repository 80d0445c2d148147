/**
 * The release launchers (scripts/release_launchers.ts) grant each role exactly its deno.json
 * permission set: the generated flags are checked against `-P=SET` by a probe run both ways, and
 * a set that gains an entry (another branch adding an env var or a permission) gains it in the
 * launcher, with no hand-kept list in between.
 */
import assert from "node:assert/strict";
import { NODE_RUNTIME_FLAGS, NODE_V8_FLAGS } from "../lib/roles/process_launcher.ts";
import {
  LAUNCHERS,
  launcherScript,
  type PermissionSetConfig,
  permissionSetFlags,
  RUNTIME_FLAGS,
} from "../scripts/release_launchers.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PROBE = `${REPO}/tests/permission_probe.ts`;
const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`)) as {
  unstable: string[];
  permissions: Record<string, PermissionSetConfig>;
};

async function probe(args: string[]): Promise<unknown> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", ...args, PROBE], stdin: "null" }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("launcher flags grant what deno.json's -P=SET grants, for every set a launcher uses", async () => {
  const sets = [...new Set(LAUNCHERS.flatMap((l) => l.runSet ? [l.set, l.runSet] : [l.set]))];
  assert.deepEqual(sets, ["node", "node-admin", "monitor", "kvctl"]);
  for (const set of sets) {
    const viaSet = await probe(["--quiet", "--config", `${REPO}/deno.json`, "--no-prompt", `-P=${set}`]);
    const viaFlags = await probe([...RUNTIME_FLAGS, ...permissionSetFlags(set, config.permissions[set])]);
    assert.deepEqual(viaFlags, viaSet, `set ${set}`);
  }
});

Deno.test("permission set to flags: true, lists, allow/deny/ignore; what a command line cannot carry is refused", () => {
  assert.deepEqual(
    permissionSetFlags("x", {
      net: true,
      read: false,
      env: ["A", "B"],
      run: [],
      sys: { allow: ["loadavg"], deny: ["hostname"] },
      write: { allow: true, ignore: false },
    }),
    ["--allow-net", "--allow-env=A,B", "--allow-sys=loadavg", "--deny-sys=hostname", "--allow-write"],
  );
  assert.deepEqual(permissionSetFlags("x", { all: true }), ["--allow-all"]);
  assert.throws(() => permissionSetFlags("x", { telepathy: true }), /unknown permission "telepathy"/);
  assert.throws(() => permissionSetFlags("x", { env: ["A,B"] }), /holds a comma/);
  assert.throws(() => permissionSetFlags("x", { read: ["./data"] }), /relative to deno\.json/);
  assert.throws(() => permissionSetFlags("x", { env: "A" }), /true, false or a list/);
  assert.throws(() => permissionSetFlags("x", { env: { maybe: true } }), /not allow, deny or ignore/);
});

Deno.test("launchers follow deno.json: an env var or permission added to a set appears in its launcher only", () => {
  const sets = structuredClone(config.permissions);
  (sets.kvctl.env as string[]).push("KVSTORE_NEW_VAR");
  sets.node.net = ["127.0.0.1"];
  const kvctl = launcherScript(LAUNCHERS[2], sets, config.unstable);
  assert.match(kvctl, /--allow-env=[A-Z_,]*KVSTORE_NEW_VAR /);
  const node = launcherScript(LAUNCHERS[0], sets, config.unstable);
  assert.ok(!node.includes("KVSTORE_NEW_VAR"));
  assert.match(node, /--allow-net=127\.0\.0\.1 /);
  assert.throws(() => launcherScript(LAUNCHERS[0], { node: sets.node }, []), /no permission set "node-admin"/);
});

Deno.test("the node launcher: --allow-run picks node-admin, the only set with run; every launcher runs offline", () => {
  const text = launcherScript(LAUNCHERS[0], config.permissions, config.unstable);
  const execs = text.split("\n").filter((l) => l.trim().startsWith("exec "));
  assert.equal(execs.length, 2);
  assert.match(execs[0], /--allow-run=bash "\$here\/kvstore\.js" node "\$@"$/);
  assert.ok(!execs[1].includes("--allow-run"), execs[1]);
  // The node runs with the runtime flags deno.json's node task has (V8's semi-space cap, no code cache), both ways.
  for (const e of execs) for (const f of NODE_RUNTIME_FLAGS) assert.ok(e.includes(` ${f} `), `${f} in ${e}`);
  assert.ok(!launcherScript(LAUNCHERS[2], config.permissions, config.unstable).includes(NODE_V8_FLAGS), "kvctl: not");
  for (const l of LAUNCHERS) {
    const t = launcherScript(l, config.permissions, config.unstable);
    assert.ok(t.startsWith("#!/bin/sh\n"));
    assert.match(t, /export DENO_NO_UPDATE_CHECK=1/);
    assert.match(t, /export DENO_DIR="\$here\/\.deno"/);
    for (const flag of ["--no-remote", "--no-npm", "--cached-only", "--no-config", "--unstable-net"]) {
      assert.ok(t.includes(` ${flag} `), `${l.file}: ${flag}`);
    }
  }
});
