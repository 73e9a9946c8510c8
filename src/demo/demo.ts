/**
 * `npm run demo`: a three-node cluster on 127.0.0.1 in three OS processes. The nodes form a full
 * mesh from one seed, call and message each other's processes, and then one node is killed with
 * SIGKILL while the other two notice (nodedown + monitors firing 'noconnection').
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('./demo-node.js', import.meta.url));
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string): void => console.log(`  ${s}`);
const step = (s: string): void => console.log(`\n${bold(`▶ ${s}`)}`);

interface DemoNode {
  name: string;
  child: ChildProcess;
  seed: string;
  greeter: string;
  call(op: string, fields?: Record<string, string>): Promise<unknown>;
}

const events: Array<Record<string, string>> = [];
let nextId = 0;

function startDemoNode(name: string, seed?: string): Promise<DemoNode> {
  const child = fork(ENTRY, [], { env: { ...process.env, DEMO_NAME: name, DEMO_SEEDS: seed ?? '' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, (value: unknown) => void>();
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`node ${name} exited early (${code})`)));
    child.on('message', (raw) => {
      const m = raw as Record<string, string> & { id?: number; value?: unknown; error?: string };
      if (m.id !== undefined) {
        waiting.get(m.id)?.(m.error !== undefined ? `error: ${m.error}` : m.value);
        waiting.delete(m.id);
      } else if (m['event'] === 'ready') {
        resolve({
          name,
          child,
          seed: m['seed']!,
          greeter: m['greeter']!,
          call: (op, fields = {}) =>
            new Promise((done) => {
              const id = ++nextId;
              waiting.set(id, done);
              child.send({ id, op, ...fields });
            }),
        });
      } else {
        events.push({ ...(m as Record<string, string>), at: name });
        if (m['event'] === 'log') say(`[${name}] ${m['text']}`);
      }
    });
  });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const nodes: DemoNode[] = [];
try {
  console.log(bold('Rollcall demo: three nodes on 127.0.0.1, three OS processes'));
  step('Start node a, then b and c with a as their only seed');
  const a = await startDemoNode('a');
  nodes.push(a);
  say(`a is listening at ${a.seed}`);
  const [b, c] = await Promise.all([startDemoNode('b', a.seed), startDemoNode('c', a.seed)]);
  nodes.push(b, c);
  say(`b at ${b.seed}, c at ${c.seed}`);
  const t0 = Date.now();
  await until('full mesh', async () => {
    const lists = await Promise.all(nodes.map((n) => n.call('peers')));
    return lists.every((l) => (l as string[]).length === 2);
  });
  for (const n of nodes) say(`${n.name} is connected to ${JSON.stringify(await n.call('peers'))}`);
  say(`full mesh in ${Date.now() - t0} ms: b and c found each other through a's gossip`);

  step('Each node runs a "greeter" Server process, registered under a local name');
  for (const n of nodes) say(`${n.name}: greeter ${n.greeter}`);

  step('Calls across nodes (request/reply, location-transparent)');
  say(`a → greeter@b: ${String(await a.call('call', { node: 'b', text: 'a' }))}`);
  say(`b → greeter@c: ${String(await b.call('call', { node: 'c', text: 'b' }))}`);
  say(`c → greeter@a: ${String(await c.call('call', { node: 'a', text: 'c' }))}`);

  step('Plain messages across nodes (asynchronous send to a named process)');
  await a.call('send-log', { node: 'c', text: 'first message from a' });
  await a.call('send-log', { node: 'c', text: 'second message from a (order is kept per pair)' });
  await until('messages logged', () => events.filter((e) => e['event'] === 'log').length >= 2);

  step('a and b monitor the greeter on c; then c is killed with SIGKILL');
  await a.call('monitor', { target: c.greeter });
  await b.call('monitor', { target: c.greeter });
  const killedAt = Date.now();
  c.child.kill('SIGKILL');
  await until('a and b notice c is gone', () =>
    ['a', 'b'].every((n) => events.some((e) => e.at === n && e['event'] === 'nodedown' && e['node'] === 'c')) &&
    ['a', 'b'].every((n) => events.some((e) => e.at === n && e['event'] === 'down')),
  );
  for (const e of events.filter((x) => x['event'] === 'nodedown' || x['event'] === 'down')) {
    if (e['event'] === 'nodedown') say(`${e.at}: nodedown ${e['node']} (reason: ${e['reason']})`);
    else say(`${e.at}: monitor fired for ${e['pid']} (reason: ${e['reason']})`);
  }
  say(`noticed ${Date.now() - killedAt} ms after the kill`);
  say(`a's peers now: ${JSON.stringify(await a.call('peers'))}, b's peers: ${JSON.stringify(await b.call('peers'))}`);
  console.log(`\n${bold('Done.')} Next: npm test runs the suite; docs/api.md is the API tour.`);
} finally {
  for (const n of nodes) n.child.kill('SIGKILL');
}
