/**
 * The shape of a kvctl verb beyond the data verbs (admin, upgrade, bench): its help lines and
 * what runs it. `lib/cli/kvctl.ts` lists them in one table.
 *
 * @module
 */

/**
 * A kvctl verb.
 *
 * @example
 * ```ts
 * const hello: KvctlVerb = { help: "  hello  say hello\n", run: () => Promise.resolve(0) };
 * console.log(hello.help.trim()); // "hello  say hello"
 * ```
 */
export interface KvctlVerb {
  /** Lines added to `kvctl --help` (may be empty when another verb's help covers it). */
  help: string;
  /** Runs the verb with the arguments after its name; resolves with the exit code. */
  run(args: string[]): Promise<number>;
}
