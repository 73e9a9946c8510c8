/**
 * Test-only ProcessHost over a single ProcessTable: every destination is local, so process,
 * Server and Supervisor code can be tested without a Node or a network.
 */
import { CallExitError, NoProcError, TimeoutError } from '../../../src/errors.js';
import type { Logger } from '../../../src/observability/logger.js';
import { CallRequest } from '../../../src/process/envelopes.js';
import type { CallOptions, Destination, ExitReason, MonitorWatcher, ProcessFunction, ProcessHost, ServerClass } from '../../../src/process/host.js';
import { Pid, type Ref } from '../../../src/process/pid.js';
import { isServerClass } from '../../../src/process/server.js';
import { ProcessTable, currentProcess } from '../../../src/process/table.js';
import { realClock, type Clock, type Timer } from '../../../src/time/clock.js';
import { waitFor as pollUntil } from '../../support/wait.js';

export class LocalHost implements ProcessHost {
  readonly name: string;
  readonly incarnation: number;
  readonly table: ProcessTable;
  readonly clock: Clock;
  readonly logger: RecordingLogger;

  constructor(options: { name?: string; incarnation?: number; clock?: Clock } = {}) {
    this.name = options.name ?? 'test';
    this.incarnation = options.incarnation ?? 1;
    this.clock = options.clock ?? realClock;
    this.logger = new RecordingLogger();
    this.table = new ProcessTable({ host: this, node: this.name, incarnation: this.incarnation, clock: this.clock, logger: this.logger });
  }

  spawn(fn: ProcessFunction): Pid;
  spawn<A>(server: ServerClass<A>, arg: A): Pid;
  spawn(target: ProcessFunction | ServerClass<unknown>, arg?: unknown): Pid {
    return isServerClass(target) ? this.table.spawnServer(target, arg) : this.table.spawn(target as ProcessFunction);
  }

  send(to: Destination, message: unknown): void {
    const pid = this.resolve(to);
    if (pid !== undefined) this.table.deliver(pid, message);
  }

  cast(to: Destination, message: unknown): void {
    const pid = this.resolve(to);
    if (pid !== undefined) this.table.deliverCast(pid, message);
  }

  call<R = unknown>(to: Destination, request: unknown, options: CallOptions = {}): Promise<R> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const pid = this.resolve(to);
    if (pid === undefined) return Promise.reject(new NoProcError(`no process ${String(to)}`));
    return new Promise<R>((resolve, reject) => {
      const ref = this.table.makeRef();
      let timer: Timer | undefined;
      const finish = (): void => {
        timer?.cancel();
        this.table.demonitor(ref);
      };
      const call = new CallRequest(
        request,
        currentProcess(),
        (value) => {
          finish();
          resolve(value as R);
        },
        (error) => {
          finish();
          reject(error as Error);
        },
      );
      this.table.monitor(
        pid,
        (down) => call.replyError(down.reason === 'noproc' ? new NoProcError(`${pid.key} is not alive`) : new CallExitError(`${pid.key} exited during the call`, down.reason)),
        ref,
      );
      timer = this.clock.setTimeout(() => call.replyError(new TimeoutError(`call to ${pid.key} timed out after ${timeoutMs} ms`)), timeoutMs);
      this.table.deliverCall(pid, call);
    });
  }

  exit(pid: Pid, reason: ExitReason): void {
    this.table.exit(pid, reason);
  }

  isAlive(pid: Pid): boolean {
    return this.table.isAlive(pid);
  }

  monitor(pid: Pid, watcher: MonitorWatcher): Ref {
    const ref = this.table.makeRef();
    this.table.monitor(pid, watcher, ref);
    return ref;
  }

  demonitor(ref: Ref): boolean {
    return this.table.demonitor(ref);
  }

  register(name: string, pid: Pid): void {
    this.table.register(name, pid);
  }

  unregister(name: string): boolean {
    return this.table.unregister(name);
  }

  whereis(name: string): Pid | undefined {
    return this.table.whereis(name);
  }

  /** Resolves with the exit reason of `pid` (which must be alive or just spawned). */
  exitOf(pid: Pid): Promise<ExitReason> {
    return new Promise((resolve) => this.monitor(pid, (down) => resolve(down.reason)));
  }

  private resolve(to: Destination): Pid | undefined {
    if (to instanceof Pid) return to;
    if (typeof to === 'string') return this.table.whereis(to);
    return to.node === this.name ? this.table.whereis(to.name) : undefined;
  }
}

export interface LogRecord {
  level: string;
  event?: unknown;
  [key: string]: unknown;
}

/** A Logger that keeps every record, to assert on logged events. */
export class RecordingLogger implements Logger {
  level = 'debug';
  readonly records: LogRecord[];

  constructor(records: LogRecord[] = []) {
    this.records = records;
  }

  error(obj: object): void {
    this.records.push({ level: 'error', ...obj });
  }
  warn(obj: object): void {
    this.records.push({ level: 'warn', ...obj });
  }
  info(obj: object): void {
    this.records.push({ level: 'info', ...obj });
  }
  debug(obj: object): void {
    this.records.push({ level: 'debug', ...obj });
  }
  child(): Logger {
    return new RecordingLogger(this.records);
  }

  events(event: string): LogRecord[] {
    return this.records.filter((record) => record.event === event);
  }
}

/** Real timers, but `now()` only moves when the test says so (restart-intensity windows). */
export class SteppedClock implements Clock {
  private at = 0;
  now(): number {
    return this.at;
  }
  wallNow(): number {
    return 1_700_000_000_000 + this.at;
  }
  advance(ms: number): void {
    this.at += ms;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    return realClock.setTimeout(fn, ms);
  }
  setInterval(fn: () => void, ms: number): Timer {
    return realClock.setInterval(fn, ms);
  }
}

/** Poll `predicate` until it returns true; fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what = 'condition', timeoutMs = 2000): Promise<void> {
  await pollUntil(predicate, { timeoutMs, intervalMs: 2, what });
}

/** A promise plus its resolve function (Node 20 has no Promise.withResolvers). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
