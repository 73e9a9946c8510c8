/**
 * Rates of the last minute, counted from the dashboard's own event stream: one bucket per second
 * in a ring of 60, so memory and the cost of a snapshot are fixed.
 */

export const RATE_NAMES = ['registrations', 'unregistrations', 'joins', 'leaves', 'events', 'nodeups', 'nodedowns'] as const;
export type RateName = (typeof RATE_NAMES)[number];

export const SAMPLE_MS = 1000;
export const WINDOW_SAMPLES = 60;

export interface RatesSnapshot {
  intervalMs: number;
  windowSeconds: number;
  /** Wall-clock ms of the end of each sample, oldest first. */
  times: number[];
  /** Counts per second, oldest first, aligned with `times`. */
  series: Record<RateName, number[]>;
  /** The average per second over the samples held (up to the last minute). */
  perSecond: Record<RateName, number>;
  /** Counts since the dashboard started. */
  totals: Record<RateName, number>;
}

const zeros = (): Record<RateName, number> => Object.fromEntries(RATE_NAMES.map((n) => [n, 0])) as Record<RateName, number>;

export class RateRecorder {
  private current = zeros();
  private readonly totals = zeros();
  /** Ring of samples: `ring[(start + i) % WINDOW_SAMPLES]` is the i-th oldest. */
  private readonly ring: Array<{ at: number; counts: Record<RateName, number> }> = [];
  private start = 0;

  add(name: RateName, n = 1): void {
    this.current[name] += n;
    this.totals[name] += n;
  }

  /** Close the current second (called every SAMPLE_MS). */
  tick(wallNow: number): void {
    const sample = { at: wallNow, counts: this.current };
    this.current = zeros();
    if (this.ring.length < WINDOW_SAMPLES) this.ring.push(sample);
    else {
      this.ring[this.start] = sample;
      this.start = (this.start + 1) % WINDOW_SAMPLES;
    }
  }

  snapshot(): RatesSnapshot {
    const n = this.ring.length;
    const times: number[] = [];
    const series = Object.fromEntries(RATE_NAMES.map((name) => [name, [] as number[]])) as Record<RateName, number[]>;
    for (let i = 0; i < n; i++) {
      const sample = this.ring[(this.start + i) % n]!;
      times.push(sample.at);
      for (const name of RATE_NAMES) series[name].push(sample.counts[name]);
    }
    const perSecond = zeros();
    if (n > 0) for (const name of RATE_NAMES) perSecond[name] = series[name].reduce((a, b) => a + b, 0) / n;
    return { intervalMs: SAMPLE_MS, windowSeconds: WINDOW_SAMPLES, times, series, perSecond, totals: { ...this.totals } };
  }
}
