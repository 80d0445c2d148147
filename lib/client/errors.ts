/**
 * Typed errors for protocol error codes, so callers can catch what they handle.
 *
 * @module
 */
import { ERROR_MESSAGES, ErrorCode } from "../wire/client_protocol.ts";

/**
 * A request the node answered with a non-zero error code.
 *
 * @example
 * ```ts ignore
 * try { await client.get("missing"); } catch (e) {
 *   if (e instanceof KeyNotFoundError) console.log("no such key");
 * }
 * ```
 */
export class KVError extends Error {
  /** The protocol error code. */
  readonly code: number;
  /** Creates the error for `code`. */
  constructor(code: number, message?: string) {
    super(
      message ??
        `KVStore error 0x${code.toString(16).padStart(2, "0")}: ${ERROR_MESSAGES[code] ?? "unknown error code"}`,
    );
    this.name = "KVError";
    this.code = code;
  }
}

/** 0x01: the key does not exist. */
export class KeyNotFoundError extends KVError {
  /** Creates the error. */
  constructor() {
    super(ErrorCode.NonExistentKey);
    this.name = "KeyNotFoundError";
  }
}
/** 0x02: the node is out of space; nothing was written. */
export class OutOfSpaceError extends KVError {
  /** Creates the error. */
  constructor() {
    super(ErrorCode.OutOfSpace);
    this.name = "OutOfSpaceError";
  }
}
/** 0x03: the node stayed overloaded through every retry. */
export class OverloadError extends KVError {
  /** Creates the error. */
  constructor() {
    super(ErrorCode.Overload);
    this.name = "OverloadError";
  }
}
/** 0x04: internal failure (for example, not enough replicas reachable). */
export class InternalFailureError extends KVError {
  /** Creates the error. */
  constructor() {
    super(ErrorCode.InternalFailure);
    this.name = "InternalFailureError";
  }
}
/** 0x05: the node does not know the command. */
export class UnrecognizedCommandError extends KVError {
  /** Creates the error. */
  constructor() {
    super(ErrorCode.UnrecognizedCommand);
    this.name = "UnrecognizedCommandError";
  }
}
/** 0x06: the key was malformed. */
export class InvalidKeyError extends KVError {
  /** Creates the error. */
  constructor() {
    super(ErrorCode.InvalidKey);
    this.name = "InvalidKeyError";
  }
}
/** 0x07: the value length was invalid. */
export class InvalidValueLengthError extends KVError {
  /** Creates the error. */
  constructor() {
    super(ErrorCode.InvalidValueLength);
    this.name = "InvalidValueLengthError";
  }
}

/** No reply arrived after every retry. */
export class KVTimeoutError extends Error {
  /** The node that did not answer. */
  readonly address: string;
  /** Creates the error for `address` after `attempts` tries. */
  constructor(address: string, attempts: number) {
    super(`No reply from ${address} after ${attempts} attempts: is the node running and reachable?`);
    this.name = "KVTimeoutError";
    this.address = address;
  }
}

/** Returns the typed error for a non-zero code. */
export function errorForCode(code: number): KVError {
  switch (code) {
    case ErrorCode.NonExistentKey:
      return new KeyNotFoundError();
    case ErrorCode.OutOfSpace:
      return new OutOfSpaceError();
    case ErrorCode.Overload:
      return new OverloadError();
    case ErrorCode.InternalFailure:
      return new InternalFailureError();
    case ErrorCode.UnrecognizedCommand:
      return new UnrecognizedCommandError();
    case ErrorCode.InvalidKey:
      return new InvalidKeyError();
    case ErrorCode.InvalidValueLength:
      return new InvalidValueLengthError();
    default:
      return new KVError(code);
  }
}
