/**
 * Shared by the multi-node Group workloads (D1-D5 and S1 of bench-spec.md, wire): the driver side
 * starts nodes A, B and C (or S1's ten) as separate OS processes (BenchNodeProcess) in a full mesh
 * over TCP on 127.0.0.1, each running `Group.start(node, {name: 'bench', log: false})`; `roles`
 * below are the pieces of work the workloads run inside those node processes.
 *
 * Completion is detected inside the nodes and reported to the driver by resolving a role's reply:
 * every Group has one ALL monitor callback that fans its event batches out to the watchers the
 * workloads arm (`expectRows`, `armPurge`, `countConflicts`), so no node is polled over IPC while
 * the clock runs except in D4 (digest comparison between two nodes).
 *
 * Keys are "user/N", groups "group/G", meta {name, n}, as in the anchors.
 */
import { ALL, Group, type GroupEvent, type NodeOptions, type Pid } from '../../src/internal.js';
import { collectGarbage } from './group-bench.js';
import type { BenchNatsOptions } from './bench-node.js';
import { BenchNodeProcess } from './node-process.js';
import type { RoleContext } from './workload.js';

export const GROUP_ROLES = import.meta.url;
export const GROUP_NAME = 'bench';

export type NodeLetter = 'a' | 'b' | 'c';

export interface GroupCluster {
  readonly a: BenchNodeProcess;
  readonly b: BenchNodeProcess;
  readonly c: BenchNodeProcess;
}

export interface GroupNodeOptions {
  readonly profileDir: string | undefined;
  /** More Node.js flags for the node process (e.g. a larger heap). */
  readonly execArgv?: readonly string[];
  /** More startNode options (must survive JSON), e.g. heartbeat settings. */
  readonly nodeOptions?: Partial<NodeOptions>;
  /** Count the bytes the node sends (read with the built-in `wireBytes` role). */
  readonly countBytes?: boolean;
  /** Install the ALL monitor the watchers need (default true); workloads that only poll counts can skip its events. */
  readonly monitor?: boolean;
  /** Run the nodes over NATS instead of TCP (see `transportOptions`). */
  readonly nats?: BenchNatsOptions;
}

/**
 * The `transport` param of the multi-node workloads: "tcp" (default) or "nats" (the NATS server at
 * $ROLLCALL_NATS_URL, default nats://127.0.0.1:4222, under a cluster name of this run's own).
 */
export function transportOptions(transport: unknown): Pick<GroupNodeOptions, 'nats'> {
  if (transport === 'tcp') return {};
  if (transport === 'nats') return { nats: { servers: process.env['ROLLCALL_NATS_URL'] ?? 'nats://127.0.0.1:4222', cluster: `bench-${process.pid}-${++natsClusters}` } };
  throw new Error(`the transport param takes "tcp" or "nats", got ${JSON.stringify(transport)}`);
}
let natsClusters = 0;

/** Start a node process named `name` running a Group. */
export async function startNamedGroupNode(name: string, seeds: readonly string[], options: GroupNodeOptions): Promise<BenchNodeProcess> {
  const node = await BenchNodeProcess.start({
    name,
    seeds,
    profileDir: options.profileDir,
    ...(options.execArgv === undefined ? {} : { execArgv: options.execArgv }),
    ...(options.nodeOptions === undefined ? {} : { options: options.nodeOptions }),
    ...(options.countBytes === true ? { countBytes: true } : {}),
    ...(options.nats === undefined ? {} : { nats: options.nats }),
  });
  try {
    await node.invoke(GROUP_ROLES, 'startGroup', { monitor: options.monitor ?? true } satisfies StartGroupArgs);
  } catch (error) {
    await node.kill();
    throw error;
  }
  return node;
}

/** Start node process `bench-<letter>` running a Group. */
export function startGroupNode(letter: NodeLetter, seeds: readonly string[], profileDir: string | undefined, extra: Omit<GroupNodeOptions, 'profileDir'> = {}): Promise<BenchNodeProcess> {
  return startNamedGroupNode(`bench-${letter}`, seeds, { ...extra, profileDir });
}

/** Start A, B, C in a full mesh, each with a Group, and wait until every Group sees the two others. */
export async function startGroupCluster(profileDir: string | undefined, extra: Omit<GroupNodeOptions, 'profileDir'> = {}): Promise<GroupCluster> {
  const started: BenchNodeProcess[] = [];
  try {
    const a = await startGroupNode('a', [], profileDir, extra);
    started.push(a);
    const b = await startGroupNode('b', [a.seed], profileDir, extra);
    started.push(b);
    const c = await startGroupNode('c', [a.seed, b.seed], profileDir, extra);
    started.push(c);
    await waitGroupPeers(started, 2);
    return { a, b, c };
  } catch (error) {
    await Promise.all(started.map((node) => node.kill()));
    throw error;
  }
}

export function waitGroupPeers(nodes: readonly BenchNodeProcess[], count: number, timeoutMs = 20_000): Promise<unknown> {
  return Promise.all(nodes.map((node) => node.invoke(GROUP_ROLES, 'waitGroupPeers', { count, timeoutMs } satisfies WaitPeersArgs)));
}

export async function stopAll(nodes: ReadonlyArray<BenchNodeProcess | undefined>): Promise<void> {
  await Promise.all(nodes.filter((node) => node !== undefined).map((node) => node.stop()));
}

/** Each node's tables hold exactly these counts (all nodes), polled inside the nodes; throws after timeoutMs. */
export function awaitCounts(nodes: readonly BenchNodeProcess[], registered: number, members: number, timeoutMs = 60_000): Promise<unknown> {
  return Promise.all(nodes.map((node) => node.invoke(GROUP_ROLES, 'awaitCounts', { registered, members, timeoutMs } satisfies AwaitCountsArgs)));
}

// ---- role arguments and results ----------------------------------------------------------------

/**
 * D1/D2: A writes `count` rows (one per idle process spawned before the clock) with `write`; the
 * clock runs from the driver's go until B and C report, from their own monitor callbacks, that
 * they have all of them. Afterwards (untimed) A's processes exit and every table empties again.
 */
export async function measureReplication(
  { a, b, c }: GroupCluster,
  options: {
    type: 'registered' | 'joined';
    count: number;
    write: 'registerAll' | 'joinAll';
    writeArgs: WriteAllArgs;
    timeoutMs: number;
    /** Runs after B and C have converged, before A's processes exit (whose removals replicate too). */
    afterConverged?: () => Promise<void>;
  },
): Promise<{ converged: number; seconds: number; calls_done: number }> {
  await a.invoke(GROUP_ROLES, 'spawnIdle', { count: options.count } satisfies SpawnArgs);
  const expect: ExpectArgs = { type: options.type, count: options.count, timeoutMs: options.timeoutMs };
  await Promise.all([b.invoke(GROUP_ROLES, 'expectRows', expect), c.invoke(GROUP_ROLES, 'expectRows', expect)]);
  const started = performance.now();
  const [callsDone] = await Promise.all([
    a.invoke<number>(GROUP_ROLES, options.write, options.writeArgs),
    b.invoke(GROUP_ROLES, 'awaitExpected'),
    c.invoke(GROUP_ROLES, 'awaitExpected'),
  ]);
  const seconds = (performance.now() - started) / 1000;
  await options.afterConverged?.();
  await a.invoke(GROUP_ROLES, 'killSpawned');
  await awaitCounts([a, b, c], 0, 0, options.timeoutMs);
  return { converged: options.count / seconds, seconds, calls_done: callsDone };
}

export interface StartGroupArgs {
  readonly monitor: boolean;
}

/** Heap after a full GC and resident set size of a node process, in bytes. */
export interface MemoryReport {
  readonly heapUsed: number;
  readonly rss: number;
}

export interface WaitPeersArgs {
  readonly count: number;
  readonly timeoutMs: number;
}

export interface SpawnArgs {
  readonly count: number;
}

export interface WriteAllArgs {
  /** Key number of the first process's key: process i registers "user/(from + i)". */
  readonly from?: number;
  /** For joins: process i joins "group/(i % groups)". */
  readonly groups?: number;
  /** Yield to the event loop after this many calls, so replication goes out while we write. */
  readonly chunk: number;
}

export interface ExpectArgs {
  readonly type: 'registered' | 'joined';
  readonly count: number;
  readonly timeoutMs: number;
}

export interface AwaitCountsArgs {
  readonly registered: number;
  readonly members: number;
  readonly timeoutMs: number;
}

export interface PurgeArgs {
  readonly peer: string;
  readonly rows: number;
  readonly timeoutMs: number;
}

/** Milliseconds after this node's nodedown event for the peer (measured inside the node). */
export interface PurgeReport {
  /** The peer's rows are gone from this node's tables (seen at the first event of the purge). */
  readonly purgedMs: number;
  /** The monitor callback has received the event of every one of the peer's rows. */
  readonly eventsMs: number;
}

export interface Digest {
  readonly count: number;
  readonly hash: string;
}

export interface MembersArgs {
  readonly count: number;
  readonly key: string;
}

export interface DeliveriesArgs {
  /** Messages each member must receive. */
  readonly perMember: number;
  readonly timeoutMs: number;
}

export interface DispatchArgs {
  readonly key: string;
  readonly count: number;
  readonly chunk: number;
  readonly highWaterBytes: number;
}

// ---- inside the node processes ------------------------------------------------------------------

type Watcher = (events: readonly GroupEvent<unknown>[]) => void;

interface GroupState {
  readonly group: Group;
  readonly watchers: Set<Watcher>;
  /** performance.now() of the last nodedown event, by peer name (recorded before the Group purges). */
  readonly nodedownAt: Map<string, number>;
  /** Every nodedown event since the Group started (a run that lost a link measured a resync too). */
  nodedowns: number;
  pids: Pid[];
  members?: MemberState;
  /** D4: the digest kept up to date from the Group's events (see trackDigest). */
  digest?: DigestTracker;
}

/** An order-independent digest of key → pid, updated per event so that reading it costs nothing. */
interface DigestTracker {
  readonly owners: Map<string, string>;
  sum: number;
  xor: number;
  readonly watcher: Watcher;
}

interface MemberState {
  readonly pids: Pid[];
  readonly received: Uint32Array;
  total: number;
  target: number;
  onTarget: (() => void) | undefined;
}

function groupState(state: Map<string, unknown>): GroupState {
  const found = state.get('group') as GroupState | undefined;
  if (found === undefined) throw new Error('no Group on this node: run the startGroup role first');
  return found;
}

/**
 * Untimed set-up and clean-up work yields to the event loop after this many processes: 100,000
 * exits in one synchronous loop keep a node's event loop busy for seconds (≈ 55 µs each with
 * replication on this VM), long enough for its peers' heartbeat timeout (2.5 s) to declare it down.
 */
const CHUNK = 1_000;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function pollUntil(condition: () => boolean, timeoutMs: number, describe: () => string, intervalMs = 2): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(intervalMs);
  }
}

/** Resolves once `arm` calls its `done`; rejects after timeoutMs with `describe()`. The watcher is removed either way. */
function watchUntil<T>(s: GroupState, timeoutMs: number, describe: () => string, arm: (done: (value: T) => void) => Watcher): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let watcher: Watcher | undefined;
    const timer = setTimeout(() => {
      if (watcher !== undefined) s.watchers.delete(watcher);
      reject(new Error(`timed out after ${timeoutMs} ms: ${describe()}`));
    }, timeoutMs);
    watcher = arm((value) => {
      clearTimeout(timer);
      s.watchers.delete(watcher!);
      resolve(value);
    });
    s.watchers.add(watcher);
  });
}

/** The two 32-bit hashes one (key, pid) contributes to a digest. */
function digestTerms(key: string, pidKey: string): [number, number] {
  const entry = `${key}\u0000${pidKey}`;
  return [fnv1a(entry, 0x811c9dc5), fnv1a(entry, 0x050c5d1f)];
}

function digestOf(count: number, sum: number, xor: number): Digest {
  return { count, hash: `${sum.toString(16)}:${xor.toString(16)}` };
}

/** 32-bit FNV-1a of a string. */
function fnv1a(text: string, seed: number): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function meta(n: number): { name: string; n: number } {
  return { name: `u${n}`, n };
}

const idle = async (ctx: { receive(): Promise<unknown> }): Promise<void> => {
  await ctx.receive();
};

export const roles = {
  async startGroup({ node, state }: RoleContext, { monitor }: StartGroupArgs): Promise<void> {
    const nodedownAt = new Map<string, number>();
    const watchers = new Set<Watcher>();
    const s: Omit<GroupState, 'group'> = { watchers, nodedownAt, nodedowns: 0, pids: [] };
    // Registered before Group.start so that it runs before the Group's own nodedown listener,
    // i.e. before the purge: the detection instant, not the end of the purge.
    node.on('nodedown', (event) => {
      nodedownAt.set(event.node, performance.now());
      s.nodedowns++;
    });
    const group = await Group.start(node, { name: GROUP_NAME, log: false });
    if (monitor) {
      group.monitor(ALL, (events) => {
        for (const watcher of watchers) watcher(events);
      });
    }
    state.set('group', Object.assign(s, { group }) satisfies GroupState);
  },

  /** Nodedown events seen since the Group started. */
  nodedowns({ state }: RoleContext): number {
    return groupState(state).nodedowns;
  },

  /** Heap after a full GC, and RSS. */
  async memory(): Promise<MemoryReport> {
    await collectGarbage();
    const { heapUsed, rss } = process.memoryUsage();
    return { heapUsed, rss };
  },

  async waitGroupPeers({ node, state }: RoleContext, { count, timeoutMs }: WaitPeersArgs): Promise<void> {
    const { group } = groupState(state);
    await pollUntil(() => group.nodes().length === count, timeoutMs, () => `${node.name}: Group peers ${group.nodes().join(', ')}, want ${count}`, 5);
  },

  /** Group peers of this node, by name. */
  groupPeers({ state }: RoleContext): string[] {
    return groupState(state).group.nodes();
  },

  osPid(): number {
    return process.pid;
  },

  /** Spawn `count` idle local processes (they wait for a message that never comes). */
  async spawnIdle({ node, state }: RoleContext, { count }: SpawnArgs): Promise<void> {
    const s = groupState(state);
    const pids = new Array<Pid>(count);
    for (let i = 0; i < count; i++) {
      pids[i] = node.spawn(idle);
      if ((i + 1) % CHUNK === 0) await yieldToEventLoop();
    }
    s.pids = pids;
  },

  /** Each spawned process registers "user/(from + i)"; seconds until the last call returned. */
  async registerAll({ state }: RoleContext, { from = 0, chunk }: WriteAllArgs): Promise<number> {
    const { group, pids } = groupState(state);
    const started = performance.now();
    for (let i = 0; i < pids.length; i++) {
      const n = from + i;
      if (group.register(`user/${n}`, meta(n), { pid: pids[i]! }) !== 'ok') throw new Error(`register user/${n}: taken`);
      if ((i + 1) % chunk === 0) await yieldToEventLoop();
    }
    return (performance.now() - started) / 1000;
  },

  /** Each spawned process joins "group/(i % groups)"; seconds until the last call returned. */
  async joinAll({ state }: RoleContext, { groups = 1000, chunk }: WriteAllArgs): Promise<number> {
    const { group, pids } = groupState(state);
    const started = performance.now();
    for (let i = 0; i < pids.length; i++) {
      group.join(`group/${i % groups}`, meta(i), { pid: pids[i]! });
      if ((i + 1) % chunk === 0) await yieldToEventLoop();
    }
    return (performance.now() - started) / 1000;
  },

  /**
   * Arm a watcher that counts `type` events; `awaitExpected` resolves once `count` have arrived
   * and the tables hold that many rows. Armed in a separate call so that it is surely in place
   * before the driver starts the writes.
   */
  expectRows({ node, state }: RoleContext, { type, count, timeoutMs }: ExpectArgs): void {
    const s = groupState(state);
    let seen = 0;
    const rows = (): number => (type === 'registered' ? s.group.registryCount() : s.group.memberCount());
    state.set(
      'expected',
      watchUntil<void>(s, timeoutMs, () => `${node.name}: ${seen} of ${count} ${type} events, ${rows()} rows`, (done) => (events) => {
        for (let i = 0; i < events.length; i++) if (events[i]!.type === type) seen++;
        if (seen >= count && rows() >= count) done();
      }),
    );
  },

  awaitExpected({ state }: RoleContext): Promise<void> {
    const expected = state.get('expected') as Promise<void> | undefined;
    if (expected === undefined) throw new Error('awaitExpected without expectRows');
    state.delete('expected');
    return expected;
  },

  async awaitCounts({ node, state }: RoleContext, { registered, members, timeoutMs }: AwaitCountsArgs): Promise<void> {
    const { group } = groupState(state);
    await pollUntil(
      () => group.registryCount() === registered && group.memberCount() === members,
      timeoutMs,
      () => `${node.name}: ${group.registryCount()} registered (want ${registered}), ${group.memberCount()} members (want ${members})`,
      5,
    );
  },

  /** Exit every spawned process (their rows go, replicated as removals). */
  async killSpawned({ node, state }: RoleContext): Promise<void> {
    const s = groupState(state);
    const pids = s.pids;
    s.pids = [];
    for (let i = 0; i < pids.length; i++) {
      node.exit(pids[i]!, 'kill');
      if ((i + 1) % CHUNK === 0) await yieldToEventLoop();
    }
  },

  /**
   * D3P: exit every spawned process in one synchronous loop (as a crashing supervisor tree or a
   * drained pool would); returns the wall-clock instant (ms since the epoch, as performance
   * measures it) just before the first exit, comparable with the other processes' on this host.
   */
  exitAllAtOnce({ node, state }: RoleContext): number {
    const s = groupState(state);
    const pids = s.pids;
    s.pids = [];
    const at = performance.timeOrigin + performance.now();
    for (let i = 0; i < pids.length; i++) node.exit(pids[i]!, 'mass_exit');
    return at;
  },

  /**
   * D3P: arm a watcher on a survivor; `awaitRemovals` resolves with the wall-clock instant at
   * which the monitor callback has had the removal event of `rows` rows of `peer` and the
   * tables hold none of them.
   */
  armRemovals({ node, state }: RoleContext, { peer, rows, timeoutMs }: PurgeArgs): void {
    const s = groupState(state);
    let removed = 0;
    state.set(
      'removals',
      watchUntil<number>(s, timeoutMs, () => `${node.name}: ${removed} of ${rows} removal events of ${peer}`, (done) => (events) => {
        for (let i = 0; i < events.length; i++) {
          const event = events[i]!;
          if (event.pid.node === peer && (event.type === 'unregistered' || event.type === 'left')) removed++;
        }
        if (removed >= rows && s.group.registryCount() === 0 && s.group.memberCount() === 0) done(performance.timeOrigin + performance.now());
      }),
    );
  },

  awaitRemovals({ state }: RoleContext): Promise<number> {
    const removals = state.get('removals') as Promise<number> | undefined;
    if (removals === undefined) throw new Error('awaitRemovals without armRemovals');
    state.delete('removals');
    return removals;
  },

  /** Arm the D3 watcher on a survivor: counts the removal events of `peer`'s rows. */
  armPurge({ node, state }: RoleContext, { peer, rows, timeoutMs }: PurgeArgs): void {
    const s = groupState(state);
    s.nodedownAt.delete(peer);
    let removed = 0;
    let purgedAt: number | undefined;
    state.set(
      'purge',
      watchUntil<PurgeReport>(s, timeoutMs, () => `${node.name}: ${removed} of ${rows} removal events of ${peer}`, (done) => (events) => {
        for (let i = 0; i < events.length; i++) {
          const event = events[i]!;
          if (event.pid.node === peer && (event.type === 'unregistered' || event.type === 'left')) removed++;
        }
        if (removed === 0) return;
        // The Group removes the peer's rows from its tables before it emits their events.
        if (purgedAt === undefined && s.group.registryCount() === 0 && s.group.memberCount() === 0) purgedAt = performance.now();
        if (removed >= rows && purgedAt !== undefined) {
          const down = s.nodedownAt.get(peer);
          if (down === undefined) throw new Error(`${node.name}: ${peer}'s rows were removed without a nodedown event`);
          done({ purgedMs: purgedAt - down, eventsMs: performance.now() - down });
        }
      }),
    );
  },

  awaitPurge({ state }: RoleContext): Promise<PurgeReport> {
    const purge = state.get('purge') as Promise<PurgeReport> | undefined;
    if (purge === undefined) throw new Error('awaitPurge without armPurge');
    state.delete('purge');
    return purge;
  },

  /** Fault injection (D4): drop the link to `peer` and refuse it until unblocked. */
  block({ node }: RoleContext, { peer }: { peer: string }): void {
    node.block(peer, { closeNow: true });
  },

  /** Heal (D4): accept `peer` again and dial it at once. */
  heal({ node }: RoleContext, { peer, seed }: { peer: string; seed: string }): void {
    node.unblock(peer);
    node.connect(seed);
  },

  async waitGroupPeerGone({ node, state }: RoleContext, { peer, timeoutMs }: { peer: string; timeoutMs: number }): Promise<void> {
    const { group } = groupState(state);
    await pollUntil(() => !group.nodes().includes(peer), timeoutMs, () => `${node.name}: Group peer ${peer} still present`, 5);
  },

  /** Count, on this node, the conflicts this node lost (its own registration removed by resolution). */
  countConflicts({ node, state }: RoleContext): void {
    const s = groupState(state);
    const counter = { lost: 0 };
    const watcher: Watcher = (events) => {
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        if (event.type === 'unregistered' && event.reason === 'resolve_conflict' && event.pid.node === node.name) counter.lost++;
      }
    };
    s.watchers.add(watcher);
    state.set('conflicts', { counter, watcher });
  },

  conflictsLost({ state }: RoleContext): number {
    const s = groupState(state);
    const armed = state.get('conflicts') as { counter: { lost: number }; watcher: Watcher } | undefined;
    if (armed === undefined) throw new Error('conflictsLost without countConflicts');
    s.watchers.delete(armed.watcher);
    state.delete('conflicts');
    return armed.counter.lost;
  },

  /**
   * The registry as this node sees it: key count and an order-independent hash of every
   * key → pid, so two nodes agree exactly when their digests are equal (up to hash collisions).
   */
  digest({ state }: RoleContext): Digest {
    const { group } = groupState(state);
    let sum = 0;
    let xor = 0;
    const keys = group.registered();
    for (const key of keys) {
      const [a, b] = digestTerms(key, group.whereis(key)?.key ?? '');
      sum = (sum + a) >>> 0;
      xor = (xor ^ b) >>> 0;
    }
    return digestOf(keys.length, sum, xor);
  },

  /**
   * Start keeping the digest up to date from the Group's events (untimed: it computes the full
   * digest once), so that `liveDigest` costs O(1). D4 polls both nodes every 2 ms while they
   * heal; the full digest of 19,000 keys takes ~10-20 ms, and polling it would take the CPU the
   * heal needs. After the clock, D4 checks `liveDigest` against the full `digest`.
   */
  trackDigest({ state }: RoleContext): void {
    const s = groupState(state);
    if (s.digest !== undefined) s.watchers.delete(s.digest.watcher);
    const owners = new Map<string, string>();
    const add = (key: string, pidKey: string, sign: 1 | -1): void => {
      const [a, b] = digestTerms(key, pidKey);
      tracker.sum = (tracker.sum + sign * a) >>> 0;
      tracker.xor = (tracker.xor ^ b) >>> 0;
    };
    const watcher: Watcher = (events) => {
      for (const event of events) {
        const held = owners.get(event.key);
        if (event.type === 'registered') {
          if (held !== undefined) add(event.key, held, -1);
          owners.set(event.key, event.pid.key);
          add(event.key, event.pid.key, 1);
        } else if (event.type === 'unregistered' && held === event.pid.key) {
          owners.delete(event.key);
          add(event.key, held, -1);
        }
      }
    };
    const tracker: DigestTracker = { owners, sum: 0, xor: 0, watcher };
    for (const key of s.group.registered()) {
      const pidKey = s.group.whereis(key)!.key;
      owners.set(key, pidKey);
      add(key, pidKey, 1);
    }
    s.digest = tracker;
    s.watchers.add(watcher);
  },

  liveDigest({ state }: RoleContext): Digest {
    const tracker = groupState(state).digest;
    if (tracker === undefined) throw new Error('liveDigest: run trackDigest first');
    return digestOf(tracker.owners.size, tracker.sum, tracker.xor);
  },

  /** D5: `count` member processes that count what they receive, each joined to `key`. */
  startMembers({ node, state }: RoleContext, { count, key }: MembersArgs): void {
    const s = groupState(state);
    const received = new Uint32Array(count);
    const members: MemberState = { pids: [], received, total: 0, target: Infinity, onTarget: undefined };
    for (let index = 0; index < count; index++) {
      const pid = node.spawn(async (ctx) => {
        for (;;) {
          await ctx.receive();
          received[index]!++;
          if (++members.total === members.target) members.onTarget?.();
        }
      });
      members.pids.push(pid);
      s.group.join(key, meta(index), { pid });
    }
    s.members = members;
  },

  /** D5: arm the delivery count for one run (resolves in `awaitDeliveries`). */
  expectDeliveries({ node, state }: RoleContext, { perMember, timeoutMs }: DeliveriesArgs): void {
    const s = groupState(state);
    const members = s.members;
    if (members === undefined) throw new Error('expectDeliveries without startMembers');
    members.received.fill(0);
    members.total = 0;
    members.target = perMember * members.pids.length;
    state.set(
      'deliveries',
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${node.name}: ${members.total} of ${members.target} deliveries after ${timeoutMs} ms`)), timeoutMs);
        members.onTarget = () => {
          clearTimeout(timer);
          members.onTarget = undefined;
          const short = members.received.findIndex((n) => n !== perMember);
          if (short !== -1) reject(new Error(`${node.name}: member ${short} received ${members.received[short]} messages, want ${perMember}`));
          else resolve();
        };
      }),
    );
  },

  awaitDeliveries({ state }: RoleContext): Promise<void> {
    const deliveries = state.get('deliveries') as Promise<void> | undefined;
    if (deliveries === undefined) throw new Error('awaitDeliveries without expectDeliveries');
    state.delete('deliveries');
    return deliveries;
  },

  /**
   * D5 sender: `count` dispatches to `key`, yielding after every `chunk` so the link flushes, and
   * waiting while more than `highWaterBytes` are queued to any peer (a well-behaved producer:
   * the link's bounded queue is never the limit).
   */
  async dispatchMany({ state }: RoleContext, { key, count, chunk, highWaterBytes }: DispatchArgs): Promise<void> {
    const { group } = groupState(state);
    const peers = group.nodes();
    for (let i = 0; i < count; i++) {
      group.dispatch(key, { n: i });
      if ((i + 1) % chunk !== 0) continue;
      await yieldToEventLoop();
      while (peers.some((peer) => group.node.queuedBytes(peer) > highWaterBytes)) await sleep(1);
    }
  },
};

/**
 * D3 / D3b: the driver's side of "A fails, B purges". Starts a fresh A when the previous run
 * killed it, fills it by `fill` (untimed), arms B's purge watcher for `rows` removals, then
 * `fail(osPid)` (SIGKILL or SIGSTOP) at T0; resolves with the seconds from T0 until B's watcher
 * reported, and B's own split (ms after its nodedown event). A is SIGKILLed and reaped after.
 */
export async function failAndPurge(
  cluster: { a: BenchNodeProcess | undefined; b: BenchNodeProcess; c: BenchNodeProcess },
  options: { profileDir: string | undefined; rows: number; timeoutMs: number; signal: 'SIGKILL' | 'SIGSTOP' },
  fill: (a: BenchNodeProcess) => Promise<void>,
): Promise<{ seconds: number; report: PurgeReport }> {
  const { b, c } = cluster;
  const a = cluster.a ?? (cluster.a = await startGroupNode('a', [b.seed, c.seed], options.profileDir));
  await waitGroupPeers([a, b, c], 2);
  await fill(a);
  await b.invoke(GROUP_ROLES, 'armPurge', { peer: a.name, rows: options.rows, timeoutMs: options.timeoutMs } satisfies PurgeArgs);
  const osPid = await a.invoke<number>(GROUP_ROLES, 'osPid');
  cluster.a = undefined;
  const purged = b.invoke<PurgeReport>(GROUP_ROLES, 'awaitPurge');
  const started = performance.now();
  process.kill(osPid, options.signal);
  try {
    const report = await purged;
    return { seconds: (performance.now() - started) / 1000, report };
  } finally {
    if (options.signal !== 'SIGKILL') process.kill(osPid, 'SIGKILL');
    await a.exited;
  }
}
