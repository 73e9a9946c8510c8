import type { Clock } from '../time/clock.js';
import type { Random } from '../time/random.js';
import type { Logger } from '../observability/logger.js';

/**
 * A peer worth dialling. Discovery only proposes; the node dials, authenticates, and ignores
 * candidates it is already connected to (so strategies may re-emit the same ones freely).
 */
export interface Candidate {
  /**
   * What the transport dials: `"host:port"` for TCP (IPv6 hosts in brackets, `"[::1]:4370"`),
   * or a node name on the in-memory network.
   */
  address: string;
  /** The node's name when the strategy knows it (a `name@host:port` seed); DNS never does. */
  name?: string;
}

export interface DiscoveryDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
}

/**
 * A source of candidate peers (static seeds, DNS, gossip...).
 *
 * Contract, shared by every strategy:
 * - `start` and `stop` are idempotent; a second `start` while running is ignored (the first
 *   `emit` stays in use), and `start` after `stop` starts again.
 * - `emit` is never called before `start` returns, nor after `stop` returns, even when an
 *   asynchronous lookup begun earlier finishes later.
 * - `emit` is never called with an empty list, and never throws back into the strategy: an
 *   exception from it is logged and the strategy carries on.
 */
export interface Discovery {
  /** 'seeds', 'dns', ... (for logs and status). */
  readonly kind: string;
  start(deps: DiscoveryDeps, emit: (candidates: Candidate[]) => void): void;
  stop(): void;
}
