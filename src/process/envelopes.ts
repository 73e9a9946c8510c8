import type { Pid } from './pid.js';

/**
 * What lands in a mailbox besides plain `send` messages (which go in raw).
 *
 * A Server dispatches on these (CallRequest -> handleCall, Cast -> handleCast, anything else ->
 * handleInfo); a plain function process that is called should check
 * `message instanceof CallRequest` and answer with `message.reply(value)`.
 */

/**
 * A `call` waiting for its answer. Whoever created it injects how the answer travels: the local
 * table resolves the caller's promise directly, the Node sends a reply frame to the caller's node.
 * Only the first reply or replyError counts; later ones are ignored (a reply after the caller
 * timed out is harmless).
 */
export class CallRequest {
  readonly request: unknown;
  /** The calling process, or undefined when the call came from outside any process. */
  readonly from: Pid | undefined;
  private onReply: ((value: unknown) => void) | undefined;
  private onError: ((error: unknown) => void) | undefined;

  constructor(request: unknown, from: Pid | undefined, onReply: (value: unknown) => void, onError: (error: unknown) => void) {
    this.request = request;
    this.from = from;
    this.onReply = onReply;
    this.onError = onError;
  }

  /** True once reply or replyError was called. */
  get replied(): boolean {
    return this.onReply === undefined;
  }

  reply(value: unknown): void {
    const onReply = this.onReply;
    if (onReply === undefined) return;
    this.onReply = undefined;
    this.onError = undefined;
    onReply(value);
  }

  /** Make the caller's promise reject with `error`. */
  replyError(error: unknown): void {
    const onError = this.onError;
    if (onError === undefined) return;
    this.onReply = undefined;
    this.onError = undefined;
    onError(error);
  }
}

/** A fire-and-forget request, for `handleCast`. */
export class Cast {
  readonly message: unknown;

  constructor(message: unknown) {
    this.message = message;
  }
}
