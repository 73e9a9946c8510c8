/**
 * The syn / global-style Group conveniences on a real cluster: three node OS processes over TCP
 * on 127.0.0.1. updateMeta / updateMember replicate their read-modify-write, multiCall answers
 * early when a member dies during the call, strict mode refuses writes for other processes,
 * keepOldest and notifyBoth settle a conflict made on both sides of a real partition,
 * startRegisteredServer starts + registers + joins (and leaves nothing behind when the key is
 * taken), and the per-node / cluster-wide counts agree on every node.
 *
 * Every node runs one Group per feature (so each test's counts and listings are its own), and
 * "actor" processes: a process that runs functions sent to it (so a Group call can be made from
 * inside it, as strict mode requires), answers calls (or dies on its first one), and keeps
 * every other message in an inbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RpcContext, type TestCluster, type TestNode } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const NAMES = ['a', 'b', 'c'] as const;
type Name = (typeof NAMES)[number];
const GROUPS = ['syn', 'strict', 'oldest', 'notify', 'servers', 'counts'] as const;
type GroupName = (typeof GROUPS)[number];

let cluster: TestCluster | undefined;

const node = (name: Name): TestNode => cluster!.node(name);

beforeAll(async () => {
  cluster = await startCluster([...NAMES], { heartbeat: { intervalMs: 200, timeoutMs: 1000 }, reconnect: { initialMs: 50, maxMs: 300 } });
  await Promise.all(
    NAMES.map((name) =>
      node(name).rpc(async ({ node, api, state }) => {
        state['groups'] = {
          syn: await api.Group.start(node, { name: 'syn', log: false }),
          strict: await api.Group.start(node, { name: 'strict', log: false, strict: true }),
          oldest: await api.Group.start(node, { name: 'oldest', log: false, conflictStrategy: 'keepOldest' }),
          notify: await api.Group.start(node, { name: 'notify', log: false, conflictStrategy: 'notifyBoth' }),
          servers: await api.Group.start(node, { name: 'servers', log: false }),
          counts: await api.Group.start(node, { name: 'counts', log: false }),
        };
        const procs: Record<string, unknown> = {};
        const inboxes: Record<string, unknown[]> = {};
        const downs: Record<string, unknown> = {};
        state['procs'] = procs;
        state['inboxes'] = inboxes;
        state['downs'] = downs;
        state['spawn'] = (name: string, dieOnCall: boolean): unknown => {
          const inbox: unknown[] = [];
          const pid = node.spawn(async (ctx: { receive(): Promise<any> }) => {
            for (;;) {
              const msg = await ctx.receive();
              if (msg instanceof api.CallRequest) {
                if (dieOnCall) throw new Error(`${name} dies during the call`);
                msg.reply({ node: node.name, name, request: msg.request });
              } else if (msg !== null && typeof msg === 'object' && typeof msg.run === 'function') {
                // Runs inside this process: node.self() is this process.
                try {
                  msg.resolve(msg.run());
                } catch (error) {
                  msg.reject(error);
                }
              } else {
                inbox.push(msg);
              }
            }
          });
          procs[name] = pid;
          inboxes[name] = inbox;
          node.monitor(pid, (down: { reason: unknown }) => {
            downs[name] = down.reason;
          });
          return pid;
        };
        // Run fn inside the actor `name`; settles with what fn returns or throws there.
        state['runIn'] = (name: string, fn: () => unknown): Promise<unknown> =>
          new Promise((resolve, reject) => node.send(procs[name], { run: fn, resolve, reject }));
        // A write's result, or the code of the error it threw.
        state['attempt'] = (write: () => unknown): unknown => {
          try {
            return write();
          } catch (error) {
            return (error as { code: string }).code;
          }
        };
        // The Servers started by startRegisteredServer: a counter that starts at its arg.
        state['Counter'] = class extends api.Server {
          n = 0;
          init(start: number): void {
            this.n = start;
          }
          handleCall(request: unknown): unknown {
            return request === 'get' ? this.n : ++this.n;
          }
        };
      }),
    ),
  );
  await waitFor(
    async () => {
      const views = await Promise.all(NAMES.map((n) => node(n).rpc(({ state }, groups: readonly string[]) => groups.map((g) => (state['groups'] as any)[g].nodes().length as number), GROUPS)));
      return views.every((counts) => counts.every((c) => c === NAMES.length - 1));
    },
    { what: 'every Group sees its two peers' },
  );
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

/** Spawn an actor on `on`; its pid key. With `dieOnCall`, it exits on the first call it gets. */
function spawn(on: Name, name: string, dieOnCall = false): Promise<string> {
  return node(on).rpc<string, { name: string; dieOnCall: boolean }>(({ state }, arg: { name: string; dieOnCall: boolean }) => (state['spawn'] as (n: string, d: boolean) => string)(arg.name, arg.dieOnCall), { name, dieOnCall });
}

/** Wait until `read` (run on every node) returns `expected` (deep-equal) everywhere. */
async function everywhere<A>(what: string, read: (ctx: RpcContext, arg: A) => unknown, arg: A, expected: unknown): Promise<void> {
  const want = JSON.stringify(expected);
  let last: unknown;
  await waitFor(
    async () => {
      last = await Promise.all(NAMES.map((n) => node(n).rpc(read, arg)));
      return (last as unknown[]).every((view) => JSON.stringify(view) === want);
    },
    { timeoutMs: 10_000, what: `${what} on every node (want ${want})` },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last views: ${JSON.stringify(last)}`);
  });
}

/** `lookup(key)` of a Group, with the pid as its key. */
function lookupOf(ctx: RpcContext, arg: { group: string; key: string }): unknown {
  const row = (ctx.state['groups'] as any)[arg.group].lookup(arg.key);
  return row === null ? null : { pid: row.pid.key, meta: row.meta };
}

/** `members(key)` of a Group, pids as keys. */
function membersOf(ctx: RpcContext, arg: { group: string; key: string }): unknown {
  return (ctx.state['groups'] as any)[arg.group].members(arg.key).map((e: any) => ({ pid: e.pid.key, meta: e.meta }));
}

async function expectConsistent(group: GroupName): Promise<void> {
  for (const n of NAMES) {
    expect(await node(n).rpc(({ state }, g: string) => (state['groups'] as any)[g].checkConsistency(), group), `${n}/${group} checkConsistency`).toEqual([]);
  }
}

describe('syn-style Group conveniences (OS processes over TCP)', () => {
  it('updateMeta / updateMember: read-modify-write on the owner, replicated to every node, refused elsewhere', async () => {
    const pa = await spawn('a', 'cfg-owner');
    const pb = await spawn('b', 'room-member');
    // c watches the key: it must see every update, in order, with previousMeta.
    await node('c').rpc(({ state }) => {
      const events: unknown[] = [];
      state['cfgEvents'] = events;
      (state['groups'] as any).syn.monitor('cfg', (batch: any[]) => {
        for (const e of batch) events.push({ type: e.type, meta: e.meta, previousMeta: e.previousMeta });
      });
    });
    expect(await node('a').rpc(({ api, state }, pid: string) => (state['groups'] as any).syn.register('cfg', { n: 0, owner: 'a' }, { pid: api.Pid.parse(pid) }), pa)).toBe('ok');
    await everywhere('cfg registered', lookupOf, { group: 'syn', key: 'cfg' }, { pid: pa, meta: { n: 0, owner: 'a' } });

    const results = await node('a').rpc(({ state }) => {
      const syn = (state['groups'] as any).syn;
      const out: unknown[] = [];
      for (let i = 0; i < 10; i++) out.push(syn.updateMeta('cfg', (meta: any) => ({ ...meta, n: meta.n + 1 })));
      let thrown = '';
      try {
        syn.updateMeta('cfg', () => {
          throw new Error('boom');
        });
      } catch (error) {
        thrown = (error as Error).message;
      }
      return { out, thrown, missing: syn.updateMeta('no-such-key', (m: unknown) => m), after: syn.lookup('cfg').meta };
    });
    expect(results).toEqual({ out: Array(10).fill('ok'), thrown: 'boom', missing: 'not_found', after: { n: 10, owner: 'a' } });
    // Another node sees the registration but cannot run a function on a's process's entry.
    expect(await node('b').rpc(({ state }) => (state['groups'] as any).syn.updateMeta('cfg', () => ({ hijacked: true })))).toBe('not_owner');
    await everywhere('cfg updated ten times', lookupOf, { group: 'syn', key: 'cfg' }, { pid: pa, meta: { n: 10, owner: 'a' } });
    const expectedEvents = Array.from({ length: 11 }, (_, n) => ({ type: 'registered', meta: { n, owner: 'a' }, previousMeta: n === 0 ? null : { n: n - 1, owner: 'a' } }));
    await waitFor(async () => (await node('c').rpc(({ state }) => (state['cfgEvents'] as unknown[]).length)) >= 11, { what: 'c receives the update events' });
    expect(await node('c').rpc(({ state }) => state['cfgEvents'])).toEqual(expectedEvents);

    // updateMember keeps the topics and the join count, and replicates the new meta.
    expect(await node('b').rpc(({ api, state }, pid: string) => (state['groups'] as any).syn.join('room', { typing: false, edits: 0 }, { pid: api.Pid.parse(pid), topics: ['chat'] }), pb)).toBe('ok');
    await everywhere('b joined room', membersOf, { group: 'syn', key: 'room' }, [{ pid: pb, meta: { typing: false, edits: 0 } }]);
    expect(await node('c').rpc(({ api, state }, pid: string) => (state['groups'] as any).syn.updateMember('room', () => ({ hijacked: true }), { pid: api.Pid.parse(pid) }), pb)).toBe('not_owner');
    const memberResults = await node('b').rpc(({ api, state }, pid: string) => {
      const syn = (state['groups'] as any).syn;
      const p = api.Pid.parse(pid);
      const update = (meta: any): unknown => ({ typing: true, edits: meta.edits + 1 });
      return [syn.updateMember('room', update, { pid: p }), syn.updateMember('room', update, { pid: p }), syn.updateMember('hall', update, { pid: p })];
    }, pb);
    expect(memberResults).toEqual(['ok', 'ok', 'not_found']);
    await everywhere('room member updated', membersOf, { group: 'syn', key: 'room' }, [{ pid: pb, meta: { typing: true, edits: 2 } }]);
    await everywhere(
      'topics and join count kept',
      ({ api, state }, pid: string) => {
        const info = (state['groups'] as any).syn.memberInfo('room', { pid: api.Pid.parse(pid) });
        return info === null ? null : { topics: info.topics, joins: info.joins };
      },
      pb,
      { topics: ['chat'], joins: 1 },
    );
    await expectConsistent('syn');
  });

  it('multiCall: members on three nodes, one dies during the call: the others reply, the dead one is in bad, long before the timeout', async () => {
    const [wa, wb, wc] = await Promise.all([spawn('a', 'worker-a'), spawn('b', 'worker-b'), spawn('c', 'worker-c', true)]);
    for (const [on, pid] of [['a', wa], ['b', wb], ['c', wc]] as const) {
      expect(await node(on).rpc(({ api, state }, p: string) => (state['groups'] as any).syn.join('workers', {}, { pid: api.Pid.parse(p) }), pid)).toBe('ok');
    }
    await everywhere('three workers', membersOf, { group: 'syn', key: 'workers' }, [wa, wb, wc].map((pid) => ({ pid, meta: {} })));
    const timeoutMs = 20_000;
    const call = (from: Name): Promise<{ replies: unknown[]; bad: string[]; ms: number }> =>
      node(from).rpc(async ({ state }, t: number) => {
        const started = performance.now();
        const { replies, bad } = await (state['groups'] as any).syn.multiCall('workers', 'status', { timeoutMs: t });
        return { replies, bad, ms: performance.now() - started };
      }, timeoutMs);
    const first = await call('a');
    expect({ replies: first.replies, bad: first.bad }).toEqual({
      replies: [
        { pid: wa, reply: { node: 'a', name: 'worker-a', request: 'status' } },
        { pid: wb, reply: { node: 'b', name: 'worker-b', request: 'status' } },
      ],
      bad: [wc],
    });
    // Early: the exit of worker-c fails its call at once, not at timeoutMs.
    expect(first.ms).toBeLessThan(timeoutMs / 4);
    expect(await node('c').rpc(({ state }) => String((state['downs'] as Record<string, unknown>)['worker-c']))).toContain('worker-c dies during the call');
    // The dead member leaves everywhere; a second multiCall (from another node) has no bad.
    await everywhere('worker-c gone', membersOf, { group: 'syn', key: 'workers' }, [wa, wb].map((pid) => ({ pid, meta: {} })));
    const second = await call('b');
    expect({ replies: second.replies.length, bad: second.bad }).toEqual({ replies: 2, bad: [] });
    expect(await node('c').rpc(({ state }) => (state['groups'] as any).syn.multiCall('nobody-here', 'status'))).toEqual({ replies: [], bad: [] });
    await expectConsistent('syn');
  });

  it('strict mode: a process writes only its own entries, on every node; refused writes leave nothing', async () => {
    const [p1, p2] = [await spawn('a', 'strict-1'), await spawn('a', 'strict-2')];
    // Outside any process (the rpc itself): nobody to act for.
    const outside = await node('a').rpc(({ api, state }, pid: string) => {
      const strict = (state['groups'] as any).strict;
      const codes: string[] = [];
      for (const write of [() => strict.register('s/outside', {}, { pid: api.Pid.parse(pid) }), () => strict.join('s/room', {}, { pid: api.Pid.parse(pid) })]) {
        try {
          write();
          codes.push('ok');
        } catch (error) {
          codes.push((error as { code: string }).code);
        }
      }
      return codes;
    }, p1);
    expect(outside).toEqual(['ERR_ROLLCALL_INVALID_ARGUMENT', 'ERR_ROLLCALL_INVALID_ARGUMENT']);
    // Inside strict-1: its own writes succeed, writes for strict-2 throw.
    const own = await node('a').rpc(({ api, state }, other: string) => {
      const strict = (state['groups'] as any).strict;
      return (state['runIn'] as (n: string, fn: () => unknown) => Promise<unknown>)('strict-1', () => {
        const attempt = state['attempt'] as (write: () => unknown) => unknown;
        const pid = api.Pid.parse(other);
        return [
          attempt(() => strict.register('s/one', { v: 1 })),
          attempt(() => strict.join('s/room', { typing: false })),
          attempt(() => strict.updateMeta('s/one', (m: any) => ({ v: m.v + 1 }))),
          attempt(() => strict.updateMember('s/room', () => ({ typing: true }))),
          attempt(() => strict.register('s/two', {}, { pid })),
          attempt(() => strict.join('s/room', {}, { pid })),
        ];
      });
    }, p2);
    expect(own).toEqual(['ok', 'ok', 'ok', 'ok', 'ERR_ROLLCALL_INVALID_ARGUMENT', 'ERR_ROLLCALL_INVALID_ARGUMENT']);
    // Inside strict-2: strict-1's entries are not its own to change.
    const foreign = await node('a').rpc(({ api, state }, other: string) => {
      const strict = (state['groups'] as any).strict;
      return (state['runIn'] as (n: string, fn: () => unknown) => Promise<unknown>)('strict-2', () => {
        const attempt = state['attempt'] as (write: () => unknown) => unknown;
        const pid = api.Pid.parse(other);
        return [
          attempt(() => strict.updateMeta('s/one', () => ({ v: 99 }))),
          attempt(() => strict.unregister('s/one')),
          attempt(() => strict.leave('s/room', { pid })),
          attempt(() => strict.updateMember('s/room', () => ({ typing: 'hijacked' }), { pid })),
        ];
      });
    }, p1);
    expect(foreign).toEqual(Array(4).fill('ERR_ROLLCALL_INVALID_ARGUMENT'));
    // Every node (all strict; reads are not restricted) sees exactly strict-1's own writes.
    const view = ({ state }: RpcContext): unknown => {
      const strict = (state['groups'] as any).strict;
      const one = strict.lookup('s/one');
      return { registered: strict.registered(), one: one && { pid: one.pid.key, meta: one.meta }, room: strict.members('s/room').map((e: any) => ({ pid: e.pid.key, meta: e.meta })) };
    };
    await everywhere('strict-1 own entries', view, undefined, { registered: ['s/one'], one: { pid: p1, meta: { v: 2 } }, room: [{ pid: p1, meta: { typing: true } }] });
    // A strict Group still drops the entries of a process that dies.
    await node('a').rpc(({ node, state }) => node.exit((state['procs'] as Record<string, unknown>)['strict-1'], 'kill'));
    await everywhere('strict-1 gone', view, undefined, { registered: [], one: null, room: [] });
    await expectConsistent('strict');
  });

  it('startRegisteredServer: started, registered, joined, visible everywhere; the same key on another node rejects with NameTakenError and leaves nothing', async () => {
    const pid = await node('a').rpc(({ state }) => (state['groups'] as any).servers.startRegisteredServer('svc/counter', state['Counter'], 5, { meta: { kind: 'tool' }, groups: ['tools', { key: 'all', meta: { weight: 1 } }] }));
    await everywhere('server registered', lookupOf, { group: 'servers', key: 'svc/counter' }, { pid, meta: { kind: 'tool' } });
    await everywhere('server in tools', membersOf, { group: 'servers', key: 'tools' }, [{ pid, meta: {} }]);
    await everywhere('server in all', membersOf, { group: 'servers', key: 'all' }, [{ pid, meta: { weight: 1 } }]);
    // It is the Server, started with its arg, reachable from another node.
    expect(await node('c').rpc(({ api, node }, p: string) => node.call(api.Pid.parse(p), 'get'), pid)).toBe(5);
    const listing = ({ state }: RpcContext): unknown => (state['groups'] as any).servers.registeredServers().map((s: any) => ({ ...s, pid: s.pid.key }));
    expect(await node('a').rpc(listing)).toEqual([{ pid, key: 'svc/counter', cluster: null, groups: ['tools', 'all'] }]);
    expect(await node('b').rpc(listing)).toEqual([]);

    /**
     * Start `key` on a node at wall time `at` (one machine, one clock: racers start together); the
     * outcome, and the node's process count before and after.
     */
    const start = (on: Name, key: string, at = 0): Promise<{ ok?: string; code?: string; name?: string; holder?: string; before: number; after: number }> =>
      node(on).rpc(async ({ node, state }, arg: { key: string; at: number }) => {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, arg.at - Date.now())));
        const before = node.processCount() as number;
        try {
          const p = await (state['groups'] as any).servers.startRegisteredServer(arg.key, state['Counter'], 0, { groups: ['tools'] });
          return { ok: p.key as string, before, after: node.processCount() as number };
        } catch (error) {
          const e = error as { code: string; name: string; holder?: { key: string } };
          return { code: e.code, name: e.name, holder: e.holder?.key, before, after: node.processCount() as number };
        }
      }, { key, at });
    const taken = await start('b', 'svc/counter');
    expect(taken).toEqual({ code: 'ERR_ROLLCALL_NAME_TAKEN', name: 'NameTakenError', holder: pid, before: taken.before, after: taken.before });
    expect(await node('b').rpc(listing)).toEqual([]);

    // b and c race for a fresh key: one wins, the loser's server is undone (no process, no
    // registration, no membership left).
    const at = Date.now() + 200;
    const [rb, rc] = await Promise.all([start('b', 'svc/race', at), start('c', 'svc/race', at)]);
    const outcomes = [rb, rc];
    const winners = outcomes.filter((o) => o.ok !== undefined);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.ok!;
    const loser = outcomes.find((o) => o.ok === undefined)!;
    // The holder is known when the loser's node already has the winner's registration; when a
    // lock granter answered 'taken' before that registration reached the loser, it is not.
    expect([winner, undefined]).toContain(loser.holder);
    expect(loser).toEqual({ code: 'ERR_ROLLCALL_NAME_TAKEN', name: 'NameTakenError', holder: loser.holder, before: loser.before, after: loser.before });
    const loserNode: Name = rb.ok === undefined ? 'b' : 'c';
    await waitFor(async () => (await node(loserNode).rpc(({ node }) => node.processCount() as number)) === loser.before, { what: `${loserNode} has no process left of its start` });
    expect(await node(loserNode).rpc(listing)).toEqual([]);
    await everywhere('race winner registered', lookupOf, { group: 'servers', key: 'svc/race' }, { pid: winner, meta: {} });
    await everywhere('tools: the two servers', membersOf, { group: 'servers', key: 'tools' }, [pid, winner].sort().map((p) => ({ pid: p, meta: {} })));

    // A server that exits leaves the listing, the registry and its groups.
    await node('a').rpc(({ api, node }, p: string) => node.exit(api.Pid.parse(p), 'kill'), pid);
    expect(await node('a').rpc(listing)).toEqual([]);
    await everywhere('server gone', lookupOf, { group: 'servers', key: 'svc/counter' }, null);
    await everywhere('all: empty', membersOf, { group: 'servers', key: 'all' }, []);
    await expectConsistent('servers');
  });

  it('counts per node and cluster-wide agree on every node, and follow exits and leaves', async () => {
    const pids = {
      a1: await spawn('a', 'count-a1'),
      a2: await spawn('a', 'count-a2'),
      b1: await spawn('b', 'count-b1'),
      c1: await spawn('c', 'count-c1'),
    };
    const write = (on: Name, calls: Array<[op: 'register' | 'join' | 'leave', key: string, pid: string]>): Promise<string[]> =>
      node(on).rpc(({ api, state }, list: Array<[string, string, string]>) => {
        const counts = (state['groups'] as any).counts;
        return list.map(([op, key, p]) => (op === 'leave' ? counts.leave(key, { pid: api.Pid.parse(p) }) : counts[op](key, {}, { pid: api.Pid.parse(p) })));
      }, calls);
    expect(await write('a', [['register', 'k/a1', pids.a1], ['register', 'k/a2', pids.a2], ['join', 'g1', pids.a1], ['join', 'g1', pids.a2]])).toEqual(Array(4).fill('ok'));
    expect(await write('b', [['register', 'k/b1', pids.b1], ['join', 'g1', pids.b1]])).toEqual(['ok', 'ok']);
    expect(await write('c', [['join', 'g1', pids.c1], ['join', 'g2', pids.c1]])).toEqual(['ok', 'ok']);
    const counts = ({ state }: RpcContext): unknown => {
      const g = (state['groups'] as any).counts;
      const byNode = (n: string): unknown => ({
        registry: g.registryCount({ node: n }),
        g1: g.memberCount('g1', { node: n }),
        g2: g.memberCount('g2', { node: n }),
        members: g.memberCount(undefined, { node: n }),
        groups: g.groupCount({ node: n }),
      });
      return { registry: g.registryCount(), g1: g.memberCount('g1'), g2: g.memberCount('g2'), members: g.memberCount(), groups: g.groupCount(), a: byNode('a'), b: byNode('b'), c: byNode('c') };
    };
    await everywhere('counts', counts, undefined, {
      registry: 3,
      g1: 4,
      g2: 1,
      members: 5,
      groups: 2,
      a: { registry: 2, g1: 2, g2: 0, members: 2, groups: 1 },
      b: { registry: 1, g1: 1, g2: 0, members: 1, groups: 1 },
      c: { registry: 0, g1: 1, g2: 1, members: 2, groups: 2 },
    });
    // The local counts are the per-node counts of this node.
    expect(await node('a').rpc(({ state }) => [(state['groups'] as any).counts.localRegistryCount(), (state['groups'] as any).counts.localMemberCount('g1')])).toEqual([2, 2]);
    // a1 exits (one registration and one membership go), c1 leaves g2 (a group goes).
    await node('a').rpc(({ api, node }, p: string) => node.exit(api.Pid.parse(p), 'kill'), pids.a1);
    expect(await write('c', [['leave', 'g2', pids.c1]])).toEqual(['ok']);
    await everywhere('counts after an exit and a leave', counts, undefined, {
      registry: 2,
      g1: 3,
      g2: 0,
      members: 3,
      groups: 1,
      a: { registry: 1, g1: 1, g2: 0, members: 1, groups: 1 },
      b: { registry: 1, g1: 1, g2: 0, members: 1, groups: 1 },
      c: { registry: 0, g1: 1, g2: 0, members: 1, groups: 1 },
    });
    await expectConsistent('counts');
  });

  it('conflict strategies on a real partition heal: keepOldest keeps the earlier registration and kills the later; notifyBoth unregisters both, notifies both, kills nobody', async () => {
    const oa = await spawn('a', 'oldest-a');
    const na = await spawn('a', 'notify-a');
    const ob = await spawn('b', 'oldest-b');
    const nb = await spawn('b', 'notify-b');
    // a alone on one side, b and c on the other.
    await cluster!.cut('a', 'b', { closeNow: true });
    await cluster!.cut('a', 'c', { closeNow: true });
    const peersOf = ({ state }: RpcContext): unknown => ['oldest', 'notify'].map((g) => (state['groups'] as any)[g].nodes().sort());
    await waitFor(
      async () => {
        const [pa, pb, pc] = await Promise.all(NAMES.map((n) => node(n).rpc(peersOf)));
        return JSON.stringify([pa, pb, pc]) === JSON.stringify([[[], []], [['c'], ['c']], [['b'], ['b']]]);
      },
      { what: 'a partitioned from b and c' },
    );
    const register = (on: Name, side: string, pidsByGroup: { oldest: string; notify: string }): Promise<{ results: string[]; time: number }> =>
      node(on).rpc(({ api, state }, arg: { side: string; oldest: string; notify: string }) => {
        const groups = state['groups'] as any;
        const results = [groups.oldest.register('dup', { side: arg.side }, { pid: api.Pid.parse(arg.oldest) }), groups.notify.register('dup', { side: arg.side }, { pid: api.Pid.parse(arg.notify) })];
        return { results, time: Math.max(groups.oldest.lookup('dup').time, groups.notify.lookup('dup').time) };
      }, { side, ...pidsByGroup });
    const first = await register('a', 'a', { oldest: oa, notify: na });
    expect(first.results).toEqual(['ok', 'ok']);
    // b registers strictly later by its own wall clock (keepOldest must then prefer a's).
    await waitFor(async () => (await node('b').rpc(({ node }) => node.clock.wallNow() as number)) > first.time, { what: "b's clock passes a's registration time" });
    const second = await register('b', 'b', { oldest: ob, notify: nb });
    expect(second.results).toEqual(['ok', 'ok']);
    expect(second.time).toBeGreaterThan(first.time);
    // Both sides hold their own registration while partitioned.
    expect(await node('a').rpc(lookupOf, { group: 'oldest', key: 'dup' })).toEqual({ pid: oa, meta: { side: 'a' } });
    await waitFor(async () => JSON.stringify(await node('c').rpc(lookupOf, { group: 'oldest', key: 'dup' })) === JSON.stringify({ pid: ob, meta: { side: 'b' } }), { what: 'c sees b’s registration' });

    await cluster!.heal('a', 'b');
    await cluster!.heal('a', 'c');
    await waitFor(async () => (await Promise.all(NAMES.map((n) => node(n).rpc(peersOf)))).every((views) => (views as string[][]).every((peers) => peers.length === 2)), {
      what: 'the Groups meet again',
    });

    // keepOldest: a's earlier registration everywhere, b's process killed with the conflict reason.
    await everywhere('keepOldest keeps a’s registration', lookupOf, { group: 'oldest', key: 'dup' }, { pid: oa, meta: { side: 'a' } });
    await waitFor(async () => (await node('b').rpc(({ state }) => (state['downs'] as Record<string, unknown>)['oldest-b'])) !== undefined, { what: 'oldest-b killed' });
    expect(await node('b').rpc(({ state }) => (state['downs'] as Record<string, unknown>)['oldest-b'])).toEqual({ reason: 'group_registry_conflict', key: 'dup', meta: { side: 'a' } });
    expect(await node('a').rpc(({ api, node }, p: string) => node.isAlive(api.Pid.parse(p)), oa)).toBe(true);

    // notifyBoth: nobody holds the key anywhere, both processes alive, each told once of the other.
    await everywhere('notifyBoth unregisters both', ({ state }) => [(state['groups'] as any).notify.lookup('dup'), (state['groups'] as any).notify.registered()], undefined, [null, []]);
    const inbox = (on: Name, name: string): Promise<unknown[]> => node(on).rpc(({ state }, n: string) => (state['inboxes'] as Record<string, unknown[]>)[n]!, name);
    await waitFor(async () => (await inbox('a', 'notify-a')).length > 0 && (await inbox('b', 'notify-b')).length > 0, { what: 'both notifyBoth processes are told' });
    expect(await inbox('a', 'notify-a')).toEqual([{ type: 'rollcall_name_conflict', group: 'notify', cluster: null, key: 'dup', other: nb }]);
    expect(await inbox('b', 'notify-b')).toEqual([{ type: 'rollcall_name_conflict', group: 'notify', cluster: null, key: 'dup', other: na }]);
    expect(await node('a').rpc(({ api, node }, p: string) => node.isAlive(api.Pid.parse(p)), na)).toBe(true);
    expect(await node('b').rpc(({ api, node }, p: string) => node.isAlive(api.Pid.parse(p)), nb)).toBe(true);
    expect(await node('b').rpc(({ state }) => (state['downs'] as Record<string, unknown>)['notify-b'] ?? null)).toBeNull();

    for (const group of GROUPS) await expectConsistent(group);
    // Still told once each (the heal's resyncs do not repeat the notice).
    expect([(await inbox('a', 'notify-a')).length, (await inbox('b', 'notify-b')).length]).toEqual([1, 1]);
  });
});
