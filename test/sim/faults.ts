/**
 * The network faults of a schedule (cuts, partitions, heals, delays, lost ops) on the SimNetwork,
 * counted in the run's stats, and their removal at quiescence.
 */
import type { SimNetwork, VirtualClock } from '../../src/index.js';
import { GroupFrame } from '../../src/group/protocol.js';
import type { RunStats } from './outcome.js';

/** The one-way latency of every link, unless a 'delay' step changed it. */
export const LATENCY = { min: 1, max: 3 } as const;

export class NetworkFaults {
  private readonly delayed = new Set<string>();
  /** "from>to" → virtual time until which frames from `from` to `to` are lost. */
  private readonly lossUntil = new Map<string, number>();

  constructor(
    private readonly network: SimNetwork,
    private readonly clock: VirtualClock,
    private readonly names: readonly string[],
    private readonly stats: RunStats,
    /** What a 'lose' step loses: replication ops, or every Group frame. */
    private readonly loss: 'ops' | 'group',
  ) {}

  cut(a: string, b: string, oneWay: boolean): string {
    this.network.cut(a, b, { oneWay });
    if (oneWay) this.stats.oneWayCuts++;
    else this.stats.cuts++;
    // Asymmetric: some third node still sees both ends.
    const sees = (x: string, y: string): boolean => !this.network.isCut(x, y) && !this.network.isCut(y, x);
    const witness = this.names.find((c) => c !== a && c !== b && sees(c, a) && sees(c, b));
    if (witness !== undefined) this.stats.asymmetricCuts++;
    return witness === undefined ? 'cut' : `cut (${witness} sees both)`;
  }

  /** Cut both ways every link between `side` and the other nodes; undefined if a side is empty. */
  partition(side: readonly string[]): string | undefined {
    const rest = this.names.filter((name) => !side.includes(name));
    if (side.length === 0 || rest.length === 0) return undefined;
    for (const a of side) for (const b of rest) this.network.cut(a, b);
    this.stats.partitions++;
    return `${side.join(',')} | ${rest.join(',')}`;
  }

  heal(a: string, b: string): string {
    this.network.heal(a, b);
    this.stats.heals++;
    return 'healed';
  }

  healAll(): string {
    this.network.healAll();
    this.stats.heals++;
    return 'healed all';
  }

  /** Latency of a–b up to `ms`; at or below the default latency, back to the default. */
  delay(a: string, b: string, ms: number): string {
    const pair = [a, b].sort().join('\u0000');
    if (ms <= LATENCY.max) {
      this.network.setLatency(a, b, LATENCY);
      this.delayed.delete(pair);
      return 'latency reset';
    }
    this.network.setLatency(a, b, { min: LATENCY.min, max: ms });
    this.delayed.add(pair);
    this.stats.delays++;
    return `latency up to ${ms} ms`;
  }

  lose(from: string, to: string, ms: number): string {
    this.lossUntil.set(`${from}>${to}`, this.clock.now() + ms);
    this.stats.losses++;
    return `${this.loss === 'ops' ? 'ops' : 'Group frames'} to ${to} lost for ${ms} ms`;
  }

  /** Whether a frame of `type` sent now from `from` to `to` is lost. */
  isLost(from: string, to: string, type: number): boolean {
    const until = this.lossUntil.get(`${from}>${to}`);
    if (until === undefined || this.clock.now() >= until) return false;
    return this.loss === 'group' ? type >= GroupFrame.HELLO && type <= GroupFrame.BYE : type === GroupFrame.OP;
  }

  /** Quiescence: every link healed, every latency back to the default, nothing lost any more. */
  removeAll(): void {
    this.network.healAll();
    this.lossUntil.clear();
    for (const pair of this.delayed) {
      const [a, b] = pair.split('\u0000') as [string, string];
      this.network.setLatency(a, b, LATENCY);
    }
    this.delayed.clear();
  }
}
