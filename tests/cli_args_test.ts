/** Flag parsing: parseArgs' errors become one usage message that names the command and points at --help. */
import assert from "node:assert/strict";
import { parseFlags, UsageError } from "../lib/base/cli_args.ts";

const OPTIONS = { port: { type: "string" } } as const;

function usageError(args: string[]): string {
  try {
    parseFlags("node", args, OPTIONS);
  } catch (e) {
    assert.ok(e instanceof UsageError, `a UsageError, not ${(e as Error).name}`);
    return e.message;
  }
  assert.fail(`${args.join(" ")} parsed`);
}

Deno.test("parseFlags: an unknown flag, a missing value and a value that starts with a dash each read as one sentence", () => {
  assert.equal(
    usageError(["--prot", "1"]),
    "node: Unknown option '--prot'. Run with --help to see the options.",
  );
  assert.match(usageError(["--port"]), /^node: Option '--port <value>' argument missing\. Run with --help/);
  const dash = usageError(["--port", "-1"]);
  assert.match(dash, /use '--port=-XYZ'\. Run with --help to see the options\.$/);
  assert.doesNotMatch(dash, /\.\./, "no doubled full stop");
});

Deno.test("parseFlags: values and positionals come through", () => {
  const { values, positionals } = parseFlags("node", ["--port", "4001", "extra"], OPTIONS);
  assert.equal(values.port, "4001");
  assert.deepEqual(positionals, ["extra"]);
});
