/**
 * Who may shut a node down or wipe it out: a source in the unproven networks
 * (loopback by default: the course's tester), or a request carrying a proof
 * made with a cluster key (`wire/destructive_proof.ts`) that is fresh and not
 * seen before. The ids of accepted proofs are remembered until their time
 * leaves the window, at most {@linkcode MAX_REMEMBERED_PROOFS} of them.
 *
 * @module
 */
import type { Address } from "../net/transport.ts";
import type { FrameAuth } from "../wire/frame.ts";
import { ID_LENGTH, idKey } from "../wire/client_protocol.ts";
import {
  checkDestructiveProof,
  DESTRUCTIVE_PROOF_WINDOW_MS,
  type ProofFailure,
  proofTime,
} from "../wire/destructive_proof.ts";

/** Ids of accepted proofs remembered at once; when full of unexpired ones, further proofs are refused. */
export const MAX_REMEMBERED_PROOFS = 4_096;

/** Why a destructive request was refused. */
export type DestructiveRefusal = ProofFailure | "replayed";

/** Refusals by reason, and what was let through. */
export interface DestructiveGuardStats {
  /** From outside the unproven networks without a proof (or the node has no key). */
  unproven: number;
  /** A proof with an unknown key or a wrong tag (forged, or made for another node). */
  badProof: number;
  /** A proof whose time is outside the window (late replay, or a clock far off). */
  stale: number;
  /** A proof already used (captured and sent again), or no room to remember one more. */
  replayed: number;
  /** Accepted on a proof. */
  proven: number;
}

/** Options of a {@linkcode DestructiveGuard}. */
export interface DestructiveGuardOptions {
  /** Whether `from` may send shutdown and wipeout without a proof (its source network). */
  unprovenFrom: (from: Address) => boolean;
  /** The node's address as it is bound: what a proof names. */
  self: Address;
  /** The keys proofs are checked with (every key of the keyring); none: only unproven sources. */
  auth?: FrameAuth;
  /** How far a proof's time may be from now (ms; default {@linkcode DESTRUCTIVE_PROOF_WINDOW_MS}). */
  windowMs?: number;
  /** Ids remembered at most (default {@linkcode MAX_REMEMBERED_PROOFS}). */
  maxRemembered?: number;
}

/**
 * Decides each shutdown and wipeout.
 *
 * @example
 * ```ts
 * import { ClusterKeyring } from "../wire/keyring.ts";
 * import { proveDestructive } from "../wire/destructive_proof.ts";
 * const auth = ClusterKeyring.fromHex(["ab".repeat(32)]);
 * const guard = new DestructiveGuard({ unprovenFrom: (a) => a.startsWith("127."), self: "10.0.0.1:4000", auth });
 * const req = proveDestructive(auth, 5, "10.0.0.1:4000", Date.now());
 * console.log(guard.admit(req, "192.0.2.9:5000", Date.now()), guard.admit(req, "192.0.2.9:5000", Date.now())); // true false
 * ```
 */
export class DestructiveGuard {
  /** Refusals by reason and proofs accepted. */
  readonly stats: DestructiveGuardStats = { unproven: 0, badProof: 0, stale: 0, replayed: 0, proven: 0 };
  /** The keys proofs are checked with (replaced on key rotation). */
  auth: FrameAuth | undefined;
  readonly #unprovenFrom: (from: Address) => boolean;
  readonly #self: Address;
  readonly #windowMs: number;
  readonly #max: number;
  // Accepted proof ids (idKey) → when they leave the window.
  #seen = new Map<string, number>();

  /** Creates a guard. */
  constructor(options: DestructiveGuardOptions) {
    this.#unprovenFrom = options.unprovenFrom;
    this.#self = options.self;
    this.auth = options.auth;
    this.#windowMs = options.windowMs ?? DESTRUCTIVE_PROOF_WINDOW_MS;
    this.#max = options.maxRemembered ?? MAX_REMEMBERED_PROOFS;
  }

  /** Ids remembered now. */
  get remembered(): number {
    return this.#seen.size;
  }

  /** Whether the shutdown or wipeout `packet` from `from` may run at `now` (counted by reason when not). */
  admit(packet: Uint8Array, from: Address, now: number): boolean {
    if (this.#unprovenFrom(from)) return true;
    const refusal = this.#check(packet, now);
    if (refusal === undefined) {
      this.stats.proven++;
      return true;
    }
    this.stats[refusal]++;
    return false;
  }

  #check(packet: Uint8Array, now: number): DestructiveRefusal | undefined {
    const failure = checkDestructiveProof(this.auth, packet, this.#self, now, this.#windowMs);
    if (failure) return failure;
    const id = idKey(packet.subarray(0, ID_LENGTH));
    const until = this.#seen.get(id);
    if (until !== undefined && until >= now) return "replayed";
    if (this.#seen.size >= this.#max) this.#forgetExpired(now);
    if (this.#seen.size >= this.#max) return "replayed";
    this.#seen.set(id, proofTime(packet) + this.#windowMs);
    return undefined;
  }

  #forgetExpired(now: number): void {
    for (const [id, until] of this.#seen) if (until < now) this.#seen.delete(id);
  }
}
