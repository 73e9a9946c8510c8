/**
 * Multi-process test harness: N nodes as separate OS processes on 127.0.0.1, each with a control
 * channel (IPC) to run functions inside it, plus SIGKILL, restart, and partitions between chosen
 * nodes (fault injection in the transport). Every distributed test uses it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const ENTRY = fileURLToPath(new URL('./node-main.ts', import.meta.url));

/** What an rpc function receives inside the node process. `api` is rollcall's internal module. */
export interface RpcContext {
  // The node and api are typed loosely: the function runs in another process.
  node: any;
  api: any;
  state: Record<string, unknown>;
  /** Push an event to the test (collected in TestNode.events). */
  emit(event: string, data: unknown): void;
  /** Run a full GC, then report the heap in use and the resident set size, in bytes. */
  memory(): Promise<{ heapUsed: number; rss: number }>;
}

export interface TestNodeConfig {
  name: string;
  cookie?: string;
  port?: number;
  seeds?: string[];
  heartbeat?: { intervalMs?: number; timeoutMs?: number };
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Run the node over NATS (`nats(...)` transport and discovery) instead of TCP. */
  nats?: NatsTestOptions;
  extra?: Record<string, unknown>;
}

/** Options of the nats transport for a test node (what survives JSON). */
export interface NatsTestOptions {
  servers: string | string[];
  cluster: string;
}

export interface NodeEventRecord {
  event: string;
  data: Record<string, unknown>;
  at: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class TestNode {
  readonly name: string;
  address = '';
  incarnation = 0;
  osPid = 0;
  readonly events: NodeEventRecord[] = [];
  readonly logs: Array<Record<string, unknown>> = [];
  /** The end of the process's stderr (the last 8 KiB): why it crashed, if it did. */
  stderr = '';
  exited: Promise<number | null> = Promise.resolve(null);
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  config: TestNodeConfig;

  constructor(config: TestNodeConfig) {
    this.name = config.name;
    this.config = config;
  }

  get seed(): string {
    return `${this.name}@${this.address}`;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start (or restart) the OS process; resolves once the node listens. */
  async start(): Promise<this> {
    const config = { cookie: 'test-cookie', port: 0, seeds: [], ...this.config };
    const child = fork(ENTRY, [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ROLLCALL_TEST_CONFIG: JSON.stringify(config) },
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      let nl: number;
      while ((nl = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.logs.push({ msg: line });
        }
      }
    });
    this.stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-8192);
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`node ${this.name} exited during start (code ${code}, signal ${signal}): ${this.stderr.slice(-2000)}`)));
      child.on('message', (raw) => {
        const message = raw as { type: string; id?: number; ok?: boolean; value?: unknown; error?: { message: string; code?: string; name?: string }; event?: string; data?: Record<string, unknown>; address?: string; incarnation?: number; pid?: number };
        if (message.type === 'ready') {
          this.address = message.address!;
          this.incarnation = message.incarnation!;
          this.osPid = message.pid!;
          // Over NATS the address is the node name: there is no port to keep.
          if ((this.config.port === undefined || this.config.port === 0) && this.address.includes(':')) {
            // Keep the port across restarts, so seeds pointing here stay valid.
            this.config = { ...this.config, port: Number(this.address.split(':').pop()) };
          }
          resolve();
        } else if (message.type === 'event') {
          this.events.push({ event: message.event!, data: message.data ?? {}, at: performance.now() });
        } else if (message.type === 'reply') {
          const pending = this.pending.get(message.id!);
          if (!pending) return;
          this.pending.delete(message.id!);
          if (message.ok) pending.resolve(message.value);
          else pending.reject(Object.assign(new Error(message.error!.message), { code: message.error!.code, name: message.error!.name ?? 'Error' }));
        }
      });
      child.once('exit', () => {
        for (const p of this.pending.values()) p.reject(new Error(`node ${this.name} exited`));
        this.pending.clear();
      });
    });
    await ready;
    return this;
  }

  /**
   * Run `fn` inside the node process and return its (awaited) result. `fn` is sent as source text:
   * it must not close over anything; pass data through `arg`. Pids come back as their string keys.
   */
  rpc<T = unknown, A = unknown>(fn: (ctx: RpcContext, arg: A) => T | Promise<T>, arg?: A): Promise<T> {
    const child = this.child;
    if (!child || !this.alive) return Promise.reject(new Error(`node ${this.name} is not running`));
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ type: 'rpc', id, fn: fn.toString(), arg });
    });
  }

  /** SIGKILL the process and wait until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.alive) return;
    this.child!.kill(signal);
    await this.exited;
  }

  /** Send a signal without waiting (SIGSTOP / SIGCONT for hung-node tests). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Graceful stop (SIGTERM → node.stop()). */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Wait for a node event (nodeup / nodedown / custom emits) matching `match`, seen after `since`. */
  async waitForEvent(event: string, match: (data: Record<string, unknown>) => boolean = () => true, options: { timeoutMs?: number; since?: number } = {}): Promise<NodeEventRecord> {
    const since = options.since ?? 0;
    return waitFor(() => this.events.find((e) => e.at >= since && e.event === event && match(e.data)), {
      timeoutMs: options.timeoutMs ?? 10_000,
      what: `${this.name}: event ${event}`,
    });
  }

  async waitForLog(match: (record: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return waitFor(() => this.logs.find(match), { timeoutMs, what: `${this.name}: log line` });
  }

  async peers(): Promise<string[]> {
    return this.rpc(({ node }) => (node.peers() as string[]).sort());
  }
}

export interface ClusterOptions {
  cookie?: string;
  heartbeat?: { intervalMs?: number; timeoutMs?: number };
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Wait for the full mesh before returning. Default true. */
  waitForMesh?: boolean;
  /** More startNode options for some nodes, by node name (e.g. `{a: {maxQueueBytes: 2 ** 21}}`). */
  nodeOptions?: Record<string, Record<string, unknown>>;
  /** Run every node over NATS instead of TCP (seeds are then node names; discovery finds the rest). */
  nats?: NatsTestOptions;
}

export class TestCluster {
  readonly nodes: TestNode[];

  constructor(nodes: TestNode[]) {
    this.nodes = nodes;
  }

  node(name: string): TestNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** Wait until every live node is connected to every other live node. */
  async waitForMesh(timeoutMs = 15_000): Promise<void> {
    const live = this.nodes.filter((n) => n.alive);
    const names = live.map((n) => n.name).sort();
    await waitFor(
      async () => {
        for (const n of live) {
          const peers = await n.peers();
          const expected = names.filter((x) => x !== n.name);
          if (peers.join(',') !== expected.join(',')) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 50, what: `full mesh of ${names.join(', ')}` },
    );
  }

  /**
   * Wait until the Group each node keeps in `state[stateKey]` counts every other node as a Group
   * peer (the usual set-up step after starting one Group per node).
   */
  async waitForGroupPeers(stateKey = 'group', timeoutMs = 15_000): Promise<void> {
    const others = this.nodes.length - 1;
    await waitFor(
      async () => {
        const counts = await Promise.all(this.nodes.map((n) => n.rpc(({ state }, key) => (state[key] as { nodes(): string[] }).nodes().length, stateKey)));
        return counts.every((count) => count === others);
      },
      { timeoutMs, what: `every node's Group (state.${stateKey}) sees its ${others} peers` },
    );
  }

  /** Restart a (killed) node with the same name and port: a new incarnation. */
  async restart(name: string): Promise<TestNode> {
    const node = this.node(name);
    if (node.alive) await node.kill();
    await node.start();
    return node;
  }

  /**
   * Partition a and b: frames between them are lost and reconnects refused. With `oneWay`, only
   * a → b is lost. With `closeNow`, the link drops at once instead of by heartbeat timeout.
   */
  async cut(a: string, b: string, options: { oneWay?: boolean; closeNow?: boolean } = {}): Promise<void> {
    const oneWay = options.oneWay ?? false;
    const closeNow = options.closeNow ?? false;
    await this.node(a).rpc(({ node }, arg) => node.block(arg.peer, { in: !arg.oneWay, out: true, closeNow: arg.closeNow }), { peer: b, oneWay, closeNow });
    await this.node(b).rpc(({ node }, arg) => node.block(arg.peer, { in: true, out: !arg.oneWay, closeNow: arg.closeNow }), { peer: a, oneWay, closeNow });
  }

  /** Heal a partition and reconnect at once (no reconnect backoff). */
  async heal(a: string, b: string): Promise<void> {
    await this.node(a).rpc(({ node }, arg) => node.unblock(arg), b);
    await this.node(b).rpc(({ node }, arg) => node.unblock(arg), a);
    const bSeed = this.node(b).seed;
    await this.node(a).rpc(({ node }, arg) => node.connect(arg), bSeed);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }
}

/** Start `names.length` nodes; every node but the first seeds from the first one. */
export async function startCluster(names: string[], options: ClusterOptions = {}): Promise<TestCluster> {
  const [first, ...rest] = names;
  const base = { cookie: options.cookie ?? 'test-cookie', heartbeat: options.heartbeat, reconnect: options.reconnect, ...(options.nats === undefined ? {} : { nats: options.nats }) };
  const extra = (name: string): { extra?: Record<string, unknown> } => (options.nodeOptions?.[name] === undefined ? {} : { extra: options.nodeOptions[name] });
  const seedNode = await new TestNode({ name: first!, ...base, ...extra(first!) }).start();
  const others = await Promise.all(rest.map((name) => new TestNode({ name, ...base, ...extra(name), seeds: [seedNode.seed] }).start()));
  const cluster = new TestCluster([seedNode, ...others]);
  if (options.waitForMesh !== false) await cluster.waitForMesh();
  return cluster;
}
