/**
 * kvctl's `--json`: one JSON document on standard output per run (messages stay on standard error),
 * and the shapes of the data verbs' documents (docs/kvctl.md lists every verb's shape).
 *
 * @module
 */

/**
 * The `--json` flag, to spread into a verb's flag table.
 *
 * @example
 * ```ts ignore
 * parseFlags("kvctl get", args, { ...JSON_FLAG, node: { type: "string" } });
 * ```
 */
export const JSON_FLAG = { json: { type: "boolean" } } as const;

/**
 * Prints `value` as one line of JSON on standard output; exit code 0.
 *
 * @example
 * ```ts
 * printJson({ key: "k", value: "v" }); // {"key":"k","value":"v"}
 * ```
 */
export function printJson(value: unknown): number {
  console.log(JSON.stringify(value));
  return 0;
}

/** A value as kvctl get --json prints it: text when it is valid UTF-8, else base64. */
export interface JsonValue {
  /** The value: UTF-8 text, or base64 when `encoding` says so. */
  value: string;
  /** How `value` is written. */
  encoding: "utf8" | "base64";
  /** Length of the value in bytes. */
  bytes: number;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A value for JSON: UTF-8 text when the bytes are valid UTF-8 without NUL, else base64.
 *
 * @example
 * ```ts
 * console.log(jsonValue(new TextEncoder().encode("hi")).encoding, jsonValue(Uint8Array.of(0xff)).value); // "utf8" "/w=="
 * ```
 */
export function jsonValue(bytes: Uint8Array): JsonValue {
  try {
    const text = strictUtf8.decode(bytes);
    if (!text.includes("\0")) return { value: text, encoding: "utf8", bytes: bytes.length };
  } catch { /* not UTF-8 */ }
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return { value: btoa(binary), encoding: "base64", bytes: bytes.length };
}
