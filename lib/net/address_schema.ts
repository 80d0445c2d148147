/**
 * The zod schema of a `host:port` text, for the validators of files and bodies that name nodes.
 *
 * @module
 */
import { z } from "zod";
import { parseAddress } from "./transport.ts";

/**
 * Whether `text` is a `host:port` address {@linkcode parseAddress} accepts.
 *
 * @example
 * ```ts
 * console.log(isAddressText("127.0.0.1:4000"), isAddressText("nowhere")); // true false
 * ```
 */
export function isAddressText(text: string): boolean {
  try {
    parseAddress(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A `host:port` string (at most `maxLength` characters when given), with the message a user sees
 * when it is not one.
 *
 * @example
 * ```ts
 * console.log(addressSchema(64).safeParse("127.0.0.1:4000").success); // true
 * ```
 */
export function addressSchema(maxLength?: number): z.ZodString {
  const text = maxLength === undefined ? z.string() : z.string().max(maxLength);
  return text.refine(isAddressText, { message: "expected host:port, for example 127.0.0.1:4000" });
}
