/**
 * Every error the library throws or rejects with is a RollcallError with a stable `code`.
 * Programmer errors (bad arguments) are InvalidArgumentError; expected outcomes are return
 * values, never errors.
 */
const BRAND = Symbol.for('rollcall.error');

export class RollcallError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** `instanceof` that survives two installed copies of the library (CLI + app). */
  static is(value: unknown): value is RollcallError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
Object.defineProperty(RollcallError.prototype, BRAND, { value: true });

/** A bad argument: the message says what to pass instead. */
export class InvalidArgumentError extends RollcallError {
  constructor(message: string) {
    super('ERR_ROLLCALL_INVALID_ARGUMENT', message);
  }
}

/** A call or receive did not complete in time. */
export class TimeoutError extends RollcallError {
  constructor(message: string) {
    super('ERR_ROLLCALL_TIMEOUT', message);
  }
}

/** The target process does not exist (never did, already exited, or belongs to an old incarnation). */
export class NoProcError extends RollcallError {
  constructor(message: string) {
    super('ERR_ROLLCALL_NOPROC', message);
  }
}

/** The target's node is not connected, or its connection was lost during the call. */
export class NodeDownError extends RollcallError {
  constructor(message: string) {
    super('ERR_ROLLCALL_NODE_DOWN', message);
  }
}

/** The target process exited while a call to it was in flight; `reason` is its exit reason. */
export class CallExitError extends RollcallError {
  readonly reason: unknown;
  constructor(message: string, reason: unknown) {
    super('ERR_ROLLCALL_CALL_EXIT', message, reason instanceof Error ? { cause: reason } : undefined);
    this.reason = reason;
  }
}

/** A value cannot be sent over the wire (function, symbol, too large...). Thrown at the call. */
export class EncodeError extends RollcallError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ROLLCALL_ENCODE', message, options);
  }
}

/** Bytes received from a peer do not form a valid frame; the link carrying them is closed. */
export class BadFrameError extends RollcallError {
  constructor(message: string) {
    super('ERR_ROLLCALL_BAD_FRAME', message);
  }
}

/** The node was stopped, or the operation needs a running node / process. */
export class NotRunningError extends RollcallError {
  constructor(message: string) {
    super('ERR_ROLLCALL_NOT_RUNNING', message);
  }
}

/** A one-step start (group.startRegisteredServer) found its key registered by another process. */
export class NameTakenError extends RollcallError {
  readonly key: string;
  /** The holder as this node saw it, when known. */
  readonly holder: unknown;
  constructor(message: string, key: string, holder: unknown) {
    super('ERR_ROLLCALL_NAME_TAKEN', message);
    this.key = key;
    this.holder = holder;
  }
}

/** A process received an exit signal while waiting: thrown out of `receive()` so its function unwinds. */
export class ExitSignal extends RollcallError {
  readonly reason: unknown;
  constructor(reason: unknown) {
    // No stack trace: one is made for every exited process (a node purging 100k processes made
    // 100k of them), it cost ~10 µs each, and the stack of the exit's caller helps nobody.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super('ERR_ROLLCALL_EXITED', `process was exited (reason: ${describeReason(reason)})`);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.reason = reason;
  }
}

/** A reason as text. Never throws: reasons come from peers too, as any value msgpack can carry. */
export function describeReason(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  try {
    return JSON.stringify(reason) ?? String(reason);
  } catch {
    // A bigint inside, or a map with a `toString` key that is not a function.
    try {
      return String(reason);
    } catch {
      return Object.prototype.toString.call(reason);
    }
  }
}
