/**
 * KVStore's client: talk to any node of a fleet over the UDP protocol (`docs/PROTOCOL.md`), with
 * request ids, timeouts that double and retries under the same id, and typed errors for every
 * reply code.
 *
 * Building blocks to embed or simulate nodes are sub-path exports: `./node` (start a node, its
 * parts) and `./testing` (the in-memory network and simulated clusters).
 *
 * @example
 * ```ts ignore
 * import { KVClient, KeyNotFoundError } from "./mod.ts";
 * const client = await KVClient.connect("127.0.0.1:4000");
 * await client.put("greeting", "hello");
 * console.log(new TextDecoder().decode(await client.get("greeting")));
 * try {
 *   await client.get("nobody");
 * } catch (e) {
 *   if (!(e instanceof KeyNotFoundError)) throw e;
 * }
 * client.close();
 * ```
 *
 * @module
 */
export { DEFAULT_CLIENT_OPTIONS, KVClient, newRequestId } from "./lib/client/client.ts";
export type { ClientOptions } from "./lib/client/client.ts";
export {
  errorForCode,
  InternalFailureError,
  InvalidKeyError,
  InvalidValueLengthError,
  KeyNotFoundError,
  KVError,
  KVTimeoutError,
  OutOfSpaceError,
  OverloadError,
  UnrecognizedCommandError,
} from "./lib/client/errors.ts";
export { hexKey, toKey } from "./lib/client/keys.ts";
export type { KeyInput } from "./lib/client/keys.ts";
export type { Reply } from "./lib/wire/client_protocol.ts";
export type { Address } from "./lib/net/transport.ts";
