/**
 * `npm run demo`: a three-node cluster on 127.0.0.1 in three OS processes. The nodes form a full
 * mesh from one seed, call and message each other's processes, run a chat on a Group (users
 * register, join rooms, dispatch, a monitor prints events live, a partition heals with a conflict
 * resolved), and then one node is killed with SIGKILL while the other two notice (nodedown,
 * monitors firing 'noconnection', its chat entries purged).
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
        if (m['event'] === 'group') say(`[${name}:event] ${m['text']}`);
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

  step('A Group named "chat" on every node: users register (one process per name) and join rooms');
  await until('group peers', async () => (await Promise.all(nodes.map((n) => n.call('group-peers')))).every((l) => (l as string[]).length === 2));
  await a.call('watch-group');
  say('a prints every chat event it sees, live (lines marked [a:event])');
  const alice = (await a.call('user', { key: 'alice', room: 'room/42' })) as { pid: string };
  const bob = (await b.call('user', { key: 'bob', room: 'room/42' })) as { pid: string };
  await c.call('user', { key: 'carol', room: 'room/7' });
  say(`alice on a (${alice.pid}), bob on b (${bob.pid}), carol on c`);
  await until('replicated', async () => (await c.call('lookup', { key: 'alice' })) !== null && (await a.call('lookup', { key: 'carol' })) !== null);
  say(`c looks up user/alice: ${JSON.stringify(await c.call('lookup', { key: 'alice' }))}`);
  const delivered = await c.call('dispatch', { room: 'room/42', text: 'hello room 42 from c' });
  say(`c dispatches to room/42 (${String(delivered)} members, one frame per remote node)`);
  await until('dispatch delivered', () => events.filter((e) => e['event'] === 'log' && e['text']?.includes('hello room 42')).length >= 2);

  step('Partition a | b, and register user/dave on both sides: a conflict');
  await a.call('partition', { node: 'b' });
  await b.call('partition', { node: 'a' });
  await until('a and b apart', async () => !((await a.call('peers')) as string[]).includes('b'));
  const daveA = (await a.call('user', { key: 'dave', room: 'room/1' })) as { pid: string; result: string };
  await new Promise((r) => setTimeout(r, 20)); // so b's registration is the later one
  const daveB = (await b.call('user', { key: 'dave', room: 'room/1' })) as { pid: string; result: string };
  say(`a registers user/dave → ${daveA.result} (${daveA.pid}); b registers user/dave → ${daveB.result} (${daveB.pid})`);
  step('Heal: the sides exchange snapshots; the later registration wins, the loser is killed');
  await a.call('heal', { node: 'b' });
  await b.call('heal', { node: 'a' });
  await until('converged', async () => {
    const views = await Promise.all(nodes.map((n) => n.call('lookup', { key: 'dave' })));
    return views.every((v) => (v as { pid: string } | null)?.pid === daveB.pid);
  }, 20_000);
  say(`every node now says user/dave → ${daveB.pid}; a's dave alive: ${String(await a.call('alive', { target: daveA.pid }))}`);

  step('a and b monitor the greeter on c; then c is killed with SIGKILL');
  await a.call('monitor', { target: c.greeter });
  await b.call('monitor', { target: c.greeter });
  const killedAt = Date.now();
  const firstAfterKill = events.length;
  c.child.kill('SIGKILL');
  await until('a and b notice c is gone', () =>
    ['a', 'b'].every((n) => events.slice(firstAfterKill).some((e) => e.at === n && e['event'] === 'nodedown' && e['node'] === 'c')) &&
    ['a', 'b'].every((n) => events.slice(firstAfterKill).some((e) => e.at === n && e['event'] === 'down')),
  );
  for (const e of events.slice(firstAfterKill).filter((x) => x['event'] === 'nodedown' || x['event'] === 'down')) {
    if (e['event'] === 'nodedown') say(`${e.at}: nodedown ${e['node']} (reason: ${e['reason']})`);
    else say(`${e.at}: monitor fired for ${e['pid']} (reason: ${e['reason']})`);
  }
  say(`noticed ${Date.now() - killedAt} ms after the kill`);
  say(`a's peers now: ${JSON.stringify(await a.call('peers'))}, b's peers: ${JSON.stringify(await b.call('peers'))}`);
  await until('carol purged', async () => (await a.call('lookup', { key: 'carol' })) === null);
  say('c\'s chat entries (user/carol, its room membership) were purged on a and b with reason nodedown');
  console.log(`\n${bold('Done.')} Next: npm test runs the suite; docs/api.md is the API tour.`);
} finally {
  for (const n of nodes) n.child.kill('SIGKILL');
}
