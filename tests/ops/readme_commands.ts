/**
 * The docs' kvctl commands run as printed (issue 22): every `deno task kvctl …` line in a ```sh block of
 * README.md, docs/admin.md and docs/kvctl.md runs, through `deno task` itself, in the directory of a fresh
 * `deno task cluster`, and must exit 0. Lines with placeholders (KEY, ADDR, `[…]`, `a | b`) or another
 * fleet's addresses are reported and not run; the default ports 4000.. are rewritten to the test cluster's.
 * Scripts and files a line names are created first; `deno task bundle` writes its bundle into the cluster's
 * directory (run from the repository, as the README does, both are the same directory).
 */
import { userShellEnv } from "../support/child_processes.ts";
import assert from "node:assert/strict";
import { ClusterDir } from "../support/cluster_dir.ts";
import { roleCommand } from "../../lib/roles/process_launcher.ts";
import { bundle } from "../../scripts/bundle.ts";

const DOCS = ["README.md", "docs/admin.md", "docs/kvctl.md"];
const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
/** The first port `deno task cluster` uses by default, as the docs print it. */
const DEFAULT_BASE = 4000;

/** The `deno task kvctl|bundle` lines of the ```sh blocks of `text`, comments cut, in order. */
export function docCommands(text: string): string[] {
  const out: string[] = [];
  let inSh = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (/^```sh\b/.test(line)) inSh = true;
    else if (line.startsWith("```")) inSh = false;
    else if (inSh && /^deno task (kvctl|bundle)\b/.test(line)) out.push(line.replace(/\s+#.*$/, "").trim());
  }
  return out;
}

/** Why a line is not run as printed, or undefined when it is runnable. */
function notRunnable(line: string): string | undefined {
  if (/\[|\||…/.test(line)) return "a synopsis ([options], a | b)";
  if (/\b(KEY|VALUE|ADDR|FILE|SEL|PATH|ID)\b/.test(line)) return "a placeholder";
  if (/\b10\.\d+\.\d+\./.test(line)) return "addresses of another fleet";
  return undefined;
}

Deno.test("the kvctl lines of README.md, docs/admin.md and docs/kvctl.md run as printed after deno task cluster", async () => {
  const lines: string[] = [];
  for (const doc of DOCS) lines.push(...docCommands(await Deno.readTextFile(`${REPO}/${doc}`)));
  const unique = [...new Set(lines)];
  const c = await ClusterDir.start({ nodes: 5, allowRun: true });
  const base = Number(c.addresses[0].split(":")[1]);
  let ran = 0;
  try {
    await c.waitForMembers();
    for (const printed of unique) {
      const why = notRunnable(printed);
      if (why) {
        console.log(`not run (${why}): ${printed}`);
        continue;
      }
      const line = printed.replace(/127\.0\.0\.1:(\d+)/g, (_, p) => `127.0.0.1:${Number(p) - DEFAULT_BASE + base}`);
      const args = line.split(/\s+/).slice(2);
      for (const [i, a] of args.entries()) {
        // Scripts and files the line reads: a script that prints, a small file.
        if (/\.sh$/.test(a) && args[i - 1] !== "--to") {
          await Deno.writeTextFile(`${c.dir}/${a}`, 'echo "ok from $KVSTORE_NODE"\n').catch(() => {});
        }
        if (a === "dist/kvstore-node") {
          await Deno.mkdir(`${c.dir}/dist`, { recursive: true });
          await Deno.writeFile(`${c.dir}/${a}`, new Uint8Array(4096), { mode: 0o755 });
        }
      }
      const t0 = performance.now();
      let code: number, output: string;
      if (args[0] === "bundle") {
        await Deno.mkdir(`${c.dir}/dist`, { recursive: true });
        await bundle(`${c.dir}/dist/kvstore.js`, undefined);
        [code, output] = [0, ""];
      } else {
        const out = await new Deno.Command(roleCommand("kvctl", []).cmd, {
          args: ["task", "-q", "--config", `${REPO}/deno.json`, ...args],
          cwd: c.dir,
          ...userShellEnv(),
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(300_000),
        }).output();
        const dec = new TextDecoder();
        [code, output] = [out.code, dec.decode(out.stdout) + dec.decode(out.stderr)];
      }
      console.log(`exit ${code} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${line}`);
      assert.equal(code, 0, `${printed}\n${output}`);
      ran++;
    }
  } finally {
    await c.close();
  }
  console.log(`${ran} of ${unique.length} distinct lines run`);
  assert.ok(ran >= 15, `at least 15 lines run as printed (${ran})`);
});
