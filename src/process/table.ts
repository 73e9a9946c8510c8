import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidArgumentError, NotRunningError, describeReason } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import { IdTable } from './id-table.js';
import { CallRequest, Cast } from './envelopes.js';
import type { DownInfo, DownMessage, ExitReason, MonitorWatcher, ProcessContext, ProcessFunction, ProcessHost, ServerClass } from './host.js';
import { Mailbox } from './mailbox.js';
import { Pid, Ref } from './pid.js';
import { Server, runServer } from './server.js';

export interface ProcessTableOptions {
  /** The node's ProcessHost: handed to processes as `ctx.node`, and used to send DOWN messages. */
  host: ProcessHost;
  node: string;
  incarnation: number;
  clock: Clock;
  logger: Logger;
  /** Run processes inside the AsyncLocalStorage that `currentProcess()` reads. Default true. */
  implicitSelf?: boolean;
}

export type ExitListener = (pid: Pid, reason: ExitReason) => void;

/** One monitor on a local target. Kept in three indexes: by ref, by target, by local watcher. */
interface MonitorEntry {
  readonly ref: Ref;
  readonly targetPid: Pid;
  /** Undefined for a monitor that fires 'noproc' (the target was already dead). */
  readonly target: LocalProcess | undefined;
  readonly watcher: MonitorWatcher;
  /** The watcher's record when it is a local process, so its death removes the monitors it holds. */
  readonly holder: LocalProcess | undefined;
}

/** A live local process: its record in the table and the ProcessContext its function gets. */
class LocalProcess implements ProcessContext {
  readonly self: Pid;
  readonly node: ProcessHost;
  readonly mailbox: Mailbox;
  alive = true;
  name: string | undefined = undefined;
  /** Monitors whose target is this process. */
  watchedBy: Set<MonitorEntry> | undefined = undefined;
  /** Monitors this process holds as a Pid watcher. */
  watching: Set<MonitorEntry> | undefined = undefined;
  // Created on first use: most processes never look at their signal.
  private controller: AbortController | undefined = undefined;

  constructor(self: Pid, node: ProcessHost, clock: Clock) {
    this.self = self;
    this.node = node;
    this.mailbox = new Mailbox(clock);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      const exited = this.mailbox.exitSignal;
      if (exited !== undefined) this.controller.abort(exited);
    }
    return this.controller.signal;
  }

  receive<T = unknown>(options?: { timeoutMs?: number }): Promise<T> {
    return this.mailbox.receive(options?.timeoutMs) as Promise<T>;
  }

  /** Called once the mailbox is closed, so the abort reason is the same ExitSignal receive throws. */
  abort(): void {
    this.controller?.abort(this.mailbox.exitSignal);
  }
}

const running = new AsyncLocalStorage<LocalProcess>();

/**
 * The calling process's Pid, or undefined outside any process. Works anywhere in the process's
 * async call tree (AsyncLocalStorage). Callbacks a process left behind (a timer it set) still
 * see its pid after it died.
 */
export function currentProcess(): Pid | undefined {
  return running.getStore()?.self;
}

/**
 * The local process runtime of ONE node: spawning, mailboxes, exits, monitors on local targets
 * and local names. It only ever touches processes of this node; anything about another process
 * (DOWN messages to a remote watcher, processes' own sends) goes through the ProcessHost, which
 * the Node routes.
 *
 * Exit semantics differ from Erlang on purpose: there are no links and no trap_exit, so
 * `exit(pid, reason)` always kills, including with reason 'normal'.
 */
export class ProcessTable {
  readonly node: string;
  readonly incarnation: number;
  private readonly host: ProcessHost;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** Live processes by id (ids are handed out in increasing order: see IdTable). */
  private readonly processes = new IdTable<LocalProcess>();
  private readonly names = new Map<string, LocalProcess>();
  /** Every monitor until its notification is delivered or it is demonitored. */
  private readonly monitors = new Map<string, MonitorEntry>();
  private readonly exitListeners: ExitListener[] = [];
  private lastPidId = 0;
  private lastRefId = 0;
  private stopped = false;
  private readonly implicitSelf: boolean;

  constructor(options: ProcessTableOptions) {
    const { host, node, incarnation, clock, logger } = options;
    if (typeof node !== 'string' || node === '') throw new InvalidArgumentError(`ProcessTable: node must be a non-empty string, got ${String(node)}`);
    if (!Number.isSafeInteger(incarnation) || incarnation < 0) {
      throw new InvalidArgumentError(`ProcessTable: incarnation must be an integer >= 0, got ${String(incarnation)}`);
    }
    if (host === undefined || clock === undefined || logger === undefined) throw new InvalidArgumentError('ProcessTable: host, clock and logger are required');
    this.host = host;
    this.node = node;
    this.incarnation = incarnation;
    this.clock = clock;
    this.logger = logger;
    this.implicitSelf = options.implicitSelf ?? true;
  }

  /**
   * Start a process running `fn(ctx)`. Returns its Pid at once; the function starts in a
   * microtask, so the caller can monitor the pid (or send to it) before any of its code runs.
   * Returning ends the process with reason 'normal'; throwing or rejecting ends it with the
   * thrown value as reason (logged at warn, event 'process_crashed').
   */
  spawn(fn: ProcessFunction): Pid {
    if (typeof fn !== 'function') throw new InvalidArgumentError(`spawn() needs a function (ctx) => ..., got ${typeof fn}`);
    if (this.stopped) throw new NotRunningError(`node ${this.node} is stopped: cannot spawn`);
    const pid = new Pid(this.node, this.incarnation, ++this.lastPidId);
    const proc = new LocalProcess(pid, this.host, this.clock);
    this.processes.set(pid.id, proc);
    queueMicrotask(() => {
      if (!proc.alive) return;
      // Without implicit self, no AsyncLocalStorage: its promise hooks would tax every promise.
      // exit() is a plain call while no AsyncLocalStorage is enabled in the OS process, and
      // otherwise keeps the spawner's context out of this process.
      if (this.implicitSelf) void running.run(proc, () => this.run(proc, fn));
      else void running.exit(() => this.run(proc, fn));
    });
    return pid;
  }

  /** Start a Server (see server.ts for its lifecycle). Returns before `init` ran. */
  spawnServer<A>(ServerCls: ServerClass<A>, arg: A): Pid {
    if (typeof ServerCls !== 'function') throw new InvalidArgumentError(`spawnServer() needs a Server subclass, got ${typeof ServerCls}`);
    const server = new ServerCls();
    if (!(server instanceof Server)) throw new InvalidArgumentError(`spawnServer(): ${ServerCls.name} does not extend Server`);
    const env = { clock: this.clock, logger: this.logger };
    return this.spawn((ctx) => runServer(server as Server<A>, ctx, arg, env));
  }

  /**
   * Kill a local process now: it is dead on return (isAlive false, messages dropped, name
   * released), a receive it waits in rejects with ExitSignal(reason) so its function unwinds,
   * `ctx.signal` aborts, and its monitors fire with `reason` (in a microtask). Exiting a dead or
   * unknown pid does nothing. Unlike Erlang, reason 'normal' kills too (no links, no trap_exit).
   */
  exit(pid: Pid, reason: ExitReason): void {
    const proc = this.lookup(pid);
    if (proc !== undefined) this.die(proc, reason);
  }

  /** Put a message in a local mailbox. False (message dropped) if the process is dead or unknown. */
  deliver(pid: Pid, message: unknown): boolean {
    const proc = this.lookup(pid);
    return proc !== undefined && proc.mailbox.push(message);
  }

  deliverCall(pid: Pid, call: CallRequest): boolean {
    return this.deliver(pid, call);
  }

  deliverCast(pid: Pid, message: unknown): boolean {
    const proc = this.lookup(pid);
    return proc !== undefined && proc.mailbox.push(new Cast(message));
  }

  isAlive(pid: Pid): boolean {
    return this.lookup(pid) !== undefined;
  }

  /** Live local processes. */
  count(): number {
    return this.processes.size;
  }

  pids(): Pid[] {
    return Array.from(this.processes.values(), (proc) => proc.self);
  }

  /** A fresh Ref of this node (monitor refs, call refs). */
  makeRef(): Ref {
    return new Ref(this.node, this.incarnation, ++this.lastRefId);
  }

  /**
   * Watch a local process. When it ends, `watcher` is told `{ref, pid, reason}`: a callback is
   * called, a Pid is sent `{type: 'DOWN', ref, pid, reason}` through the host (it may be remote).
   * The notification is always asynchronous (a microtask), never inside the call that killed the
   * target. A dead or unknown target fires 'noproc'. Callback errors are logged (event
   * 'callback_error'). A monitor held by a local Pid watcher is dropped when that watcher dies.
   */
  monitor(target: Pid, watcher: MonitorWatcher, ref: Ref): void {
    if (!(target instanceof Pid)) throw new InvalidArgumentError(`monitor(): target must be a Pid, got ${describeReason(target)}`);
    if (target.node !== this.node) throw new InvalidArgumentError(`monitor(): ${target.key} is not a pid of node ${this.node}; route remote monitors through the Node`);
    if (typeof watcher !== 'function' && !(watcher instanceof Pid)) throw new InvalidArgumentError('monitor(): watcher must be a callback or a Pid');
    if (this.monitors.has(ref.key)) throw new InvalidArgumentError(`monitor(): ref ${ref.key} is already in use; make a fresh one with makeRef()`);
    let holder: LocalProcess | undefined;
    if (watcher instanceof Pid && watcher.node === this.node) {
      holder = this.lookup(watcher);
      // A dead local watcher could never receive the DOWN: nothing to keep.
      if (holder === undefined) return;
    }
    const proc = this.lookup(target);
    const entry: MonitorEntry = { ref, targetPid: target, target: proc, watcher, holder };
    this.monitors.set(ref.key, entry);
    if (holder !== undefined) (holder.watching ??= new Set()).add(entry);
    if (proc === undefined) {
      queueMicrotask(() => running.exit(() => this.fire(entry, 'noproc')));
    } else {
      (proc.watchedBy ??= new Set()).add(entry);
    }
  }

  /** Remove a monitor; no notification is delivered after this. Returns whether it existed. */
  demonitor(ref: Ref): boolean {
    const entry = this.monitors.get(ref.key);
    if (entry === undefined) return false;
    this.monitors.delete(ref.key);
    entry.target?.watchedBy?.delete(entry);
    entry.holder?.watching?.delete(entry);
    return true;
  }

  /**
   * Name a live local process. Throws InvalidArgumentError when the name belongs to another
   * process, the pid is not a live local process, or the process already has a name.
   */
  register(name: string, pid: Pid): void {
    if (typeof name !== 'string' || name === '') throw new InvalidArgumentError(`register(): name must be a non-empty string, got ${describeReason(name)}`);
    const proc = this.lookup(pid);
    if (proc === undefined) throw new InvalidArgumentError(`register(${JSON.stringify(name)}): ${String(pid)} is not a live process of node ${this.node}`);
    const owner = this.names.get(name);
    if (owner !== undefined) {
      throw new InvalidArgumentError(`register(${JSON.stringify(name)}): the name is taken by ${owner.self.key}; unregister it first or pick another name`);
    }
    if (proc.name !== undefined) {
      throw new InvalidArgumentError(`register(${JSON.stringify(name)}): ${pid.key} is already registered as ${JSON.stringify(proc.name)}; a process has at most one name`);
    }
    this.names.set(name, proc);
    proc.name = name;
  }

  unregister(name: string): boolean {
    const proc = this.names.get(name);
    if (proc === undefined) return false;
    this.names.delete(name);
    proc.name = undefined;
    return true;
  }

  whereis(name: string): Pid | undefined {
    return this.names.get(name)?.self;
  }

  /**
   * Be told synchronously of every local death, after the table is updated (the Node notifies
   * remote watchers and fails calls with it). Returns a function that removes the listener.
   */
  onExit(listener: ExitListener): () => void {
    this.exitListeners.push(listener);
    return () => {
      const index = this.exitListeners.indexOf(listener);
      if (index !== -1) this.exitListeners.splice(index, 1);
    };
  }

  /**
   * Exit every process with `reason`, newest first (so children die before the supervisors
   * that would restart them), and refuse later spawns. Used by node.stop().
   */
  shutdown(reason: ExitReason): void {
    this.stopped = true;
    const all = Array.from(this.processes.values());
    for (let i = all.length - 1; i >= 0; i--) this.die(all[i]!, reason);
  }

  private lookup(pid: Pid): LocalProcess | undefined {
    const proc = this.processes.get(pid.id);
    if (proc === undefined) return undefined;
    const self = proc.self;
    return self === pid || (self.incarnation === pid.incarnation && self.node === pid.node) ? proc : undefined;
  }

  private async run(proc: LocalProcess, fn: ProcessFunction): Promise<void> {
    let reason: ExitReason = 'normal';
    try {
      await fn(proc);
    } catch (error) {
      reason = error;
    }
    // Already exited: the function was only unwinding (typically from the ExitSignal).
    if (!proc.alive) return;
    if (reason !== 'normal') {
      this.logger.warn({ event: 'process_crashed', pid: proc.self.key, reason: describeReason(reason), err: reason instanceof Error ? reason : undefined });
    }
    this.die(proc, reason);
  }

  /** Everything a death changes, in an order that leaves the tables consistent before any user code runs. */
  private die(proc: LocalProcess, reason: ExitReason): void {
    proc.alive = false;
    this.processes.delete(proc.self.id);
    if (proc.name !== undefined) {
      this.names.delete(proc.name);
      proc.name = undefined;
    }
    proc.mailbox.close(reason);
    const watching = proc.watching;
    if (watching !== undefined) {
      proc.watching = undefined;
      for (const entry of watching) {
        this.monitors.delete(entry.ref.key);
        entry.target?.watchedBy?.delete(entry);
      }
    }
    const watchedBy = proc.watchedBy;
    if (watchedBy !== undefined && watchedBy.size > 0) {
      proc.watchedBy = undefined;
      // Entries stay in `monitors` until fired, so a demonitor in between still cancels them.
      queueMicrotask(() => running.exit(() => this.fireAll(watchedBy, reason)));
    }
    for (let i = 0; i < this.exitListeners.length; i++) {
      try {
        this.exitListeners[i]!(proc.self, reason);
      } catch (error) {
        this.logger.error({ event: 'callback_error', callback: 'onExit', pid: proc.self.key, err: error });
      }
    }
    // Last: abort listeners are user code and run synchronously.
    proc.abort();
  }

  private fireAll(entries: Set<MonitorEntry>, reason: ExitReason): void {
    for (const entry of entries) this.fire(entry, reason);
  }

  private fire(entry: MonitorEntry, reason: ExitReason): void {
    if (this.monitors.get(entry.ref.key) !== entry) return;
    this.monitors.delete(entry.ref.key);
    entry.holder?.watching?.delete(entry);
    const { ref, targetPid: pid, watcher } = entry;
    if (typeof watcher === 'function') {
      const down: DownInfo = { ref, pid, reason };
      try {
        watcher(down);
      } catch (error) {
        this.logger.error({ event: 'callback_error', callback: 'monitor', pid: pid.key, ref: ref.key, err: error });
      }
      return;
    }
    const message: DownMessage = { type: 'DOWN', ref, pid, reason };
    try {
      this.host.send(watcher, message);
    } catch (error) {
      this.logger.error({ event: 'down_send_failed', pid: pid.key, watcher: watcher.key, err: error });
    }
  }
}
