/**
 * The `rollcall` CLI as operators run it: real OS processes running src/cli/main.ts (through tsx,
 * so no build is needed), observed through their exit codes, their JSON logs on stdout and their
 * plain messages on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deadPort, waitFor } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const COOKIE = 'cli-test-cookie';

class CliRun {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly records: Array<Record<string, unknown>> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string | undefined>) {
    const childEnv: Record<string, string | undefined> = { ...process.env, ROLLCALL_COOKIE: COOKIE, ...env };
    for (const key of Object.keys(childEnv)) if (childEnv[key] === undefined) delete childEnv[key];
    this.child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        // Log records are one JSON object per line; other output (inspect --json) spans lines.
        if (line.startsWith('{') && line.endsWith('}')) this.records.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  waitForStderr(pattern: RegExp | string, timeoutMs = 10_000): Promise<boolean> {
    return waitFor(() => (typeof pattern === 'string' ? this.stderr.includes(pattern) : pattern.test(this.stderr)), {
      timeoutMs,
      what: `stderr to show ${String(pattern)} (stderr so far: ${this.stderr})`,
    });
  }

  waitForRecord(match: (record: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
    return waitFor(() => this.records.find(match), { what: `${what} (stderr: ${this.stderr})` });
  }

  /** The address the node listens on, from its node_started log record. */
  async address(): Promise<string> {
    const record = await this.waitForRecord((r) => r['event'] === 'node_started', 'node_started');
    return record['address'] as string;
  }
}

const runs: CliRun[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'rollcall-cli-'));

function rollcall(args: string[], env: Record<string, string | undefined> = {}): CliRun {
  const run = new CliRun(args, env);
  runs.push(run);
  return run;
}


afterEach(async () => {
  for (const run of runs.splice(0)) {
    if (run.alive) run.child.kill('SIGKILL');
    await run.exited;
  }
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('rollcall CLI', () => {
  it('prints help for the command and each subcommand; an unknown command is a usage error', async () => {
    const top = rollcall(['--help']);
    const node = rollcall(['node', '--help']);
    const demo = rollcall(['demo', '-h']);
    const unknown = rollcall(['nodes']);
    expect((await top.exited).code).toBe(0);
    expect(top.stdout).toContain('Usage: rollcall <command>');
    expect(top.stdout).toMatch(/^\s+node\s/m);
    expect(top.stdout).toMatch(/^\s+demo\s/m);
    expect((await node.exited).code).toBe(0);
    for (const flag of ['--name', '--listen', '--seed', '--group', '--roles', '--dashboard', '--config', '--cookie-file', '--log-level', 'ROLLCALL_COOKIE']) {
      expect(node.stdout).toContain(flag);
    }
    expect((await demo.exited).code).toBe(0);
    expect(demo.stdout).toContain('--keep');
    expect((await unknown.exited).code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "nodes"');
  });

  it('starts nodes that form a mesh from one seed; SIGTERM stops one gracefully with exit 0', async () => {
    const a = rollcall(['node', '--name', 'a', '--listen', '127.0.0.1:0', '--group', 'g']);
    const seed = `a@${await a.address()}`;
    const b = rollcall(['node', '--name', 'b', '--listen', '127.0.0.1:0', '--seed', seed, '--group', 'g']);
    const c = rollcall(['node', '--name', 'c', '--listen', '127.0.0.1:0', '--seed', seed, '--group', 'g']);
    for (const [run, peers] of [[a, ['b', 'c']], [b, ['a', 'c']], [c, ['a', 'b']]] as const) {
      for (const peer of peers) await run.waitForRecord((r) => r['event'] === 'nodeup' && r['peer'] === peer, `nodeup ${peer}`);
    }
    await b.waitForStderr(`joined the cluster through seed ${seed}`);
    await c.waitForStderr(/group g: replicating with a/);
    expect(a.stderr).toContain('no seeds: node a waits for others to join it');

    b.child.kill('SIGTERM');
    expect(await b.exited).toEqual({ code: 0, signal: null });
    expect(b.stderr).toContain('node b stopped');
    // Graceful: the others see b leave, not fail.
    await a.waitForRecord((r) => r['event'] === 'nodedown' && r['peer'] === 'b' && r['reason'] === 'left', 'nodedown b (left)');
    await c.waitForRecord((r) => r['event'] === 'nodedown' && r['peer'] === 'b' && r['reason'] === 'left', 'nodedown b (left)');
  });

  it('says which port is in use', async () => {
    const a = rollcall(['node', '--name', 'a', '--listen', '127.0.0.1:0']);
    const port = Number((await a.address()).split(':')[1]);
    const x = rollcall(['node', '--name', 'x', '--listen', `127.0.0.1:${port}`]);
    expect((await x.exited).code).toBe(1);
    expect(x.stderr).toContain(`port ${port} on 127.0.0.1 is in use: pick another --listen`);
  });

  it('refuses to start without a cookie and says how to set one', async () => {
    const run = rollcall(['node', '--name', 'a', '--listen', '127.0.0.1:0'], { ROLLCALL_COOKIE: undefined });
    expect((await run.exited).code).toBe(2);
    expect(run.stderr).toMatch(/no cookie.*ROLLCALL_COOKIE=<secret>.*--cookie-file/);
    expect(run.records).toEqual([]);
  });

  it('reports a seed that refuses our cookie and a seed that is unreachable, and keeps retrying', async () => {
    const a = rollcall(['node', '--name', 'a', '--listen', '127.0.0.1:0']);
    const seed = `a@${await a.address()}`;
    const dead = `z@127.0.0.1:${await deadPort()}`;
    const b = rollcall(['node', '--name', 'b', '--listen', '127.0.0.1:0', '--seed', seed, '--seed', dead], { ROLLCALL_COOKIE: 'another-cookie' });
    await b.waitForStderr(`seed ${seed} refused our cookie: check ROLLCALL_COOKIE`);
    await a.waitForStderr(/node b \(127\.0\.0\.1:\d+\) refused our cookie/);
    // Reported after a few seconds, with the reason; the wrong-cookie seed is not listed again.
    await b.waitForStderr(new RegExp(`seed unreachable after [\\d.]+ s: ${dead} \\(connect ECONNREFUSED[^)]*\\); still retrying`));
    expect(b.alive).toBe(true);
    expect(b.records.some((r) => r['event'] === 'nodeup')).toBe(false);
  });

  it('reads a config file; flags override it; the cookie comes from its cookieFile', async () => {
    const cookieFile = join(tmp, 'cookie');
    writeFileSync(cookieFile, 'file-cookie\n');
    chmodSync(cookieFile, 0o600);
    const config = join(tmp, 'node.json');
    writeFileSync(config, JSON.stringify({ name: 'from-file', listen: '127.0.0.1:0', groups: ['g1'], logLevel: 'warn', cookieFile: 'cookie' }));
    const a = rollcall(['node', '--name', 'a', '--listen', '127.0.0.1:0'], { ROLLCALL_COOKIE: 'file-cookie' });
    const seed = `a@${await a.address()}`;
    // --name and --log-level override the file (at warn, node_started would not be logged).
    const n = rollcall(['node', '--config', config, '--name', 'over', '--log-level', 'info', '--seed', seed], { ROLLCALL_COOKIE: undefined });
    const started = await n.waitForRecord((r) => r['event'] === 'node_started', 'node_started');
    expect(started['node']).toBe('over');
    await n.waitForStderr(`cookie from cookie file ${cookieFile}`);
    expect(n.stderr).toContain('(groups g1)');
    // The file's cookie is the one a has: they connect.
    await n.waitForRecord((r) => r['event'] === 'nodeup' && r['peer'] === 'a', 'nodeup a');

    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ name: 'x', cookie: 'secret' }));
    const refused = rollcall(['node', '--config', bad]);
    expect((await refused.exited).code).toBe(2);
    expect(refused.stderr).toContain('unknown key "cookie"');
    expect(refused.stderr).toContain('use "cookieFile" or ROLLCALL_COOKIE');
  });

  it('starts roles and a dashboard beside the node; rollcall inspect reads the cluster through it', async () => {
    const a = rollcall(['node', '--name', 'a', '--listen', '127.0.0.1:0', '--roles', 'web,api', '--dashboard', '127.0.0.1:0', '--group', 'app']);
    const seed = `a@${await a.address()}`;
    const b = rollcall(['node', '--name', 'b', '--listen', '127.0.0.1:0', '--seed', seed, '--roles', 'worker', '--group', 'app']);
    await a.waitForStderr(/dashboard: http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/);
    const url = /dashboard: (\S+)/.exec(a.stderr)![1]!;
    // Roles replicate through their own Group: a's dashboard learns b's role.
    await waitFor(async () => {
      const inspect = rollcall(['inspect', url, '--json']);
      if ((await inspect.exited).code !== 0) return false;
      const cluster = (JSON.parse(inspect.stdout) as { cluster: { nodes: Array<{ name: string; roles: string[] | null }> } }).cluster;
      const byName = new Map(cluster.nodes.map((n) => [n.name, n.roles]));
      return JSON.stringify(byName.get('a')) === '["api","web"]' && JSON.stringify(byName.get('b')) === '["worker"]';
    }, { what: "inspect to show a's and b's roles" });
    const table = rollcall(['inspect', url]);
    expect((await table.exited).code).toBe(0);
    expect(table.stdout).toMatch(/\bb\b.*worker/);
    const badToken = rollcall(['inspect', url.replace(/token=\S+/, 'token=wrong')]);
    expect((await badToken.exited).code).toBe(1);
    expect(badToken.stderr).toMatch(/token/i);
    const badRoles = rollcall(['node', '--name', 'c', '--roles', 'web,,api']);
    expect((await badRoles.exited).code).toBe(2);
    expect(badRoles.stderr).toContain('role "" must be');
    const badDashboard = rollcall(['node', '--name', 'c', '--dashboard', '127.0.0.1:http']);
    expect((await badDashboard.exited).code).toBe(2);
    expect(badDashboard.stderr).toContain('the port "http" is not an integer');
    for (const run of [a, b]) run.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect((await b.exited).code).toBe(0);
  });

  it('rollcall demo runs the whole tour and exits 0', async () => {
    const demo = rollcall(['demo']);
    const { code } = await demo.exited;
    expect(demo.stderr).toBe('');
    expect(code).toBe(0);
    const steps = [
      /dashboard: /,
      /full mesh in \d+ ms/,
      /a → greeter@b: hello a, this is the greeter on b/,
      /\[c\] greeter on c received: \{"from":"a","text":"first message from a"\}/,
      /c dispatches to room\/42 \(2 members/,
      /\[b\] bob \(on b\) received \{"from":"c","text":"hello room 42 from c"\}/,
      /a registers user\/dave → ok .*; b registers user\/dave → ok/,
      /every node now says user\/dave → <b\.[\d.]+>; a's dave alive: false/,
      /then c is killed with SIGKILL/,
      /c's chat entries .* were purged on a and b/,
      /Done\./,
    ];
    let from = 0;
    for (const step of steps) {
      const at = demo.stdout.slice(from).search(step);
      expect(at, `demo output to show ${String(step)} after offset ${from}:\n${demo.stdout}`).toBeGreaterThanOrEqual(0);
      from += at;
    }
    // Both survivors notice, in whatever order their reports arrive.
    const afterKill = demo.stdout.slice(demo.stdout.indexOf('then c is killed'));
    for (const n of ['a', 'b']) {
      expect(afterKill).toMatch(new RegExp(`${n}: nodedown c \\(reason: connection_closed\\)`));
      expect(afterKill).toMatch(new RegExp(`${n}: monitor fired for <c\\.[\\d.]+> \\(reason: noconnection\\)`));
    }
  }, 60_000);

  it('rollcall demo --keep restarts the killed node, keeps the cluster until Ctrl-C, then kills every node', async () => {
    const demo = rollcall(['demo', '--keep']);
    await waitFor(() => demo.stdout.includes('Press Ctrl-C to stop the cluster.'), { timeoutMs: 40_000, what: `the demo to wait for Ctrl-C: ${demo.stdout}` });
    expect(demo.stdout).toMatch(/c restarts \(a new incarnation\)/);
    const pids = [...demo.stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(4);
    // The restarted c and the other two are still running while the demo waits.
    expect(pids.filter(isRunning)).toHaveLength(3);
    demo.child.kill('SIGINT');
    expect((await demo.exited).code).toBe(0);
    await waitFor(() => pids.every((pid) => !isRunning(pid)), { what: 'every demo node to be gone' });
  }, 60_000);
});

/** Whether a process exists and is not a zombie (an orphan's reaper may be slow in a container). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
