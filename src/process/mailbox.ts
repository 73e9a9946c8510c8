import { ExitSignal, InvalidArgumentError, TimeoutError } from '../errors.js';
import type { Clock, Timer } from '../time/clock.js';

/** Shared by every mailbox that never received a message, so an idle process costs no buffer. */
const EMPTY_RING: unknown[] = [];
const FIRST_CAPACITY = 8;
/** An empty ring larger than this is dropped, so one burst does not pin memory for the process's life. */
const KEEP_CAPACITY = 1024;

/**
 * The last ExitSignal made in this turn, handed again to mailboxes closed with the same reason: a
 * node exiting 10,000 processes at once (a shutdown, a supervisor's exit) made 10,000 identical
 * errors, ~0.75 µs each plus their garbage. Receivers only read it (`reason`, `message`, `code`;
 * api.md says an instance may be shared). Forgotten at the end of the turn, so a signal is shared
 * only by one burst of exits and does not keep its reason alive afterwards.
 */
let lastSignal: ExitSignal | undefined;
const forgetSignal = (): void => {
  lastSignal = undefined;
};

function exitSignal(reason: unknown): ExitSignal {
  if (lastSignal !== undefined && lastSignal.reason === reason) return lastSignal;
  if (lastSignal === undefined) queueMicrotask(forgetSignal);
  return (lastSignal = new ExitSignal(reason));
}

/**
 * A process's FIFO of messages, with at most one waiting receiver.
 *
 * Storage is a growable circular array (power-of-two capacity, index masking), so push and
 * receive are O(1) with no `Array.shift()` copying. A push while the receiver waits hands the
 * message straight to it and never touches the ring.
 *
 * Messages are handed over with `Promise.resolve`, so a message that is itself a thenable is
 * adopted (awaited) like any promise resolution: send data, not promises.
 */
export class Mailbox {
  private readonly clock: Clock;
  private ring: unknown[] = EMPTY_RING;
  private mask = -1;
  private head = 0;
  private length = 0;
  private resolveWaiter: ((message: unknown) => void) | undefined = undefined;
  private rejectWaiter: ((error: unknown) => void) | undefined = undefined;
  private waiterTimer: Timer | undefined = undefined;
  private waiterTimeoutMs = 0;
  private closedWith: ExitSignal | undefined = undefined;
  // Bound once: a `new Promise(executor)` per blocking receive then allocates no closure.
  private readonly captureWaiter = (resolve: (message: unknown) => void, reject: (error: unknown) => void): void => {
    this.resolveWaiter = resolve;
    this.rejectWaiter = reject;
  };
  private readonly expireWaiter = (): void => {
    const reject = this.rejectWaiter;
    const ms = this.waiterTimeoutMs;
    this.clearWaiter();
    reject?.(new TimeoutError(`receive() got no message within ${ms} ms`));
  };

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Messages queued and not yet received. */
  get size(): number {
    return this.length;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** The ExitSignal receivers get once the mailbox is closed (undefined while open). */
  get exitSignal(): ExitSignal | undefined {
    return this.closedWith;
  }

  /** Queue a message, or hand it to the waiting receiver. Returns false (message dropped) once closed. */
  push(message: unknown): boolean {
    if (this.closedWith !== undefined) return false;
    const resolve = this.resolveWaiter;
    if (resolve !== undefined) {
      this.clearWaiter();
      resolve(message);
      return true;
    }
    if (this.length === this.ring.length) this.grow();
    this.ring[(this.head + this.length) & this.mask] = message;
    this.length++;
    return true;
  }

  /**
   * The oldest message. Waits when the mailbox is empty: for ever without `timeoutMs`, otherwise
   * rejects with TimeoutError after `timeoutMs` (0 = only take what is already queued). Rejects
   * with ExitSignal once closed, and with InvalidArgumentError if another receive is still waiting.
   */
  receive(timeoutMs?: number): Promise<unknown> {
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) {
      return Promise.reject(new InvalidArgumentError(`receive(): timeoutMs must be a number >= 0 (or omitted to wait for ever), got ${String(timeoutMs)}`));
    }
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    if (this.length > 0) return Promise.resolve(this.shift());
    if (this.resolveWaiter !== undefined) {
      return Promise.reject(new InvalidArgumentError('receive() called while another receive() of the same process is still waiting; await the first one before receiving again'));
    }
    if (timeoutMs !== undefined && timeoutMs !== Infinity) {
      if (timeoutMs === 0) return Promise.reject(new TimeoutError('receive() found no message (timeoutMs: 0)'));
      this.waiterTimeoutMs = timeoutMs;
      this.waiterTimer = this.clock.setTimeout(this.expireWaiter, timeoutMs);
    }
    return new Promise(this.captureWaiter);
  }

  /**
   * Close for good: queued messages are dropped, the waiting receive rejects with
   * ExitSignal(reason), later pushes are dropped and later receives reject at once.
   */
  close(reason: unknown): void {
    if (this.closedWith !== undefined) return;
    const signal = exitSignal(reason);
    this.closedWith = signal;
    this.ring = EMPTY_RING;
    this.mask = -1;
    this.head = 0;
    this.length = 0;
    const reject = this.rejectWaiter;
    if (reject !== undefined) {
      this.clearWaiter();
      reject(signal);
    }
  }

  private shift(): unknown {
    const message = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    if (--this.length === 0) {
      this.head = 0;
      if (this.ring.length > KEEP_CAPACITY) {
        this.ring = EMPTY_RING;
        this.mask = -1;
      }
    }
    return message;
  }

  private grow(): void {
    const old = this.ring;
    const capacity = old.length === 0 ? FIRST_CAPACITY : old.length * 2;
    const next = new Array<unknown>(capacity);
    for (let i = 0; i < this.length; i++) next[i] = old[(this.head + i) & this.mask];
    this.ring = next;
    this.mask = capacity - 1;
    this.head = 0;
  }

  private clearWaiter(): void {
    this.resolveWaiter = undefined;
    this.rejectWaiter = undefined;
    if (this.waiterTimer !== undefined) {
      this.waiterTimer.cancel();
      this.waiterTimer = undefined;
    }
  }
}
