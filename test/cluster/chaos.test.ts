/**
 * Real-process chaos: five node OS processes over TCP. Inside every node a client registers,
 * re-registers, unregisters, joins, leaves, dispatches and kills its own processes without pause,
 * while the driver SIGKILLs and restarts nodes and cuts (both ways and one way) and heals links.
 * Then quiescence (clients stopped, every cut healed, dead nodes restarted or left dead) and the
 * invariants of the simulation (test/sim) on real processes, plus "nothing lost": every
 * acknowledged registration and membership of a process that is still alive is on every node.
 *
 * The schedule is random (real time is not replayable); it is printed with any failure, and
 * CHAOS_SEED=<n> repeats the driver's choices (not the timing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RpcContext, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';
import { seededRandom } from '../../src/time/random.js';

const NAMES = ['a', 'b', 'c', 'd', 'e'] as const;
const heartbeat = { intervalMs: 200, timeoutMs: 1000 };
const reconnect = { initialMs: 50, maxMs: 300 };
/** How long the driver injects faults while the clients write. */
const CHAOS_MS = 25_000;
/** Pause between two faults (real ms, drawn uniformly). */
const FAULT_GAP_MS = { min: 400, max: 1500 };
/** At most this many nodes are dead at once (a majority keeps running). */
const MAX_DEAD = 2;
/** Named cluster some nodes connect to, so per-cluster replication is under chaos as well. */
const NAMED = 'east';

interface ClientStats {
  ops: number;
  registered: number;
  taken: number;
  joins: number;
  dispatches: number;
  exits: number;
  conflictKills: number;
  errors: string[];
}

/** What a node's client believes is true of its own live processes (its acknowledged writes). */
interface Intent {
  /** pid key → [cluster, key, meta] it registered and did not unregister. */
  registered: Record<string, Array<[string | null, string, unknown]>>;
  /** pid key → [cluster, group, meta] it joined and did not leave. */
  joined: Record<string, Array<[string | null, string, unknown]>>;
  /** The subset of those pid keys that are alive right now. */
  alive: string[];
}

interface View {
  node: string;
  registry: Array<[string | null, string, string, unknown]>;
  members: Array<[string | null, string, string, unknown]>;
  connected: string[];
  /** Group peers, and the nodes of the named cluster, as this node sees them (diagnostics). */
  groupNodes: string[];
  namedNodes: string[];
  consistency: string[];
}

/**
 * The client, sent as source text to each node (so: self-contained, no named functions). It
 * starts the Group, then runs a write loop on timers until `stop` is called. Only writes that
 * returned 'ok' are recorded as intent.
 */
const startClient = async ({ node, api, state }: RpcContext, arg: { named: boolean; seed: number }): Promise<null> => {
  const group = await api.Group.start(node, { name: 'app', log: false });
  if (arg.named) group.connect('east');
  const random = api.seededRandom(arg.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)]!;
  const stats = { ops: 0, registered: 0, taken: 0, joins: 0, dispatches: 0, exits: 0, conflictKills: 0, errors: [] as string[] };
  // pid key → {pid, registered: Map<cluster|key, [cluster, key, meta]>, joined: Map<...>}
  const procs = new Map<string, { pid: any; registered: Map<string, [string | null, string, unknown]>; joined: Map<string, [string | null, string, unknown]> }>();
  state['client'] = { group, stats, procs, stopped: false };
  let version = 0;
  const clusterOf = (): string | null => (arg.named && random.next() < 0.3 ? 'east' : null);
  const spawn = (): void => {
    const pid = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
      for (;;) await ctx.receive();
    });
    procs.set(pid.key, { pid, registered: new Map(), joined: new Map() });
    node.monitor(pid, (down: { reason: any }) => {
      procs.delete(pid.key);
      if (down.reason?.reason === 'group_registry_conflict') stats.conflictKills++;
    });
  };
  const step = (): void => {
    stats.ops++;
    if (procs.size < 8 || (procs.size < 30 && random.next() < 0.05)) return spawn();
    const entry = pick([...procs.values()]);
    const cluster = clusterOf();
    const r = random.next();
    try {
      if (r < 0.3) {
        // A small key space, so nodes race for the same keys (conflicts across partitions).
        const key = `k${Math.floor(random.next() * 150)}`;
        const meta = { v: ++version, at: String(node.name) };
        if (group.register(key, meta, { pid: entry.pid, cluster }) === 'ok') {
          stats.registered++;
          // A key registered by this process in another cluster is a different row.
          entry.registered.set(`${cluster}|${key}`, [cluster, key, meta]);
        } else stats.taken++;
      } else if (r < 0.4) {
        const owned = [...entry.registered.values()];
        if (owned.length === 0) return;
        const [c, key] = pick(owned);
        group.unregister(key, { cluster: c });
        entry.registered.delete(`${c}|${key}`);
      } else if (r < 0.65) {
        const key = `g${Math.floor(random.next() * 20)}`;
        const meta = { v: ++version };
        group.join(key, meta, { pid: entry.pid, cluster });
        stats.joins++;
        entry.joined.set(`${cluster}|${key}`, [cluster, key, meta]);
      } else if (r < 0.75) {
        const joined = [...entry.joined.values()];
        if (joined.length === 0) return;
        const [c, key] = pick(joined);
        group.leave(key, { pid: entry.pid, cluster: c });
        entry.joined.delete(`${c}|${key}`);
      } else if (r < 0.97) {
        group.dispatch(`g${Math.floor(random.next() * 20)}`, { hello: stats.ops }, { cluster });
        stats.dispatches++;
      } else {
        procs.delete(entry.pid.key);
        node.exit(entry.pid, 'chaos');
        stats.exits++;
      }
    } catch (error) {
      if (stats.errors.length < 20) stats.errors.push(String((error as Error).message));
    }
  };
  const tick = (): void => {
    const client = state['client'] as { stopped: boolean };
    if (client.stopped || !node.running) return;
    for (let i = 0; i < 25; i++) step();
    setTimeout(tick, 5);
  };
  tick();
  return null;
};

let cluster: TestCluster;
const dead = new Set<string>();
const cuts = new Set<string>();
const schedule: string[] = [];
const faults = { kills: 0, restarts: 0, cuts: 0, oneWayCuts: 0, heals: 0 };
let clientSeed = 1;

const named = (name: string): boolean => ['a', 'b', 'c'].includes(name);

async function launchClient(name: string): Promise<void> {
  await cluster.node(name).rpc(startClient as (ctx: RpcContext, arg: { named: boolean; seed: number }) => Promise<null>, { named: named(name), seed: clientSeed++ });
}

function live(): string[] {
  return NAMES.filter((n) => !dead.has(n));
}

async function view(name: string): Promise<View> {
  return cluster.node(name).rpc(({ state, api }) => {
    const g = (state['client'] as { group: any }).group;
    const plain = (v: unknown): unknown => (v instanceof api.Pid ? (v as { key: string }).key : v);
    const registry: View['registry'] = [];
    const members: View['members'] = [];
    for (const c of g.tables.clusters() as Array<string | null>) {
      for (const key of g.tables.registeredKeys(c) as string[]) {
        const row = g.tables.lookup(c, key);
        registry.push([c, key, row.pid.key, plain(row.meta)]);
      }
      for (const key of g.tables.groups(c) as string[]) for (const row of g.tables.members(c, key)) members.push([c, key, row.pid.key, plain(row.meta)]);
    }
    const byText = (x: unknown[], y: unknown[]): number => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1);
    registry.sort(byText);
    members.sort(byText);
    const self = String(g.node.name);
    const connected = (g.membership.clustersOf(self) as Array<string | null>).filter((c): c is string => c !== null).sort();
    const groupNodes = (g.nodes() as string[]).slice().sort();
    const namedNodes = (g.nodes('east') as string[]).slice().sort();
    return { node: self, registry, members, connected, groupNodes, namedNodes, consistency: g.checkConsistency() as string[] };
  });
}

/** The rows of one cluster (null = default), as seen by a node. */
function rowsOf(v: View, c: string | null): string {
  return JSON.stringify([v.registry.filter((r) => r[0] === c), v.members.filter((r) => r[0] === c)]);
}

async function fault(random: () => number): Promise<void> {
  const roll = random();
  const pickOf = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  if (roll < 0.2 && dead.size < MAX_DEAD) {
    const victim = pickOf(live());
    schedule.push(`kill ${victim}`);
    dead.add(victim);
    faults.kills++;
    await cluster.node(victim).kill();
  } else if (roll < 0.4 && dead.size > 0) {
    const back = pickOf([...dead]);
    schedule.push(`restart ${back}`);
    await cluster.restart(back);
    dead.delete(back);
    faults.restarts++;
    await launchClient(back);
  } else if (roll < 0.75) {
    const [x, y] = [pickOf(live()), pickOf(live())];
    if (x === y || cuts.has([x, y].sort().join('|'))) return;
    const oneWay = random() < 0.4;
    const closeNow = random() < 0.5;
    schedule.push(`cut ${x} ${y}${oneWay ? ' one-way' : ''}${closeNow ? ' now' : ''}`);
    cuts.add([x, y].sort().join('|'));
    if (oneWay) faults.oneWayCuts++;
    else faults.cuts++;
    await cluster.cut(x, y, { oneWay, closeNow });
  } else {
    // A cut stays in force on the live side while its other node is dead (and after it restarts).
    const healable = [...cuts].filter((pair) => pair.split('|').every((n) => !dead.has(n)));
    if (healable.length === 0) return;
    const pair = pickOf(healable);
    const [x, y] = pair.split('|') as [string, string];
    cuts.delete(pair);
    schedule.push(`heal ${x} ${y}`);
    faults.heals++;
    await heal(x, y);
  }
}

/**
 * Heal a cut only after the link between the two has broken. The fault injection drops frames
 * while a cut lasts; a real link that lost frames would have broken (TCP retransmits or gives
 * up), so the link is closed (if a short or one-way cut left it up) before the nodes may talk again.
 */
async function heal(x: string, y: string): Promise<void> {
  await cluster.cut(x, y, { closeNow: true });
  const apart = async (): Promise<boolean> => !(await cluster.node(x).peers()).includes(y) && !(await cluster.node(y).peers()).includes(x);
  await waitFor(apart, { timeoutMs: 10_000, intervalMs: 50, what: `${x} and ${y} apart before the heal` });
  await cluster.heal(x, y);
}

/** Stop the clients, heal every cut, and (randomly) restart the dead nodes or leave them dead. */
async function quiesce(random: () => number): Promise<void> {
  for (const name of live()) await cluster.node(name).rpc(({ state }) => ((state['client'] as { stopped: boolean }).stopped = true));
  for (const name of [...dead]) {
    if (random() < 0.5) continue;
    schedule.push(`restart ${name} (quiescence)`);
    await cluster.restart(name);
    dead.delete(name);
    faults.restarts++;
    await launchClient(name);
    await cluster.node(name).rpc(({ state }) => ((state['client'] as { stopped: boolean }).stopped = true));
  }
  schedule.push(`quiesce: heal all, dead = [${[...dead].join(',')}]`);
  for (const pair of cuts) {
    const [x, y] = pair.split('|') as [string, string];
    if (!dead.has(x) && !dead.has(y)) await heal(x, y);
  }
  for (const name of live()) await cluster.node(name).rpc(({ node }) => node.unblock());
  cuts.clear();
  const up = live();
  for (const x of up) for (const y of up) if (x < y) await cluster.node(x).rpc(({ node }, seed) => node.connect(seed), cluster.node(y).seed);
}

describe('chaos on five node processes', () => {
  const seed = Number(process.env['CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  const random = seededRandom(seed);
  const next = (): number => random.next();

  beforeAll(async () => {
    cluster = await startCluster([...NAMES], { heartbeat, reconnect });
    for (const name of NAMES) await launchClient(name);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stopAll();
  });

  it('converges with no lost, stale or duplicate entries after kills, restarts and partitions', async () => {
    const context = (): string => `CHAOS_SEED=${seed}; schedule:\n  ${schedule.join('\n  ')}`;
    try {
      const until = performance.now() + CHAOS_MS;
      while (performance.now() < until) {
        await fault(next);
        const gap = FAULT_GAP_MS.min + next() * (FAULT_GAP_MS.max - FAULT_GAP_MS.min);
        // The gap is load time between faults (the clients write meanwhile), not synchronisation.
        await new Promise((resolve) => setTimeout(resolve, gap));
      }
      await quiesce(next);
      const up = live();

      // Convergence: every live pair sharing a cluster holds the same rows of it.
      let views: View[] = [];
      let peersSeen: string[][] = [];
      const diagnose = (): string => {
        const lines = up.map((n, i) => `${n}: peers [${peersSeen[i]?.join(',') ?? '?'}]`);
        for (const v of views) {
          const base = views[0]!;
          const only = (x: View, y: View): string[] =>
            [...x.registry, ...x.members].map((r) => JSON.stringify(r)).filter((r) => !new Set([...y.registry, ...y.members].map((q) => JSON.stringify(q))).has(r));
          lines.push(`${v.node}: ${v.registry.length} regs, ${v.members.length} members, connected [${v.connected}], group [${v.groupNodes}], east [${v.namedNodes}]; only here vs ${base.node}: ${only(v, base).slice(0, 5).join(' ')}; only on ${base.node}: ${only(base, v).slice(0, 5).join(' ')}`);
        }
        return lines.join('\n');
      };
      await waitFor(
        async () => {
          peersSeen = await Promise.all(up.map((n) => cluster.node(n).peers()));
          if (!peersSeen.every((p, i) => p.length === up.length - 1 && !p.includes(up[i]!))) return false;
          views = await Promise.all(up.map(view));
          const inNamed = views.filter((v) => v.connected.includes(NAMED));
          return views.every((v) => rowsOf(v, null) === rowsOf(views[0]!, null)) && inNamed.every((v) => rowsOf(v, NAMED) === rowsOf(inNamed[0]!, NAMED));
        },
        { timeoutMs: 45_000, intervalMs: 200, what: `convergence of ${up.join(',')} (${context()})` },
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${diagnose()}`);
      });

      // Tables: the consistency checker is clean on every node.
      for (const v of views) expect(v.consistency, `${v.node}: ${context()}`).toEqual([]);
      // A node outside the named cluster holds none of its rows.
      for (const v of views.filter((w) => !w.connected.includes(NAMED))) expect(rowsOf(v, NAMED), context()).toBe('[[],[]]');

      // Uniqueness: one pid per key per cluster.
      const registry = views[0]!.registry;
      expect(new Set(registry.map(([c, k]) => `${c}|${k}`)).size, context()).toBe(registry.length);

      // Liveness cleanup: every pid in any table is alive on its (live, current) node.
      const pidsByNode = new Map<string, Set<string>>();
      for (const v of views) {
        for (const [, , pid] of [...v.registry, ...v.members]) {
          // Pid keys are `<node.incarnation.id>`; node names here have no dots.
          const owner = pid.slice(1, pid.indexOf('.'));
          if (!pidsByNode.has(owner)) pidsByNode.set(owner, new Set());
          pidsByNode.get(owner)!.add(pid);
        }
      }
      for (const [owner, pids] of pidsByNode) {
        expect(up, `a row of dead node ${owner}: ${context()}`).toContain(owner);
        const deadPids = await cluster.node(owner).rpc(({ node, api }, keys: string[]) => keys.filter((k) => !node.isAlive(api.Pid.parse(k))), [...pids]);
        expect(deadPids, `rows of dead processes on ${owner}: ${context()}`).toEqual([]);
      }

      // Nothing lost: every acknowledged write of a process still alive is on every live node.
      const stats: Record<string, ClientStats> = {};
      for (const name of up) {
        const intent = await cluster.node(name).rpc(({ node, state }): Intent => {
          const client = state['client'] as { procs: Map<string, { pid: any; registered: Map<string, unknown[]>; joined: Map<string, unknown[]> }> };
          const out: Intent = { registered: {}, joined: {}, alive: [] };
          for (const [key, entry] of client.procs) {
            if (!node.isAlive(entry.pid)) continue;
            out.alive.push(key);
            out.registered[key] = [...entry.registered.values()] as Intent['registered'][string];
            out.joined[key] = [...entry.joined.values()] as Intent['joined'][string];
          }
          return out;
        });
        stats[name] = await cluster.node(name).rpc(({ state }) => (state['client'] as { stats: ClientStats }).stats);
        for (const v of views) {
          const holds = (c: string | null): boolean => c === null || v.connected.includes(c);
          const registryText = new Set(v.registry.map((r) => JSON.stringify(r)));
          const membersText = new Set(v.members.map((r) => JSON.stringify(r)));
          for (const pid of intent.alive) {
            for (const [c, key, meta] of intent.registered[pid]!) {
              if (holds(c)) expect(registryText.has(JSON.stringify([c, key, pid, meta])), `${v.node} lost registration ${c}/${key} → ${pid} ${JSON.stringify(meta)}: ${context()}`).toBe(true);
            }
            for (const [c, key, meta] of intent.joined[pid]!) {
              if (holds(c)) expect(membersText.has(JSON.stringify([c, key, pid, meta])), `${v.node} lost membership ${c}/${key} ${pid}: ${context()}`).toBe(true);
            }
          }
        }
      }
      const totals = Object.values(stats).reduce(
        (t, s) => ({ ops: t.ops + s.ops, registered: t.registered + s.registered, joins: t.joins + s.joins, conflictKills: t.conflictKills + s.conflictKills, errors: [...t.errors, ...s.errors] }),
        { ops: 0, registered: 0, joins: 0, conflictKills: 0, errors: [] as string[] },
      );
      console.log(
        `chaos CHAOS_SEED=${seed}: ${totals.ops} client ops (${totals.registered} registrations, ${totals.joins} joins, ${totals.conflictKills} conflict kills); ` +
          `faults: ${faults.kills} kills, ${faults.restarts} restarts, ${faults.cuts} cuts, ${faults.oneWayCuts} one-way cuts, ${faults.heals} heals; ` +
          `final: ${registry.length} registrations, ${views[0]!.members.length} memberships on ${up.length} nodes`,
      );
      // The run must have done real work, or the checks above prove nothing.
      expect(totals.registered).toBeGreaterThan(1000);
      expect(faults.kills + faults.cuts + faults.oneWayCuts).toBeGreaterThan(3);
      expect(totals.errors, context()).toEqual([]);
    } catch (error) {
      console.error(context());
      throw error;
    }
  }, 180_000);
});
