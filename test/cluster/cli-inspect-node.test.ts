/**
 * `rollcall inspect name@host:port --group g` against a real two-node cluster (OS processes over
 * TCP): the command is itself an OS process whose temporary node joins the cluster, reads the
 * Group and leaves gracefully. Checked: the JSON and text output, a wrong cookie and an
 * unreachable node.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { deadPort, waitFor } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** startCluster's default cookie. */
const COOKIE = 'test-cookie';

let cluster: TestCluster;
let primaryPid = '';
let workerPid = '';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function inspect(args: string[], cookie: string): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, ROLLCALL_COOKIE: cookie };
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'inspect', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}


beforeAll(async () => {
  cluster = await startCluster(['a', 'b']);
  for (const n of cluster.nodes) {
    await n.rpc(async ({ node, api, state }) => {
      state['group'] = await api.Group.start(node, { name: 'app', log: false });
    });
  }
  primaryPid = await cluster.node('a').rpc(({ node, state }) => {
    const pid = node.spawn(async (ctx: { receive(): Promise<unknown> }) => void (await ctx.receive()));
    (state['group'] as any).register('svc/primary', { role: 'primary', shard: 3 }, { pid });
    return pid.key as string;
  });
  workerPid = await cluster.node('b').rpc(({ node, state }) => {
    const pid = node.spawn(async (ctx: { receive(): Promise<unknown> }) => void (await ctx.receive()));
    (state['group'] as any).join('workers', { slot: 'b1' }, { pid });
    return pid.key as string;
  });
  // Both writes replicated inside the cluster before anyone looks.
  await waitFor(async () => (await cluster.node('a').rpc(({ state }) => (state['group'] as any).memberCount('workers'))) === 1, { what: 'a sees b join workers' });
  await waitFor(async () => (await cluster.node('b').rpc(({ state }) => (state['group'] as any).registryCount())) === 1, { what: 'b sees svc/primary' });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

describe('rollcall inspect <node address>', () => {
  it('reads the cluster through a temporary node (JSON and tables); errors for a wrong cookie and an unreachable node', { timeout: 60_000 }, async () => {
    const a = cluster.node('a');
    const dead = await deadPort();
    // Independent runs, in parallel: each is its own OS process with its own temporary node.
    const [json, text, wrongCookie, unreachable] = await Promise.all([
      inspect([a.seed, '--group', 'app', '--json', '--timeout', '20'], COOKIE),
      inspect([a.seed, '--group', 'app', '--timeout', '20'], COOKIE),
      inspect([a.seed, '--group', 'app', '--timeout', '20'], 'not-the-cluster-cookie'),
      inspect([`a@127.0.0.1:${dead}`, '--group', 'app', '--timeout', '1'], COOKIE),
    ]);

    expect(json.code, json.stderr).toBe(0);
    const view = JSON.parse(json.stdout);
    // The view is the temporary node's own, and it met both nodes of the cluster.
    expect(view.cluster.node).toMatch(/^inspect-[0-9a-f]{8}$/);
    const nodes = view.cluster.nodes as Array<{ name: string; link: string; entries: Array<{ group: string; registrations: number; memberships: number }> }>;
    expect(nodes.find((n) => n.name === view.cluster.node)?.link).toBe('self');
    const nodeA = nodes.find((n) => n.name === 'a')!;
    const nodeB = nodes.find((n) => n.name === 'b')!;
    expect(nodeA.link).toBe('up');
    expect(nodeB.link).toBe('up');
    expect(nodeA.entries).toEqual([{ group: 'app', cluster: null, registrations: 1, memberships: 0 }]);
    expect(nodeB.entries).toEqual([{ group: 'app', cluster: null, registrations: 0, memberships: 1 }]);
    expect(view.registry).toEqual({
      items: [{ group: 'app', cluster: null, key: 'svc/primary', pid: primaryPid, node: 'a', meta: { role: 'primary', shard: 3 } }],
      total: 1,
      truncated: false,
    });
    expect(view.groups.items).toEqual([{ group: 'app', cluster: null, key: 'workers', members: 1 }]);
    expect(view.members).toEqual([{ group: 'app', cluster: null, key: 'workers', items: [{ group: 'app', cluster: null, key: 'workers', pid: workerPid, node: 'b', meta: { slot: 'b1' } }], total: 1, truncated: false }]);

    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Nodes \(seen from inspect-[0-9a-f]{8}, this command's temporary node\)$/m);
    expect(text.stdout).toMatch(/^NODE\s+LINK\s+INCARNATION/m);
    expect(text.stdout).toMatch(/^a\s+up\s+\d+\s+127\.0\.0\.1:\d+\s.*app: 1\/0$/m);
    expect(text.stdout).toMatch(/^b\s+up\s+\d+\s+127\.0\.0\.1:\d+\s.*app: 0\/1$/m);
    expect(text.stdout).toMatch(/^KEY\s+GROUP\s+CLUSTER\s+NODE\s+PID\s+META$/m);
    expect(text.stdout).toMatch(/^svc\/primary\s+app\s+\(default\)\s+a\s+\S+\s+\{"role":"primary","shard":3\}$/m);
    expect(text.stdout).toMatch(/^workers\s+app\s+\(default\)\s+1$/m);
    expect(text.stdout).toMatch(/^\S+\s+b\s+\{"slot":"b1"\}$/m);

    expect(wrongCookie.code).toBe(1);
    expect(wrongCookie.stdout).toBe('');
    expect(wrongCookie.stderr).toMatch(/a@127\.0\.0\.1:\d+ refused our cookie: check ROLLCALL_COOKIE/);

    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(new RegExp(`could not reach a@127\\.0\\.0\\.1:${dead} within 1 s`));

    // The temporary nodes of the two good runs left the cluster gracefully.
    await waitFor(() => a.events.filter((e) => e.event === 'nodedown' && /^inspect-/.test(String(e.data['node'])) && e.data['reason'] === 'left').length >= 2, {
      what: `a sees both temporary nodes leave (events: ${JSON.stringify(a.events.filter((e) => /^inspect-/.test(String(e.data['node']))))})`,
    });
  });
});
