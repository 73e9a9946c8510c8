/**
 * The live event stream: Group events (group.monitor(ALL) per cluster of each Group shown) and
 * nodeup/nodedown, as JSON, to in-process listeners and to Server-Sent-Events clients. Bounded:
 * at most `maxClients` streams, and a client that does not keep up is dropped rather than
 * buffered without end: when its unsent output is still above `maxBufferBytes` at a check (once
 * a second: a burst of events written in one turn is not yet a slow client), or at once when it
 * passes four times that. A browser's EventSource reconnects by itself.
 */
import type { ServerResponse } from 'node:http';
import { InvalidArgumentError } from '../errors.js';
import { ALL, type GroupEvent } from '../group/events.js';
import type { Group } from '../group/group.js';
import type { Node, NodeDownEvent, NodeUpEvent } from '../node/node.js';
import type { ClusterSelector } from './api.js';
import { jsonMeta, stringify } from './json.js';
import type { RateName, RateRecorder } from './rates.js';

export const EVENT_TYPES = ['registered', 'unregistered', 'joined', 'left', 'nodeup', 'nodedown'] as const;
export type DashboardEventType = (typeof EVENT_TYPES)[number];

export interface DashboardEvent {
  type: DashboardEventType;
  /** Wall-clock ms when the dashboard saw it. */
  at: number;
  /** The node the event is about: the owner of the entry, or the node that went up/down. */
  node: string;
  group?: string;
  cluster?: string | null;
  key?: string;
  pid?: string;
  meta?: unknown;
  previousMeta?: unknown;
  reason?: unknown;
  incarnation?: number;
  address?: string;
}

export interface EventFilter {
  group?: string;
  cluster?: ClusterSelector;
  /** Key prefix (Group events only). */
  prefix?: string;
  types?: ReadonlySet<DashboardEventType>;
}

/** Whether `e` passes `f`. Node events have no group or key: only `types` filters them. */
export function matches(f: EventFilter, e: DashboardEvent): boolean {
  if (f.types !== undefined && !f.types.has(e.type)) return false;
  if (e.key === undefined) return true;
  if (f.group !== undefined && e.group !== f.group) return false;
  if (f.cluster !== undefined && e.cluster !== f.cluster) return false;
  if (f.prefix !== undefined && !e.key.startsWith(f.prefix)) return false;
  return true;
}

export function parseTypes(text: string): Set<DashboardEventType> {
  const types = new Set<DashboardEventType>();
  for (const t of text.split(',')) {
    if (t === '') continue;
    if (!(EVENT_TYPES as readonly string[]).includes(t)) throw new InvalidArgumentError(`events: unknown type "${t}" (known: ${EVENT_TYPES.join(', ')})`);
    types.add(t as DashboardEventType);
  }
  if (types.size === 0) throw new InvalidArgumentError(`events: types must list at least one of ${EVENT_TYPES.join(', ')}`);
  return types;
}

const RATE_OF: Record<GroupEvent['type'], RateName> = { registered: 'registrations', unregistered: 'unregistrations', joined: 'joins', left: 'leaves' };

type Listener = (event: DashboardEvent) => void;

/** Collects the events once, for every consumer (rates, SSE clients, in-process listeners). */
export class EventFeed {
  private readonly node: Node;
  private readonly rates: RateRecorder;
  private readonly listeners = new Set<Listener>();
  /** The (group, cluster) pairs we monitor. */
  private readonly monitored = new Map<Group, Set<string | null>>();

  private readonly onGroupEvents = (events: readonly GroupEvent<unknown>[]): void => {
    const at = this.node.clock.wallNow();
    for (const e of events) {
      this.rates.add(RATE_OF[e.type]);
      this.rates.add('events');
      if (this.listeners.size === 0) continue;
      this.publish({
        type: e.type,
        at,
        node: e.pid.node,
        group: e.group,
        cluster: e.cluster,
        key: e.key,
        pid: e.pid.key,
        meta: jsonMeta(e.meta),
        previousMeta: e.previousMeta === null ? null : jsonMeta(e.previousMeta),
        reason: jsonMeta(e.reason),
      });
    }
  };

  private readonly onUp = (e: NodeUpEvent): void => {
    this.rates.add('nodeups');
    this.publish({ type: 'nodeup', at: this.node.clock.wallNow(), node: e.node, incarnation: e.incarnation, address: e.address });
  };

  private readonly onDown = (e: NodeDownEvent): void => {
    this.rates.add('nodedowns');
    this.publish({ type: 'nodedown', at: this.node.clock.wallNow(), node: e.node, incarnation: e.incarnation, reason: e.reason });
  };

  constructor(node: Node, rates: RateRecorder) {
    this.node = node;
    this.rates = rates;
    node.on('nodeup', this.onUp);
    node.on('nodedown', this.onDown);
  }

  /** Monitor the default cluster and every named cluster this node has joined, of each Group (idempotent). */
  watch(groups: readonly Group[]): void {
    for (const group of groups) {
      let clusters = this.monitored.get(group);
      if (clusters === undefined) this.monitored.set(group, (clusters = new Set()));
      for (const cluster of [null, ...group.membership.clustersOf(group.node.name)]) {
        if (clusters.has(cluster)) continue;
        try {
          group.monitor(ALL, this.onGroupEvents, { cluster });
          clusters.add(cluster);
        } catch {
          // A stopped Group: nothing to watch.
        }
      }
    }
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.node.off('nodeup', this.onUp);
    this.node.off('nodedown', this.onDown);
    for (const [group, clusters] of this.monitored) {
      for (const cluster of clusters) group.demonitor(ALL, this.onGroupEvents, { cluster });
    }
    this.monitored.clear();
    this.listeners.clear();
  }

  private publish(event: DashboardEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // One consumer's failure is not the node's.
      }
    }
  }
}

export interface SseLimits {
  maxClients: number;
  maxBufferBytes: number;
  keepAliveMs: number;
  checkMs: number;
}

export const DEFAULT_SSE_LIMITS: SseLimits = { maxClients: 32, maxBufferBytes: 1 << 20, keepAliveMs: 15_000, checkMs: 1000 };

interface Client {
  res: ServerResponse;
  filter: EventFilter;
}

/** The SSE clients of one dashboard. */
export class SseHub {
  private readonly limits: SseLimits;
  private readonly clients = new Set<Client>();
  private readonly keepAlive: NodeJS.Timeout;
  private readonly check: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private nextId = 0;
  /** Clients dropped for not reading (for tests and the metrics page). */
  dropped = 0;

  constructor(feed: EventFeed, limits: SseLimits) {
    this.limits = limits;
    // One subscription for every client: each event is serialized once, only if someone wants it.
    this.unsubscribe = feed.subscribe((event) => {
      let text: string | undefined;
      for (const c of [...this.clients]) {
        if (!matches(c.filter, event)) continue;
        text ??= `id: ${++this.nextId}\ndata: ${stringify(event)}\n\n`;
        this.write(c, text);
      }
    });
    // Real time on purpose: proxies close idle connections in real seconds, whatever the node's clock.
    this.keepAlive = setInterval(() => {
      for (const c of this.clients) this.write(c, ': keep-alive\n\n');
    }, limits.keepAliveMs);
    this.keepAlive.unref();
    this.check = setInterval(() => {
      for (const c of [...this.clients]) if (c.res.writableLength > limits.maxBufferBytes) this.drop(c);
    }, limits.checkMs);
    this.check.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  get full(): boolean {
    return this.clients.size >= this.limits.maxClients;
  }

  /** Turn a response into an event stream (the caller checked `full` and authorization). */
  open(res: ServerResponse, filter: EventFilter, headers: Record<string, string>): void {
    res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    const client: Client = { res, filter };
    this.clients.add(client);
    res.on('close', () => this.remove(client));
    // Tells the browser the stream is open, and how soon to retry after a drop.
    this.write(client, 'retry: 2000\n: connected\n\n');
  }

  close(): void {
    clearInterval(this.keepAlive);
    clearInterval(this.check);
    this.unsubscribe();
    for (const c of [...this.clients]) {
      this.remove(c);
      c.res.end();
    }
  }

  private write(client: Client, text: string): void {
    if (client.res.writableLength > 4 * this.limits.maxBufferBytes) this.drop(client);
    else client.res.write(text);
  }

  private drop(client: Client): void {
    this.dropped++;
    this.remove(client);
    client.res.destroy();
  }

  private remove(client: Client): void {
    this.clients.delete(client);
  }
}
