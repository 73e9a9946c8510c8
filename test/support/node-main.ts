/**
 * Entry of a test node process (forked by cluster.ts): starts a node from the JSON config in
 * ROLLCALL_TEST_CONFIG, reports readiness and node events over IPC, and runs the functions the
 * test sends it (like Erlang's peer + rpc).
 */
import { pino } from 'pino';
import * as api from '../../src/internal.js';
import { collectGarbage } from '../../bench/support/group-bench.js';

interface Config {
  name: string;
  cookie: string;
  port: number;
  seeds: string[];
  heartbeat?: { intervalMs?: number; timeoutMs?: number };
  reconnect?: { initialMs?: number; maxMs?: number };
  protocolVersion?: number;
  nats?: { servers: string | string[]; cluster: string };
  extra?: Record<string, unknown>;
}

interface RpcRequest {
  type: 'rpc';
  id: number;
  fn: string;
  arg: unknown;
}

const config = JSON.parse(process.env['ROLLCALL_TEST_CONFIG'] ?? '{}') as Config;
const send = (message: unknown): void => {
  if (process.connected) process.send!(message);
};

const logger = pino({ level: 'debug', base: { node: config.name } });
const transport = config.nats === undefined ? undefined : api.nats(config.nats);
const node = await api.startNode({
  name: config.name,
  cookie: config.cookie,
  listen: { host: '127.0.0.1', port: config.port },
  seeds: config.seeds,
  heartbeat: config.heartbeat,
  reconnect: config.reconnect,
  logger: logger as unknown as api.Logger,
  ...(transport === undefined ? {} : { transport, discovery: [transport.discovery()] }),
  ...(config.extra ?? {}),
});

node.on('nodeup', (e) => send({ type: 'event', event: 'nodeup', data: e }));
node.on('nodedown', (e) => send({ type: 'event', event: 'nodedown', data: e }));

const state: Record<string, unknown> = {};

/** Heap after a full GC, and RSS: what a test can bound (the heap before GC is mostly garbage). */
async function memory(): Promise<{ heapUsed: number; rss: number }> {
  await collectGarbage();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

process.on('message', (raw) => {
  const request = raw as RpcRequest;
  if (request.type !== 'rpc') return;
  void (async () => {
    try {
      const fn = new Function(`return (${request.fn});`)() as (ctx: unknown, arg: unknown) => unknown;
      const value = await fn({ node, api, state, memory, emit: (event: string, data: unknown) => send({ type: 'event', event, data }) }, request.arg);
      send({ type: 'reply', id: request.id, ok: true, value: toPlain(value) });
    } catch (error) {
      const e = error as Error & { code?: string };
      send({ type: 'reply', id: request.id, ok: false, error: { name: e.name, message: e.message, code: e.code, stack: e.stack } });
    }
  })();
});

process.on('SIGTERM', () => {
  void node.stop().then(() => process.exit(0));
});

send({ type: 'ready', address: node.address, incarnation: node.incarnation, pid: process.pid });

/** Pids and refs cross IPC as their string keys. */
function toPlain(value: unknown): unknown {
  if (value instanceof api.Pid || value instanceof api.Ref) return value.key;
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toPlain(v);
    return out;
  }
  return value;
}
