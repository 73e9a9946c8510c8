/**
 * NATS for the tests: whether the shared server on 127.0.0.1:4222 is there (tests skip with a
 * message when it is not, and fail under CI=true), and private nats-server children for tests that
 * kill and restart a server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { nats, startNode, type Node, type NodeOptions } from '../../src/index.js';
import { silentLogger } from '../../src/internal.js';
import { waitFor } from './wait.js';

export const NATS_URL = 'nats://127.0.0.1:4222';
const NATS_SERVER_BINARIES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** Does something answer with a NATS INFO line on host:port? */
export function natsReachable(port = 4222, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk) => done(chunk.toString('utf8').startsWith('INFO ')));
  });
}

/**
 * Whether the NATS tests run: true when the server on 127.0.0.1:4222 answers. Without it they
 * skip (the reason is printed), except under CI=true, where a missing server is a failure.
 */
export async function natsAvailable(what: string): Promise<boolean> {
  if (await natsReachable()) return true;
  const message = `${what}: no NATS server on 127.0.0.1:4222 (start one: nats-server -a 127.0.0.1 -p 4222)`;
  if (process.env['CI'] === 'true') throw new Error(`${message}; CI=true requires it`);
  console.warn(`SKIPPED ${message}`);
  return false;
}

export function natsServerBinary(): string | undefined {
  return NATS_SERVER_BINARIES.find((path) => existsSync(path));
}

/** A free TCP port on 127.0.0.1 (asked of the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A nats-server of our own on a fixed port, which a test may kill and start again. */
export class PrivateNatsServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[] = [],
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const binary = natsServerBinary();
    if (binary === undefined) throw new Error(`nats-server not found (looked in ${NATS_SERVER_BINARIES.join(', ')})`);
    const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(this.port), ...this.extraArgs], { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitFor(async () => (this.running ? natsReachable(this.port) : Promise.reject(new Error('nats-server exited'))), {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: `nats-server on port ${this.port}`,
    });
  }

  /** SIGKILL: the clients lose it at once, without a goodbye. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Start a node in this process on the nats transport, discovering its peers through the cluster
 * subject. `options` override the defaults (cookie "nats-test", a silent logger).
 */
export function startNatsNode(name: string, where: { servers: string; cluster: string }, options: Partial<NodeOptions> = {}): Promise<Node> {
  const transport = nats(where);
  return startNode({ name, cookie: 'nats-test', transport, discovery: [transport.discovery()], logger: silentLogger(), ...options });
}
