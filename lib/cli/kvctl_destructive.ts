/**
 * `kvctl shutdown` and `kvctl wipeout`: with a fleet file holding a
 * clusterKey, the request carries a proof made with it
 * (`wire/destructive_proof.ts`), so the node accepts it from any host; without
 * one, the plain 17-byte request, which a node accepts only from its own host
 * and the networks of its `--allow-destructive-from`.
 *
 * @module
 */
import type { KVClient } from "../client/client.ts";
import { errorForCode } from "../client/errors.ts";
import type { FleetConfig } from "../config/fleet_file.ts";
import { formatAddress, parseAddress } from "../net/transport.ts";
import { ErrorCode, ID_LENGTH } from "../wire/client_protocol.ts";
import { DESTRUCTIVE_PROOF_WINDOW_MS, proveDestructive } from "../wire/destructive_proof.ts";
import { fleetKeyring } from "../wire/fleet_auth.ts";

/** What a node bound to `target` (`host:port`) calls itself: a host name becomes its first address. */
export async function boundAddress(target: string): Promise<string> {
  const { hostname, port } = parseAddress(target);
  if (/^[\d.]+$/.test(hostname) || hostname.includes(":")) return formatAddress(hostname, port);
  if (hostname === "localhost") return formatAddress("127.0.0.1", port);
  for (const type of ["A", "AAAA"] as const) {
    try {
      const [ip] = await Deno.resolveDns(hostname, type);
      if (ip) return formatAddress(ip, port);
    } catch { /* try the next type; the name stays as given */ }
  }
  return formatAddress(hostname, port);
}

/**
 * Sends shutdown (0x04) or wipeout (0x05) through `client`: proven with the fleet's signing key when
 * the fleet file has a clusterKey. Throws the protocol error of a refusal, with what to check.
 */
export async function sendDestructive(
  client: KVClient,
  command: number,
  fleet: FleetConfig | undefined,
): Promise<void> {
  const keyring = fleetKeyring(fleet);
  let reply;
  if (keyring) {
    const packet = proveDestructive(keyring, command, await boundAddress(client.target), Date.now());
    reply = await client.request(command, packet.subarray(ID_LENGTH + 1), undefined, packet.subarray(0, ID_LENGTH));
  } else reply = await client.request(command);
  if (reply.code === ErrorCode.Success) return;
  if (reply.code !== ErrorCode.InternalFailure) throw errorForCode(reply.code);
  const how = keyring
    ? `the proof made with the fleet file's clusterKey was not accepted: check that the node has the same key, that ` +
      `--node is the address the node is bound to (as in the fleet file), and that the two clocks are within ` +
      `${DESTRUCTIVE_PROOF_WINDOW_MS / 1000} s`
    : `without a proof the node accepts it only from its own host and its --allow-destructive-from networks; ` +
      `pass --config with the fleet file that holds the clusterKey`;
  throw new Error(`${client.target} refused (0x04): ${how}`);
}
