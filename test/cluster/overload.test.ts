/**
 * Issue 5 §3, overload and the event loop, on node OS processes over TCP: a peer too slow for a
 * full-speed writer is dropped as overloaded and resynced; a node whose event loop is blocked past
 * the heartbeat timeout is declared down, purged and rejoins cleanly; 10,000 processes dying at
 * once are purged on the peers in a few event batches. (Sustained writes: overload-sustained.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type RpcContext, type TestCluster, type TestNode } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';
import {
  GROUP,
  MiB,
  agentOn,
  burnCpu,
  countEvents,
  countsOf,
  memoryOf,
  mib,
  nodedowns,
  startGroup,
  waitForConvergence,
  writeLoad,
  type LoadStats,
  type MemorySample,
} from './overload-support.js';

let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

function nodesOf(c: TestCluster): [TestNode, TestNode, TestNode] {
  return [c.node('a'), c.node('b'), c.node('c')];
}

/** Rows of `owner`'s processes in a node's Group tables (default cluster). */
function rowsOwnedBy(node: TestNode, owner: string): Promise<number> {
  return node.rpc(({ state }, arg: { group: string; owner: string }) => {
    const snapshot = (state['groups'] as Record<string, any>)[arg.group].tables.snapshotOwned(null, arg.owner);
    return (snapshot.registry.length + snapshot.members.length) as number;
  }, { group: GROUP, owner });
}

describe('overload (OS processes): a peer that cannot keep up', () => {
  // a's bound per peer: small, so that overflowing it is quick once the kernel's buffers are full;
  // at least maxFrameBytes, which startNode requires.
  const MAX_QUEUE = 2 * MiB;
  const WINDOW = 2_000;
  // The kernel buffers tens of MiB on loopback before a's writes stop being accepted (tcp_rmem
  // autotuning goes up to 32 MiB): ops of ~300 bytes fill that in seconds even on a loaded host.
  const PAD_BYTES = 240;

  it('is dropped as overload by the writer, whose memory stays bounded, and converges once the load stops', async () => {
    cluster = await startCluster(['a', 'b', 'c'], {
      heartbeat: { intervalMs: 200, timeoutMs: 4_000 },
      reconnect: { initialMs: 50, maxMs: 300 },
      nodeOptions: { a: { maxFrameBytes: 1 * MiB, maxQueueBytes: MAX_QUEUE } },
    });
    const [a, b] = nodesOf(cluster);
    for (const n of cluster.nodes) await startGroup(n);
    await waitForConvergence(cluster, 10_000);
    await b.rpc(countEvents, GROUP);
    const baseline = await memoryOf(a);
    // a's heap may hold its own window and a full queue to each peer, plus slack for a busy turn.
    const allowance = 2 * MAX_QUEUE + WINDOW * 4 * 1024 + 32 * MiB;
    const opBytes = await a.rpc(({ node }, padBytes: number) => {
      const pid = node.spawn(async () => undefined) as unknown;
      const meta = { i: 1_000_000, pad: 'x'.repeat(padBytes) };
      return (node.encodePayload(['g', null, 1_000_000, 0, 'k/1000000', pid, meta, Date.now(), 'register']) as { length: number }).length;
    }, PAD_BYTES);

    // b spends a second of every event-loop turn busy: it still heartbeats (a's timeout is 4 s)
    // but reads and applies replication several times slower than a writes it.
    await b.rpc(burnCpu, { sliceMs: 1_000, durationMs: 120_000 });
    const started = performance.now();
    await a.rpc(writeLoad, { group: GROUP, durationMs: 120_000, window: WINDOW, groups: 64, chunk: 200, padBytes: PAD_BYTES });
    const samples: MemorySample[] = [];
    let progress = '';
    const down = await waitFor(
      async () => {
        samples.push(await memoryOf(a));
        const writer = await a.rpc(({ node, state }) => ({ ops: (state['load'] as LoadStats).ops, queued: node.queuedBytes('b') as number }));
        progress = `a wrote ${writer.ops} ops, ${writer.queued} bytes queued to b, b applied ${(await countsOf(b)).events}`;
        return a.events.find((e) => e.at >= started && e.event === 'nodedown' && e.data['node'] === 'b');
      },
      { timeoutMs: 40_000, intervalMs: 500, what: 'a dropping its link to the slow peer b' },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; ${progress}; a ${a.alive ? 'alive' : `exited: ${a.stderr}`}`);
    });
    const detectedMs = down.at - started;
    expect(down.data['reason']).toBe('overload');
    await a.waitForLog((line) => line['event'] === 'nodedown' && line['peer'] === 'b' && line['reason'] === 'overload');

    // The load goes on: a reconnects to b and resyncs it, b falls behind and is dropped again, the
    // bound holding each time; a's memory is sampled throughout. It lasts until a queue keeping
    // every op b has not applied (each applied op gives b one event) would have outgrown a's
    // allowance, so the bound, not a lack of load, is what holds a's memory.
    let unapplied = 0;
    await waitFor(
      async () => {
        samples.push(await memoryOf(a));
        const written = await a.rpc(({ state }) => (state['load'] as LoadStats).ops);
        unapplied = written - (await countsOf(b)).events;
        return nodedowns(a, 'b', 'overload') >= 2 && unapplied * opBytes > allowance;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `a second overload drop of b and ${mib(allowance)} of ops b has not applied (last: ${mib(unapplied * opBytes)})` },
    );
    const reconnected = a.events.filter((e) => e.event === 'nodeup' && e.data['node'] === 'b' && e.at > down.at).length;
    expect(reconnected).toBeGreaterThanOrEqual(1);
    await a.rpc(({ state }) => {
      state['stopLoad'] = true;
    });
    await b.rpc(({ state }) => {
      state['stopBurn'] = true;
    });
    const stats = await waitFor(
      () => a.rpc(({ state }) => ((state['load'] as LoadStats).running ? undefined : (state['load'] as LoadStats))),
      { timeoutMs: 10_000, what: 'the load to stop' },
    );
    expect(stats.error).toBeNull();
    await waitFor(() => b.rpc(({ state }) => state['burning'] === false), { timeoutMs: 10_000, what: 'b to stop burning' });
    const stopped = performance.now();
    const views = await waitForConvergence(cluster, 30_000);
    const convergedMs = performance.now() - stopped;
    for (const view of views) expect(view.registry.length).toBe(WINDOW);

    // b lost a (its side of the dropped link) and purged a's rows, then got them back by resync.
    expect(nodedowns(b, 'a')).toBeGreaterThanOrEqual(1);
    const counts = await countsOf(b);
    expect(counts.byReason['nodedown'] ?? 0).toBeGreaterThan(0);

    const peak = Math.max(...samples.map((s) => s.heapUsed));
    expect(peak, `a's heap after GC (baseline ${mib(baseline.heapUsed)})`).toBeLessThan(baseline.heapUsed + allowance);

    console.log(
      `[overload] slow peer: a wrote ${stats.ops} ops in ${(stats.elapsedMs / 1000).toFixed(1)} s (${Math.round(stats.ops / (stats.elapsedMs / 1000))} ops/s); ` +
        `first overload drop of b after ${Math.round(detectedMs)} ms; b dropped as overload ${nodedowns(a, 'b', 'overload')} times, c ${nodedowns(a, 'c', 'overload')} times; ` +
        `a's heap after GC ${mib(baseline.heapUsed)} baseline, ${mib(Math.min(...samples.map((s) => s.heapUsed)))}..${mib(peak)} during (${samples.length} samples), ` +
        `rss up to ${mib(Math.max(...samples.map((s) => s.rss)))}; ops b had not applied when the load stopped: ${unapplied} (~${mib(unapplied * opBytes)} at ${opBytes} B each); ` +
        `converged ${Math.round(convergedMs)} ms after; b purged ${counts.byReason['nodedown'] ?? 0} rows of a on nodedown and saw ${counts.events} events in ${counts.batches} batches`,
    );
  }, 150_000);
});

describe('overload (OS processes): an event loop blocked past the heartbeat timeout', () => {
  const heartbeat = { intervalMs: 200, timeoutMs: 1_000 };
  const BLOCK_MS = 5_000;
  const PROCS = 50;
  // The peers' redials meet the blocked node's stale links, and the mesh picks between two
  // connections by name order: block the seed and smallest name (a), and one in the middle (b).
  const BLOCKED = ['a', 'b'];

  /** Each node spawns PROCS processes; each registers "<node>/r/<i>" and joins "shared" and "<node>/g". */
  async function populate(node: TestNode): Promise<string[]> {
    const pids = await agentOn<string[]>(node, { op: 'spawn', count: PROCS });
    const calls = pids.flatMap((pid, i) => [
      { method: 'register', args: [`${node.name}/r/${i}`, { i }, { pid: { $pid: pid } }] },
      { method: 'join', args: ['shared', { i }, { pid: { $pid: pid } }] },
      { method: 'join', args: [`${node.name}/g`, null, { pid: { $pid: pid } }] },
    ]);
    await agentOn(node, { op: 'calls', group: GROUP, calls });
    return pids;
  }

  /** Monitor each pid from `node`; `state.remoteDowns` maps pid key → reason once it fires. */
  function monitorAll(node: TestNode, pids: string[]): Promise<unknown> {
    return node.rpc(({ node: n, api, state }, keys: string[]) => {
      const downs: Record<string, unknown> = {};
      state['remoteDowns'] = downs;
      for (const key of keys) {
        n.monitor(api.Pid.parse(key), (down: { reason: unknown }) => {
          downs[key] = down.reason;
        });
      }
      return null;
    }, pids);
  }

  it.each(BLOCKED)('%s, blocked, is declared down by its peers (purged, monitors fire noconnection) and rejoins cleanly when unblocked', async (name) => {
    cluster = await startCluster(['a', 'b', 'c'], { heartbeat, reconnect: { initialMs: 50, maxMs: 300 } });
    const blockedNode = cluster.node(name);
    const peers = cluster.nodes.filter((n) => n !== blockedNode);
    for (const n of cluster.nodes) await startGroup(n);
    const pids: Record<string, string[]> = {};
    for (const n of cluster.nodes) pids[n.name] = await populate(n);
    await waitForConvergence(cluster, 10_000);
    for (const n of cluster.nodes) await n.rpc(countEvents, GROUP);
    const blockedPids = pids[name]!;
    for (const peer of peers) await monitorAll(peer, blockedPids);
    const ownRows = PROCS * 3;
    for (const peer of peers) expect(await rowsOwnedBy(peer, name)).toBe(ownRows);

    // One of its processes exits, then its event loop is blocked. The Group's cleanup of that exit
    // is queued behind the block, so the peers can learn of it only from the resync.
    const victim = blockedPids[0]!;
    let unblockedAt: number | undefined;
    const blockedAt = performance.now();
    const blocked = blockedNode
      .rpc(
        ({ node, api }: RpcContext, arg: { ms: number; victim: string }) => {
          node.exit(api.Pid.parse(arg.victim), 'exited_while_blocked');
          const until = performance.now() + arg.ms;
          while (performance.now() < until) {
            // the fault under test
          }
          return null;
        },
        { ms: BLOCK_MS, victim },
      )
      .then(() => {
        unblockedAt = performance.now();
      });

    // The peers declare it down by heartbeat timeout, purge its rows and fire the monitors, all
    // while it is still blocked.
    const detected: string[] = [];
    for (const peer of peers) {
      const down = await peer.waitForEvent('nodedown', (e) => e['node'] === name, { since: blockedAt, timeoutMs: BLOCK_MS });
      expect(down.data['reason']).toBe('heartbeat_timeout');
      detected.push(`${peer.name} after ${Math.round(down.at - blockedAt)} ms`);
      await waitFor(async () => (await rowsOwnedBy(peer, name)) === 0, { timeoutMs: 2_000, what: `${peer.name} purging ${name}'s rows` });
      const downs = await peer.rpc(({ state }) => state['remoteDowns'] as Record<string, unknown>);
      expect(Object.keys(downs).sort()).toEqual([...blockedPids].sort());
      expect(new Set(Object.values(downs))).toEqual(new Set(['noconnection']));
      const counts = await countsOf(peer);
      expect(counts.byReason['nodedown']).toBe(ownRows);
    }
    expect(unblockedAt, `${name} was still blocked when its peers had purged it`).toBeUndefined();

    await blocked;
    // Its own view: when its loop runs again it finds both links dead and loses its peers too
    // (their entries purged here), then reconnects and resyncs.
    for (const peer of peers) await blockedNode.waitForEvent('nodedown', (e) => e['node'] === peer.name, { since: blockedAt, timeoutMs: 10_000 });
    const views = await waitForConvergence(cluster, 20_000);
    const rejoinMs = performance.now() - unblockedAt!;

    // Its still-alive entries are back on every node; the one that exited during the block is gone.
    for (const view of views) {
      const keys = view.registry.filter(([, key]) => key.startsWith(`${name}/`)).map(([, , pid]) => pid);
      expect(keys.sort()).toEqual(blockedPids.slice(1).sort());
      expect(view.members.some(([, , pid]) => pid === victim)).toBe(false);
      expect(view.registry.length).toBe(3 * PROCS - 1);
      expect(view.members.length).toBe(2 * (3 * PROCS - 1));
    }
    // Each node purged the other side exactly once (reason nodedown), then got its rows back.
    expect((await countsOf(blockedNode)).byReason['nodedown']).toBe(2 * ownRows);
    for (const peer of peers) expect((await countsOf(peer)).byReason['nodedown']).toBe(ownRows);
    const ownDowns = blockedNode.events.filter((e) => e.event === 'nodedown' && e.at >= blockedAt).map((e) => `${String(e.data['node'])}: ${String(e.data['reason'])}`);
    console.log(
      `[overload] ${name}'s event loop blocked ${BLOCK_MS} ms (heartbeat timeout ${heartbeat.timeoutMs} ms): detected by ${detected.join(', ')}; ` +
        `${name} saw nodedown ${ownDowns.join(', ')}; converged ${Math.round(rejoinMs)} ms after it was unblocked`,
    );
  }, 90_000);
});

describe('overload (OS processes): 10,000 processes dying at once', () => {
  const COUNT = 10_000;
  const GROUPS = 100;

  it('peers purge them in a few event batches, fast', async () => {
    cluster = await startCluster(['a', 'b', 'c']);
    const [a, b, c] = nodesOf(cluster);
    for (const n of cluster.nodes) await startGroup(n);
    await a.rpc(
      async ({ node, state }: RpcContext, arg: { group: string; count: number; groups: number }) => {
        const g = (state['groups'] as Record<string, any>)[arg.group];
        const idle = async (p: { receive(): Promise<unknown> }): Promise<void> => {
          await p.receive();
        };
        const pids: unknown[] = [];
        for (let i = 0; i < arg.count; i++) {
          const pid = node.spawn(idle);
          pids.push(pid);
          g.register(`p/${i}`, { i }, { pid });
          g.join(`grp/${i % arg.groups}`, { i }, { pid });
          if (i % 1_000 === 999) await new Promise((resolve) => setImmediate(resolve));
        }
        state['mass'] = pids;
        return null;
      },
      { group: GROUP, count: COUNT, groups: GROUPS },
    );
    for (const peer of [b, c]) {
      await waitFor(() => rowsOwnedBy(peer, 'a').then((rows) => rows === 2 * COUNT), { timeoutMs: 30_000, what: `${peer.name} holding a's ${2 * COUNT} rows` });
    }
    for (const n of cluster.nodes) await n.rpc(countEvents, GROUP);

    const killedAt = await a.rpc(({ node, state }) => {
      const at = performance.timeOrigin + performance.now();
      for (const pid of state['mass'] as unknown[]) node.exit(pid, 'mass_exit');
      return at;
    });
    const counts = new Map<string, Awaited<ReturnType<typeof countsOf>>>();
    for (const peer of [b, c]) {
      counts.set(
        peer.name,
        await waitFor(() => countsOf(peer).then((x) => (x.emptyAt > 0 && x.events === 2 * COUNT ? x : undefined)), {
          timeoutMs: 30_000,
          what: `${peer.name} purging the ${2 * COUNT} rows`,
        }),
      );
    }
    const local = await countsOf(a);
    // On a, the exits of one turn make one batch (the Group cleans up exits once per turn).
    expect(local.batches).toBe(1);
    expect(local.events).toBe(2 * COUNT);

    const purgeMs = Math.max(...[...counts.values()].map((x) => x.emptyAt - killedAt));
    for (const [name, x] of counts) {
      expect(x.byReason['mass_exit'], name).toBe(2 * COUNT);
      expect(x.byType['unregistered'], name).toBe(COUNT);
      expect(x.byType['left'], name).toBe(COUNT);
      // One batch per frame read: the deaths travel as 3 EXIT ops (4,096 pids each at most).
      expect(x.batches, name).toBeLessThanOrEqual(10);
    }
    // The speed is the bench's (D3P: median 39-58 ms warm); here, single-shot with cold code,
    // 0.29 s was measured alone (0.4-0.71 s before pids travelled as ids, with the cluster suite
    // beside it on a loaded 2-core CI runner): bounded generously.
    expect(purgeMs).toBeLessThan(10_000);
    await waitForConvergence(cluster, 10_000);
    console.log(
      `[overload] ${COUNT} processes (${2 * COUNT} rows) dying at once on a: last peer purged ${purgeMs.toFixed(1)} ms after the kill; ` +
        [...counts].map(([name, x]) => `${name}: ${x.events} events in ${x.batches} batches, first ${(x.firstBatchAt - killedAt).toFixed(1)} ms after the kill`).join(', ') +
        `; a: ${local.events} events in ${local.batches} batch, ${(local.lastBatchAt - killedAt).toFixed(1)} ms after the kill`,
    );
  }, 90_000);
});
