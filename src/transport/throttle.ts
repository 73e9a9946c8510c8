import type { Clock } from '../time/clock.js';

/** How often a repeated log line of one kind (a connection flood, a peer's unhandled frames) is let through. */
export const REPEATED_LOG_INTERVAL_MS = 10_000;

/**
 * Counts occurrences of something worth a log line, and says when to write one: at the first
 * occurrence, then at most once per interval, each line standing for the occurrences since the
 * last. A flood then costs a log line per interval, not one per event.
 */
export class Throttle {
  total = 0;
  private unreported = 0;
  private lastAt = -Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number = REPEATED_LOG_INTERVAL_MS,
  ) {}

  /** Count one; returns how many occurrences to report now, or 0 to stay quiet. */
  hit(): number {
    this.total++;
    this.unreported++;
    const now = this.clock.now();
    if (now - this.lastAt < this.intervalMs) return 0;
    this.lastAt = now;
    const count = this.unreported;
    this.unreported = 0;
    return count;
  }
}
