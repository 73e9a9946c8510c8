import type { Clock, Timer } from '../time/clock.js';
import type { Ref } from '../process/pid.js';

interface PendingCall {
  readonly node: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: Timer;
  /** Undo whatever watches the target (a local monitor). */
  readonly cleanup: (() => void) | undefined;
}

/**
 * Calls in flight from this node, by ref. Every call ends exactly once: by its reply, its
 * timeout, the target's exit, or the target node going down.
 */
export class PendingCalls {
  private readonly calls = new Map<string, PendingCall>();
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  get size(): number {
    return this.calls.size;
  }

  start<R>(ref: Ref, node: string, timeoutMs: number, onTimeout: () => Error, cleanup?: () => void): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => this.reject(ref.key, onTimeout()), timeoutMs);
      this.calls.set(ref.key, { node, resolve: resolve as (value: unknown) => void, reject, timer, cleanup });
    });
  }

  resolve(refKey: string, value: unknown): void {
    const call = this.take(refKey);
    call?.resolve(value);
  }

  reject(refKey: string, error: Error): void {
    const call = this.take(refKey);
    call?.reject(error);
  }

  /** Fail every call to a node (it went down). */
  rejectNode(node: string, makeError: () => Error): void {
    for (const [key, call] of this.calls) {
      if (call.node === node) this.reject(key, makeError());
    }
  }

  rejectAll(makeError: () => Error): void {
    for (const key of [...this.calls.keys()]) this.reject(key, makeError());
  }

  private take(refKey: string): PendingCall | undefined {
    const call = this.calls.get(refKey);
    if (call === undefined) return undefined;
    this.calls.delete(refKey);
    call.timer.cancel();
    call.cleanup?.();
    return call;
  }
}
