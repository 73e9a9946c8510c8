/**
 * `rollcall demo` (and `npm run demo`): a three-node cluster on 127.0.0.1 in three OS processes,
 * each started with the flags of `rollcall node`, and a narrated tour: the mesh forms from one
 * seed, calls and messages cross nodes, a Group "chat" registers users, joins rooms, dispatches,
 * and a monitor prints its events live; a partition heals with a conflicting registration
 * resolved; a node killed with SIGKILL is noticed (nodedown, monitors firing, its entries
 * purged). `--keep` then restarts the killed node and leaves the cluster running until Ctrl-C.
 * The children are killed on every way out: the end, a failure, Ctrl-C / SIGTERM, or the driver
 * dying (they exit when their IPC channel closes).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT_OK, formatHelp, parseCommand, type Command, type CommandSpec } from './command.js';
import type { DemoCommand } from './demo-node.js';
import { COOKIE_ENV } from './node-config.js';

export const DEMO_SPEC: CommandSpec = {
  usage: 'rollcall demo [--keep]',
  description:
    'Start a three-node cluster on 127.0.0.1 (three OS processes, no external services) and walk through\n' +
    'the registry, process groups, dispatch, monitors, a partition healed with a conflict resolved, and a\n' +
    'node killed with SIGKILL. Takes a few seconds; the nodes are stopped at the end.',
  flags: {
    keep: { type: 'boolean', description: 'after the tour, restart the killed node and keep the cluster running until Ctrl-C' },
  },
};

// The child is this directory's demo-node: .ts when run from source (tsx), .js when built.
const CHILD_ENTRY = fileURLToPath(new URL(`./demo-node${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
const WAIT_MS = 10_000;

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string): void => console.log(`  ${s}`);
const step = (s: string): void => console.log(`\n${bold(`▶ ${s}`)}`);

type Fields = Omit<DemoCommand, 'id' | 'op'>;

interface DemoNode {
  readonly name: string;
  readonly child: ChildProcess;
  readonly seed: string;
  readonly greeter: string;
  readonly dashboardUrl: string | undefined;
  call<T = unknown>(op: DemoCommand['op'], fields?: Fields): Promise<T>;
}

interface DemoEvent {
  readonly at: string;
  readonly event: string;
  readonly [field: string]: string;
}

class DemoCluster {
  readonly nodes = new Map<string, DemoNode>();
  readonly events: DemoEvent[] = [];
  private readonly children = new Set<ChildProcess>();
  /** Nodes the tour kills on purpose: their exit is not a failure. */
  private readonly expectedExits = new Set<ChildProcess>();
  private nextId = 0;
  crashed: Error | undefined;
  readonly cookie = randomBytes(16).toString('hex');

  node(name: string): DemoNode {
    return this.nodes.get(name)!;
  }

  /** Start `rollcall node <args>` as a child; resolves when it listens. */
  start(name: string, args: string[]): Promise<DemoNode> {
    const argv = ['--name', name, ...args];
    const child = fork(CHILD_ENTRY, argv, { env: { ...process.env, [COOKIE_ENV]: this.cookie }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    console.log(`  $ ${COOKIE_ENV}=… rollcall node ${argv.join(' ')}   (pid ${child.pid})`);
    this.children.add(child);
    const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
    return new Promise((resolve, reject) => {
      child.once('exit', (code, signal) => {
        this.children.delete(child);
        const error = new Error(`node ${name} exited unexpectedly (${signal ?? `code ${code}`})`);
        for (const w of waiting.values()) w.reject(error);
        waiting.clear();
        reject(error);
        if (!this.expectedExits.has(child)) this.crashed ??= error;
      });
      child.on('message', (raw) => {
        const m = raw as Record<string, unknown> & { id?: number; value?: unknown; error?: string };
        if (m.id !== undefined) {
          const w = waiting.get(m.id);
          waiting.delete(m.id);
          if (m.error !== undefined) w?.reject(new Error(`${name}: ${m.error}`));
          else w?.resolve(m.value);
          return;
        }
        if (m['event'] === 'ready') {
          const node: DemoNode = {
            name,
            child,
            seed: m['seed'] as string,
            greeter: m['greeter'] as string,
            dashboardUrl: m['dashboardUrl'] as string | undefined,
            call: <T>(op: DemoCommand['op'], fields: Fields = {}) =>
              new Promise<T>((done, fail) => {
                const id = ++this.nextId;
                waiting.set(id, { resolve: done as (value: unknown) => void, reject: fail });
                child.send({ id, op, ...fields });
              }),
          };
          this.nodes.set(name, node);
          resolve(node);
          return;
        }
        this.events.push({ ...(m as Record<string, string>), event: String(m['event']), at: name });
        if (m['event'] === 'note' || m['event'] === 'log') say(`[${name}] ${String(m['text'])}`);
        if (m['event'] === 'group') say(`[${name}:event] ${String(m['text'])}`);
      });
    });
  }

  kill(name: string): void {
    const node = this.node(name);
    this.expectedExits.add(node.child);
    node.child.kill('SIGKILL');
  }

  /** Synchronous, so it also works from an 'exit' handler. */
  killAll(): void {
    for (const child of this.children) {
      this.expectedExits.add(child);
      child.kill('SIGKILL');
    }
  }

  /** Poll until `cond` holds; fails at once if a node died unexpectedly. */
  async until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.crashed !== undefined) throw this.crashed;
      if (await cond()) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  eventsSince(index: number, match: (e: DemoEvent) => boolean): DemoEvent[] {
    return this.events.slice(index).filter(match);
  }
}

async function tour(cluster: DemoCluster, keep: boolean): Promise<void> {
  console.log(bold('Rollcall demo: three nodes on 127.0.0.1, three OS processes'));
  step('Start node a, then b and c with a as their only seed');
  const common = ['--listen', '127.0.0.1:0', '--group', 'chat', '--log-level', 'silent'];
  const a = await cluster.start('a', [...common, '--dashboard', '127.0.0.1:0']);
  say(`dashboard: ${a.dashboardUrl ?? '(not started)'}  (open it now to watch the tour live)`);
  const [b, c] = await Promise.all([cluster.start('b', [...common, '--seed', a.seed]), cluster.start('c', [...common, '--seed', a.seed])]);
  const nodes = [a, b, c];
  const t0 = Date.now();
  say('forming the mesh...');
  await cluster.until('the full mesh of a, b and c', async () => (await Promise.all(nodes.map((n) => n.call<string[]>('peers')))).every((l) => l.length === 2));
  for (const n of nodes) say(`${n.name} is connected to ${JSON.stringify(await n.call('peers'))}`);
  say(`full mesh in ${Date.now() - t0} ms: b and c found each other through a's gossip`);

  step('Each node runs a "greeter" Server process, registered under a local name');
  for (const n of nodes) say(`${n.name}: greeter ${n.greeter}`);

  step('Calls across nodes (request/reply, location-transparent)');
  say(`a → greeter@b: ${await a.call<string>('call', { node: 'b', text: 'a' })}`);
  say(`b → greeter@c: ${await b.call<string>('call', { node: 'c', text: 'b' })}`);
  say(`c → greeter@a: ${await c.call<string>('call', { node: 'a', text: 'c' })}`);

  step('Plain messages across nodes (asynchronous send to a named process)');
  const beforeSend = cluster.events.length;
  await a.call('send', { node: 'c', text: 'first message from a' });
  await a.call('send', { node: 'c', text: 'second message from a (order is kept per pair)' });
  await cluster.until('the messages to arrive', () => cluster.eventsSince(beforeSend, (e) => e.event === 'log').length >= 2);

  step('A Group named "chat" on every node: users register (one process per name) and join rooms');
  await cluster.until('every node to replicate chat with the others', async () => (await Promise.all(nodes.map((n) => n.call<string[]>('group-peers')))).every((l) => l.length === 2));
  await a.call('watch-group');
  say('a monitors every chat event and prints it live (lines marked [a:event])');
  const alice = await a.call<{ pid: string }>('user', { key: 'alice', room: 'room/42' });
  const bob = await b.call<{ pid: string }>('user', { key: 'bob', room: 'room/42' });
  await c.call('user', { key: 'carol', room: 'room/7' });
  say(`alice on a (${alice.pid}), bob on b (${bob.pid}), carol on c`);
  say('waiting for the registrations to replicate...');
  await cluster.until('the registrations to replicate', async () => (await c.call('lookup', { key: 'alice' })) !== null && (await a.call('lookup', { key: 'carol' })) !== null);
  say(`c looks up user/alice: ${JSON.stringify(await c.call('lookup', { key: 'alice' }))}`);
  const beforeDispatch = cluster.events.length;
  const delivered = await c.call<number>('dispatch', { room: 'room/42', text: 'hello room 42 from c' });
  say(`c dispatches to room/42 (${delivered} members, one frame per remote node)`);
  await cluster.until('the dispatch to arrive', () => cluster.eventsSince(beforeDispatch, (e) => e.event === 'log' && e['text']?.includes('hello room 42') === true).length >= 2);

  step('Partition a | b, and register user/dave on both sides: a conflict');
  await a.call('partition', { node: 'b' });
  await b.call('partition', { node: 'a' });
  await cluster.until('a and b to lose each other', async () => !(await a.call<string[]>('peers')).includes('b'));
  const daveA = await a.call<{ pid: string; result: string }>('user', { key: 'dave', room: 'room/1' });
  // The later registration wins the conflict: make b's clearly later.
  await new Promise((r) => setTimeout(r, 20));
  const daveB = await b.call<{ pid: string; result: string }>('user', { key: 'dave', room: 'room/1' });
  say(`a registers user/dave → ${daveA.result} (${daveA.pid}); b registers user/dave → ${daveB.result} (${daveB.pid})`);

  step('Heal: the sides exchange snapshots; the later registration wins, the loser is killed');
  await a.call('heal', { node: 'b' });
  await b.call('heal', { node: 'a' });
  say('waiting for convergence...');
  await cluster.until(
    'every node to agree on user/dave',
    async () => (await Promise.all(nodes.map((n) => n.call<{ pid: string } | null>('lookup', { key: 'dave' })))).every((v) => v?.pid === daveB.pid),
    2 * WAIT_MS,
  );
  say(`every node now says user/dave → ${daveB.pid}; a's dave alive: ${String(await a.call('alive', { target: daveA.pid }))}`);

  step('a and b monitor the greeter on c; then c is killed with SIGKILL');
  await a.call('monitor', { target: c.greeter });
  await b.call('monitor', { target: c.greeter });
  const killedAt = Date.now();
  const beforeKill = cluster.events.length;
  cluster.kill('c');
  const noticed = (n: string, event: string): boolean => cluster.eventsSince(beforeKill, (e) => e.at === n && e.event === event && (event !== 'nodedown' || e['node'] === 'c')).length > 0;
  await cluster.until('a and b to notice that c is gone', () => ['a', 'b'].every((n) => noticed(n, 'nodedown') && noticed(n, 'down')));
  for (const e of cluster.eventsSince(beforeKill, (x) => x.event === 'nodedown' || x.event === 'down')) {
    if (e.event === 'nodedown') say(`${e.at}: nodedown ${e['node']} (reason: ${e['reason']})`);
    else say(`${e.at}: monitor fired for ${e['pid']} (reason: ${e['reason']})`);
  }
  say(`noticed ${Date.now() - killedAt} ms after the kill`);
  say(`a's peers now: ${JSON.stringify(await a.call('peers'))}, b's peers: ${JSON.stringify(await b.call('peers'))}`);
  await cluster.until('c\'s entries to be purged', async () => (await a.call('lookup', { key: 'carol' })) === null && (await b.call('lookup', { key: 'carol' })) === null);
  say('c\'s chat entries (user/carol, its room membership) were purged on a and b with reason nodedown');

  if (!keep) {
    console.log(`\n${bold('Done.')} Next: rollcall demo --keep leaves the cluster running; docs/api.md is the API tour.`);
    return;
  }
  step('c restarts (a new incarnation) and rejoins through its seed');
  const c2 = await cluster.start('c', [...common, '--seed', a.seed]);
  await cluster.until('c to rejoin', async () => (await c2.call<string[]>('peers')).length === 2);
  say(`the cluster keeps running: ${[a, b, c2].map((n) => n.seed).join(', ')}`);
  if (a.dashboardUrl !== undefined) say(`dashboard: ${a.dashboardUrl}`);
  say(`join it from another shell: ${COOKIE_ENV}=${cluster.cookie} rollcall node --name d --listen 127.0.0.1:0 --seed ${a.seed} --group chat`);
  console.log(`\n${bold('Press Ctrl-C to stop the cluster.')}`);
  await new Promise<void>(() => {
    // Until the signal handler exits.
  });
}

async function runDemo(argv: string[]): Promise<number> {
  const parsed = parseCommand(DEMO_SPEC, argv);
  if (parsed.help) {
    process.stdout.write(formatHelp(DEMO_SPEC));
    return EXIT_OK;
  }
  const cluster = new DemoCluster();
  // Whatever ends this process, the nodes go with it.
  process.on('exit', () => cluster.killAll());
  const onSignal = (signal: NodeJS.Signals): void => {
    cluster.killAll();
    console.log(`\n${signal}: the demo cluster is stopped.`);
    // Ctrl-C is how `--keep` ends: a normal end. During the tour it is an interruption.
    process.exit(parsed.values['keep'] === true && signal === 'SIGINT' ? EXIT_OK : 128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await tour(cluster, parsed.values['keep'] === true);
    return EXIT_OK;
  } catch (error) {
    // What failed is in the message (a node that died, a wait that timed out); its stack is not.
    throw new CliError(`the demo failed: ${(error as Error).message}`);
  } finally {
    cluster.killAll();
  }
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'a narrated tour on a three-node cluster on 127.0.0.1 (what npm run demo runs)',
  run: runDemo,
};
