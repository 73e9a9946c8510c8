/**
 * The distributed Group scenarios of the reference (group-durable-semantics.md §3.3, scenarios
 * 1–30, and the edge cases of §7.3 items 5–8), written once against an environment abstraction
 * and run by two runners:
 *
 *  - test/unit/group/distributed-memory.test.ts: every node in-process on the simulated network,
 *    virtual time (fast, deterministic);
 *  - test/cluster/group-distributed.test.ts: every node a separate OS process over TCP, the
 *    operations by rpc.
 *
 * A scenario talks to nodes only through `env.agent(node, request)` (test/conformance/group-agent.ts
 * runs the request inside the node), so what it can do is exactly what both runners can do. Pids
 * are their string keys. Every scenario ends with `converged(...)`: the nodes agree on every row
 * and every cluster membership, and `checkConsistency()` is empty on each.
 */
import { describe, expect, it } from 'vitest';
import { GroupFrame, Op } from '../../src/group/protocol.js';
import { Pid } from '../../src/process/pid.js';
import type { AgentCall, AgentRequest, GroupView, SentFrame } from './group-agent.js';

export type PidKey = string;

/** What a scenario can do to the nodes. Time limits are in ms of the environment's time (virtual or real). */
export interface GroupScenarioEnv {
  readonly kind: 'memory' | 'cluster';
  /** The nodes, all running and meshed when a scenario starts, with no Group running. */
  readonly names: readonly string[];
  /** Run a request inside a node (see group-agent.ts); the result is plain data. */
  agent<T = unknown>(node: string, request: AgentRequest): Promise<T>;
  /** The node's OS process dies at once (SIGKILL / crash); peers notice when their link drops. */
  kill(node: string): Promise<void>;
  /** Start a killed node again (same name, new incarnation, no Group); resolves once it is meshed with the live nodes. */
  restart(node: string): Promise<void>;
  /** Partition two nodes (both directions; the link between them drops). */
  cut(a: string, b: string): Promise<void>;
  /** Heal a partition; the nodes reconnect. */
  heal(a: string, b: string): Promise<void>;
  /** Poll `cond` until it holds, letting time pass; throws `what()` after `maxMs`. */
  until(cond: () => Promise<boolean>, what: () => string, maxMs?: number): Promise<void>;
}

export interface GroupScenarioRunner {
  /** Before each scenario (by id): an environment whose nodes are up and meshed, no Group running. */
  setup(id: string): Promise<GroupScenarioEnv>;
  /** After each scenario, passed or failed. */
  teardown(env: GroupScenarioEnv): Promise<void>;
  /** Which scenarios run here (by id); default: all. */
  select?: (id: string) => boolean;
  /** Per-scenario test timeout (real ms). */
  timeoutMs?: number;
}

export interface EventRecord {
  type: 'registered' | 'unregistered' | 'joined' | 'left';
  group: string;
  cluster: string | null;
  key: string;
  pid: PidKey;
  meta: unknown;
  previousMeta: unknown;
  reason: unknown;
}

export interface Entry {
  pid: PidKey;
  meta: unknown;
}

const GROUP = 'app';
const ALL = { $all: true } as const;
const pidArg = (pid: PidKey): { $pid: PidKey } => ({ $pid: pid });
/** How G_OP and G_STATE name the sender's own process: by its id (docs/protocol.md). */
const pidId = (pid: PidKey): number => Pid.parse(pid).id;

/** One node, seen through one Group instance name. */
export class GroupNode {
  constructor(
    readonly env: GroupScenarioEnv,
    readonly name: string,
    readonly group: string = GROUP,
  ) {}

  /** The same node, another Group instance. */
  as(group: string): GroupNode {
    return new GroupNode(this.env, this.name, group);
  }

  private agent<T>(request: AgentRequest): Promise<T> {
    return this.env.agent<T>(this.name, request);
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.agent<T>({ op: 'call', group: this.group, call: { method, args } });
  }

  // ---- lifecycle and processes
  startGroup(options: { resolver?: 'tiebreak' | 'first-wins'; antiEntropyMs?: number; connect?: string[] } = {}): Promise<void> {
    return this.agent({ op: 'start-group', group: this.group, ...options });
  }
  stopGroup(): Promise<void> {
    return this.agent({ op: 'stop-group', group: this.group });
  }
  spawn(): Promise<PidKey> {
    return this.agent({ op: 'spawn' });
  }
  spawnMany(count: number): Promise<PidKey[]> {
    return this.agent({ op: 'spawn', count });
  }
  exit(pid: PidKey, reason: unknown = 'killed'): Promise<void> {
    return this.agent({ op: 'exit', pid, reason });
  }
  alive(pid: PidKey): Promise<boolean> {
    return this.agent({ op: 'alive', pid });
  }
  /** The exit reason of a process spawned here, seen by a monitor set at spawn. */
  down(pid: PidKey): Promise<{ down: boolean; reason: unknown }> {
    return this.agent({ op: 'down', pid });
  }
  inbox(pid: PidKey): Promise<unknown[]> {
    return this.agent({ op: 'inbox', pid });
  }

  // ---- the Group API
  register(key: string, meta: unknown, pid: PidKey, cluster?: string): Promise<'ok' | 'taken'> {
    return this.call('register', key, meta, { pid: pidArg(pid), cluster });
  }
  /** Register with this node's wall clock pinned to `time` (ties and chosen orders). */
  registerAt(time: number, key: string, meta: unknown, pid: PidKey, cluster?: string): Promise<'ok' | 'taken'> {
    return this.agent({ op: 'call', group: this.group, call: { method: 'register', args: [key, meta, { pid: pidArg(pid), cluster }] }, wallTime: time });
  }
  unregister(key: string, cluster?: string): Promise<'ok' | 'not_found' | 'not_owner'> {
    return this.call('unregister', key, { cluster });
  }
  lookup(key: string, cluster?: string): Promise<Entry | null> {
    return this.call('lookup', key, { cluster });
  }
  join(key: string, meta: unknown, pid: PidKey, cluster?: string): Promise<'ok'> {
    return this.call('join', key, meta, { pid: pidArg(pid), cluster });
  }
  leave(key: string, pid: PidKey, cluster?: string): Promise<'ok' | 'not_in_group'> {
    return this.call('leave', key, { pid: pidArg(pid), cluster });
  }
  members(key: string, options: { cluster?: string; includeRegistered?: boolean } = {}): Promise<Entry[]> {
    return this.call('members', key, options);
  }
  registered(prefix = '', cluster?: string): Promise<string[]> {
    return this.call('registered', { prefix, cluster });
  }
  dispatch(key: string, message: unknown, options: { cluster?: string; includeRegistered?: boolean } = {}): Promise<void> {
    return this.call('dispatch', key, message, options);
  }
  dispatchLocal(key: string, message: unknown, options: { cluster?: string } = {}): Promise<void> {
    return this.call('dispatchLocal', key, message, options);
  }
  connect(clusters: string | string[]): Promise<'ok'> {
    return this.call('connect', clusters);
  }
  disconnect(clusters: string | string[]): Promise<'ok'> {
    return this.call('disconnect', clusters);
  }
  isConnected(cluster: string): Promise<boolean> {
    return this.call('isConnected', cluster);
  }
  /** Without a cluster: the Group peers (self excluded). With one: its nodes (self included when connected). */
  nodes(cluster?: string): Promise<string[]> {
    return cluster === undefined ? this.call('nodes') : this.call('nodes', cluster);
  }
  registryCount(cluster?: string): Promise<number> {
    return this.call('registryCount', { cluster });
  }
  memberCount(key?: string, cluster?: string): Promise<number> {
    return this.call('memberCount', key, { cluster });
  }
  localRegistryCount(cluster?: string): Promise<number> {
    return this.call('localRegistryCount', { cluster });
  }
  localMemberCount(key: string, cluster?: string): Promise<number> {
    return this.call('localMemberCount', key, { cluster });
  }
  checkConsistency(): Promise<string[]> {
    return this.call('checkConsistency');
  }
  /** Several Group calls in one round trip (one agent request). */
  batch(calls: AgentCall[]): Promise<unknown[]> {
    return this.agent({ op: 'calls', group: this.group, calls });
  }
  async monitor(pattern: string | typeof ALL, cluster?: string): Promise<Monitor> {
    const id = await this.agent<string>({ op: 'monitor', group: this.group, pattern, cluster: cluster ?? null });
    return new Monitor(this, id);
  }

  // ---- white box and fault injection
  /** Run one Group call right after this Group has handled the next nodeup of `peer`. */
  onNodeUp(peer: string, method: string, ...args: unknown[]): Promise<void> {
    return this.agent({ op: 'on-nodeup', group: this.group, peer, call: { method, args } });
  }
  view(): Promise<GroupView> {
    return this.agent({ op: 'view', group: this.group });
  }
  rowTime(key: string, cluster?: string): Promise<number | null> {
    return this.agent({ op: 'row-time', group: this.group, key, cluster: cluster ?? null });
  }
  wallNow(): Promise<number> {
    return this.agent({ op: 'wall-now' });
  }
  sendRaw(peer: string, type: number, body: unknown[]): Promise<boolean> {
    return this.agent({ op: 'send-raw', peer, type, body });
  }
  recordSends(): Promise<void> {
    return this.agent({ op: 'record-sends' });
  }
  sent(): Promise<SentFrame[]> {
    return this.agent({ op: 'sent' });
  }
  /** Run Group calls whose frames to `peer` are lost, the link staying up. */
  loseFrames(peer: string, calls: AgentCall[], wallTime?: number): Promise<unknown[]> {
    return this.agent({ op: 'lose-frames', group: this.group, peer, calls, wallTime });
  }
  /** Drop the node-level link to a peer now (it reconnects by itself). */
  disconnectNode(peer: string): Promise<void> {
    return this.agent({ op: 'disconnect-node', peer });
  }
  nodePeers(): Promise<string[]> {
    return this.agent({ op: 'node-peers' });
  }
}

/** Registration and membership calls for `batch`. */
const reg = (key: string, meta: unknown, pid: PidKey, cluster?: string): AgentCall => ({ method: 'register', args: [key, meta, { pid: pidArg(pid), cluster }] });
const joinCall = (key: string, meta: unknown, pid: PidKey, cluster?: string): AgentCall => ({ method: 'join', args: [key, meta, { pid: pidArg(pid), cluster }] });

export class Monitor {
  constructor(
    readonly node: GroupNode,
    readonly id: string,
  ) {}
  batches(): Promise<EventRecord[][]> {
    return this.node.env.agent(this.node.name, { op: 'events', id: this.id });
  }
  async events(): Promise<EventRecord[]> {
    return (await this.batches()).flat();
  }
}

const sorted = (list: readonly string[]): string[] => [...list].sort();
const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);
const rowKey = (row: unknown): string => JSON.stringify(row);

/** Why the views disagree (or a node's tables are inconsistent); null when they agree. */
export function disagreement(views: readonly GroupView[]): string | null {
  const names = sorted(views.map((v) => v.node));
  const problems: string[] = [];
  const named = new Set<string>();
  for (const v of views) {
    if (v.consistency.length > 0) problems.push(`${v.node} is inconsistent: ${v.consistency.join('; ')}`);
    const others = names.filter((n) => n !== v.node);
    if (!same(v.peers, others)) problems.push(`${v.node} has Group peers [${v.peers.join(', ')}], expected [${others.join(', ')}]`);
    for (const c of v.connected) named.add(c);
    for (const c of Object.keys(v.clusters)) named.add(c);
    for (const c of v.tableClusters) if (c !== null) named.add(c);
  }
  const rowsOf = (v: GroupView, cluster: string | null): string[] =>
    [...v.registry.filter((r) => r[0] === cluster).map((r) => `R${rowKey(r)}`), ...v.members.filter((r) => r[0] === cluster).map((r) => `M${rowKey(r)}`)].sort();
  const compare = (cluster: string | null, inCluster: readonly GroupView[], outside: readonly GroupView[]): void => {
    const reference = inCluster[0] === undefined ? [] : rowsOf(inCluster[0], cluster);
    for (const v of inCluster.slice(1)) {
      const rows = rowsOf(v, cluster);
      if (!same(rows, reference)) {
        const missing = reference.filter((r) => !rows.includes(r));
        const extra = rows.filter((r) => !reference.includes(r));
        problems.push(`cluster ${String(cluster)}: ${v.node} differs from ${inCluster[0]!.node}: missing ${missing.join(' ')} extra ${extra.join(' ')}`);
      }
    }
    for (const v of outside) {
      const rows = rowsOf(v, cluster);
      if (rows.length > 0) problems.push(`cluster ${String(cluster)}: ${v.node} is not connected but holds ${rows.join(' ')}`);
    }
  };
  compare(null, views, []);
  for (const c of [...named].sort()) {
    const inside = views.filter((v) => v.connected.includes(c));
    const expected = sorted(inside.map((v) => v.node));
    for (const v of views) {
      const seen = v.clusters[c] ?? [];
      const want = v.connected.includes(c) ? expected : [];
      if (!same(seen, want)) problems.push(`cluster ${c}: ${v.node} sees nodes [${seen.join(', ')}], expected [${want.join(', ')}]`);
    }
    compare(
      c,
      inside,
      views.filter((v) => !v.connected.includes(c)),
    );
  }
  return problems.length === 0 ? null : problems.join('\n');
}

/** The context of one scenario: node handles and the waits every scenario uses. */
export class Scenario {
  readonly nodes: GroupNode[];
  private flushes = 0;

  constructor(readonly env: GroupScenarioEnv) {
    this.nodes = env.names.map((n) => new GroupNode(env, n));
  }

  until(cond: () => Promise<boolean>, what: string | (() => string), maxMs?: number): Promise<void> {
    return this.env.until(cond, typeof what === 'string' ? () => what : what, maxMs);
  }

  /** Start the Group on the first `count` nodes and wait until they are all Group peers. */
  async start(count = 3, options: { resolver?: 'tiebreak' | 'first-wins'; antiEntropyMs?: number } = {}): Promise<GroupNode[]> {
    const started = this.nodes.slice(0, count);
    for (const n of started) await n.startGroup(options);
    await this.peered(started);
    return this.nodes;
  }

  /** Wait until each of `nodes` has exactly the others as Group peers. */
  async peered(nodes: readonly GroupNode[]): Promise<void> {
    const names = sorted(nodes.map((n) => n.name));
    let last = '';
    await this.until(
      async () => {
        for (const n of nodes) {
          const peers = await n.nodes();
          const want = names.filter((x) => x !== n.name);
          if (!same(peers, want)) {
            last = `${n.name}/${n.group} has Group peers [${peers.join(', ')}], expected [${want.join(', ')}]`;
            return false;
          }
        }
        return true;
      },
      () => `Group peers of ${names.join(', ')}: ${last}`,
    );
  }

  /** Partition a from b (node level) and wait until neither Group sees the other. */
  async partition(a: GroupNode, b: GroupNode): Promise<void> {
    await this.env.cut(a.name, b.name);
    await this.until(async () => !(await a.nodes()).includes(b.name) && !(await b.nodes()).includes(a.name), `${a.name} and ${b.name} partitioned`);
  }

  /** Heal a partition and wait until both Groups see each other again. */
  async heal(a: GroupNode, b: GroupNode): Promise<void> {
    await this.env.heal(a.name, b.name);
    await this.until(async () => (await a.nodes()).includes(b.name) && (await b.nodes()).includes(a.name), `${a.name} and ${b.name} healed`);
  }

  /**
   * Make sure every frame `from` sent to each of `to` before now has been applied there: a
   * marker membership sent after them arrives after them (per-pair FIFO). Lets a test assert that
   * something did NOT arrive. The marker leaves again (converged() waits for that).
   */
  async flush(from: GroupNode, to: readonly GroupNode[]): Promise<void> {
    const key = `__flush/${++this.flushes}`;
    const marker = await from.spawn();
    await from.join(key, {}, marker);
    await this.until(async () => {
      for (const n of to) if ((await n.members(key)).length === 0) return false;
      return true;
    }, `flush marker ${key} from ${from.name} reaches ${to.map((n) => n.name).join(', ')}`);
    await from.exit(marker, 'normal');
  }

  /** Wait until the nodes agree on every row and membership; every node's tables are consistent. */
  async converged(nodes: readonly GroupNode[], maxMs?: number): Promise<GroupView[]> {
    let problem: string | null = 'not checked yet';
    let views: GroupView[] = [];
    await this.until(
      async () => {
        views = await Promise.all(nodes.map((n) => n.view()));
        problem = disagreement(views);
        return problem === null;
      },
      () => `the nodes ${nodes.map((n) => n.name).join(', ')} to converge:\n${problem}`,
      maxMs,
    );
    for (const v of views) expect(v.consistency, `checkConsistency() on ${v.node}`).toEqual([]);
    for (const n of nodes) expect(await n.checkConsistency()).toEqual([]);
    return views;
  }
}

interface ScenarioDef {
  id: string;
  title: string;
  run(s: Scenario): Promise<void>;
}

const scenarios: ScenarioDef[] = [];
const scenario = (id: string, title: string, run: (s: Scenario) => Promise<void>): void => {
  scenarios.push({ id, title, run });
};

const lookupIs = (n: GroupNode, key: string, pid: PidKey | null, cluster?: string) => async (): Promise<boolean> =>
  ((await n.lookup(key, cluster))?.pid ?? null) === pid;
const memberPids = async (n: GroupNode, key: string, cluster?: string): Promise<PidKey[]> => (await n.members(key, { cluster })).map((e) => e.pid);
const conflictReason = (key: string, meta: unknown) => ({ reason: 'group_registry_conflict', key, meta });

// ---- 3.3: the distributed suite ----------------------------------------------------------------

scenario('3.3-1', 'registration replication: a registration on A is visible on B, and gone on B when its process dies', async (s) => {
  const [a, b] = await s.start(2);
  const p = await a!.spawn();
  expect(await a!.register('user/1', { name: 'one' }, p)).toBe('ok');
  await s.until(lookupIs(b!, 'user/1', p), 'B sees user/1');
  expect(await b!.lookup('user/1')).toEqual({ pid: p, meta: { name: 'one' } });
  await a!.exit(p);
  await s.until(lookupIs(b!, 'user/1', null), 'B forgets user/1');
  await s.converged([a!, b!]);
});

scenario('3.3-2', 'process group join/leave replication: members agree on both nodes, leave and death remove them', async (s) => {
  const [a, b] = await s.start(2);
  const p = await a!.spawn();
  const q = await b!.spawn();
  await a!.join('room/2', { who: 'p' }, p);
  await b!.join('room/2', { who: 'q' }, q);
  await s.until(async () => (await a!.members('room/2')).length === 2 && (await b!.members('room/2')).length === 2, 'both members on both nodes');
  expect(await a!.members('room/2')).toEqual(await b!.members('room/2'));
  expect(sorted(await memberPids(a!, 'room/2'))).toEqual(sorted([p, q]));
  expect(await a!.leave('room/2', p)).toBe('ok');
  await s.until(async () => same(await memberPids(b!, 'room/2'), [q]), 'B sees the leave');
  await b!.exit(q);
  await s.until(async () => (await a!.members('room/2')).length === 0, 'A sees the death');
  expect(await a!.leave('room/2', p)).toBe('not_in_group');
  await s.converged([a!, b!]);
});

scenario('3.3-3', 'late joiner receives existing data: C starts its Group after A and B have entries', async (s) => {
  const [a, b, c] = await s.start(2);
  const p = await a!.spawn();
  const q = await b!.spawn();
  await a!.register('svc/a', { v: 1 }, p);
  await a!.join('room/3', {}, p);
  await b!.join('room/3', {}, q);
  await s.until(async () => (await b!.members('room/3')).length === 2 && (await b!.lookup('svc/a')) !== null, 'A and B replicated');
  await c!.startGroup();
  await s.peered([a!, b!, c!]);
  await s.until(async () => (await c!.lookup('svc/a'))?.pid === p && (await c!.members('room/3')).length === 2, 'C has the registry and the group');
  expect(await c!.lookup('svc/a')).toEqual({ pid: p, meta: { v: 1 } });
  await s.converged([a!, b!, c!]);
});

scenario('3.3-4', "dead node's entries are cleaned up on the survivors (reason nodedown)", async (s) => {
  const [a, b, c] = await s.start(3);
  const q = await b!.spawn();
  await b!.register('svc/b', {}, q);
  await b!.join('room/4', {}, q);
  await s.until(async () => (await a!.lookup('svc/b')) !== null && (await c!.members('room/4')).length === 1, 'replicated');
  const events = await a!.monitor(ALL);
  await s.env.kill(b!.name);
  await s.until(async () => (await a!.lookup('svc/b')) === null && (await a!.members('room/4')).length === 0 && (await c!.lookup('svc/b')) === null, 'purged', 5000);
  expect((await events.events()).map((e) => [e.type, e.key, e.reason]).sort()).toEqual([
    ['left', 'room/4', 'nodedown'],
    ['unregistered', 'svc/b', 'nodedown'],
  ]);
  await s.converged([a!, c!]);
});

scenario('3.3-5', 'a monitor receives events of remote registrations', async (s) => {
  const [a, b] = await s.start(2);
  const m = await a!.monitor(ALL);
  const q = await b!.spawn();
  await b!.register('user/5', { v: 1 }, q);
  await s.until(async () => (await m.events()).length === 1, 'the event on A');
  expect(await m.events()).toEqual([{ type: 'registered', group: GROUP, cluster: null, key: 'user/5', pid: q, meta: { v: 1 }, previousMeta: null, reason: null }]);
  await s.converged([a!, b!]);
});

scenario('3.3-6', 'named cluster isolation: each node sees only the clusters it is in', async (s) => {
  const [a, b, c] = await s.start(3);
  await a!.connect(['game', 'chat']);
  await b!.connect('game');
  await c!.connect('chat');
  await s.until(
    async () => same(await a!.nodes('game'), ['a', 'b']) && same(await a!.nodes('chat'), ['a', 'c']) && same(await b!.nodes('game'), ['a', 'b']) && same(await c!.nodes('chat'), ['a', 'c']),
    'clusters formed',
  );
  const [pa, pb, pc] = [await a!.spawn(), await b!.spawn(), await c!.spawn()];
  await a!.register('x', { from: 'a' }, pa, 'game');
  await a!.join('lobby', {}, pa, 'chat');
  await b!.register('y', { from: 'b' }, pb, 'game');
  await c!.register('z', { from: 'c' }, pc, 'chat');
  await s.until(
    async () =>
      (await b!.lookup('x', 'game'))?.pid === pa &&
      (await c!.members('lobby', { cluster: 'chat' })).length === 1 &&
      (await a!.lookup('y', 'game'))?.pid === pb &&
      (await a!.lookup('z', 'chat'))?.pid === pc,
    'replicated within each cluster',
  );
  await s.flush(a!, [b!, c!]);
  await s.flush(b!, [c!]);
  await s.flush(c!, [b!]);
  expect(await c!.lookup('x', 'game')).toBeNull();
  expect(await c!.lookup('y', 'game')).toBeNull();
  expect(await b!.lookup('z', 'chat')).toBeNull();
  expect(await b!.members('lobby', { cluster: 'chat' })).toEqual([]);
  expect(await a!.lookup('x')).toBeNull(); // not in the default cluster either
  expect(await b!.nodes('chat')).toEqual([]);
  expect(await c!.nodes('game')).toEqual([]);
  await s.converged([a!, b!, c!]);
});

scenario('3.3-7', 'conflict resolution on partition heal (default resolver): the later registration wins, the loser is killed', async (s) => {
  const [a, b] = await s.start(2);
  const pa = await a!.spawn();
  const pb = await b!.spawn();
  await s.partition(a!, b!);
  expect(await a!.register('unique', { side: 'a' }, pa)).toBe('ok');
  const ta = (await a!.rowTime('unique'))!;
  await s.until(async () => (await b!.wallNow()) > ta, "B's clock passes A's registration time");
  expect(await b!.register('unique', { side: 'b' }, pb)).toBe('ok');
  expect((await a!.lookup('unique'))?.pid).toBe(pa);
  expect((await b!.lookup('unique'))?.pid).toBe(pb);
  await s.heal(a!, b!);
  await s.until(async () => (await lookupIs(a!, 'unique', pb)()) && (await lookupIs(b!, 'unique', pb)()), 'both agree on the later registration');
  await s.until(async () => !(await a!.alive(pa)), 'the loser is killed');
  expect(await a!.down(pa)).toEqual({ down: true, reason: conflictReason('unique', { side: 'b' }) });
  expect(await b!.alive(pb)).toBe(true);
  await s.converged([a!, b!]);
});

scenario('3.3-8', 'same key on both sides of a partition with a custom resolver: exactly one pid kept, agreed on both nodes, nobody killed', async (s) => {
  const [a, b] = await s.start(2, { resolver: 'tiebreak' });
  const pa = await a!.spawn();
  const pb = await b!.spawn();
  await s.partition(a!, b!);
  await a!.register('custom', { side: 'a' }, pa);
  await b!.register('custom', { side: 'b' }, pb);
  await s.heal(a!, b!);
  let winner: PidKey | null = null;
  await s.until(async () => {
    const [x, y] = [await a!.lookup('custom'), await b!.lookup('custom')];
    winner = x !== null && y !== null && x.pid === y.pid ? x.pid : null;
    return winner !== null;
  }, 'both nodes keep the same pid');
  expect([pa, pb]).toContain(winner);
  // A custom resolver kills nobody: the loser runs on, unregistered.
  expect(await a!.alive(pa)).toBe(true);
  expect(await b!.alive(pb)).toBe(true);
  await s.converged([a!, b!]);
});

scenario('3.3-9', 'partition healing with full data sync (3 nodes): C isolated, both sides write, all three see everything', async (s) => {
  const [a, b, c] = await s.start(3);
  await s.env.cut(a!.name, c!.name);
  await s.env.cut(b!.name, c!.name);
  await s.until(async () => same(await c!.nodes(), []) && same(await a!.nodes(), ['b']) && same(await b!.nodes(), ['a']), 'C isolated');
  const pa = await a!.spawn();
  const pc = await c!.spawn();
  await a!.register('from/a', {}, pa);
  await c!.join('room/c', {}, pc);
  await s.until(lookupIs(b!, 'from/a', pa), 'B sees A');
  expect(await c!.lookup('from/a')).toBeNull();
  expect(await a!.members('room/c')).toEqual([]);
  await s.env.heal(a!.name, c!.name);
  await s.env.heal(b!.name, c!.name);
  await s.peered([a!, b!, c!]);
  await s.until(async () => {
    for (const n of [a!, b!, c!]) if ((await n.lookup('from/a'))?.pid !== pa || !same(await memberPids(n, 'room/c'), [pc])) return false;
    return true;
  }, 'everyone sees both');
  await s.converged([a!, b!, c!]);
});

scenario('3.3-10', 'rapid process death during replication leaves no stale entries', async (s) => {
  const [a, b] = await s.start(2);
  for (let i = 0; i < 5; i++) {
    const p = await a!.spawn();
    await a!.batch([reg(`rapid/${i}`, { i }, p), joinCall('rapid-room', { i }, p)]);
    await a!.exit(p);
  }
  const marker = await a!.spawn();
  await a!.register('rapid/marker', {}, marker);
  await s.until(lookupIs(b!, 'rapid/marker', marker), 'B has applied everything up to the marker');
  expect(await b!.registered('rapid/')).toEqual(['rapid/marker']);
  expect(await b!.members('rapid-room')).toEqual([]);
  await s.converged([a!, b!]);
});

scenario('3.3-11', 'concurrent registration of one key on two connected nodes: both converge on one pid', async (s) => {
  const [a, b] = await s.start(2);
  const pa = await a!.spawn();
  const pb = await b!.spawn();
  const [ra, rb] = await Promise.all([a!.register('hot', { n: 'a' }, pa), b!.register('hot', { n: 'b' }, pb)]);
  expect([ra, rb]).toContain('ok');
  let winner: PidKey | null = null;
  await s.until(async () => {
    const [x, y] = [await a!.lookup('hot'), await b!.lookup('hot')];
    winner = x !== null && y !== null && x.pid === y.pid ? x.pid : null;
    return winner !== null;
  }, 'both nodes agree on one pid');
  const loser = winner === pa ? pb : pa;
  const loserNode = winner === pa ? b! : a!;
  const winnerNode = winner === pa ? a! : b!;
  expect(await winnerNode.alive(winner!)).toBe(true);
  if ((loser === pa ? ra : rb) === 'ok') {
    // It was registered on its node, lost the conflict, and was killed there.
    await s.until(async () => !(await loserNode.alive(loser)), 'the loser is killed');
    expect(((await loserNode.down(loser)).reason as { reason: string }).reason).toBe('group_registry_conflict');
  } else {
    expect(await loserNode.alive(loser)).toBe(true);
  }
  await s.converged([a!, b!]);
});

scenario('3.3-12', 'node flapping: three rapid disconnect/reconnect cycles leave consistent data', async (s) => {
  const [a, b, c] = await s.start(3);
  const pa = await a!.spawn();
  const pb = await b!.spawn();
  await a!.batch([reg('flap/a', {}, pa), joinCall('flap-room', {}, pa)]);
  await b!.batch([reg('flap/b', {}, pb), joinCall('flap-room', {}, pb)]);
  for (let i = 0; i < 3; i++) {
    await a!.disconnectNode('b');
    await b!.register(`flap/b${i}`, { i }, pb);
    await s.until(async () => (await a!.nodePeers()).includes('b') && (await b!.nodePeers()).includes('a'), `reconnected (cycle ${i})`);
  }
  await s.peered([a!, b!, c!]);
  await s.until(async () => same(await a!.registered('flap/'), ['flap/a', 'flap/b', 'flap/b0', 'flap/b1', 'flap/b2']), 'A has all of B again');
  expect(sorted(await memberPids(a!, 'flap-room'))).toEqual(sorted([pa, pb]));
  await s.converged([a!, b!, c!]);
});

scenario('3.3-13', 'multiple simultaneous node failures: A purges B and C and keeps its own entries', async (s) => {
  const [a, b, c] = await s.start(3);
  const pids: PidKey[] = [];
  for (const n of [a!, b!, c!]) {
    const p = await n.spawn();
    pids.push(p);
    await n.batch([reg(`own/${n.name}`, {}, p), joinCall('room/13', {}, p)]);
  }
  await s.until(async () => (await a!.registryCount()) === 3 && (await a!.memberCount('room/13')) === 3, 'A has everything');
  await Promise.all([s.env.kill(b!.name), s.env.kill(c!.name)]);
  await s.until(async () => same(await a!.nodes(), []) && (await a!.registryCount()) === 1, 'A purged B and C');
  expect(await a!.registered()).toEqual(['own/a']);
  expect(await memberPids(a!, 'room/13')).toEqual([pids[0]]);
  await s.converged([a!]);
});

scenario('3.3-14', "one process's registration and memberships under several keys all go on its death, with its exit reason", async (s) => {
  const [a, b] = await s.start(2);
  const p = await a!.spawn();
  await a!.batch([reg('reg/14', {}, p), joinCall('grp/14a', {}, p), joinCall('grp/14b', {}, p)]);
  await s.until(async () => (await b!.lookup('reg/14')) !== null && (await b!.memberCount()) === 2, 'replicated');
  const m = await b!.monitor(ALL);
  await a!.exit(p, 'crashed');
  await s.until(async () => (await b!.lookup('reg/14')) === null && (await b!.memberCount()) === 0, 'all gone on B');
  expect((await m.events()).map((e) => `${e.type} ${e.key} ${String(e.reason)}`).sort()).toEqual(['left grp/14a crashed', 'left grp/14b crashed', 'unregistered reg/14 crashed']);
  await s.converged([a!, b!]);
});

scenario('3.3-15', 'event ordering across nodes: register v1, update to v2, unregister arrive in order at a remote monitor', async (s) => {
  const [a, b] = await s.start(2);
  const m = await b!.monitor('order/15');
  const p = await a!.spawn();
  await a!.register('order/15', { v: 1 }, p);
  await a!.register('order/15', { v: 2 }, p);
  expect(await a!.unregister('order/15')).toBe('ok');
  await s.until(async () => (await m.events()).length === 3, 'three events on B');
  expect((await m.events()).map((e) => [e.type, e.meta, e.previousMeta, e.reason])).toEqual([
    ['registered', { v: 1 }, null, null],
    ['registered', { v: 2 }, { v: 1 }, null],
    ['unregistered', { v: 2 }, null, 'unregister'],
  ]);
  await s.converged([a!, b!]);
});

/** A and B in cluster "game", B with a registration and a membership there (and one in the default cluster). */
async function gameCluster(s: Scenario): Promise<{ a: GroupNode; b: GroupNode; pb: PidKey }> {
  const [a, b] = await s.start(2);
  await a!.connect('game');
  await b!.connect('game');
  await s.until(async () => same(await a!.nodes('game'), ['a', 'b']) && same(await b!.nodes('game'), ['a', 'b']), 'game formed');
  const pb = await b!.spawn();
  await b!.batch([reg('g/reg', { in: 'game' }, pb, 'game'), joinCall('g/room', { in: 'game' }, pb, 'game'), reg('nil-key', {}, pb)]);
  await s.until(async () => (await a!.lookup('g/reg', 'game')) !== null && (await a!.members('g/room', { cluster: 'game' })).length === 1 && (await a!.lookup('nil-key')) !== null, 'replicated');
  return { a: a!, b: b!, pb };
}

scenario('3.3-16a', 'cluster disconnect purges registry and group entries on the remote node, with reason cluster_disconnect', async (s) => {
  const { a, b } = await gameCluster(s);
  const m = await a.monitor(ALL, 'game');
  expect(await b.disconnect('game')).toBe('ok');
  expect(await b.isConnected('game')).toBe(false);
  await s.until(async () => (await a.lookup('g/reg', 'game')) === null && (await a.members('g/room', { cluster: 'game' })).length === 0, 'purged on A');
  expect(await a.nodes('game')).toEqual(['a']);
  expect((await m.events()).map((e) => [e.type, e.key, e.reason]).sort()).toEqual([
    ['left', 'g/room', 'cluster_disconnect'],
    ['unregistered', 'g/reg', 'cluster_disconnect'],
  ]);
  expect(await a.lookup('nil-key')).not.toBeNull(); // the default cluster is untouched
  await s.converged([a, b]);
});

scenario('3.3-16b', 'replication stops after a cluster disconnect: later writes in the cluster are not seen', async (s) => {
  const { a, b } = await gameCluster(s);
  await a.disconnect('game');
  await s.until(async () => same(await b.nodes('game'), ['b']), 'B saw the disconnect');
  const q = await b.spawn();
  await b.register('g/later', {}, q, 'game');
  await b.register('nil/later', {}, q);
  await s.until(async () => (await a.lookup('nil/later')) !== null, 'A has applied what B sent after');
  expect(await a.lookup('g/later', 'game')).toBeNull();
  expect(await a.lookup('g/reg', 'game')).toBeNull(); // left clusters read as empty
  await s.converged([a, b]);
});

scenario('3.3-16c', 'disconnect then re-connect works cleanly: both sides get each other’s entries again', async (s) => {
  const { a, b, pb } = await gameCluster(s);
  const pa = await a.spawn();
  await a.register('g/a', {}, pa, 'game');
  await s.until(lookupIs(b, 'g/a', pa, 'game'), 'B sees g/a');
  await a.disconnect('game');
  await s.until(async () => (await b.lookup('g/a', 'game')) === null, 'B purged A’s entry');
  expect(await a.lookup('g/reg', 'game')).toBeNull();
  await a.connect('game');
  const pa2 = await a.spawn();
  await a.register('g/a2', {}, pa2, 'game');
  await s.until(async () => (await lookupIs(a, 'g/reg', pb, 'game')()) && (await lookupIs(b, 'g/a2', pa2, 'game')()), 'both see each other again');
  expect(await b.nodes('game')).toEqual(['a', 'b']);
  await s.converged([a, b]);
});

scenario('3.3-16d', 'disconnect is idempotent and harmless for a cluster the node is not in', async (s) => {
  const { a, b } = await gameCluster(s);
  expect(await a.disconnect('never-joined')).toBe('ok');
  expect(await a.disconnect(['never-joined', 'other'])).toBe('ok');
  expect(await a.lookup('g/reg', 'game')).not.toBeNull();
  await b.disconnect('game');
  expect(await b.disconnect('game')).toBe('ok');
  await s.until(async () => same(await a.nodes('game'), ['a']), 'A saw the disconnect');
  await s.converged([a, b]);
});

scenario('3.3-16e', "nodedown after a cluster disconnect cleans up the rest: the default-cluster key stays until B dies", async (s) => {
  const { a, b } = await gameCluster(s);
  await b.disconnect('game');
  await s.until(async () => (await a.lookup('g/reg', 'game')) === null, 'game entries purged');
  expect(await a.lookup('nil-key')).not.toBeNull();
  await s.env.kill(b.name);
  await s.until(async () => (await a.lookup('nil-key')) === null, 'the default-cluster key purged on nodedown');
  const [view] = await s.converged([a]);
  expect(view!.tableClusters).toEqual([]);
});

scenario('3.3-16f', 'an empty cluster is removed on the last disconnect', async (s) => {
  const [a, b, c] = await s.start(3);
  for (const n of [a!, b!, c!]) await n.connect('game');
  await s.until(async () => same(await c!.nodes('game'), ['a', 'b', 'c']), 'game formed');
  for (const n of [a!, b!, c!]) await n.register(`g/${n.name}`, {}, await n.spawn(), 'game');
  await s.until(async () => (await a!.registryCount('game')) === 3, 'replicated');
  for (const n of [a!, b!, c!]) await n.disconnect('game');
  await s.until(async () => {
    for (const n of [a!, b!, c!]) if ((await n.nodes('game')).length > 0 || (await n.registryCount('game')) > 0) return false;
    return true;
  }, 'game gone everywhere');
  const views = await s.converged([a!, b!, c!]);
  for (const v of views) {
    expect(v.clusters).toEqual({});
    expect(v.tableClusters).toEqual([]);
  }
});

scenario('3.3-17a', 'named cluster late joiner: a new member receives the existing cluster data of A and B', async (s) => {
  const [a, b, c] = await s.start(3);
  await a!.connect('chat');
  await b!.connect('chat');
  await s.until(async () => same(await a!.nodes('chat'), ['a', 'b']), 'chat formed');
  const [pa, pb] = [await a!.spawn(), await b!.spawn()];
  const keys = Array.from({ length: 20 }, (_, i) => `chat/${i}`);
  await a!.batch(keys.filter((_, i) => i % 2 === 0).map((k) => reg(k, {}, pa, 'chat')));
  await b!.batch(keys.filter((_, i) => i % 2 === 1).map((k) => joinCall(k, {}, pb, 'chat')));
  await c!.connect('chat');
  await s.until(async () => (await c!.registryCount('chat')) === 10 && (await c!.memberCount(undefined, 'chat')) === 10, 'C has the data of A and B');
  await s.converged([a!, b!, c!]);
});

scenario('3.3-17b', 'connect before peer discovery completes still delivers the cluster data both ways', async (s) => {
  const [a, b, c] = await s.start(2);
  await a!.connect('chat');
  await b!.connect('chat');
  const [pa, pb] = [await a!.spawn(), await b!.spawn()];
  await a!.register('chat/a', {}, pa, 'chat');
  await b!.join('chat/room', {}, pb, 'chat');
  await s.until(async () => (await b!.lookup('chat/a', 'chat')) !== null && (await a!.members('chat/room', { cluster: 'chat' })).length === 1, 'A and B replicated');
  // C starts its Group and connects in the same turn: its HELLO went out before the connect.
  await c!.startGroup({ connect: ['chat'] });
  const pc = await c!.spawn();
  await c!.register('chat/c', {}, pc, 'chat');
  await s.until(
    async () =>
      (await c!.lookup('chat/a', 'chat'))?.pid === pa &&
      (await c!.members('chat/room', { cluster: 'chat' })).length === 1 &&
      (await a!.lookup('chat/c', 'chat'))?.pid === pc &&
      (await b!.lookup('chat/c', 'chat'))?.pid === pc,
    'chat data delivered both ways',
  );
  await s.converged([a!, b!, c!]);
});

scenario('3.3-18', 'Group.nodes tracks the actual peers: only nodes running this Group name; nodedown removes the peer', async (s) => {
  const [a, b, c] = await s.start(3);
  const [oa, ob] = [a!.as('other'), b!.as('other')];
  await oa.startGroup();
  await ob.startGroup();
  await s.until(async () => same(await oa.nodes(), ['b']) && same(await ob.nodes(), ['a']), 'other: A and B');
  expect(await a!.nodes()).toEqual(['b', 'c']);
  await c!.stopGroup();
  await s.until(async () => same(await a!.nodes(), ['b']) && same(await b!.nodes(), ['a']), 'app: C left');
  await s.env.kill(b!.name);
  await s.until(async () => same(await a!.nodes(), []) && same(await oa.nodes(), []), 'B gone from both Groups');
  await s.converged([a!]);
  await s.converged([oa]);
});

scenario('3.3-19', 'sender-side and receiver-side filtering: no cross-cluster data leakage', async (s) => {
  const [a, b, c] = await s.start(3);
  await a!.connect('secret');
  await b!.connect('secret');
  await s.until(async () => same(await a!.nodes('secret'), ['a', 'b']) && same(await b!.nodes('secret'), ['a', 'b']), 'secret formed');
  await a!.recordSends();
  const pa = await a!.spawn();
  await a!.batch([reg('hidden', {}, pa, 'secret'), joinCall('hidden-room', {}, pa, 'secret'), reg('public', {}, pa)]);
  await s.until(async () => (await b!.lookup('hidden', 'secret')) !== null && (await c!.lookup('public')) !== null, 'replicated');
  const ops = (await a!.sent()).filter((f) => f.type === GroupFrame.OP).map((f) => ({ peer: f.peer, cluster: (f.body as unknown[])[1], key: (f.body as unknown[])[4] }));
  expect(ops.filter((o) => o.peer === 'c' && o.cluster === 'secret')).toEqual([]);
  expect(ops.filter((o) => o.peer === 'b' && o.cluster === 'secret').map((o) => o.key).sort()).toEqual(['hidden', 'hidden-room']);
  expect(ops.filter((o) => o.cluster === null).map((o) => o.peer).sort()).toEqual(['b', 'c']);
  // Receiver side: an op of a cluster C is not in is ignored even if it arrives.
  const time = await a!.wallNow();
  await a!.sendRaw('c', GroupFrame.OP, [GROUP, 'secret', 1000, Op.REGISTER, 'forged', pidId(pa), {}, time, 'register']);
  await s.flush(a!, [c!]);
  expect(await c!.lookup('forged', 'secret')).toBeNull();
  expect(await c!.lookup('hidden', 'secret')).toBeNull();
  await s.converged([a!, b!, c!]);
});

scenario('3.3-20', 'peer discovery syncs shared clusters: a node that was connected to a cluster before meeting its peers gets the default and named data', async (s) => {
  const [a, b, c] = await s.start(2);
  await a!.connect('chat');
  await b!.connect('chat');
  const pa = await a!.spawn();
  await a!.batch([reg('nil/a', {}, pa), reg('chat/a', {}, pa, 'chat')]);
  const pb = await b!.spawn();
  await b!.join('chat/room', {}, pb, 'chat');
  await s.until(async () => (await b!.lookup('chat/a', 'chat')) !== null, 'A and B replicated');
  // C meets its peers only after its Group runs and is in "chat": discovery is the nodeup.
  await s.env.cut(c!.name, a!.name);
  await s.env.cut(c!.name, b!.name);
  await s.until(async () => (await c!.nodePeers()).length === 0, 'C isolated');
  await c!.startGroup();
  await c!.connect('chat');
  const pc = await c!.spawn();
  await c!.register('chat/c', {}, pc, 'chat');
  await s.env.heal(c!.name, a!.name);
  await s.env.heal(c!.name, b!.name);
  await s.peered([a!, b!, c!]);
  await s.until(
    async () =>
      (await c!.lookup('nil/a'))?.pid === pa &&
      (await c!.lookup('chat/a', 'chat'))?.pid === pa &&
      (await c!.members('chat/room', { cluster: 'chat' })).length === 1 &&
      (await a!.lookup('chat/c', 'chat'))?.pid === pc,
    'C has the default and chat data, and its own reached A',
  );
  await s.converged([a!, b!, c!]);
});

scenario('3.3-21', 'partition heal re-syncs shared clusters: default and named data written on both sides', async (s) => {
  const [a, b] = await s.start(2);
  await a!.connect('chat');
  await b!.connect('chat');
  await s.until(async () => same(await b!.nodes('chat'), ['a', 'b']), 'chat formed');
  await s.partition(a!, b!);
  const [pa, pb] = [await a!.spawn(), await b!.spawn()];
  await a!.batch([reg('nil/a', {}, pa), reg('chat/a', {}, pa, 'chat')]);
  await b!.batch([joinCall('nil/room', {}, pb), joinCall('chat/room', {}, pb, 'chat')]);
  await s.heal(a!, b!);
  await s.until(
    async () =>
      (await b!.lookup('nil/a')) !== null &&
      (await b!.lookup('chat/a', 'chat')) !== null &&
      (await a!.members('nil/room')).length === 1 &&
      (await a!.members('chat/room', { cluster: 'chat' })).length === 1,
    'both clusters re-synced',
  );
  await s.converged([a!, b!]);
});

scenario('3.3-22a', 'rolling restart of a Group (node stays up): peers purge it, it resyncs from the survivors, peers see its new data', async (s) => {
  const [a, b, c] = await s.start(3);
  const [pa, pb] = [await a!.spawn(), await b!.spawn()];
  await a!.register('svc/a', {}, pa);
  await b!.register('svc/b', {}, pb);
  // A's count too, not only C's: the monitor below must see only the purge (over NATS, B's op
  // reached A after C once, and A's monitor saw its 'registered' first).
  await s.until(async () => (await a!.registryCount()) === 2 && (await c!.registryCount()) === 2, 'replicated');
  const m = await a!.monitor(ALL);
  await b!.stopGroup();
  await s.until(async () => same(await a!.nodes(), ['c']) && (await a!.lookup('svc/b')) === null && (await c!.lookup('svc/b')) === null, 'peers purged B');
  expect((await m.events()).map((e) => [e.type, e.key, e.reason])).toEqual([['unregistered', 'svc/b', { nodedown: 'b' }]]);
  await b!.startGroup();
  await s.peered([a!, b!, c!]);
  await s.until(lookupIs(b!, 'svc/a', pa), 'B resynced from the survivors');
  expect(await b!.lookup('svc/b')).toBeNull(); // the old instance's entries went with it
  const pb2 = await b!.spawn();
  await b!.register('svc/b2', {}, pb2);
  await s.until(async () => (await lookupIs(a!, 'svc/b2', pb2)()) && (await lookupIs(c!, 'svc/b2', pb2)()), 'peers see the new data');
  await s.converged([a!, b!, c!]);
});

scenario('3.3-22b', 'rolling restart of a node (new incarnation): its old pids never come back, its new entries replicate', async (s) => {
  const [a, b, c] = await s.start(3);
  const pb = await b!.spawn();
  await b!.batch([reg('svc/b', {}, pb), joinCall('room/22', {}, pb)]);
  const pa = await a!.spawn();
  await a!.register('svc/a', {}, pa);
  await s.until(async () => (await a!.lookup('svc/b')) !== null && (await c!.members('room/22')).length === 1, 'replicated');
  await s.env.kill(b!.name);
  await s.until(async () => same(await a!.nodes(), ['c']) && (await a!.lookup('svc/b')) === null, 'B purged');
  await s.env.restart(b!.name);
  await b!.startGroup();
  await s.peered([a!, b!, c!]);
  await s.until(lookupIs(b!, 'svc/a', pa), 'B resynced');
  const pb2 = await b!.spawn();
  expect(pb2).not.toBe(pb);
  await b!.register('svc/b', {}, pb2);
  await s.until(async () => (await lookupIs(a!, 'svc/b', pb2)()) && (await lookupIs(c!, 'svc/b', pb2)()), 'the new registration replicated');
  const views = await s.converged([a!, b!, c!]);
  for (const v of views) expect(JSON.stringify(v)).not.toContain(pb);
});

scenario('3.3-23a', 'peer discovery: Groups started one by one on connected nodes find every peer', async (s) => {
  const [a, b, c] = s.nodes;
  await a!.startGroup();
  expect(await a!.nodes()).toEqual([]);
  await b!.startGroup();
  await s.peered([a!, b!]);
  await c!.startGroup();
  await s.peered([a!, b!, c!]);
  await s.converged([a!, b!, c!]);
});

scenario('3.3-23b', 'peer discovery: a node connection made after the Groups started is discovered through nodeup', async (s) => {
  const [a, b, c] = s.nodes;
  await s.env.cut(a!.name, c!.name);
  await s.until(async () => !(await a!.nodePeers()).includes('c'), 'A and C apart');
  for (const n of [a!, b!, c!]) await n.startGroup();
  await s.until(async () => same(await a!.nodes(), ['b']) && same(await c!.nodes(), ['b']) && same(await b!.nodes(), ['a', 'c']), 'Groups up without the A–C link');
  const pc = await c!.spawn();
  await c!.register('from/c', {}, pc);
  await s.env.heal(a!.name, c!.name);
  await s.peered([a!, b!, c!]);
  await s.until(lookupIs(a!, 'from/c', pc), 'A got C’s entries');
  await s.converged([a!, b!, c!]);
});

scenario('3.3-24', 'chatty convergence: 3 nodes × 10 clusters, registrations, rooms, churn, dispatch and a late cluster; all nodes agree', async (s) => {
  const nodes = await s.start(3);
  const clusters = Array.from({ length: 10 }, (_, i) => `c${i}`);
  for (const n of nodes) await n.connect(clusters);
  await s.until(async () => {
    for (const n of nodes) for (const c of [clusters[0]!, clusters[9]!]) if ((await n.nodes(c)).length !== 3) return false;
    return true;
  }, 'clusters formed');
  const procs = new Map<string, PidKey[]>();
  for (const n of nodes) {
    const pids = await n.spawnMany(5);
    procs.set(n.name, pids);
    const calls: AgentCall[] = [];
    for (const c of clusters) {
      pids.forEach((p, i) => calls.push(reg(`user/${n.name}/${i}`, { node: n.name, i }, p, c)));
      for (let r = 0; r < 3; r++) calls.push(joinCall(`room/${r}`, { r }, pids[0]!, c), joinCall(`room/${r}`, { r }, pids[1]!, c));
    }
    expect(new Set(await n.batch(calls))).toEqual(new Set(['ok']));
  }
  // Churn: one process per node dies and a new one takes over its keys; another leaves a room.
  for (const n of nodes) {
    const pids = procs.get(n.name)!;
    await n.exit(pids[4]!);
    await s.until(async () => (await n.lookup(`user/${n.name}/4`, 'c9')) === null, 'the dead process’s keys released');
    const fresh = await n.spawn();
    pids[4] = fresh;
    const results = await n.batch([...clusters.map((c) => reg(`user/${n.name}/4`, { node: n.name, i: 4, fresh: true }, fresh, c)), { method: 'leave', args: ['room/2', { pid: pidArg(pids[1]!), cluster: 'c3' }] }]);
    expect(new Set(results)).toEqual(new Set(['ok']));
  }
  await s.until(async () => {
    for (const n of nodes) if ((await n.members('room/0', { cluster: 'c0' })).length !== 6) return false;
    return true;
  }, 'room/0 of c0 complete everywhere');
  await nodes[0]!.dispatch('room/0', { ping: 42 }, { cluster: 'c0' });
  await s.until(async () => {
    for (const n of nodes) for (const p of procs.get(n.name)!.slice(0, 2)) if (!same(await n.inbox(p), [{ ping: 42 }])) return false;
    return true;
  }, 'every room member got the ping once');
  // A late cluster: 3 late users per node in one room.
  for (const n of nodes) await n.connect('late');
  await s.until(async () => same(await nodes[2]!.nodes('late'), ['a', 'b', 'c']), 'late cluster formed');
  for (const n of nodes) {
    const late = await n.spawnMany(3);
    await n.batch(late.flatMap((p, i) => [reg(`late/${n.name}/${i}`, {}, p, 'late'), joinCall('late-room', {}, p, 'late')]));
  }
  await s.until(async () => (await nodes[0]!.memberCount('late-room', 'late')) === 9, 'late room complete');
  const views = await s.converged(nodes, 20_000);
  expect(views[0]!.registry.length).toBe(3 * 10 * 5 + 9);
  expect(views[0]!.members.length).toBe(3 * 10 * 3 * 2 - 3 + 9);
});

/** A and B partitioned, each registering `keys` with its own process, A's times chosen by `timeOf`. */
async function conflictingKeys(
  s: Scenario,
  keys: readonly string[],
  timeOf: (i: number) => { a: number; b: number },
  options: { resolver?: 'tiebreak' | 'first-wins'; cluster?: string } = {},
): Promise<{ a: GroupNode; b: GroupNode; pa: PidKey; pb: PidKey }> {
  const [a, b] = await s.start(2, { resolver: options.resolver });
  if (options.cluster !== undefined) {
    await a!.connect(options.cluster);
    await b!.connect(options.cluster);
    await s.until(async () => same(await a!.nodes(options.cluster), ['a', 'b']), 'cluster formed');
  }
  const pa = await a!.spawn();
  const pb = await b!.spawn();
  await s.partition(a!, b!);
  for (const [i, key] of keys.entries()) {
    const t = timeOf(i);
    expect(await a!.registerAt(t.a, key, { side: 'a' }, pa, options.cluster)).toBe('ok');
    expect(await b!.registerAt(t.b, key, { side: 'b' }, pb, options.cluster)).toBe('ok');
  }
  return { a: a!, b: b!, pa, pb };
}

scenario('3.3-25a', 'no orphaned by-pid entries after a partition heal with conflicting keys', async (s) => {
  const base = 1_800_000_000_000;
  const keys = ['k/1', 'k/2', 'k/3'];
  const { a, b, pa, pb } = await conflictingKeys(s, keys, () => ({ a: base, b: base + 10 }), { resolver: 'tiebreak' });
  await s.heal(a, b);
  await s.until(async () => same(await a.registered('k/'), keys) && (await a.lookup('k/3'))?.pid === pb, 'B won every key on A');
  const views = await s.converged([a, b]);
  for (const v of views) expect(v.registry.filter((r) => r[2] === pa)).toEqual([]);
  expect(await a.alive(pa)).toBe(true);
});

scenario('3.3-25b', 'an evicted loser dying later does not remove the winner’s entry', async (s) => {
  const base = 1_800_000_000_000;
  const { a, b, pa, pb } = await conflictingKeys(s, ['shared'], () => ({ a: base, b: base + 10 }), { resolver: 'tiebreak' });
  await s.heal(a, b);
  await s.until(async () => (await lookupIs(a, 'shared', pb)()) && (await lookupIs(b, 'shared', pb)()), 'B won');
  await a.exit(pa, 'late-death');
  await s.flush(a, [b]);
  expect((await a.lookup('shared'))?.pid).toBe(pb);
  expect((await b.lookup('shared'))?.pid).toBe(pb);
  await s.converged([a, b]);
});

scenario('3.3-25c', 'many conflicting keys during a partition: each side wins half, the winners survive the losers’ cleanup', async (s) => {
  const base = 1_800_000_000_000;
  const [a, b] = await s.start(2);
  const keys = Array.from({ length: 20 }, (_, i) => `many/${String(i).padStart(2, '0')}`);
  const pas = await a!.spawnMany(keys.length);
  const pbs = await b!.spawnMany(keys.length);
  await s.partition(a!, b!);
  // Even keys: A registered later (A wins); odd keys: B did. One process per key and side.
  for (const [i, k] of keys.entries()) {
    const later = i % 2 === 0 ? a! : b!;
    const earlier = i % 2 === 0 ? b! : a!;
    await earlier.registerAt(base, k, { side: earlier.name }, (i % 2 === 0 ? pbs : pas)[i]!);
    await later.registerAt(base + 10, k, { side: later.name }, (i % 2 === 0 ? pas : pbs)[i]!);
  }
  await s.heal(a!, b!);
  const winners = keys.map((_, i) => (i % 2 === 0 ? pas[i]! : pbs[i]!));
  const losers = keys.map((_, i) => (i % 2 === 0 ? pbs[i]! : pas[i]!));
  await s.until(async () => {
    for (const n of [a!, b!]) if (!same((await n.view()).registry.map((r) => r[2]), winners)) return false;
    return true;
  }, 'each side kept the keys it won, on both nodes');
  await s.until(async () => {
    for (const [i, p] of losers.entries()) if (await (i % 2 === 0 ? b! : a!).alive(p)) return false;
    return true;
  }, 'every loser killed');
  for (const [i, p] of winners.entries()) expect(await (i % 2 === 0 ? a! : b!).alive(p)).toBe(true);
  await s.flush(a!, [b!]);
  await s.flush(b!, [a!]);
  const views = await s.converged([a!, b!]);
  for (const v of views) expect(v.registry.map((r) => r[2])).toEqual(winners);
});

scenario('3.3-25d', 'named cluster partition heal with a conflict leaves no orphans', async (s) => {
  const base = 1_800_000_000_000;
  const { a, b, pa, pb } = await conflictingKeys(s, ['n/1', 'n/2'], () => ({ a: base + 10, b: base }), { cluster: 'zone', resolver: 'tiebreak' });
  await s.heal(a, b);
  await s.until(async () => (await lookupIs(b, 'n/2', pa, 'zone')()) && (await lookupIs(b, 'n/1', pa, 'zone')()), 'A won in zone');
  const views = await s.converged([a, b]);
  for (const v of views) expect(v.registry.filter((r) => r[2] === pb)).toEqual([]);
});

scenario('3.3-25e', 'node death: every table is fully cleaned on the survivor', async (s) => {
  const [a, b] = await s.start(2);
  await a!.connect('zone');
  await b!.connect('zone');
  await s.until(async () => same(await a!.nodes('zone'), ['a', 'b']), 'zone formed');
  const pids = await b!.spawnMany(3);
  await b!.batch(pids.flatMap((p, i) => [reg(`r/${i}`, {}, p), joinCall('g', {}, p), reg(`z/${i}`, {}, p, 'zone'), joinCall('zg', {}, p, 'zone')]));
  await s.until(async () => (await a!.registryCount('zone')) === 3 && (await a!.memberCount('g')) === 3, 'replicated');
  await s.env.kill(b!.name);
  await s.until(async () => (await a!.registryCount()) === 0 && (await a!.registryCount('zone')) === 0, 'purged');
  const [view] = await s.converged([a!]);
  expect(view).toMatchObject({ registry: [], members: [], tableClusters: [], clusters: { zone: ['a'] } });
  expect(await a!.memberCount(undefined, 'zone')).toBe(0);
});

scenario('3.3-25f', 'partition heal followed at once by the death of a process leaves no stale entries', async (s) => {
  const [a, b] = await s.start(2);
  await s.partition(a!, b!);
  const pb = await b!.spawn();
  await b!.batch([reg('stale/1', {}, pb), joinCall('stale-room', {}, pb)]);
  await s.env.heal(a!.name, b!.name);
  await b!.exit(pb);
  await s.peered([a!, b!]);
  await s.flush(b!, [a!]);
  expect(await a!.lookup('stale/1')).toBeNull();
  expect(await a!.members('stale-room')).toEqual([]);
  await s.converged([a!, b!]);
});

scenario('3.3-25g', 'node flapping while both sides write keeps every index consistent', async (s) => {
  const [a, b] = await s.start(2);
  const [pa, pb] = [await a!.spawn(), await b!.spawn()];
  for (let i = 0; i < 3; i++) {
    await a!.join(`fl/${i}`, {}, pa);
    await b!.disconnectNode('a');
    await b!.register(`fl/${i}`, {}, pb);
    await a!.leave(`fl/${i}`, pa);
    await a!.register(`fa/${i}`, {}, pa);
    await s.until(async () => (await b!.nodePeers()).includes('a'), `reconnected (cycle ${i})`);
  }
  await s.peered([a!, b!]);
  await s.until(async () => (await a!.registryCount()) === 6 && (await b!.registryCount()) === 6, 'all six registrations everywhere');
  await s.converged([a!, b!]);
});

scenario('3.3-25h', 'cluster disconnect and nodedown overlapping: both cleanups together leave nothing behind', async (s) => {
  const { a, b } = await gameCluster(s);
  await b.disconnect('game');
  await s.env.kill(b.name);
  await s.until(async () => (await a.registryCount('game')) === 0 && (await a.registryCount()) === 0 && same(await a.nodes(), []), 'everything of B gone');
  const [view] = await s.converged([a]);
  expect(view).toMatchObject({ registry: [], members: [], clusters: { game: ['a'] } });
});

scenario('3.3-26', 'deterministic tiebreaker: registrations at the same instant on both sides; the same winner on both, exactly one survivor', async (s) => {
  const t = 1_800_000_000_000;
  const { a, b, pa, pb } = await conflictingKeys(s, ['tie'], () => ({ a: t, b: t }));
  await s.heal(a, b);
  // Equal times: the higher pid wins (pids order by node name first, so B's).
  await s.until(async () => (await lookupIs(a, 'tie', pb)()) && (await lookupIs(b, 'tie', pb)()), 'both keep B’s pid');
  await s.until(async () => !(await a.alive(pa)), 'the loser is killed');
  expect(await b.alive(pb)).toBe(true);
  expect(await a.down(pa)).toEqual({ down: true, reason: conflictReason('tie', { side: 'b' }) });
  await s.converged([a, b]);
});

scenario('3.3-26b', 'deterministic tiebreaker with a bystander: B and C tie across a partition; A, which holds B’s entry, converges on the winner', async (s) => {
  const t = 1_800_000_000_000;
  const [a, b, c] = await s.start(3);
  const [pb, pc] = [await b!.spawn(), await c!.spawn()];
  await s.env.cut(a!.name, c!.name);
  await s.env.cut(b!.name, c!.name);
  await s.until(async () => same(await c!.nodes(), []) && same(await a!.nodes(), ['b']), 'C isolated');
  await b!.registerAt(t, 'tie3', { side: 'b' }, pb);
  await c!.registerAt(t, 'tie3', { side: 'c' }, pc);
  await s.until(lookupIs(a!, 'tie3', pb), 'A has B’s registration');
  // B and C meet first and settle it (equal times: C's higher pid wins, B's process is killed);
  // B tells A its entry is gone (A must not keep showing a killed process), and A learns the
  // winner only from C's snapshot, with C's new time, once it meets C.
  await s.heal(b!, c!);
  await s.until(async () => (await lookupIs(b!, 'tie3', pc)()) && !(await b!.alive(pb)) && ((await c!.rowTime('tie3')) ?? 0) > t, 'B and C settled');
  await s.until(async () => (await a!.lookup('tie3')) === null, 'A drops B’s killed entry');
  await s.heal(a!, c!);
  await s.peered([a!, b!, c!]);
  await s.until(lookupIs(a!, 'tie3', pc), 'A keeps C’s pid');
  expect(await c!.alive(pc)).toBe(true);
  await s.converged([a!, b!, c!]);
});

scenario('3.3-27', 'nodedown removes the dead node from every cluster’s node list', async (s) => {
  const [a, b, c] = await s.start(3);
  const clusters = ['x1', 'x2', 'x3', 'x4', 'x5'];
  for (const n of [a!, b!, c!]) await n.connect(clusters);
  await s.until(async () => same(await a!.nodes('x5'), ['a', 'b', 'c']) && same(await b!.nodes('x1'), ['a', 'b', 'c']), 'clusters formed');
  await s.env.kill(c!.name);
  await s.until(async () => {
    for (const n of [a!, b!]) for (const x of clusters) if ((await n.nodes(x)).includes('c')) return false;
    return true;
  }, 'C gone from every cluster');
  const views = await s.converged([a!, b!]);
  for (const v of views) for (const x of clusters) expect(v.clusters[x]).toEqual(['a', 'b']);
});

scenario('3.3-28', 'conflict lifecycle events: the evicted side hears unregistered (resolve_conflict) and then the winner’s registered', async (s) => {
  const [a, b] = await s.start(2);
  const [pa, pb] = [await a!.spawn(), await b!.spawn()];
  await s.partition(a!, b!);
  const t = await a!.wallNow();
  await a!.registerAt(t, 'contested', { side: 'a' }, pa);
  await b!.registerAt(t + 10, 'contested', { side: 'b' }, pb);
  const ma = await a!.monitor(ALL);
  const mb = await b!.monitor(ALL);
  await s.heal(a!, b!);
  await s.until(async () => (await ma.events()).some((e) => e.type === 'registered' && e.pid === pb), 'A hears the winner');
  const onA = (await ma.events()).map((e) => [e.type, e.pid, e.reason]);
  expect(onA[0]).toEqual(['unregistered', pa, 'resolve_conflict']);
  expect(onA).toContainEqual(['registered', pb, null]);
  expect((await mb.events()).filter((e) => e.pid === pb && e.type === 'unregistered')).toEqual([]);
  await s.converged([a!, b!]);
});

scenario('3.3-29a', 'event batching: a nodedown delivers all purged entries in one batch', async (s) => {
  const [a, b] = await s.start(2);
  const pb = await b!.spawn();
  await b!.batch([reg('batch/1', {}, pb), reg('batch/2', {}, pb), reg('batch/3', {}, pb)]);
  await s.until(async () => (await a!.registryCount()) === 3, 'replicated');
  const m = await a!.monitor(ALL);
  await s.env.kill(b!.name);
  await s.until(async () => (await m.events()).length === 3, 'three events');
  const batches = await m.batches();
  expect(batches.length).toBe(1);
  expect(batches[0]!.map((e) => [e.type, e.key, e.reason])).toEqual([
    ['unregistered', 'batch/1', 'nodedown'],
    ['unregistered', 'batch/2', 'nodedown'],
    ['unregistered', 'batch/3', 'nodedown'],
  ]);
  await s.converged([a!]);
});

scenario('3.3-29b', 'event batching: a cluster disconnect delivers the purged entries in one batch, on both nodes', async (s) => {
  const [a, b] = await s.start(2);
  await a!.connect('game');
  await b!.connect('game');
  await s.until(async () => same(await a!.nodes('game'), ['a', 'b']), 'game formed');
  const pb = await b!.spawn();
  await b!.batch(['l/1', 'l/2', 'l/3'].map((k) => joinCall(k, {}, pb, 'game')));
  await s.until(async () => (await a!.memberCount(undefined, 'game')) === 3, 'replicated');
  const ma = await a!.monitor(ALL, 'game');
  const mb = await b!.monitor(ALL, 'game');
  await b!.disconnect('game');
  await s.until(async () => (await ma.events()).length === 3, 'three events on A');
  for (const m of [ma, mb]) {
    const batches = await m.batches();
    expect(batches.length).toBe(1);
    expect(batches[0]!.map((e) => [e.type, e.key, e.reason])).toEqual([
      ['left', 'l/1', 'cluster_disconnect'],
      ['left', 'l/2', 'cluster_disconnect'],
      ['left', 'l/3', 'cluster_disconnect'],
    ]);
  }
  await s.converged([a!, b!]);
});

scenario('3.3-29c', 'event batching: a partition heal merge delivers the new entries in one batch', async (s) => {
  const [a, b] = await s.start(2);
  await s.partition(a!, b!);
  const m = await a!.monitor(ALL);
  const pb = await b!.spawn();
  await b!.batch([reg('h/1', {}, pb), reg('h/2', {}, pb), reg('h/3', {}, pb)]);
  await s.heal(a!, b!);
  await s.until(async () => (await m.events()).length === 3, 'three events');
  const batches = await m.batches();
  expect(batches.length).toBe(1);
  expect(batches[0]!.map((e) => [e.type, e.key])).toEqual([
    ['registered', 'h/1'],
    ['registered', 'h/2'],
    ['registered', 'h/3'],
  ]);
  await s.converged([a!, b!]);
});

scenario('3.3-29d', 'event batching: connecting to an existing cluster delivers its data in one batch', async (s) => {
  const [a, b] = await s.start(2);
  await b!.connect('game');
  const pb = await b!.spawn();
  await b!.batch(['j/1', 'j/2', 'j/3'].map((k) => joinCall(k, {}, pb, 'game')));
  const m = await a!.monitor(ALL, 'game');
  await a!.connect('game');
  await s.until(async () => (await m.events()).length === 3, 'three events');
  const batches = await m.batches();
  expect(batches.length).toBe(1);
  expect(batches[0]!.map((e) => [e.type, e.key])).toEqual([
    ['joined', 'j/1'],
    ['joined', 'j/2'],
    ['joined', 'j/3'],
  ]);
  await s.converged([a!, b!]);
});

scenario('3.3-30', 'prefix members across nodes: registrations and joins from every node, alone and mixed', async (s) => {
  const nodes = await s.start(3);
  const region = { a: 'iad', b: 'ord', c: 'ams' } as Record<string, string>;
  const regs: Record<string, PidKey> = {};
  const joins: Record<string, PidKey> = {};
  for (const n of nodes) {
    const [p, q] = await n.spawnMany(2);
    regs[n.name] = p!;
    joins[n.name] = q!;
    await n.batch([reg(`region/${n.name}`, { region: region[n.name] }, p!), joinCall(`pool/${n.name}`, { region: region[n.name] }, q!), joinCall(`mixed/${n.name}`, {}, q!), reg(`mixed/r${n.name}`, {}, p!)]);
  }
  await s.until(async () => (await nodes[0]!.registryCount()) === 6 && (await nodes[2]!.memberCount()) === 6, 'replicated');
  for (const n of nodes) {
    const byRegion = (await n.members('region/', { includeRegistered: true })).map((e) => [e.pid, e.meta]);
    expect(byRegion.sort()).toEqual(nodes.map((x) => [regs[x.name], { region: region[x.name] }]).sort());
    expect(await n.registered('region/')).toEqual(['region/a', 'region/b', 'region/c']);
    expect(sorted((await n.members('pool/')).map((e) => e.pid))).toEqual(sorted(Object.values(joins)));
    const mixed = await n.members('mixed/', { includeRegistered: true });
    expect(sorted(mixed.map((e) => e.pid))).toEqual(sorted([...Object.values(regs), ...Object.values(joins)]));
    expect(await n.members('nothing/')).toEqual([]);
  }
  await s.converged(nodes);
});

// ---- 7.3: edge cases ------------------------------------------------------------------------------

scenario('7.3-5a', 'conflict resolution re-timestamps the winner on both nodes; the loser’s exit reason carries the winner’s meta', async (s) => {
  const t = (await s.nodes[0]!.wallNow()) - 60_000; // a minute ago: any fresh timestamp is later
  const { a, b, pa, pb } = await conflictingKeys(s, ['stamp'], () => ({ a: t, b: t + 5 }));
  await s.heal(a, b);
  await s.until(async () => (await lookupIs(a, 'stamp', pb)()) && (await lookupIs(b, 'stamp', pb)()), 'B won');
  // B re-asserted its entry with a fresh time; A installed it with a fresh time too.
  await s.until(async () => ((await a.rowTime('stamp')) ?? 0) > t + 5 && ((await b.rowTime('stamp')) ?? 0) > t + 5, 'fresh timestamps');
  await s.until(async () => (await a.down(pa)).down, 'the loser is killed');
  expect((await a.down(pa)).reason).toEqual(conflictReason('stamp', { side: 'b' }));
  await s.converged([a, b]);
});

scenario('7.3-5b', 'a tie in time is broken by pid order, the same way on both nodes, also with a custom resolver', async (s) => {
  const t = 1_800_000_000_000;
  const { a, b, pa, pb } = await conflictingKeys(s, ['tie/1', 'tie/2'], () => ({ a: t, b: t }), { resolver: 'tiebreak' });
  await s.heal(a, b);
  await s.until(async () => {
    for (const n of [a, b]) for (const k of ['tie/1', 'tie/2']) if ((await n.lookup(k))?.pid !== pb) return false;
    return true;
  }, 'the higher pid keeps both keys on both nodes');
  expect(await a.alive(pa)).toBe(true); // custom resolver: nobody killed
  await s.converged([a, b]);
});

scenario('7.3-5c', 'the re-timestamped winner replaces the loser on a bystander even when the clocks are behind both registrations', async (s) => {
  // Registrations stamped a minute ahead of every clock (a skewed node), and a resolver that keeps
  // the earlier one: A holds B's later entry, and only C's re-assert can displace it there.
  const [a, b, c] = await s.start(3, { resolver: 'first-wins' });
  const ahead = (await a!.wallNow()) + 60_000;
  const [pb, pc] = [await b!.spawn(), await c!.spawn()];
  await s.env.cut(a!.name, c!.name);
  await s.env.cut(b!.name, c!.name);
  await s.until(async () => same(await c!.nodes(), []) && same(await a!.nodes(), ['b']), 'C isolated');
  await b!.registerAt(ahead + 10, 'skew', { side: 'b' }, pb);
  await c!.registerAt(ahead, 'skew', { side: 'c' }, pc);
  await s.until(lookupIs(a!, 'skew', pb), 'A has B’s registration');
  // A meets C first: C's entry is older than B's, so A keeps B's. Then B and C meet: C wins
  // (earlier) and re-asserts; A must take that re-assert although every clock is behind "ahead".
  await s.heal(a!, c!);
  await s.flush(c!, [a!]);
  expect((await a!.lookup('skew'))?.pid).toBe(pb);
  await s.heal(b!, c!);
  await s.peered([a!, b!, c!]);
  let seen = '';
  await s.until(
    async () => {
      const pids = await Promise.all([a!, b!, c!].map(async (n) => (await n.lookup('skew'))?.pid ?? null));
      seen = pids.join(', ');
      return pids.every((p) => p === pc);
    },
    () => `every node to keep C’s earlier registration (now: ${seen})`,
  );
  expect(await b!.alive(pb)).toBe(true);
  await s.converged([a!, b!, c!]);
});

scenario('7.3-6', 'snapshot merges never delete: a snapshot lacking an entry leaves it in place (only a resync replaces)', async (s) => {
  const [a, b] = await s.start(2);
  const pb = await b!.spawn();
  await b!.batch([reg('snap/1', { v: 1 }, pb), joinCall('snap-room', {}, pb)]);
  const pa = await a!.spawn();
  await a!.register('snap/a', {}, pa);
  await s.until(async () => (await a!.lookup('snap/1')) !== null && (await a!.members('snap-room')).length === 1 && (await b!.lookup('snap/a')) !== null, 'replicated');
  const m = await a!.monitor(ALL);
  // A snapshot from B with only a new entry (final chunk, not a replace): merged, nothing removed.
  const now = await b!.wallNow();
  const seq = 2; // B's two ops so far: the snapshot carries the owner's op counter
  await b!.sendRaw('a', GroupFrame.STATE, [GROUP, null, seq, [['snap/2', pidId(pb), { v: 2 }, now]], [], true, false]);
  await s.until(async () => (await a!.lookup('snap/2')) !== null, 'the merge arrived');
  expect(await a!.lookup('snap/1')).toEqual({ pid: pb, meta: { v: 1 } });
  expect(await a!.members('snap-room')).toHaveLength(1);
  expect(await a!.lookup('snap/a')).not.toBeNull();
  expect((await m.events()).map((e) => [e.type, e.key])).toEqual([['registered', 'snap/2']]);
  // The same snapshot as a resync (replace): B is authoritative for its own entries.
  await b!.sendRaw('a', GroupFrame.STATE, [GROUP, null, seq, [['snap/2', pidId(pb), { v: 2 }, now]], [], true, true]);
  await s.until(async () => (await a!.lookup('snap/1')) === null, 'the resync replaced B’s entries');
  expect(await a!.members('snap-room')).toEqual([]);
  expect(await a!.lookup('snap/a')).not.toBeNull(); // never another owner's entries
  // B never had snap/2 and still has snap/1: A asks B for its rows again (what anti-entropy does
  // on a digest mismatch) and the views converge on B's real state.
  await a!.sendRaw('b', GroupFrame.RESYNC, [GROUP, null]);
  await s.until(async () => (await a!.lookup('snap/2')) === null && (await a!.lookup('snap/1')) !== null, 'A resynced from B');
  await s.converged([a!, b!]);
});

scenario('7.3-7a', 'connect racing peer discovery: a connect made before the peers answered the HELLO still joins the cluster on both sides', async (s) => {
  const [a, b] = await s.start(1);
  await a!.connect('race');
  const pa = await a!.spawn();
  await a!.join('race/room', {}, pa, 'race');
  // Another Group pairs up first: then A's HELLO of "app" (sent on its start) has reached B, where
  // no "app" ran yet, so B's start below is the first move and its HELLO lists no cluster.
  await a!.as('other').startGroup();
  await b!.as('other').startGroup();
  await s.peered([a!.as('other'), b!.as('other')]);
  await b!.startGroup({ connect: ['race'] });
  await s.peered([a!, b!]);
  await s.until(async () => same(await a!.nodes('race'), ['a', 'b']) && same(await b!.nodes('race'), ['a', 'b']), 'both see both in race');
  await s.until(async () => (await b!.members('race/room', { cluster: 'race' })).length === 1, 'B got A’s race data');
  const pb = await b!.spawn();
  await b!.register('race/b', {}, pb, 'race');
  await s.until(lookupIs(a!, 'race/b', pb, 'race'), 'A gets B’s later writes');
  await s.converged([a!, b!]);
});

scenario('7.3-7b', 'a connect ack from a node that is no longer a Group peer is ignored', async (s) => {
  const [a, b, c] = await s.start(3);
  await a!.connect('x');
  await b!.connect('x');
  await s.until(async () => same(await b!.nodes('x'), ['a', 'b']), 'x formed');
  await c!.stopGroup();
  await s.until(async () => same(await a!.nodes(), ['b']), 'A forgot C');
  await a!.recordSends();
  // C (node still connected, Group stopped) acks a connect A never sent it.
  await c!.sendRaw('a', GroupFrame.CONNECT_ACK, [GROUP, ['x']]);
  await c!.startGroup(); // its HELLO follows the ack on the same link
  await s.peered([a!, b!, c!]);
  expect(await a!.nodes('x')).toEqual(['a', 'b']);
  const toC = (await a!.sent()).filter((f) => f.peer === 'c' && f.type === GroupFrame.STATE && (f.body as unknown[])[1] === 'x');
  expect(toC).toEqual([]);
  await s.converged([a!, b!, c!]);
});

scenario('7.3-7c', 'a connect ack for a cluster already left is ignored', async (s) => {
  const [a, b] = await s.start(2);
  await b!.connect('x');
  const pb = await b!.spawn();
  await b!.register('x/b', {}, pb, 'x');
  await a!.batch([
    { method: 'connect', args: ['x'] },
    { method: 'disconnect', args: ['x'] },
  ]);
  await s.until(async () => same(await b!.nodes('x'), ['b']), 'B saw the connect and the disconnect');
  await s.flush(b!, [a!]);
  expect(await a!.nodes('x')).toEqual([]);
  expect(await a!.isConnected('x')).toBe(false);
  expect(await a!.lookup('x/b', 'x')).toBeNull();
  await s.converged([a!, b!]);
});

scenario('7.3-7d', 'a disconnect made between a HELLO and its ack is not undone by the ack', async (s) => {
  const [a, b, c] = await s.start(3);
  await a!.connect('x');
  await c!.connect('x');
  await s.until(async () => same(await c!.nodes('x'), ['a', 'c']), 'x formed');
  const pa = await a!.spawn();
  await a!.register('x/a', {}, pa, 'x');
  await s.until(lookupIs(c!, 'x/a', pa, 'x'), 'replicated');
  await s.partition(a!, c!);
  // On reconnection A (the smaller name) sends HELLO listing "x", then leaves "x" at once: the
  // DISCONNECT goes nowhere (C is not its peer yet), so only the ack can tell A that C put it in "x".
  await a!.onNodeUp('c', 'disconnect', 'x');
  await s.heal(a!, c!);
  await s.until(async () => same(await c!.nodes('x'), ['c']) && same(await a!.nodes('x'), []), 'C does not keep A in x');
  await s.flush(a!, [c!]);
  expect(await c!.lookup('x/a', 'x')).toBeNull();
  await s.converged([a!, b!, c!]);
});

scenario('7.3-8', 'a Group restarted on a live node is that node down for that Group only', async (s) => {
  const [a, b] = await s.start(2);
  const [oa, ob] = [a!.as('other'), b!.as('other')];
  await oa.startGroup();
  await ob.startGroup();
  await s.peered([oa, ob]);
  const pb = await b!.spawn();
  await b!.register('app/b', {}, pb);
  await ob.register('other/b', {}, pb);
  await s.until(async () => (await a!.lookup('app/b')) !== null && (await oa.lookup('other/b')) !== null, 'replicated in both Groups');
  const m = await oa.monitor(ALL);
  await ob.stopGroup();
  await s.until(async () => (await oa.lookup('other/b')) === null, 'other purged B');
  expect((await m.events()).map((e) => e.reason)).toEqual([{ nodedown: 'b' }]);
  expect(await a!.lookup('app/b')).toEqual({ pid: pb, meta: {} }); // the app Group is untouched
  expect(await a!.nodes()).toEqual(['b']);
  await ob.startGroup();
  await s.peered([oa, ob]);
  await s.converged([a!, b!]);
  await s.converged([oa, ob]);
});

// ---- anti-entropy (our answer to the reference's lost-message weakness, docs/design/group.md) ----

scenario('2.3-ae-gap', 'lost replication ops on a link that stayed up: the next op shows a seq gap and the peer resyncs', async (s) => {
  const [a, b] = await s.start(2);
  const pa = await a!.spawn();
  await a!.batch([reg('ae/1', {}, pa), joinCall('ae-room', {}, pa)]);
  await s.until(async () => (await b!.lookup('ae/1')) !== null && (await b!.members('ae-room')).length === 1, 'replicated');
  const m = await b!.monitor(ALL);
  const lost = await a!.loseFrames('b', [reg('ae/2', {}, pa), { method: 'unregister', args: ['ae/1', {}] }, { method: 'leave', args: ['ae-room', { pid: pidArg(pa) }] }]);
  expect(lost).toEqual(['ok', 'ok', 'ok']);
  await s.flush(a!, [b!]); // the marker's op arrives after the gap
  await s.until(async () => (await b!.lookup('ae/2')) !== null && (await b!.lookup('ae/1')) === null && (await b!.members('ae-room')).length === 0, 'B resynced');
  const reasons = (await m.events()).filter((e) => e.key.startsWith('ae')).map((e) => [e.type, e.key, e.reason]);
  expect(reasons).toContainEqual(['unregistered', 'ae/1', 'resync']);
  expect(reasons).toContainEqual(['left', 'ae-room', 'resync']);
  await s.converged([a!, b!]);
});

scenario('2.3-ae-digest', 'lost replication ops with nothing after them: the periodic digest finds the difference and the peer resyncs', async (s) => {
  const [a, b] = await s.start(2, { antiEntropyMs: 300 });
  const pa = await a!.spawn();
  await a!.register('tail/1', {}, pa);
  await s.until(async () => (await b!.lookup('tail/1')) !== null, 'replicated');
  await a!.loseFrames('b', [reg('tail/2', { lost: true }, pa)]);
  await s.until(async () => (await b!.lookup('tail/2')) !== null, 'B repaired by anti-entropy', 5000);
  expect(await b!.lookup('tail/2')).toEqual({ pid: pa, meta: { lost: true } });
  await s.converged([a!, b!]);
});

scenario('2.3-ae-meta', 'a resync repairs a lost update of an entry even when the owner’s clock is behind this node’s copy', async (s) => {
  const [a, b] = await s.start(2);
  const [pa, pb] = [await a!.spawn(), await b!.spawn()];
  const past = (await a!.wallNow()) - 60_000; // B's clock runs a minute behind
  await s.partition(a!, b!);
  await a!.registerAt(past, 'owned', { v: 0 }, pa);
  await b!.registerAt(past + 10, 'owned', { v: 1 }, pb);
  await s.heal(a!, b!);
  // B won on both sides: A evicted its entry, B re-asserted its own with a fresh time.
  await s.until(async () => (await lookupIs(a!, 'owned', pb)()) && ((await b!.rowTime('owned')) ?? 0) > past + 10, 'B won');
  // B updates its entry (stamped by its slow clock); the op to A is lost; the next op shows the gap.
  await b!.loseFrames('a', [{ method: 'register', args: ['owned', { v: 2 }, { pid: pidArg(pb) }] }], past + 20);
  await s.flush(b!, [a!]);
  await s.until(async () => same((await a!.lookup('owned'))?.meta, { v: 2 }), 'A has the update');
  await s.converged([a!, b!]);
});

/** Register the scenarios as vitest tests with `runner`. */
export function groupScenarios(label: string, runner: GroupScenarioRunner): void {
  describe(`Group distributed scenarios: ${label}`, () => {
    for (const def of scenarios) {
      if (runner.select !== undefined && !runner.select(def.id)) continue;
      it(`${def.id}: ${def.title}`, { timeout: runner.timeoutMs }, async () => {
        const env = await runner.setup(def.id);
        try {
          await def.run(new Scenario(env));
        } finally {
          await runner.teardown(env);
        }
      });
    }
  });
}
