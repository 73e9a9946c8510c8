import { InvalidArgumentError, describeReason } from '../errors.js';
import type { Timer } from '../time/clock.js';
import type { CallRequest } from './envelopes.js';
import type { CallOptions, DownMessage, ExitReason, ProcessHost } from './host.js';
import { Pid, type Ref } from './pid.js';
import { Server, noReply } from './server.js';

export type RestartType = 'permanent' | 'transient' | 'temporary';

export interface ChildSpec {
  /** Unique among the supervisor's children. */
  id: string;
  /** Spawn the child (synchronously) and return its pid. */
  start: (host: ProcessHost) => Pid;
  /**
   * permanent (default): always restarted. transient: restarted unless it ended with 'normal'
   * or 'shutdown'. temporary: never restarted, forgotten when it ends.
   */
  restart?: RestartType;
  /**
   * How long to wait for the child's exit to be confirmed (its DOWN) after `exit(child,
   * 'shutdown')` before exiting it with 'kill' and moving on. Default 5000. A local child is
   * dead at once, so this matters for children on other nodes. 0 = exit with 'kill' straight
   * away (Erlang's brutal_kill: a Server child's terminate() is skipped).
   */
  shutdownMs?: number;
}

export interface SupervisorOptions {
  /** Started in order; shut down in reverse order. */
  children: ChildSpec[];
  /** More than `intensity` restarts within `periodMs` and the supervisor gives up. Default 3. */
  intensity?: number;
  /** Default 5000. */
  periodMs?: number;
}

export interface ChildInfo {
  id: string;
  /** Undefined while the child is not running (terminated, or transient ended normally). */
  pid: Pid | undefined;
  restart: RestartType;
}

const DEFAULT_SHUTDOWN_MS = 5000;
const CALL_TAG = 'rollcall.supervisor';
const RETRY_TAG = 'rollcall.supervisor.retry';

interface Child {
  readonly spec: ChildSpec;
  readonly restart: RestartType;
  readonly shutdownMs: number;
  pid: Pid | undefined;
  monitor: Ref | undefined;
}

type SupervisorRequest =
  | { tag: typeof CALL_TAG; op: 'which_children' }
  | { tag: typeof CALL_TAG; op: 'start_child'; spec: ChildSpec }
  | { tag: typeof CALL_TAG; op: 'terminate_child' | 'restart_child' | 'delete_child'; id: string };

/**
 * A one-for-one supervisor: starts its children in order, monitors each, and restarts a child
 * that ends according to its restart type. More than `intensity` restarts within `periodMs`
 * (measured on the node's Clock) and it shuts every child down (reverse order, reason
 * 'shutdown') and exits with 'shutdown' (logged, event 'supervisor_intensity_exceeded').
 * When the supervisor stops or is exited (with any reason, 'kill' included), its children are
 * exited with 'shutdown' in reverse order.
 *
 * A child whose start() throws during a restart is retried through the supervisor's mailbox,
 * each attempt counting as a restart, so a child that cannot start ends the supervisor.
 *
 * Ordered shutdown orders the exit signals: a local child is dead as soon as it is exited, and a
 * Server child's terminate() then runs after its death, concurrently with its siblings' shutdown.
 *
 * @example
 *   const sup = host.spawn(Supervisor, {
 *     children: [{ id: 'cache', start: (h) => h.spawn(Cache, {}) }],
 *   });
 *   await whichChildren(host, sup); // [{ id: 'cache', pid: <...>, restart: 'permanent' }]
 */
export class Supervisor extends Server<SupervisorOptions> {
  /** By id, in start order (Map keeps insertion order; a restart keeps the child's place). */
  private readonly children = new Map<string, Child>();
  private readonly childByMonitor = new Map<string, Child>();
  private restartTimes: number[] = [];
  private intensity = 3;
  private periodMs = 5000;
  private childrenShutdown: Promise<void> | undefined = undefined;

  override init(options: SupervisorOptions): void {
    const { children, intensity = 3, periodMs = 5000 } = checkOptions(options);
    this.intensity = intensity;
    this.periodMs = periodMs;
    // terminate() runs neither for 'kill' nor after init throws; this callback monitor covers
    // every way of dying, including a child failing to start below.
    this.node.monitor(this.self, () => void this.shutdownChildren());
    for (const spec of children) this.children.set(spec.id, makeChild(spec));
    for (const child of this.children.values()) this.launch(child);
  }

  override async handleCall(request: unknown, from: Pid | undefined, call: CallRequest): Promise<unknown> {
    if (!isSupervisorRequest(request)) return super.handleCall(request, from, call);
    // Bad requests are the caller's problem: answer with the error, keep supervising.
    try {
      return await this.handleRequest(request);
    } catch (error) {
      this.replyError(call, error);
      return noReply;
    }
  }

  override handleInfo(message: unknown): Promise<void> | void {
    if (isDown(message)) {
      const child = this.childByMonitor.get(message.ref.key);
      // Unknown ref: a child we already shut down or replaced.
      if (child === undefined) return;
      this.childByMonitor.delete(message.ref.key);
      child.pid = undefined;
      child.monitor = undefined;
      this.childEnded(child, message.reason);
      return;
    }
    if (isRetry(message)) {
      const child = this.children.get(message.id);
      if (child !== undefined && child.pid === undefined) this.restartChild(child, 'start_failed');
      return;
    }
    return super.handleInfo(message);
  }

  override async terminate(): Promise<void> {
    await this.shutdownChildren();
  }

  private async handleRequest(request: SupervisorRequest): Promise<unknown> {
    switch (request.op) {
      case 'which_children':
        return Array.from(this.children.values(), (child): ChildInfo => ({ id: child.spec.id, pid: child.pid, restart: child.restart }));
      case 'start_child': {
        const spec = checkSpec(request.spec, 'startChild()');
        if (this.children.has(spec.id)) throw new InvalidArgumentError(`startChild(): a child with id ${JSON.stringify(spec.id)} already exists; pick another id or deleteChild() it first`);
        const child = makeChild(spec);
        this.children.set(spec.id, child);
        try {
          return this.launch(child);
        } catch (error) {
          this.children.delete(spec.id);
          throw error;
        }
      }
      case 'terminate_child': {
        const child = this.children.get(request.id);
        if (child === undefined) return false;
        await this.shutdownChild(child);
        if (child.restart === 'temporary') this.children.delete(request.id);
        return true;
      }
      case 'restart_child': {
        const child = this.childOrThrow(request.id, 'restartChild()');
        if (child.pid !== undefined) throw new InvalidArgumentError(`restartChild(): child ${JSON.stringify(request.id)} is running; terminateChild() it first`);
        return this.launch(child);
      }
      case 'delete_child': {
        const child = this.children.get(request.id);
        if (child === undefined) return false;
        if (child.pid !== undefined) throw new InvalidArgumentError(`deleteChild(): child ${JSON.stringify(request.id)} is running; terminateChild() it first`);
        this.children.delete(request.id);
        return true;
      }
    }
  }

  private childEnded(child: Child, reason: ExitReason): void {
    if (child.restart === 'temporary') {
      this.children.delete(child.spec.id);
      return;
    }
    if (child.restart === 'transient' && (reason === 'normal' || reason === 'shutdown')) return;
    this.restartChild(child, reason);
  }

  private restartChild(child: Child, reason: ExitReason): void {
    if (this.intensityExceeded()) {
      this.logger.error({
        event: 'supervisor_intensity_exceeded',
        pid: this.self.key,
        child: child.spec.id,
        reason: describeReason(reason),
        intensity: this.intensity,
        periodMs: this.periodMs,
      });
      this.stop('shutdown');
      return;
    }
    try {
      this.launch(child);
      this.logger.info({ event: 'child_restarted', pid: this.self.key, child: child.spec.id, reason: describeReason(reason) });
    } catch (error) {
      this.logger.warn({ event: 'child_start_failed', pid: this.self.key, child: child.spec.id, err: error });
      this.node.send(this.self, { tag: RETRY_TAG, id: child.spec.id });
    }
  }

  /** Records a restart now; true when that makes more than `intensity` within `periodMs`. */
  private intensityExceeded(): boolean {
    const now = this.clock.now();
    const since = now - this.periodMs;
    const recent = this.restartTimes.filter((at) => at > since);
    recent.push(now);
    this.restartTimes = recent;
    return recent.length > this.intensity;
  }

  private launch(child: Child): Pid {
    const pid = child.spec.start(this.node);
    if (!(pid instanceof Pid)) {
      throw new InvalidArgumentError(`child ${JSON.stringify(child.spec.id)}: start() must return the Pid of the process it spawned, got ${describeReason(pid)}`);
    }
    const monitor = this.node.monitor(pid, this.self);
    child.pid = pid;
    child.monitor = monitor;
    this.childByMonitor.set(monitor.key, child);
    return pid;
  }

  private shutdownChildren(): Promise<void> {
    return (this.childrenShutdown ??= this.shutdownInReverse());
  }

  private async shutdownInReverse(): Promise<void> {
    const children = Array.from(this.children.values());
    for (let i = children.length - 1; i >= 0; i--) await this.shutdownChild(children[i]!);
  }

  /** exit(child, 'shutdown'), wait for its DOWN up to shutdownMs, then exit(child, 'kill'). */
  private async shutdownChild(child: Child): Promise<void> {
    const pid = child.pid;
    if (pid === undefined) return;
    if (child.monitor !== undefined) {
      this.node.demonitor(child.monitor);
      this.childByMonitor.delete(child.monitor.key);
    }
    child.pid = undefined;
    child.monitor = undefined;
    const host = this.node;
    if (child.shutdownMs === 0) {
      host.exit(pid, 'kill');
      return;
    }
    const clock = this.clock;
    await new Promise<void>((resolve) => {
      let timer: Timer | undefined;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        timer?.cancel();
        resolve();
      };
      const ref = host.monitor(pid, finish);
      host.exit(pid, 'shutdown');
      if (!done && Number.isFinite(child.shutdownMs)) {
        timer = clock.setTimeout(() => {
          host.demonitor(ref);
          host.exit(pid, 'kill');
          finish();
        }, child.shutdownMs);
      }
    });
  }

  private childOrThrow(id: string, what: string): Child {
    const child = this.children.get(id);
    if (child === undefined) throw new InvalidArgumentError(`${what}: no child with id ${JSON.stringify(id)}; see whichChildren()`);
    return child;
  }
}

/**
 * Add and start a child on a running supervisor. Resolves with its pid; rejects with
 * InvalidArgumentError when the id is taken or the spec is invalid, or with the error start()
 * threw. The spec holds a function, so the supervisor must run on the caller's node.
 */
export function startChild(host: ProcessHost, sup: Pid, spec: ChildSpec, options?: CallOptions): Promise<Pid> {
  return host.call<Pid>(sup, { tag: CALL_TAG, op: 'start_child', spec }, options);
}

/**
 * Shut a child down (exit 'shutdown', then 'kill' after its shutdownMs). Its spec is kept (pid
 * undefined) for restartChild/deleteChild, except for a temporary child, which is forgotten.
 * Resolves false when no child has that id. May take up to the child's shutdownMs.
 */
export function terminateChild(host: ProcessHost, sup: Pid, id: string, options?: CallOptions): Promise<boolean> {
  return host.call<boolean>(sup, { tag: CALL_TAG, op: 'terminate_child', id }, options);
}

/** Start again a terminated child. Rejects with InvalidArgumentError if unknown or running. */
export function restartChild(host: ProcessHost, sup: Pid, id: string, options?: CallOptions): Promise<Pid> {
  return host.call<Pid>(sup, { tag: CALL_TAG, op: 'restart_child', id }, options);
}

/** Forget a terminated child. Resolves false when unknown; rejects if it is running. */
export function deleteChild(host: ProcessHost, sup: Pid, id: string, options?: CallOptions): Promise<boolean> {
  return host.call<boolean>(sup, { tag: CALL_TAG, op: 'delete_child', id }, options);
}

/** The children in start order. */
export function whichChildren(host: ProcessHost, sup: Pid, options?: CallOptions): Promise<ChildInfo[]> {
  return host.call<ChildInfo[]>(sup, { tag: CALL_TAG, op: 'which_children' }, options);
}

function makeChild(spec: ChildSpec): Child {
  return { spec, restart: spec.restart ?? 'permanent', shutdownMs: spec.shutdownMs ?? DEFAULT_SHUTDOWN_MS, pid: undefined, monitor: undefined };
}

function checkOptions(options: SupervisorOptions): SupervisorOptions {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('Supervisor: pass { children: ChildSpec[], intensity?, periodMs? }');
  const { children, intensity, periodMs } = options;
  if (!Array.isArray(children)) throw new InvalidArgumentError('Supervisor: children must be an array of ChildSpec (it may be empty)');
  if (intensity !== undefined && !(Number.isInteger(intensity) && intensity >= 0)) {
    throw new InvalidArgumentError(`Supervisor: intensity must be an integer >= 0, got ${String(intensity)}`);
  }
  if (periodMs !== undefined && !(typeof periodMs === 'number' && periodMs > 0)) {
    throw new InvalidArgumentError(`Supervisor: periodMs must be a number > 0, got ${String(periodMs)}`);
  }
  const ids = new Set<string>();
  for (const spec of children) {
    checkSpec(spec, 'Supervisor');
    if (ids.has(spec.id)) throw new InvalidArgumentError(`Supervisor: two children have id ${JSON.stringify(spec.id)}; ids must be unique`);
    ids.add(spec.id);
  }
  return options;
}

function checkSpec(spec: ChildSpec, what: string): ChildSpec {
  if (spec === null || typeof spec !== 'object') throw new InvalidArgumentError(`${what}: a child spec must be { id, start, restart?, shutdownMs? }`);
  if (typeof spec.id !== 'string' || spec.id === '') throw new InvalidArgumentError(`${what}: child id must be a non-empty string, got ${describeReason(spec.id)}`);
  if (typeof spec.start !== 'function') throw new InvalidArgumentError(`${what}: child ${JSON.stringify(spec.id)} needs start: (host) => Pid`);
  if (spec.restart !== undefined && spec.restart !== 'permanent' && spec.restart !== 'transient' && spec.restart !== 'temporary') {
    throw new InvalidArgumentError(`${what}: child ${JSON.stringify(spec.id)}: restart must be 'permanent', 'transient' or 'temporary', got ${describeReason(spec.restart)}`);
  }
  if (spec.shutdownMs !== undefined && !(typeof spec.shutdownMs === 'number' && spec.shutdownMs >= 0)) {
    throw new InvalidArgumentError(`${what}: child ${JSON.stringify(spec.id)}: shutdownMs must be a number >= 0 (Infinity to wait for ever), got ${String(spec.shutdownMs)}`);
  }
  return spec;
}

function isSupervisorRequest(value: unknown): value is SupervisorRequest {
  return value !== null && typeof value === 'object' && (value as { tag?: unknown }).tag === CALL_TAG;
}

function isDown(value: unknown): value is DownMessage {
  return value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'DOWN';
}

function isRetry(value: unknown): value is { tag: typeof RETRY_TAG; id: string } {
  return value !== null && typeof value === 'object' && (value as { tag?: unknown }).tag === RETRY_TAG;
}
