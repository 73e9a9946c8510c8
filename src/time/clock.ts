/**
 * Every timer, timestamp and timeout in the library goes through a Clock, so that the
 * simulation can replace real time with virtual time and replay a run exactly.
 *
 * Two different notions of time, never mixed:
 * - `now()`: monotonic milliseconds, for deadlines, timeouts and durations;
 * - `wallNow()`: epoch milliseconds, for timestamps that other nodes compare (conflict resolution).
 */
export interface Timer {
  /** Cancel the timer; calling it after the timer fired or twice is harmless. */
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds (fractional allowed). */
  now(): number;
  /** Wall-clock epoch milliseconds. */
  wallNow(): number;
  /** Run `fn` once after `ms`. Real-clock timers are unref'd: they never keep the process alive. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Run `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number): Timer;
}

export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms);
    handle.unref();
    return { cancel: () => clearInterval(handle) };
  },
};
