/**
 * Driver side of a benchmark node: forks bench-node.ts as its own OS process and talks to it over
 * IPC (see bench-node.ts for the protocol). Multi-node workloads start one per node.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchNodeConfig } from './bench-node.js';

const ENTRY = fileURLToPath(new URL('./bench-node.ts', import.meta.url));

export interface StartOptions extends Omit<BenchNodeConfig, 'cookie' | 'seeds'> {
  readonly cookie?: string;
  readonly seeds?: readonly string[];
  /**
   * Write V8 CPU profiles of this process into `<profileDir>/<name>/` when it stops: one per
   * thread (tsx's loader runs in a worker); the main thread's has thread id 0 in its name.
   */
  readonly profileDir?: string | undefined;
  /** Give up on the start after this long. Default 30 s (tsx compiles on first start). */
  readonly timeoutMs?: number;
  /** More Node.js flags for the process, e.g. `--max-old-space-size=4096` for large tables. */
  readonly execArgv?: readonly string[];
}

interface Reply {
  readonly type: 'reply';
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: { name: string; message: string; stack?: string };
}

interface Ready {
  readonly type: 'ready';
  readonly seed: string;
  readonly incarnation: number;
}

export class BenchNodeProcess {
  readonly name: string;
  /** `name@host:port`, for the seeds of the other nodes. */
  readonly seed: string;
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 0;
  private exitError: Error | undefined;

  private constructor(name: string, seed: string, child: ChildProcess, exited: Promise<void>) {
    this.name = name;
    this.seed = seed;
    this.child = child;
    this.exited = exited;
    child.on('message', (raw) => this.onMessage(raw as Reply));
    void exited.then(() => {
      this.exitError = new Error(`bench node ${name} exited (code ${child.exitCode}, signal ${child.signalCode})`);
      for (const pending of this.pending.values()) pending.reject(this.exitError);
      this.pending.clear();
    });
  }

  /** Fork a node process and resolve once its node listens. */
  static async start(options: StartOptions): Promise<BenchNodeProcess> {
    const config: BenchNodeConfig = {
      name: options.name,
      cookie: options.cookie ?? 'rollcall-bench',
      seeds: options.seeds ?? [],
      ...(options.options === undefined ? {} : { options: options.options }),
      ...(options.countBytes === true ? { countBytes: true } : {}),
      ...(options.nats === undefined ? {} : { nats: options.nats }),
    };
    const execArgv = ['--import', 'tsx', ...(options.execArgv ?? [])];
    if (options.profileDir !== undefined) {
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${join(options.profileDir, options.name)}`);
    }
    const child = fork(ENTRY, [], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ROLLCALL_BENCH_NODE: JSON.stringify(config) },
    });
    // Node logs (warn and up) and crashes go to our stderr, marked with the node's name.
    const prefix = `[${options.name}] `;
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.setEncoding('utf8');
      let partial = '';
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) process.stderr.write(prefix + line + '\n');
      });
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const timeoutMs = options.timeoutMs ?? 30_000;
    const ready = await new Promise<Ready>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`bench node ${options.name} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('message', (raw) => {
        const message = raw as Ready;
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve(message);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`bench node ${options.name} exited during start (code ${child.exitCode}, signal ${child.signalCode})`));
      });
    });
    return new BenchNodeProcess(options.name, ready.seed, child, exited);
  }

  /**
   * Run `roles[fn](ctx, args)` inside the node process and resolve with its (awaited) result.
   * `module` is the workload module's `import.meta.url`; omit it for the built-in roles.
   */
  invoke<T = unknown>(module: string | undefined, fn: string, args?: unknown): Promise<T> {
    if (this.exitError !== undefined) return Promise.reject(this.exitError);
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ type: 'invoke', id, module, fn, args });
    });
  }

  /** Resolves once every named peer is connected to this node. */
  waitForPeers(names: readonly string[], timeoutMs = 10_000): Promise<void> {
    return this.invoke(undefined, 'waitForPeers', { names, timeoutMs });
  }

  /** Graceful stop (the process exits by itself, writing its CPU profile); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.exitError !== undefined) return;
    const id = ++this.nextId;
    this.child.send({ type: 'stop', id });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL, as a crash would (no LEAVE reaches the peers). */
  async kill(): Promise<void> {
    if (this.exitError !== undefined) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  private onMessage(reply: Reply): void {
    if (reply.type !== 'reply') return;
    const pending = this.pending.get(reply.id);
    if (pending === undefined) return;
    this.pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else {
      const error = new Error(`${this.name}: ${reply.error?.message ?? 'role failed'}`);
      if (reply.error?.stack !== undefined) error.stack = `${error.message}\n--- in ${this.name}:\n${reply.error.stack}`;
      pending.reject(error);
    }
  }
}
