/**
 * The dashboard's HTTP API on three simulated nodes: authentication, the bind address, what each
 * endpoint returns after known operations, the event stream and its filters, limits, bad queries,
 * and writes refused unless enabled.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startDashboard, type DashboardEvent } from '../../../src/index.js';
import { waitFor } from '../../support/wait.js';
import { idle } from '../node/sim-helpers.js';
import { dashboardEnv, getJson, openStream, type DashboardEnv, type Stream } from './helpers.js';

let env: DashboardEnv | undefined;
const streams: Stream[] = [];

afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await env?.teardown();
  env = undefined;
});

async function start(options: Parameters<typeof dashboardEnv>[0] = {}): Promise<DashboardEnv> {
  env = await dashboardEnv(options);
  return env;
}

describe('dashboard security', () => {
  it('binds to 127.0.0.1 by default and makes up a random token', async () => {
    const { dashboard, a } = await start();
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(dashboard.token.length).toBeGreaterThanOrEqual(24);
    const other = await startDashboard(a);
    try {
      expect(other.token).not.toBe(dashboard.token);
      expect(other.url).not.toBe(dashboard.url);
    } finally {
      await other.close();
    }
  });

  it('every request needs the token: none → 401, wrong → 401, right → 200', async () => {
    const { dashboard } = await start();
    for (const path of ['/api/cluster', '/api/registry', '/api/groups', '/api/metrics', '/metrics', '/app.js', '/api/events']) {
      const none = await getJson(dashboard, path, { token: null });
      expect(none.status, path).toBe(401);
      const wrong = await getJson(dashboard, path, { token: `${dashboard.token}x` });
      expect(wrong.status, path).toBe(401);
    }
    const none = await getJson(dashboard, '/api/cluster', { token: null });
    expect(none.body).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('token') } });
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await getJson(dashboard, '/api/cluster')).status).toBe(200);
    // The page itself without a token: an explanation, not the app.
    const page = await getJson(dashboard, '/', { token: null });
    expect(page.status).toBe(401);
    expect(page.body).toContain('Access token required');
  });

  it('the browser entry trades ?token= for an HttpOnly cookie, which then authorizes the API', async () => {
    const { dashboard } = await start();
    const wrong = await fetch(new URL(`/?token=${dashboard.token}nope`, dashboard.url), { redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const entry = await fetch(new URL(`/?token=${dashboard.token}`, dashboard.url), { redirect: 'manual' });
    expect(entry.status).toBe(303);
    expect(entry.headers.get('location')).toBe('/');
    const cookie = entry.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const cookieHeader = cookie.split(';')[0]!;
    const page = await fetch(new URL('/', dashboard.url), { headers: { Cookie: cookieHeader } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script src="/app.js">');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const api = await fetch(new URL('/api/cluster', dashboard.url), { headers: { Cookie: cookieHeader } });
    expect(api.status).toBe(200);
    // ?token= is only for the entry page: the API wants the header or the cookie.
    const viaQuery = await getJson(dashboard, `/api/cluster?token=${dashboard.token}`, { token: null });
    expect(viaQuery.status).toBe(401);
  });

  it('a given token is used; a short one is refused at start', async () => {
    const { a } = await start();
    const token = 'a-fixed-token-for-the-test';
    const d = await startDashboard(a, { token });
    try {
      expect(d.token).toBe(token);
      expect((await getJson(d, '/api/cluster')).status).toBe(200);
    } finally {
      await d.close();
    }
    await expect(startDashboard(a, { token: 'short' })).rejects.toMatchObject({ code: 'ERR_ROLLCALL_INVALID_ARGUMENT' });
    await expect(startDashboard(a, { port: 70000 })).rejects.toMatchObject({ code: 'ERR_ROLLCALL_INVALID_ARGUMENT' });
  });

  it('no writes unless enabled; writes need the Authorization header even when enabled', async () => {
    const { dashboard, a, sim } = await start();
    const refused = await getJson(dashboard, '/api/nodes/disconnect?node=b', { method: 'POST' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('writes_disabled');
    expect(a.peers()).toContain('b');
    expect(() => dashboard.api.disconnect('b')).toThrow(/disabled/);
    expect((await getJson(dashboard, '/api/nodes/disconnect?node=b')).status).toBe(405);
    expect((await getJson(dashboard, '/api/cluster', { method: 'POST' })).status).toBe(405);

    const writable = await startDashboard(a, { allowWrites: true });
    try {
      const entry = await fetch(new URL(`/?token=${writable.token}`, writable.url), { redirect: 'manual' });
      const cookie = entry.headers.get('set-cookie')!.split(';')[0]!;
      const byCookie = await fetch(new URL('/api/nodes/disconnect?node=b', writable.url), { method: 'POST', headers: { Cookie: cookie } });
      expect(byCookie.status).toBe(403);
      const ok = await getJson(writable, '/api/nodes/disconnect?node=b', { method: 'POST' });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ node: 'b', wasConnected: true });
      await sim.until(() => !a.peers().includes('b') || a.peers().length === 2, 'disconnect processed');
    } finally {
      await writable.close();
    }
  });
});

describe('dashboard API content', () => {
  it('/api/cluster: every node with incarnation, link state, heartbeat age, roles and entry counts', async () => {
    const { a, b, c, ga, gb, gc, sim } = await start({ roles: { a: ['web'], b: ['api', 'worker'] } });
    const pa = idle(a);
    const pb = idle(b);
    ga.register('user/1', {}, { pid: pa });
    ga.join('room/1', {}, { pid: pa });
    gb.register('user/2', {}, { pid: pb });
    gb.register('user/3', {}, { pid: idle(b) });
    await sim.until(() => gc.registryCount() === 3 && ga.registryCount() === 3, 'replicated');
    const { body } = await getJson(env!.dashboard, '/api/cluster');
    expect(body.node).toBe('a');
    expect(body.groups).toEqual([{ name: 'app', clusters: [null], peers: ['b', 'c'] }]);
    expect(body.nodes.map((n: any) => [n.name, n.link, n.self])).toEqual([
      ['a', 'self', true],
      ['b', 'up', false],
      ['c', 'up', false],
    ]);
    const byName = Object.fromEntries(body.nodes.map((n: any) => [n.name, n]));
    expect(byName.a.incarnation).toBe(a.incarnation);
    expect(byName.b.incarnation).toBe(b.incarnation);
    expect(byName.c.incarnation).toBe(c.incarnation);
    expect(byName.b.address).toBe(b.address);
    expect(byName.a.roles).toEqual(['web']);
    expect(byName.b.roles).toEqual(['api', 'worker']);
    expect(byName.c.roles).toBeNull();
    expect(typeof byName.b.heartbeatAgeMs).toBe('number');
    expect(byName.b.heartbeatAgeMs).toBeLessThan(600);
    expect(byName.a.entries).toEqual([{ group: 'app', cluster: null, registrations: 1, memberships: 1 }]);
    expect(byName.b.entries).toEqual([{ group: 'app', cluster: null, registrations: 2, memberships: 0 }]);
    expect(byName.c.entries).toEqual([]);
    void gc;
  });

  it('/api/cluster: a crashed node shows as down with the reason', async () => {
    const { c, sim, a } = await start();
    await sim.crash(c);
    await sim.until(() => !a.peers().includes('c'), 'c down');
    const { body } = await getJson(env!.dashboard, '/api/cluster');
    const node = body.nodes.find((n: any) => n.name === 'c');
    expect(node.link).toBe('down');
    expect(typeof node.down.reason).toBe('string');
    expect(body.nodes.map((n: any) => n.name)).toEqual(['a', 'b', 'c']);
  });

  it('/api/registry: prefix, owner node, cluster and limit filters, meta as JSON', async () => {
    const { a, b, ga, gb, gc, sim, dashboard } = await start();
    ga.register('user/1', { name: 'ann', big: 10n }, { pid: idle(a) });
    gb.register('user/2', { name: 'bob' }, { pid: idle(b) });
    gb.register('order/9', {}, { pid: idle(b) });
    for (const g of [ga, gb, gc]) g.connect('eu');
    await sim.until(() => ga.nodes('eu').length === 3, 'eu connected');
    ga.register('user/eu', { region: 'eu' }, { pid: idle(a), cluster: 'eu' });
    await sim.until(() => ga.registryCount() === 3, 'replicated');

    const all = await getJson(dashboard, '/api/registry');
    expect(all.body.total).toBe(4);
    expect(all.body.items.map((e: any) => `${e.cluster ?? '-'} ${e.key}`)).toEqual(['- order/9', '- user/1', '- user/2', 'eu user/eu']);
    const users = await getJson(dashboard, '/api/registry?prefix=user/&cluster=');
    expect(users.body.items).toEqual([
      { group: 'app', cluster: null, key: 'user/1', pid: ga.lookup('user/1')!.pid.key, node: 'a', meta: { name: 'ann', big: '10' } },
      { group: 'app', cluster: null, key: 'user/2', pid: ga.lookup('user/2')!.pid.key, node: 'b', meta: { name: 'bob' } },
    ]);
    const onB = await getJson(dashboard, '/api/registry?node=b');
    expect(onB.body.items.map((e: any) => e.key)).toEqual(['order/9', 'user/2']);
    const eu = await getJson(dashboard, '/api/registry?cluster=eu&group=app');
    expect(eu.body.items.map((e: any) => e.key)).toEqual(['user/eu']);
    const limited = await getJson(dashboard, '/api/registry?limit=2');
    expect(limited.body).toMatchObject({ total: 4, truncated: true });
    expect(limited.body.items).toHaveLength(2);
    // The in-process API gives the same, without a token.
    expect(dashboard.api.registry({ prefix: 'user/', cluster: null })).toEqual(users.body);
    // Entry counts per cluster, the default one first.
    const nodeA = dashboard.api.cluster().nodes.find((n) => n.name === 'a')!;
    expect(nodeA.entries).toEqual([
      { group: 'app', cluster: null, registrations: 1, memberships: 0 },
      { group: 'app', cluster: 'eu', registrations: 1, memberships: 0 },
    ]);
    expect(dashboard.api.cluster().groups).toEqual([{ name: 'app', clusters: [null, 'eu'], peers: ['b', 'c'] }]);
  });

  it('/api/groups and /api/groups/members', async () => {
    const { a, b, ga, gb, sim, dashboard } = await start();
    const pa = idle(a);
    const pb = idle(b);
    ga.join('room/1', { seat: 1 }, { pid: pa });
    gb.join('room/1', { seat: 2 }, { pid: pb });
    gb.join('room/2', {}, { pid: pb });
    gb.join('lobby', {}, { pid: pb });
    await sim.until(() => ga.memberCount() === 4, 'replicated');
    const rooms = await getJson(dashboard, '/api/groups?prefix=room/');
    expect(rooms.body).toEqual({
      items: [
        { group: 'app', cluster: null, key: 'room/1', members: 2 },
        { group: 'app', cluster: null, key: 'room/2', members: 1 },
      ],
      total: 2,
      truncated: false,
    });
    const members = await getJson(dashboard, '/api/groups/members?key=room/1');
    expect(members.body.total).toBe(2);
    expect(members.body.items.map((m: any) => [m.node, m.meta]).sort()).toEqual([
      ['a', { seat: 1 }],
      ['b', { seat: 2 }],
    ]);
    expect((await getJson(dashboard, '/api/groups/members?key=room/1&limit=1')).body).toMatchObject({ total: 2, truncated: true });
    expect((await getJson(dashboard, '/api/groups/members?key=nobody')).body).toEqual({ items: [], total: 0, truncated: false });
  });

  it('/api/metrics counts registrations, joins and events per second, with node and group stats; /metrics serves Prometheus text', async () => {
    const { a, ga, sim, dashboard } = await start();
    for (let i = 0; i < 5; i++) ga.register(`k/${i}`, {}, { pid: idle(a) });
    ga.join('g', {}, { pid: idle(a) });
    await sim.run(1000);
    const m = (await getJson(dashboard, '/api/metrics')).body;
    expect(m.node).toBe('a');
    expect(m.totals.registrations).toBe(5);
    expect(m.totals.joins).toBe(1);
    expect(m.totals.events).toBe(6);
    expect(m.series.registrations.reduce((x: number, y: number) => x + y, 0)).toBe(5);
    expect(m.times.length).toBe(m.series.registrations.length);
    expect(m.perSecond.registrations).toBeGreaterThan(0);
    expect(m.stats.node.name).toBe('a');
    expect(m.stats.groups.map((g: { group: string }) => g.group)).toEqual([ga.name]);
    expect(m.stats.groups[0].ops.register).toBe(5);
    expect(m.eventStreams).toEqual({ open: 0, max: 32, dropped: 0 });
    ga.dispatch('g', 'hello');
    const prom = await fetch(new URL('/metrics', dashboard.url), { headers: { Authorization: `Bearer ${dashboard.token}` } });
    expect(prom.status).toBe(200);
    const text = await prom.text();
    expect(text).toMatch(/^rollcall_group_operations_total\{[^}]*op="register"[^}]*\} 5$/m);
    // The Groups shown are exposed with timing on: the dispatch is in the fan-out histogram.
    expect(text).toMatch(/^rollcall_group_fanout_size_count\{[^}]*\} 1$/m);
  });

  it('the hooks: metricsText serves /metrics, stats shows in /api/metrics', async () => {
    const { a } = await start();
    const d = await startDashboard(a, { metricsText: () => '# HELP x y\nx 1\n', stats: () => ({ lagMs: 3 }) });
    try {
      const prom = await fetch(new URL('/metrics', d.url), { headers: { Authorization: `Bearer ${d.token}` } });
      expect(prom.status).toBe(200);
      expect(prom.headers.get('content-type')).toContain('text/plain');
      expect(await prom.text()).toBe('# HELP x y\nx 1\n');
      expect((await getJson(d, '/api/metrics')).body.stats).toEqual({ lagMs: 3 });
    } finally {
      await d.close();
    }
  });
});

describe('dashboard event stream', () => {
  it('delivers a registration, a replicated join and a nodedown as they happen', async () => {
    const { a, b, c, ga, gb, sim, dashboard } = await start();
    const stream = await openStream(dashboard);
    streams.push(stream);
    const pa = idle(a);
    ga.register('user/7', { v: 1 }, { pid: pa });
    const registered = await waitFor(() => stream.events.find((e) => e.type === 'registered'), { what: 'registered event' });
    expect(registered).toMatchObject({ type: 'registered', group: 'app', cluster: null, key: 'user/7', pid: pa.key, node: 'a', meta: { v: 1 }, reason: null });
    gb.join('room/1', {}, { pid: idle(b) });
    await sim.until(() => ga.memberCount('room/1') === 1, 'replicated');
    await waitFor(() => stream.events.find((e) => e.type === 'joined' && e.node === 'b'), { what: 'joined event from b' });
    await sim.crash(c);
    await sim.until(() => !a.peers().includes('c'), 'c down');
    const down = await waitFor(() => stream.events.find((e) => e.type === 'nodedown'), { what: 'nodedown event' });
    expect(down).toMatchObject({ type: 'nodedown', node: 'c' });
  });

  it('filters by prefix, types, group and cluster', async () => {
    const { a, ga, dashboard } = await start();
    const byPrefix = await openStream(dashboard, '?prefix=user/');
    const byType = await openStream(dashboard, '?types=joined');
    const byCluster = await openStream(dashboard, '?cluster=eu&group=app');
    streams.push(byPrefix, byType, byCluster);
    const p = idle(a);
    ga.register('order/1', {}, { pid: p });
    ga.join('room/1', {}, { pid: p });
    ga.register('user/1', {}, { pid: p });
    await waitFor(() => byPrefix.events.length >= 1 && byType.events.length >= 1, { what: 'filtered events' });
    // The last event sent is user/1: once byPrefix has it, byType had its chance at every event.
    expect(byPrefix.events.map((e) => e.key)).toEqual(['user/1']);
    expect(byType.events.map((e) => `${e.type} ${e.key}`)).toEqual(['joined room/1']);
    expect(byCluster.events).toEqual([]);
    const inProcess: DashboardEvent[] = [];
    const stop = dashboard.api.events((e) => inProcess.push(e), { prefix: 'order/' });
    ga.unregister('order/1');
    ga.register('user/2', {}, { pid: p });
    stop();
    ga.register('order/2', {}, { pid: p });
    expect(inProcess.map((e) => `${e.type} ${e.key}`)).toEqual(['unregistered order/1']);
  });

  it('at most maxEventStreams streams; a client that does not read is dropped', async () => {
    const { a, ga, dashboard: _unused } = await start();
    void _unused;
    const d = await startDashboard(a, { maxEventStreams: 2, maxStreamBufferBytes: 64 * 1024 });
    try {
      const reader = await openStream(d);
      const stalled = await openStream(d, '', { paused: true });
      streams.push(reader, stalled);
      await expect(openStream(d)).rejects.toMatchObject({ status: 503 });
      const big = 'x'.repeat(7000);
      const p = idle(a);
      // Far more than the kernel's socket buffers hold: the stalled client's backlog passes the bound.
      for (let i = 0; i < 20_000 && d.api.metrics().eventStreams.dropped === 0; i++) {
        ga.register(`big/${i}`, { big }, { pid: p });
        // Small bursts, then a turn of the event loop: a client that reads keeps up.
        if (i % 5 === 4) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          reader.events.length = 0;
        }
      }
      await waitFor(() => d.api.metrics().eventStreams.dropped === 1, { what: 'stalled client dropped' });
      // Once it reads again, it finds its stream ended (a paused socket cannot notice before).
      stalled.response.resume();
      await waitFor(() => stalled.closed, { what: 'stalled stream closed' });
      expect(reader.closed).toBe(false);
      expect(d.api.metrics().eventStreams.open).toBe(1);
    } finally {
      await d.close();
    }
  });
});

describe('dashboard bad requests', () => {
  it('answers 400 with a stable code, and the node keeps going', async () => {
    const { dashboard } = await start();
    const cases: Array<[string, string]> = [
      ['/api/registry?limit=abc', 'bad_request'],
      ['/api/registry?limit=0', 'bad_request'],
      ['/api/registry?limit=1001', 'bad_request'],
      ['/api/registry?limit=-1', 'bad_request'],
      ['/api/registry?colour=red', 'bad_request'],
      ['/api/registry?prefix=a&prefix=b', 'bad_request'],
      ['/api/registry?group=nope', 'bad_request'],
      [`/api/registry?prefix=${'p'.repeat(2000)}`, 'bad_request'],
      ['/api/groups/members', 'bad_request'],
      ['/api/groups?limit=1.5', 'bad_request'],
      ['/api/events?types=exploded', 'bad_request'],
      ['/api/events?group=nope', 'bad_request'],
      ['/api/cluster?x=1', 'bad_request'],
    ];
    for (const [path, code] of cases) {
      const res = await getJson(dashboard, path);
      expect(res.status, path).toBe(400);
      expect(res.body.error.code, path).toBe(code);
      expect(typeof res.body.error.message).toBe('string');
    }
    const badCookie = await fetch(new URL('/api/cluster', dashboard.url), { headers: { Cookie: 'rollcall_dashboard=%E0%A4%A' } });
    expect(badCookie.status).toBe(401);
    expect((await getJson(dashboard, '/api/events', { method: 'HEAD' })).status).toBe(405);
    const missing = await getJson(dashboard, '/api/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect((await getJson(dashboard, '/api/cluster')).status).toBe(200);
  });
});
