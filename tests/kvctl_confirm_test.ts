/**
 * wipeout and shutdown ask on a terminal unless --yes (issue 22): kvctl runs under a pseudo-terminal
 * (util-linux `script`); an answer other than yes sends nothing (exit 2, the keys stay), "yes" goes on.
 * Skipped when `script` is missing.
 */
import assert from "node:assert/strict";
import { freeUdpPorts, roleCommand, startNodeProcess } from "../lib/roles/process_launcher.ts";
import { KVClient } from "../lib/client/client.ts";

const hasScript = (() => {
  try {
    return Deno.statSync("/usr/bin/script").isFile;
  } catch {
    return false;
  }
})();

/** Runs kvctl `args` on a pseudo-terminal with `answer` typed in; its exit code and what it printed. */
async function onTerminal(args: string[], answer: string): Promise<{ code: number; out: string }> {
  const { cmd, args: argv } = roleCommand("kvctl", args);
  const line = [cmd, ...argv].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const child = new Deno.Command("/usr/bin/script", {
    args: ["-qec", line, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(answer));
  await w.close();
  const out = await child.output();
  return { code: out.code, out: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "kvctl wipeout on a terminal asks first: 'no' sends nothing (exit 2), 'yes' wipes; --yes does not ask",
  ignore: !hasScript,
  fn: async () => {
    const [port] = freeUdpPorts(1);
    const node = await startNodeProcess(port);
    const address = `127.0.0.1:${port}`;
    const client = await KVClient.connect(address);
    try {
      await client.put("kept", "1");
      const no = await onTerminal(["wipeout", "--node", address], "no\n");
      assert.equal(no.code, 2, no.out);
      assert.match(no.out, /delete every key on 127\.0\.0\.1:\d+\? Type yes/);
      assert.match(no.out, /not confirmed; nothing was sent/);
      assert.equal(new TextDecoder().decode(await client.get("kept")), "1", "the key is still there");
      const yes = await onTerminal(["wipeout", "--node", address], "yes\n");
      assert.equal(yes.code, 0, yes.out);
      await assert.rejects(client.get("kept"), { name: "KeyNotFoundError" });
      await client.put("again", "1");
      const forced = await onTerminal(["wipeout", "--node", address, "--yes"], "");
      assert.equal(forced.code, 0, forced.out);
      assert.doesNotMatch(forced.out, /Type yes/, "--yes does not ask");
    } finally {
      client.close();
      await node.stop("SIGKILL");
    }
  },
});
