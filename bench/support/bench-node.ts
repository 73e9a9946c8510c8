/**
 * Entry of one benchmark node process, forked by node-process.ts with `--import tsx`.
 *
 * Starts a Rollcall node from the JSON config in ROLLCALL_BENCH_NODE, then serves a small
 * control protocol over IPC (structured-clone messages):
 *
 *   child  → driver  {type: 'ready', seed, incarnation}              once the node listens
 *   driver → child   {type: 'invoke', id, module?, fn, args}         run roles[fn](ctx, args)
 *   driver → child   {type: 'stop', id}                              graceful node.stop(), then exit
 *   child  → driver  {type: 'reply', id, ok: true, value}
 *                    {type: 'reply', id, ok: false, error: {name, message, stack}}
 *
 * `module` is the file URL of a workload module whose `roles` export holds the function; without
 * it `fn` names a built-in role below. The measured traffic flows node to node over TCP; IPC
 * only starts phases and carries their results.
 */
import { nats, startNode, type NodeOptions } from '../../src/internal.js';
import type { RoleContext, Roles } from './workload.js';
import { WireCounter, type WireCounts } from './wire-counter.js';

export interface BenchNodeConfig {
  readonly name: string;
  readonly cookie: string;
  readonly seeds: readonly string[];
  /** More startNode options (heartbeat, maxQueueBytes...); must survive JSON. */
  readonly options?: Partial<NodeOptions>;
  /** Count the bytes this node sends (wire-counter.ts; read with the `wireBytes` role). */
  readonly countBytes?: boolean;
  /** Talk to the other nodes over NATS (transport and discovery) instead of TCP. */
  readonly nats?: BenchNatsOptions;
}

/** The nats transport of a bench node (what survives JSON). */
export interface BenchNatsOptions {
  readonly servers: string;
  readonly cluster: string;
}

interface InvokeRequest {
  readonly type: 'invoke';
  readonly id: number;
  readonly module?: string;
  readonly fn: string;
  readonly args: unknown;
}

interface StopRequest {
  readonly type: 'stop';
  readonly id: number;
}

const config = JSON.parse(process.env['ROLLCALL_BENCH_NODE'] ?? 'null') as BenchNodeConfig | null;
if (config === null) throw new Error('bench-node.ts is started by bench/support/node-process.ts (ROLLCALL_BENCH_NODE is not set)');

function send(message: unknown, then?: () => void): void {
  if (process.connected) process.send!(message, undefined, {}, then);
  else then?.();
}

const counter = config.countBytes === true ? new WireCounter() : undefined;
if (counter !== undefined && config.nats !== undefined) throw new Error('bench-node: countBytes counts TCP bytes; it cannot be combined with nats');
const overNats = config.nats === undefined ? undefined : nats(config.nats);
const node = await startNode({
  logLevel: 'warn',
  ...config.options,
  ...(counter === undefined ? {} : { transport: counter.transport() }),
  ...(overNats === undefined ? {} : { transport: overNats, discovery: [overNats.discovery()] }),
  name: config.name,
  cookie: config.cookie,
  listen: { host: '127.0.0.1', port: 0 },
  seeds: [...config.seeds],
});
counter?.watchSends(node);
const context: RoleContext = { node, state: new Map() };

const builtInRoles: Roles = {
  /** Resolves once every named peer is connected (throws after timeoutMs). */
  async waitForPeers({ node: self }, { names, timeoutMs }: { names: string[]; timeoutMs: number }): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!names.every((name) => self.peers().includes(name))) {
      if (performance.now() > deadline) throw new Error(`${self.name}: peers ${names.join(', ')} not all connected after ${timeoutMs} ms (have: ${self.peers().join(', ')})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  },

  /** What this node has sent so far (only when started with `countBytes`). */
  wireBytes(): WireCounts {
    if (counter === undefined) throw new Error(`${config.name}: started without countBytes, so its bytes are not counted`);
    return counter.snapshot();
  },
};

const moduleRoles = new Map<string, Promise<Roles>>();

function rolesOf(module: string | undefined): Promise<Roles> {
  if (module === undefined) return Promise.resolve(builtInRoles);
  let roles = moduleRoles.get(module);
  if (roles === undefined) {
    roles = import(module).then((loaded: { roles?: Roles }) => {
      if (loaded.roles === undefined) throw new Error(`${module} has no "roles" export`);
      return loaded.roles;
    });
    moduleRoles.set(module, roles);
  }
  return roles;
}

async function invoke(request: InvokeRequest): Promise<unknown> {
  const roles = await rolesOf(request.module);
  const role = Object.hasOwn(roles, request.fn) ? roles[request.fn] : undefined;
  if (role === undefined) throw new Error(`no role "${request.fn}" in ${request.module ?? 'the built-in roles'}`);
  return (role as (context: RoleContext, args: unknown) => unknown)(context, request.args);
}

process.on('message', (raw) => {
  const request = raw as InvokeRequest | StopRequest;
  if (request.type === 'stop') {
    // Exit through process.exit (not a signal) so that --cpu-prof writes its profile.
    void node.stop().then(() => send({ type: 'reply', id: request.id, ok: true }, () => process.exit(0)));
    return;
  }
  if (request.type !== 'invoke') return;
  invoke(request).then(
    (value) => send({ type: 'reply', id: request.id, ok: true, value }),
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      send({ type: 'reply', id: request.id, ok: false, error: { name: e.name, message: e.message, stack: e.stack } });
    },
  );
});

// The driver went away (crashed, Ctrl-C): do not linger as an orphan.
process.on('disconnect', () => process.exit(0));

send({ type: 'ready', seed: node.seed, incarnation: node.incarnation });
