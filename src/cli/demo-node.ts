/**
 * One node of `rollcall demo` (a child process of demo.ts). It takes the flags of `rollcall node`
 * and starts through the same code, then adds what the tour needs: a named "greeter" Server, chat
 * users, and a control channel (IPC) through which the demo drives it and hears its events.
 */
import { ALL } from '../group/events.js';
import { Pid } from '../process/pid.js';
import { Server } from '../process/server.js';
import { parseCommand } from './command.js';
import { NODE_SPEC, startCliNode, type CliNode } from './node-command.js';
import { resolveNodeConfig, type NodeFlags } from './node-config.js';

export interface DemoCommand {
  id: number;
  op: 'peers' | 'call' | 'send' | 'monitor' | 'user' | 'lookup' | 'dispatch' | 'watch-group' | 'partition' | 'heal' | 'group-peers' | 'alive';
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

// The demo decides when its nodes stop: Ctrl-C reaches the whole process group, and the driver
// kills its children itself. A driver that dies without doing so closes the channel: follow it.
process.on('SIGINT', () => {});
process.on('disconnect', () => process.exit(0));

async function start(): Promise<CliNode> {
  try {
    const config = resolveNodeConfig(parseCommand(NODE_SPEC, process.argv.slice(2)).values as NodeFlags, process.env);
    return await startCliNode(config, { print: (text) => report({ event: 'note', text }) });
  } catch (error) {
    // The driver reports the early exit; this says why.
    process.stderr.write(`rollcall demo: node ${process.argv.slice(2).join(' ')}: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

const running = await start();
const { node } = running;
const name = node.name;
const chat = running.groups[0]!;
const greeter = node.spawn(Greeter, name);
node.register('greeter', greeter);

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

async function handle(command: DemoCommand): Promise<unknown> {
  switch (command.op) {
    case 'peers':
      return node.peers().sort();
    case 'call':
      return node.call({ name: 'greeter', node: command.node! }, command.text, { timeoutMs: 2000 });
    case 'send':
      node.send({ name: 'greeter', node: command.node! }, { from: name, text: command.text });
      return 'sent';
    case 'monitor':
      node.monitor(Pid.parse(command.target!), (down) => report({ event: 'down', pid: down.pid.key, reason: String(down.reason) }));
      return 'monitoring';
    case 'user': {
      const { pid, result } = spawnUser(command.key!, command.room!);
      return { pid: pid.key, result };
    }
    case 'lookup': {
      const entry = chat.lookup(`user/${command.key!}`);
      return entry === null ? null : { pid: entry.pid.key, meta: entry.meta };
    }
    case 'dispatch':
      chat.dispatch(command.room!, { from: name, text: command.text });
      return chat.members(command.room!).length;
    case 'watch-group':
      chat.monitor(ALL, (events) => {
        for (const e of events) {
          const why = e.reason === null ? '' : ` (${typeof e.reason === 'string' ? e.reason : JSON.stringify(e.reason)})`;
          report({ event: 'group', text: `${e.type} ${e.key} → ${e.pid.key}${why}` });
        }
      });
      return 'watching';
    case 'partition':
      // Fault injection, as the test harness does: lose every frame to and from that peer.
      node.block(command.node!, { closeNow: true });
      return 'cut';
    case 'heal':
      node.unblock(command.node!);
      return 'healed';
    case 'group-peers':
      return chat.nodes().sort();
    case 'alive':
      return node.isAlive(Pid.parse(command.target!));
  }
}

process.on('message', (raw) => {
  const command = raw as DemoCommand;
  handle(command).then(
    (value) => report({ id: command.id, value }),
    (error: unknown) => report({ id: command.id, error: (error as Error).message }),
  );
});

report({ event: 'ready', address: node.address, seed: node.seed, greeter: greeter.key, dashboardUrl: running.dashboardUrl });
