/**
 * `rollcall inspect` against a real dashboard (three simulated nodes, HTTP on 127.0.0.1): the
 * text tables, --json, the token from the option, the environment or the URL, and its errors.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInspect } from '../../../src/cli/inspect.js';
import { idle } from '../node/sim-helpers.js';
import { dashboardEnv, type DashboardEnv } from './helpers.js';

let env: DashboardEnv;

beforeAll(async () => {
  env = await dashboardEnv({ roles: { a: ['web'] } });
  const { a, b, ga, gb, sim } = env;
  ga.register('user/ann', { name: 'ann' }, { pid: idle(a) });
  gb.register('user/bob', { name: 'bob' }, { pid: idle(b) });
  gb.register('order/1', {}, { pid: idle(b) });
  ga.join('room/1', { seat: 1 }, { pid: idle(a) });
  gb.join('room/1', { seat: 2 }, { pid: idle(b) });
  await sim.until(() => ga.registryCount() === 3 && ga.memberCount() === 2, 'replicated');
});

afterAll(async () => {
  await env.teardown();
});

async function inspect(argv: string[], environment: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runInspect(argv, { out: (t) => (out += t), err: (t) => (err += t), env: environment });
  return { code, out, err };
}

const hostPort = (): string => new URL(env.dashboard.url).host;

describe('rollcall inspect', () => {
  it('prints nodes, registry keys, groups and members as aligned tables', async () => {
    const { code, out, err } = await inspect([env.dashboard.url, '--token', env.dashboard.token]);
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = out.split('\n');
    const header = lines.find((l) => l.startsWith('NODE'))!;
    expect(header).toMatch(/^NODE\s+LINK\s+INCARNATION\s+ADDRESS/);
    const rowA = lines.find((l) => l.startsWith('a '))!;
    expect(rowA).toContain('self');
    expect(rowA).toContain(String(env.a.incarnation));
    expect(rowA).toContain('web');
    expect(rowA).toContain('app: 1/1');
    // Aligned: the LINK column starts at the same offset in the header and in each node row.
    const linkAt = header.indexOf('LINK');
    for (const name of ['a', 'b', 'c']) {
      const row = lines.find((l) => l.startsWith(`${name} `))!;
      expect(row.slice(linkAt).startsWith(name === 'a' ? 'self' : 'up'), row).toBe(true);
    }
    expect(out).toMatch(/Registry \(3 keys\)/);
    const ann = env.ga.lookup('user/ann')!.pid.key;
    expect(lines.find((l) => l.startsWith('user/ann '))).toMatch(new RegExp(`^user/ann\\s+app\\s+\\(default\\)\\s+a\\s+${ann.replace(/\./g, '\\.')}\\s+\\{"name":"ann"\\}$`));
    expect(out).toMatch(/^order\/1\s+app\s+\(default\)\s+b\s/m);
    expect(out).toMatch(/^room\/1\s+app\s+\(default\)\s+2$/m);
    expect(out).toContain('Members of room/1 (app, (default): 2)');
    expect(out).toContain('{"seat":2}');
  });

  it('--prefix narrows the registry and groups; the token can come from ROLLCALL_TOKEN and host:port works', async () => {
    const { code, out } = await inspect([hostPort(), '--prefix', 'user/'], { ROLLCALL_TOKEN: env.dashboard.token });
    expect(code).toBe(0);
    expect(out).toMatch(/Registry \(2 keys, prefix "user\/"\)/);
    expect(out).toContain('user/ann');
    expect(out).toContain('user/bob');
    expect(out).not.toContain('order/1');
    expect(out).not.toContain('Members of');
  });

  it('--json prints the raw API answers; the token may ride in the URL', async () => {
    const { code, out } = await inspect([`${env.dashboard.url}?token=${env.dashboard.token}`, '--json', '--group', 'app']);
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json.cluster.node).toBe('a');
    expect(json.cluster.nodes.map((n: { name: string }) => n.name)).toEqual(['a', 'b', 'c']);
    expect(json.registry.items.map((e: { key: string }) => e.key)).toEqual(['order/1', 'user/ann', 'user/bob']);
    expect(json.groups.items).toEqual([{ group: 'app', cluster: null, key: 'room/1', members: 2 }]);
    expect(json.members).toHaveLength(1);
    expect(json.members[0]).toMatchObject({ key: 'room/1', total: 2 });
    expect(json.members[0].items.map((m: { meta: unknown }) => m.meta)).toEqual(expect.arrayContaining([{ seat: 1 }, { seat: 2 }]));
  });

  it('a wrong or missing token: exit 1 with a message that says what to do', async () => {
    const wrong = await inspect([env.dashboard.url, '--token', 'not-the-right-token-at-all']);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/refused the access token \(401\)/);
    expect(wrong.out).toBe('');
    const missing = await inspect([env.dashboard.url]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/needs its access token: pass --token or set ROLLCALL_TOKEN/);
  });

  it('an unreachable dashboard: exit 1 naming the address', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const { code, err } = await inspect([`127.0.0.1:${port}`, '--token', 'x'.repeat(20)]);
    expect(code).toBe(1);
    expect(err).toMatch(new RegExp(`cannot reach the dashboard at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
  });

  it('usage errors: exit 2; bad filters from the server: exit 1 with its message', async () => {
    expect((await inspect([])).code).toBe(2);
    expect((await inspect([hostPort(), '--bogus'])).err).toMatch(/unknown option --bogus/);
    expect((await inspect([hostPort(), '--limit', 'many'])).code).toBe(2);
    expect((await inspect(['--help'])).code).toBe(0);
    const bad = await inspect([hostPort(), '--group', 'nope'], { ROLLCALL_TOKEN: env.dashboard.token });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/400 bad_request: .*no Group named "nope"/);
  });

  it('node address form: usage errors before anything starts (exit 2, saying what to give)', async () => {
    const noGroup = await inspect(['a@127.0.0.1:4370'], { ROLLCALL_COOKIE: 'secret' });
    expect(noGroup.code).toBe(2);
    expect(noGroup.err).toMatch(/give the Groups to read with --group NAME/);
    const noCookie = await inspect(['a@127.0.0.1:4370', '--group', 'app'], {});
    expect(noCookie.code).toBe(2);
    expect(noCookie.err).toMatch(/no cookie: .*ROLLCALL_COOKIE=<secret> or pass --cookie-file/);
    const missingFile = await inspect(['a@127.0.0.1:4370', '--group', 'app', '--cookie-file', '/nonexistent/cookie'], {});
    expect(missingFile.code).toBe(2);
    expect(missingFile.err).toMatch(/--cookie-file \/nonexistent\/cookie: cannot read it \(ENOENT\)/);
    const token = await inspect(['a@127.0.0.1:4370', '--group', 'app', '--token', 'x'], { ROLLCALL_COOKIE: 'secret' });
    expect(token.code).toBe(2);
    expect(token.err).toMatch(/--token is for a dashboard URL/);
    const noPort = await inspect(['a@127.0.0.1', '--group', 'app'], { ROLLCALL_COOKIE: 'secret' });
    expect(noPort.code).toBe(2);
    expect(noPort.err).toMatch(/a@127\.0\.0\.1/);
    const twoGroups = await inspect([hostPort(), '--group', 'app', '--group', 'other'], { ROLLCALL_TOKEN: env.dashboard.token });
    expect(twoGroups.code).toBe(2);
    expect(twoGroups.err).toMatch(/one --group with a dashboard/);
    expect((await inspect([hostPort(), '--timeout', 'soon'])).err).toMatch(/--timeout "soon": a number of seconds/);
  });
});
