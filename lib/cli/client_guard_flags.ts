/**
 * The node flags that guard the client port: `--allow-destructive-from`,
 * `--trusted-clients` and `--reply-budget`, with the fleet file's
 * `destructiveCommandsFrom` and `trustedClients` behind them.
 *
 * @module
 */
import type { FleetConfig } from "../config/fleet_file.ts";
import { DEFAULT_DESTRUCTIVE_FROM, DEFAULT_TRUSTED_CLIENTS, isSourceNetwork } from "../net/source_networks.ts";
import { DEFAULT_REPLY_BUDGET } from "../node/reply_budget.ts";
import { parseSize, UsageError } from "../base/cli_args.ts";

/** Smallest `--reply-budget`: a few full replies a second. */
export const MIN_REPLY_BUDGET_BYTES = 64 * 1024;

/** Help lines of the three flags (in the node's option table). */
export const CLIENT_GUARD_HELP = `  --allow-destructive-from LIST
                        who may send shutdown (0x04) and wipeout (0x05) without a proof: comma
                        list of addresses, CIDR blocks and the words loopback, fleet, any, none
                        (default: the fleet file's destructiveCommandsFrom, else loopback);
                        from elsewhere they need a proof made with the clusterKey (kvctl shutdown
                        and wipeout --config make it), else they are answered 0x04 and nothing happens
  --trusted-clients LIST
                        clients exempt from the reply budget, same words (default: the fleet
                        file's trustedClients, else loopback; none budgets every source)
  --reply-budget SIZE   reply bytes per second to one source /24 (IPv4) or /56 (IPv6), with a
                        burst of the same size; beyond it requests are dropped and counted
                        (default 1MiB; at least 64KiB)`;

/** What the flags decide. */
export interface ClientGuardSettings {
  /** Who may send shutdown and wipeout without a proof. */
  destructiveFrom: readonly string[];
  /** Who the reply budget exempts. */
  trustedClients: readonly string[];
  /** Reply bytes per second (and burst) per source prefix. */
  replyBudgetBytes: number;
}

/**
 * Reads the three flags (raw strings as given) over the fleet file's lists. Throws
 * {@linkcode UsageError} naming the flag and the entry that is not understood.
 *
 * @example
 * ```ts
 * const s = clientGuardSettings({ "trusted-clients": "none", "reply-budget": "512KiB" }, undefined);
 * console.log(s.destructiveFrom, s.trustedClients, s.replyBudgetBytes); // [ "loopback" ] [ "none" ] 524288
 * ```
 */
export function clientGuardSettings(
  values: { "allow-destructive-from"?: string; "trusted-clients"?: string; "reply-budget"?: string },
  fleet: FleetConfig | undefined,
): ClientGuardSettings {
  const destructiveFrom = list(values["allow-destructive-from"], "--allow-destructive-from") ??
    fleet?.destructiveCommandsFrom ?? DEFAULT_DESTRUCTIVE_FROM;
  const trustedClients = list(values["trusted-clients"], "--trusted-clients") ?? fleet?.trustedClients ??
    DEFAULT_TRUSTED_CLIENTS;
  const budgetText = values["reply-budget"];
  const replyBudgetBytes = budgetText === undefined
    ? DEFAULT_REPLY_BUDGET.bytesPerSecond
    : parseSize(budgetText, "node: --reply-budget");
  if (replyBudgetBytes < MIN_REPLY_BUDGET_BYTES) {
    throw new UsageError(
      `node: --reply-budget ${budgetText} is below the smallest budget, 64KiB (a few full replies a second); ` +
        `to exempt clients instead, list them with --trusted-clients`,
    );
  }
  return { destructiveFrom, trustedClients, replyBudgetBytes };
}

function list(text: string | undefined, flag: string): string[] | undefined {
  if (text === undefined) return undefined;
  const entries = text.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = entries.find((e) => !isSourceNetwork(e));
  if (unknown !== undefined || entries.length === 0) {
    throw new UsageError(
      `node: ${flag}: "${unknown ?? ""}" is not a source network; give addresses, CIDR blocks ` +
        `(10.0.0.0/8) or the words loopback, fleet, any, none, separated by commas`,
    );
  }
  return entries;
}
