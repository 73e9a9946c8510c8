/**
 * Tenant views on a real cluster: three node OS processes over TCP. Two tenants register the same
 * key and join the same group on different nodes; every node's view of each tenant sees its own
 * entry only, and a third node's tenant monitors get that tenant's events only, with
 * tenant-relative keys, including the removal when the owner process exits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const NAMES = ['a', 'b', 'c'];

let cluster: TestCluster | undefined;

beforeAll(async () => {
  cluster = await startCluster(NAMES, { heartbeat: { intervalMs: 200, timeoutMs: 1000 } });
  for (const name of NAMES) {
    await cluster.node(name).rpc(async ({ node, api, state }) => {
      state['group'] = await api.Group.start(node, { name: 'tenants', log: false });
    });
  }
  await cluster.waitForGroupPeers();
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

describe('tenant views (OS processes)', () => {
  it('two tenants register the same key on different nodes: each sees only its own, events confined', async () => {
    const c = cluster!;
    // Node c listens through both tenants' views before anything happens.
    await c.node('c').rpc(({ state, api }) => {
      const group = state['group'] as { tenant(t: string): { monitor(p: unknown, cb: (events: Array<{ type: string; key: string; pid: { key: string }; reason: unknown }>) => void): void } };
      for (const tenant of ['acme', 'globex']) {
        const seen: string[] = [];
        state[`seen-${tenant}`] = seen;
        group.tenant(tenant).monitor(api.ALL, (events) => {
          for (const e of events) seen.push(`${e.type} ${e.key} ${e.pid.key} ${String(e.reason)}`);
        });
      }
    });
    const owners: Record<string, string> = {};
    for (const [name, tenant] of [['a', 'acme'], ['b', 'globex']] as const) {
      owners[tenant] = await c.node(name).rpc(({ node, state }, arg: { tenant: string }) => {
        const pid = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
          for (;;) await ctx.receive();
        });
        state['owner'] = pid;
        const view = (state['group'] as { tenant(t: string): { register(k: string, m: unknown, o: unknown): string; join(k: string, m: unknown, o: unknown): string } }).tenant(arg.tenant);
        if (view.register('svc', { tenant: arg.tenant }, { pid }) !== 'ok') throw new Error('register failed');
        view.join('room', {}, { pid });
        return pid.key as string;
      }, { tenant });
    }

    const read = (name: string): Promise<Record<string, { svc: string | null; room: string[]; registered: string[]; count: number }>> =>
      c.node(name).rpc(({ state }) => {
        type View = { lookup(k: string): { pid: { key: string } } | null; members(k: string): Array<{ pid: { key: string } }>; registered(): string[]; registryCount(): number };
        const group = state['group'] as { tenant(t: string): View };
        const out: Record<string, unknown> = {};
        for (const tenant of ['acme', 'globex', 'nobody']) {
          const view = group.tenant(tenant);
          out[tenant] = { svc: view.lookup('svc')?.pid.key ?? null, room: view.members('room').map((m) => m.pid.key), registered: view.registered(), count: view.registryCount() };
        }
        return out as Record<string, { svc: string | null; room: string[]; registered: string[]; count: number }>;
      });

    for (const name of NAMES) {
      const views = await waitFor(async () => {
        const v = await read(name);
        return v['acme']!.svc !== null && v['globex']!.svc !== null && v['acme']!.room.length === 1 && v['globex']!.room.length === 1 ? v : undefined;
      }, { what: `tenant entries replicated to ${name}` });
      expect(views).toEqual({
        acme: { svc: owners['acme'], room: [owners['acme']], registered: ['svc'], count: 1 },
        globex: { svc: owners['globex'], room: [owners['globex']], registered: ['svc'], count: 1 },
        nobody: { svc: null, room: [], registered: [], count: 0 },
      });
    }

    // The acme owner exits: acme's monitor on c sees its removals, globex's sees nothing more.
    await c.node('a').rpc(({ node, state }) => node.exit(state['owner'], 'shutdown'));
    const seen = await waitFor(async () => {
      const s = await c.node('c').rpc(({ state }) => ({ acme: state['seen-acme'] as string[], globex: state['seen-globex'] as string[] }));
      return s.acme.length === 4 ? s : undefined;
    }, { what: 'acme removals seen on c' });
    expect(seen.acme.slice(0, 2).sort()).toEqual([`joined room ${owners['acme']} null`, `registered svc ${owners['acme']} null`]);
    expect(seen.acme.slice(2).sort()).toEqual([`left room ${owners['acme']} shutdown`, `unregistered svc ${owners['acme']} shutdown`]);
    expect(seen.globex.sort()).toEqual([`joined room ${owners['globex']} null`, `registered svc ${owners['globex']} null`]);
    const after = await read('b');
    expect(after['acme']).toEqual({ svc: null, room: [], registered: [], count: 0 });
    expect(after['globex']!.svc).toBe(owners['globex']);
  }, 30_000);
});
