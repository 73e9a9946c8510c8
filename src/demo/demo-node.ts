/**
 * One node of the demo cluster (a child process of demo.ts). It starts a node, spawns a named
 * "greeter" server, and answers the demo driver's commands over IPC.
 */
import { ALL, Group, Server, startNode, Pid, type Node } from '../index.js';

interface Command {
  id: number;
  op: 'peers' | 'call' | 'send-log' | 'monitor' | 'log' | 'user' | 'lookup' | 'dispatch' | 'watch-group' | 'partition' | 'heal' | 'group-peers' | 'alive';
  target?: string;
  node?: string;
  text?: string;
  key?: string;
  room?: string;
}

class Greeter extends Server<string> {
  private greeted = 0;
  private nodeName = '';

  override init(nodeName: string): void {
    this.nodeName = nodeName;
  }

  override handleCall(request: unknown): unknown {
    this.greeted++;
    return `hello ${String(request)}, this is the greeter on ${this.nodeName} (call #${this.greeted})`;
  }

  override handleInfo(message: unknown): void {
    report({ event: 'log', text: `greeter on ${this.nodeName} received: ${JSON.stringify(message)}` });
  }
}

function report(message: unknown): void {
  if (process.connected) process.send!(message);
}

const name = process.env['DEMO_NAME']!;
const seeds = process.env['DEMO_SEEDS'] ? [process.env['DEMO_SEEDS']] : [];
const node: Node = await startNode({
  name,
  cookie: process.env['ROLLCALL_COOKIE'] ?? 'rollcall-demo',
  listen: { host: '127.0.0.1', port: 0 },
  seeds,
  logLevel: 'silent',
});
const greeter = node.spawn(Greeter, name);
node.register('greeter', greeter);
const chat = await Group.start(node, { name: 'chat', log: false });

/** A chat user: a process that registers its name, joins a room and prints what it receives. */
function spawnUser(user: string, room: string): { pid: Pid; result: string } {
  const pid = node.spawn(async (ctx) => {
    for (;;) report({ event: 'log', text: `${user} (on ${name}) received ${JSON.stringify(await ctx.receive())}` });
  });
  const result = chat.register(`user/${user}`, { name: user, node: name }, { pid });
  chat.join(room, { user }, { pid });
  return { pid, result };
}

node.on('nodeup', (e) => report({ event: 'nodeup', node: e.node }));
node.on('nodedown', (e) => report({ event: 'nodedown', node: e.node, reason: e.reason }));

process.on('message', (raw) => {
  const command = raw as Command;
  void (async () => {
    try {
      switch (command.op) {
        case 'peers':
          return report({ id: command.id, value: node.peers().sort() });
        case 'call': {
          const reply = await node.call({ name: 'greeter', node: command.node! }, command.text, { timeoutMs: 2000 });
          return report({ id: command.id, value: reply });
        }
        case 'send-log':
          node.send({ name: 'greeter', node: command.node! }, { from: name, text: command.text });
          return report({ id: command.id, value: 'sent' });
        case 'monitor': {
          const pid = Pid.parse(command.target!);
          node.monitor(pid, (down) => report({ event: 'down', pid: down.pid.key, reason: String(down.reason) }));
          return report({ id: command.id, value: 'monitoring' });
        }
        case 'log':
          return report({ id: command.id, value: greeter.key });
        case 'user': {
          const { pid, result } = spawnUser(command.key!, command.room!);
          return report({ id: command.id, value: { pid: pid.key, result } });
        }
        case 'lookup': {
          const entry = chat.lookup(`user/${command.key!}`);
          return report({ id: command.id, value: entry === null ? null : { pid: entry.pid.key, meta: entry.meta } });
        }
        case 'dispatch':
          chat.dispatch(command.room!, { from: name, text: command.text });
          return report({ id: command.id, value: chat.members(command.room!).length });
        case 'watch-group':
          chat.monitor(ALL, (events) => {
            for (const e of events) {
              const why = e.reason === null ? '' : ` (${typeof e.reason === 'string' ? e.reason : JSON.stringify(e.reason)})`;
              report({ event: 'group', text: `${e.type} ${e.key} → ${e.pid.key}${why}` });
            }
          });
          return report({ id: command.id, value: 'watching' });
        case 'partition':
          // Fault injection, as the test harness does: lose every frame to and from that peer.
          node.block(command.node!, { closeNow: true });
          return report({ id: command.id, value: 'cut' });
        case 'heal':
          node.unblock(command.node!);
          return report({ id: command.id, value: 'healed' });
        case 'group-peers':
          return report({ id: command.id, value: chat.nodes().sort() });
        case 'alive':
          return report({ id: command.id, value: node.isAlive(Pid.parse(command.target!)) });
      }
    } catch (error) {
      report({ id: command.id, error: (error as Error).message });
    }
  })();
});

report({ event: 'ready', address: node.address, seed: node.seed, greeter: greeter.key });
