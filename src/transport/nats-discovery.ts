import type { Clock, Timer } from '../time/clock.js';
import type { Random } from '../time/random.js';
import type { Logger } from '../observability/logger.js';

/**
 * Discovery through the NATS server. Every listening nats connector announces its node on the
 * cluster's announce subject (at start, when asked, after a reconnect, and every `announceMs`) and
 * records the announcements it hears in the directory of its `nats()` transport; a discovery made
 * by `transport.discovery()` proposes those nodes to its own node.
 *
 * Structurally a `Discovery` (src/discovery/types.ts): the transport layer may not import the
 * discovery layer, and needs not to.
 */
export interface NatsDiscovery {
  readonly kind: 'nats';
  start(deps: { readonly clock: Clock; readonly random: Random; readonly logger: Logger }, emit: (candidates: Array<{ address: string; name?: string }>) => void): void;
  stop(): void;
}

interface Seen {
  /** The announcing connector (one node incarnation). */
  uid: string;
  at: number;
}

/** The nodes heard on one `nats()` transport's announce subject, shared by its connectors and discoveries. */
export class PeerDirectory {
  private readonly nodes = new Map<string, Seen>();
  private readonly listeners = new Set<(name: string) => void>();
  /** Connectors of this transport currently listening (a discovery with none hears nothing). */
  listening = 0;

  /** A node announced itself; listeners hear about names new to the directory. */
  seen(name: string, uid: string, at: number): void {
    const known = this.nodes.get(name);
    this.nodes.set(name, { uid, at });
    if (known !== undefined && known.uid === uid) return;
    for (const listener of this.listeners) listener(name);
  }

  /** A node said goodbye (graceful stop): no need to propose it until it announces again. */
  gone(name: string, uid: string): void {
    if (this.nodes.get(name)?.uid === uid) this.nodes.delete(name);
  }

  /** The nodes heard within `maxAgeMs`; older ones are forgotten. */
  current(now: number, maxAgeMs: number): string[] {
    const names: string[] = [];
    for (const [name, seen] of this.nodes) {
      if (now - seen.at > maxAgeMs) this.nodes.delete(name);
      else names.push(name);
    }
    return names;
  }

  subscribe(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export class DirectoryDiscovery implements NatsDiscovery {
  readonly kind = 'nats';
  private readonly directory: PeerDirectory;
  private readonly refreshMs: number;
  private running = false;
  private runId = 0;
  private timer: Timer | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(directory: PeerDirectory, refreshMs: number) {
    this.directory = directory;
    this.refreshMs = refreshMs;
  }

  start(deps: { readonly clock: Clock; readonly logger: Logger }, emit: (candidates: Array<{ address: string; name?: string }>) => void): void {
    if (this.running) return;
    this.running = true;
    const runId = this.runId;
    const { clock, logger } = deps;
    if (this.directory.listening === 0) {
      logger.warn(
        { event: 'discovery_misconfigured', kind: this.kind },
        'nats discovery: no node listens on this nats() transport; pass the same object as the node\'s `transport` (startNode({transport: t, discovery: [t.discovery()]}))',
      );
    }
    const deliver = (names: string[]): void => {
      if (!this.running || runId !== this.runId || names.length === 0) return;
      try {
        emit(names.map((name) => ({ address: name, name })));
      } catch (err) {
        logger.error({ event: 'discovery_emit_failed', kind: this.kind, err }, 'discovery callback threw');
      }
    };
    // Forgotten after three missed announcements: a node that stopped without a goodbye.
    const everyone = (): void => deliver(this.directory.current(clock.now(), this.refreshMs * 3));
    this.unsubscribe = this.directory.subscribe((name) => deliver([name]));
    queueMicrotask(everyone);
    this.timer = clock.setInterval(everyone, this.refreshMs);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.runId++;
    this.timer?.cancel();
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
