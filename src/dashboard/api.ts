/**
 * What the dashboard shows, as plain functions over a node and its Groups: the HTTP layer
 * (server.ts) parses queries into these calls, and code in the same process calls them directly
 * (`dashboard.api`), without a token. Read-only, except `disconnect`, which the server refuses
 * unless writes are enabled.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { InvalidArgumentError } from '../errors.js';
import { Group } from '../group/group.js';
import { attachedGroups } from '../group/protocol.js';
import type { Row } from '../group/tables.js';
import type { Node } from '../node/node.js';
import { jsonMeta } from './json.js';
import type { RateRecorder, RatesSnapshot } from './rates.js';

/** Default and largest `limit` of list endpoints. */
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Nodes seen down are remembered (to show them as down) up to this many. */
const MAX_DOWN_NODES = 256;
const MAX_PREFIX_CHARS = 1024;
/** The event-loop delay sampler's timer period; its readings include it, so it is subtracted. */
const LOOP_RESOLUTION_MS = 10;

/**
 * Roles of nodes, as the caller knows them: this node's roles, or roles by node name, or a
 * function asked on every request (e.g. fed by the CLI's own discovery of its peers).
 */
export type DashboardRoles = readonly string[] | Readonly<Record<string, readonly string[]>> | ((node: string) => readonly string[] | undefined);

/** `cluster` of a query: undefined = every cluster, null = the default cluster, or a name. */
export type ClusterSelector = string | null | undefined;

export interface RegistryQuery {
  group?: string;
  cluster?: ClusterSelector;
  prefix?: string;
  /** Only entries owned by (whose process lives on) this node. */
  node?: string;
  limit?: number;
}

export interface GroupsQuery {
  group?: string;
  cluster?: ClusterSelector;
  prefix?: string;
  limit?: number;
}

export interface MembersQuery {
  group?: string;
  cluster?: ClusterSelector;
  key: string;
  limit?: number;
}

export interface EntryJson {
  group: string;
  cluster: string | null;
  key: string;
  pid: string;
  node: string;
  meta: unknown;
}

/** A group key of the groups listing, with its member count. */
export interface GroupJson {
  group: string;
  cluster: string | null;
  key: string;
  members: number;
}

export interface ListJson<T> {
  items: T[];
  /** How many matched before `limit`. */
  total: number;
  truncated: boolean;
}

export interface NodeEntryCounts {
  group: string;
  cluster: string | null;
  registrations: number;
  memberships: number;
}

export interface NodeJson {
  name: string;
  self: boolean;
  incarnation: number | null;
  address: string | null;
  /** 'self', 'up' (connected) or 'down' (seen down since the dashboard started). */
  link: 'self' | 'up' | 'down';
  /** Milliseconds since anything arrived from it (null for this node and down nodes). */
  heartbeatAgeMs: number | null;
  /** This node's event-loop delay over the last sample; peers': only p99, from the load report in their heartbeats (null until the first one). */
  eventLoopDelayMs: { mean?: number; p99: number; max?: number } | null;
  roles: readonly string[] | null;
  entries: NodeEntryCounts[];
  /** For down nodes: why and when (wall-clock ms). */
  down?: { reason: string; at: number };
}

export interface ClusterJson {
  node: string;
  now: number;
  groups: Array<{ name: string; clusters: Array<string | null>; peers: string[] }>;
  nodes: NodeJson[];
}

export interface MetricsJson extends RatesSnapshot {
  node: string;
  /**
   * What the `stats` option of startDashboard returns: by default node.stats() and each shown
   * Group's stats() (replication lag, conflicts, purges...).
   */
  stats: unknown;
}

interface DownRecord {
  incarnation: number;
  reason: string;
  at: number;
}

export interface DashboardApiOptions {
  groups?: readonly Group[] | undefined;
  roles?: DashboardRoles | undefined;
  stats?: (() => unknown) | undefined;
}

export class DashboardApi {
  readonly node: Node;
  private readonly fixedGroups: readonly Group[] | undefined;
  private readonly roles: DashboardRoles | undefined;
  private readonly stats: (() => unknown) | undefined;
  private readonly downNodes = new Map<string, DownRecord>();
  private readonly loopDelay: IntervalHistogram;
  private lastLoopDelay: { mean: number; p99: number; max: number } | null = null;
  /** Set by the server: the rate recorder fed by the event stream. */
  rates: RateRecorder | undefined;

  private readonly onUp = (e: { node: string }): void => {
    this.downNodes.delete(e.node);
  };

  private readonly onDown = (e: { node: string; incarnation: number; reason: string }): void => {
    this.downNodes.delete(e.node);
    this.downNodes.set(e.node, { incarnation: e.incarnation, reason: e.reason, at: this.node.clock.wallNow() });
    if (this.downNodes.size > MAX_DOWN_NODES) this.downNodes.delete(this.downNodes.keys().next().value!);
  };

  constructor(node: Node, options: DashboardApiOptions = {}) {
    this.node = node;
    this.fixedGroups = options.groups;
    this.roles = options.roles;
    this.stats = options.stats;
    node.on('nodeup', this.onUp);
    node.on('nodedown', this.onDown);
    this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.loopDelay.enable();
  }

  /** Called once a second by the sampler: the loop delay of the second that ended. */
  sampleLoopDelay(): void {
    const h = this.loopDelay;
    if (h.count > 0) this.lastLoopDelay = { mean: ms(h.mean), p99: ms(h.percentile(99)), max: ms(h.max) };
    h.reset();
  }

  close(): void {
    this.node.off('nodeup', this.onUp);
    this.node.off('nodedown', this.onDown);
    this.loopDelay.disable();
  }

  /** The Groups shown: those given to startDashboard, or every Group running on the node now. */
  groups(): Group[] {
    const list = this.fixedGroups ?? attachedGroups(this.node).filter((g): g is Group => g instanceof Group);
    return list.filter((g) => g.node === this.node);
  }

  cluster(): ClusterJson {
    const groups = this.groups();
    const self = this.node;
    const nodes: NodeJson[] = [];
    const loop = this.lastLoopDelay ?? this.currentLoopDelay();
    nodes.push({
      name: self.name,
      self: true,
      incarnation: self.incarnation,
      address: self.address,
      link: 'self',
      heartbeatAgeMs: null,
      eventLoopDelayMs: loop,
      roles: this.rolesOf(self.name),
      entries: entryCounts(groups, self.name),
    });
    const seen = new Set([self.name]);
    const peerLoop = new Map(self.stats().peers.map((p) => [p.node, p.eventLoopDelayP99Ms]));
    for (const peer of [...self.peerInfo()].sort((a, b) => compare(a.name, b.name))) {
      seen.add(peer.name);
      const age = self.heartbeatAge(peer.name);
      nodes.push({
        name: peer.name,
        self: false,
        incarnation: peer.incarnation,
        address: peer.address,
        link: 'up',
        heartbeatAgeMs: age === undefined ? null : Math.round(age),
        eventLoopDelayMs: loopReport(peerLoop.get(peer.name)),
        roles: this.rolesOf(peer.name),
        entries: entryCounts(groups, peer.name),
      });
    }
    // Down nodes, and owners of entries we still hold but are not connected to (not yet purged).
    const others = new Set<string>([...this.downNodes.keys()]);
    for (const g of groups) for (const owner of g.tables.ownerNodes()) others.add(owner);
    for (const name of [...others].sort(compare)) {
      if (seen.has(name)) continue;
      const down = this.downNodes.get(name);
      nodes.push({
        name,
        self: false,
        incarnation: down?.incarnation ?? null,
        address: null,
        link: 'down',
        heartbeatAgeMs: null,
        eventLoopDelayMs: null,
        roles: this.rolesOf(name),
        entries: entryCounts(groups, name),
        ...(down === undefined ? {} : { down: { reason: down.reason, at: down.at } }),
      });
    }
    return {
      node: self.name,
      now: self.clock.wallNow(),
      groups: groups.map((g) => ({ name: g.name, clusters: clustersOf(g), peers: g.nodes().sort(compare) })),
      nodes,
    };
  }

  registry(query: RegistryQuery = {}): ListJson<EntryJson> {
    const limit = checkLimit(query.limit, 'registry');
    const prefix = checkPrefix(query.prefix, 'registry');
    const owner = query.node;
    if (owner !== undefined && (typeof owner !== 'string' || owner === '')) throw new InvalidArgumentError('registry: node must be a node name');
    const items: EntryJson[] = [];
    let total = 0;
    for (const group of this.selectGroups(query.group, 'registry')) {
      for (const cluster of this.selectClusters(group, query.cluster, 'registry')) {
        for (const row of group.tables.registryByPrefix(cluster, prefix)) {
          if (owner !== undefined && row.pid.node !== owner) continue;
          total++;
          if (items.length < limit) items.push(entryJson(group, row));
        }
      }
    }
    return { items, total, truncated: total > items.length };
  }

  groupList(query: GroupsQuery = {}): ListJson<GroupJson> {
    const limit = checkLimit(query.limit, 'groups');
    const prefix = checkPrefix(query.prefix, 'groups');
    const items: GroupJson[] = [];
    let total = 0;
    for (const group of this.selectGroups(query.group, 'groups')) {
      for (const cluster of this.selectClusters(group, query.cluster, 'groups')) {
        for (const key of group.tables.groups(cluster, prefix)) {
          total++;
          if (items.length < limit) items.push({ group: group.name, cluster, key, members: group.tables.memberCount(cluster, key) });
        }
      }
    }
    return { items, total, truncated: total > items.length };
  }

  members(query: MembersQuery): ListJson<EntryJson> {
    if (typeof query !== 'object' || query === null || typeof query.key !== 'string' || query.key === '') {
      throw new InvalidArgumentError('members: key must be the non-empty key of a group');
    }
    const limit = checkLimit(query.limit, 'members');
    const items: EntryJson[] = [];
    let total = 0;
    for (const group of this.selectGroups(query.group, 'members')) {
      for (const cluster of this.selectClusters(group, query.cluster, 'members')) {
        const rows = group.tables.members(cluster, query.key);
        total += rows.length;
        for (let i = 0; i < rows.length && items.length < limit; i++) items.push(entryJson(group, rows[i]!));
      }
    }
    return { items, total, truncated: total > items.length };
  }

  metrics(): MetricsJson {
    return { node: this.node.name, ...this.rates!.snapshot(), stats: this.stats === undefined ? null : this.stats() };
  }

  /** The one write: drop the link to a peer (it reconnects as usual). Refused by the server unless writes are enabled. */
  disconnect(node: string): { node: string; wasConnected: boolean } {
    if (typeof node !== 'string' || node === '') throw new InvalidArgumentError('disconnect: node must be a node name');
    const wasConnected = this.node.peers().includes(node);
    if (wasConnected) this.node.disconnect(node);
    return { node, wasConnected };
  }

  /** The Groups a query names (one by name, or all). */
  selectGroups(name: string | undefined, what: string): Group[] {
    const groups = this.groups();
    if (name === undefined) return groups;
    if (typeof name !== 'string') throw new InvalidArgumentError(`${what}: group must be the name of a Group`);
    const found = groups.find((g) => g.name === name);
    if (found === undefined) {
      throw new InvalidArgumentError(`${what}: no Group named "${name}" on node ${this.node.name} (running: ${groups.map((g) => g.name).join(', ') || 'none'})`);
    }
    return [found];
  }

  private selectClusters(group: Group, cluster: ClusterSelector, what: string): Array<string | null> {
    if (cluster === undefined) return group.tables.clusters();
    if (cluster !== null && (typeof cluster !== 'string' || cluster === '')) {
      throw new InvalidArgumentError(`${what}: cluster must be a cluster name, null for the default cluster, or omitted for every cluster`);
    }
    return [cluster];
  }

  private rolesOf(name: string): readonly string[] | null {
    const roles = this.roles;
    if (roles === undefined) return null;
    if (typeof roles === 'function') return roles(name) ?? null;
    if (Array.isArray(roles)) return name === this.node.name ? (roles as readonly string[]) : null;
    return (roles as Readonly<Record<string, readonly string[]>>)[name] ?? null;
  }

  private currentLoopDelay(): { mean: number; p99: number; max: number } | null {
    const h = this.loopDelay;
    return h.count > 0 ? { mean: ms(h.mean), p99: ms(h.percentile(99)), max: ms(h.max) } : null;
  }
}

function entryJson(group: Group, row: Row): EntryJson {
  return { group: group.name, cluster: row.cluster, key: row.key, pid: row.pid.key, node: row.pid.node, meta: jsonMeta(row.meta) };
}

/** Registrations and memberships each Group holds for `node`, per cluster with any. */
function entryCounts(groups: readonly Group[], node: string): NodeEntryCounts[] {
  const out: NodeEntryCounts[] = [];
  for (const group of groups) {
    const counts = group.tables.countOwned(node);
    const clusters = [...counts.keys()].sort((a, b) => (a === null ? -1 : b === null ? 1 : compare(a, b)));
    for (const cluster of clusters) {
      const c = counts.get(cluster)!;
      out.push({ group: group.name, cluster, registrations: c.registry, memberships: c.members });
    }
  }
  return out;
}

/** The clusters a Group has connected to (the default one first) and those it holds rows of. */
function clustersOf(group: Group): Array<string | null> {
  const named = new Set<string>(group.membership.clustersOf(group.node.name).filter((c): c is string => c !== null));
  for (const c of group.tables.clusters()) if (c !== null) named.add(c);
  return [null, ...[...named].sort(compare)];
}

function checkLimit(limit: number | undefined, what: string): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new InvalidArgumentError(`${what}: limit must be an integer from 1 to ${MAX_LIMIT}`);
  return limit;
}

function checkPrefix(prefix: string | undefined, what: string): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string' || prefix.length > MAX_PREFIX_CHARS) throw new InvalidArgumentError(`${what}: prefix must be a string of at most ${MAX_PREFIX_CHARS} characters`);
  return prefix;
}

/** Delay beyond the sampler's own period, in ms with two decimals. */
function ms(ns: number): number {
  return Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function loopReport(p99: number | null | undefined): { p99: number } | null {
  return p99 === null || p99 === undefined ? null : { p99: Math.round(p99 * 100) / 100 };
}
