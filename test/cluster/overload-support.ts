/**
 * Shared by the overload tests (overload.test.ts, overload-sustained.test.ts): Groups driven by rpc
 * through the conformance agent, a full-speed writer and a CPU-burning "slow peer" that run inside
 * node processes, an event counter, and the convergence check.
 *
 * The functions sent to nodes (`writeLoad`, `burnCpu`, `countEvents`) follow the agent's rule:
 * self-contained, only their arguments, no named functions or classes.
 */
import { groupAgent, type AgentRequest, type GroupView } from '../conformance/group-agent.js';
import type { RpcContext, TestCluster, TestNode } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

export const GROUP = 'g';

/** Send the agent's source once, then start Group GROUP on the node. */
export async function startGroup(node: TestNode, options: { antiEntropyMs?: number } = {}): Promise<void> {
  await node.rpc(({ state }, source: string) => {
    state['agent'] = new Function(`return (${source});`)();
  }, groupAgent.toString());
  await agentOn(node, { op: 'start-group', group: GROUP, ...options });
}

export function agentOn<T>(node: TestNode, request: AgentRequest): Promise<T> {
  return node.rpc((ctx: RpcContext, req: AgentRequest) => (ctx.state['agent'] as (c: RpcContext, r: AgentRequest) => Promise<T>)(ctx, req), request);
}

export function viewOf(node: TestNode): Promise<GroupView> {
  return agentOn<GroupView>(node, { op: 'view', group: GROUP });
}

/** What every node of a converged cluster must hold alike. */
function content(view: GroupView): string {
  return JSON.stringify([view.registry, view.members]);
}

/**
 * Wait until every live node sees every other as a Group peer, all hold the same registry and
 * memberships, and `checkConsistency()` is empty on each; returns the views.
 */
export async function waitForConvergence(cluster: TestCluster, timeoutMs: number): Promise<GroupView[]> {
  const live = cluster.nodes.filter((n) => n.alive);
  let views: GroupView[] = [];
  await waitFor(
    async () => {
      views = await Promise.all(live.map((n) => viewOf(n)));
      const reference = content(views[0]!);
      return views.every(
        (v) =>
          v.consistency.length === 0 &&
          v.peers.join(',') ===
            live
              .map((n) => n.name)
              .filter((name) => name !== v.node)
              .sort()
              .join(',') &&
          content(v) === reference,
      );
    },
    {
      timeoutMs,
      intervalMs: 100,
      what: `convergence of ${live.map((n) => n.name).join(', ')} (last: ${views.map((v) => `${v.node}: ${v.registry.length} reg, ${v.members.length} members, peers [${v.peers.join(',')}], ${v.consistency.length} inconsistencies`).join('; ')})`,
    },
  );
  return views;
}

export interface MemorySample {
  node: string;
  heapUsed: number;
  rss: number;
}

export async function memoryOf(node: TestNode): Promise<MemorySample> {
  const m = await node.rpc(({ memory }) => memory());
  return { node: node.name, ...m };
}

export const MiB = 1024 * 1024;

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** Nodedown events a node saw for `peer` with `reason`. */
export function nodedowns(node: TestNode, peer: string, reason?: string): number {
  return node.events.filter((e) => e.event === 'nodedown' && e.data['node'] === peer && (reason === undefined || e.data['reason'] === reason)).length;
}

// ---- functions that run inside node processes ------------------------------------------------

export interface LoadArgs {
  group: string;
  /** The load stops by itself after this long, or earlier when `state.stopLoad` is set. */
  durationMs: number;
  /** Live processes (each with one registration and one membership) kept by the rolling window. */
  window: number;
  /** Distinct group keys the memberships spread over. */
  groups: number;
  /** Steps per event-loop turn: the writes of a turn leave in one batch frame per peer. */
  chunk: number;
  /** Length of a string carried in every meta (default none): more bytes per op. */
  padBytes?: number;
}

export interface LoadStats {
  steps: number;
  /** Replicated writes: register, join, and the unregister + leave of each retired process. */
  ops: number;
  running: boolean;
  error: string | null;
  elapsedMs: number;
}

/**
 * A writer at full speed, started in the background (read `state.load` for its LoadStats). Each
 * step spawns a process that registers `k/<i>` and joins `g/<i % groups>`; once the window is
 * full, each step also retires the process of step i - window: even steps by unregister + leave
 * and then exit, odd ones by exit alone (the Group removes and replicates their rows), so both
 * removal paths run and the tables stay at `window` rows of each kind.
 */
export const writeLoad = ({ node, state }: RpcContext, args: LoadArgs): null => {
  const g = (state['groups'] as Record<string, any>)[args.group];
  const stats: LoadStats = { steps: 0, ops: 0, running: true, error: null, elapsedMs: 0 };
  state['load'] = stats;
  state['stopLoad'] = false;
  const ring: unknown[] = new Array(args.window);
  const pad = 'x'.repeat(args.padBytes ?? 0);
  const idle = async (p: { receive(): Promise<unknown> }): Promise<void> => {
    await p.receive();
  };
  const started = performance.now();
  const step = (): void => {
    try {
      for (let k = 0; k < args.chunk; k++) {
        const i = stats.steps++;
        const slot = i % args.window;
        const old = ring[slot];
        if (old !== undefined) {
          const j = i - args.window;
          if (j % 2 === 0) {
            g.unregister(`k/${j}`);
            g.leave(`g/${j % args.groups}`, { pid: old });
          }
          node.exit(old, 'retired');
          stats.ops += 2;
        }
        const pid = node.spawn(idle);
        ring[slot] = pid;
        g.register(`k/${i}`, pad === '' ? { i } : { i, pad }, { pid });
        g.join(`g/${i % args.groups}`, pad === '' ? { i } : { i, pad }, { pid });
        stats.ops += 2;
      }
    } catch (error) {
      stats.error = String(error);
      stats.running = false;
      return;
    }
    stats.elapsedMs = performance.now() - started;
    if (state['stopLoad'] === true || stats.elapsedMs >= args.durationMs) {
      stats.running = false;
      return;
    }
    setImmediate(step);
  };
  setImmediate(step);
  return null;
};

export interface BurnArgs {
  /** Busy time per slice, then one event-loop turn (timers, socket reads, immediates) in between. */
  sliceMs: number;
  /** The burn stops by itself after this long, or earlier when `state.stopBurn` is set. */
  durationMs: number;
}

/**
 * Make this node slow but alive: its event loop spends `sliceMs` of every turn in a busy loop,
 * so it still answers heartbeats but reads and applies replication far slower than a full-speed
 * writer produces it. Runs in the background; `state.burning` is false once it has stopped.
 */
export const burnCpu = ({ state }: RpcContext, args: BurnArgs): null => {
  state['stopBurn'] = false;
  state['burning'] = true;
  const started = performance.now();
  const slice = (): void => {
    const until = performance.now() + args.sliceMs;
    while (performance.now() < until) {
      // the fault under test: a busy event loop
    }
    if (state['stopBurn'] === true || performance.now() - started >= args.durationMs) {
      state['burning'] = false;
      return;
    }
    setImmediate(slice);
  };
  setImmediate(slice);
  return null;
};

export interface EventCounts {
  batches: number;
  events: number;
  byType: Record<string, number>;
  byReason: Record<string, number>;
  /** Wall times (ms since the epoch, sub-ms) of the first and last batch, and when the Group's tables were last seen empty after a batch. */
  firstBatchAt: number;
  lastBatchAt: number;
  emptyAt: number;
}

/**
 * Subscribe to every key of the Group with a callback that only counts (it keeps no event, so a
 * long run does not grow the node's memory); `state.counts` holds the EventCounts. Calling it
 * again resets the counts.
 */
export const countEvents = ({ state, api }: RpcContext, group: string): null => {
  const g = (state['groups'] as Record<string, any>)[group];
  const counts: EventCounts = { batches: 0, events: 0, byType: {}, byReason: {}, firstBatchAt: 0, lastBatchAt: 0, emptyAt: 0 };
  state['counts'] = counts;
  if (state['counting'] === true) return null;
  state['counting'] = true;
  g.monitor(api.ALL, (events: Array<{ type: string; reason: unknown }>) => {
    const c = state['counts'] as EventCounts;
    c.batches++;
    c.events += events.length;
    for (const e of events) {
      c.byType[e.type] = (c.byType[e.type] ?? 0) + 1;
      const reason = typeof e.reason === 'string' ? e.reason : JSON.stringify(e.reason);
      c.byReason[reason] = (c.byReason[reason] ?? 0) + 1;
    }
    c.lastBatchAt = performance.timeOrigin + performance.now();
    if (c.batches === 1) c.firstBatchAt = c.lastBatchAt;
    if (g.registryCount() === 0 && g.memberCount() === 0) c.emptyAt = c.lastBatchAt;
  });
  return null;
};

export function countsOf(node: TestNode): Promise<EventCounts> {
  return node.rpc(({ state }) => state['counts'] as EventCounts);
}
