import { ExitSignal, InvalidArgumentError, NotRunningError, describeReason } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import { CallRequest, Cast } from './envelopes.js';
import type { ExitReason, ProcessContext, ProcessHost, ServerClass } from './host.js';
import type { Pid } from './pid.js';

/**
 * Return this from `handleCall` to answer later: keep the CallRequest (the third argument) and
 * call `this.reply(call, value)` or `this.replyError(call, error)` when the answer is ready,
 * from any later handler or callback. Meanwhile the server goes on handling other messages.
 */
export const noReply: unique symbol = Symbol.for('rollcall.noReply');
export type NoReply = typeof noReply;

/** What the process table gives a server besides its ProcessContext. */
export interface ServerEnvironment {
  readonly clock: Clock;
  readonly logger: Logger;
}

let bindRun: (server: Server<never, unknown>, run: ServerRun) => void;

/**
 * A process that holds state and handles one message at a time, in mailbox order, in the
 * spirit of Erlang's gen_server. Spawn it with `host.spawn(MyServer, arg)`.
 *
 * Lifecycle:
 * - `spawn` returns the Pid at once, before `init` ran (spawn is synchronous); messages sent in
 *   the meantime are queued and handled after `init` completes. If `init` throws, the process
 *   exits with the thrown value as reason and `terminate` is NOT called (as in gen_server).
 * - Each message goes to one handler: `call` -> handleCall, `cast` -> handleCast, anything else
 *   (plain sends, monitor DOWN messages) -> handleInfo. Async handlers are awaited before the
 *   next message is taken, so handlers never interleave.
 * - A handler that throws crashes the server: `terminate(error)` runs, then the process exits
 *   with the error as reason. A call being handled gets no reply; its caller learns of the exit
 *   through its monitor on the server.
 * - `this.stop(reason)` ends the server after the current handler returns (or at once when
 *   called from outside a handler, e.g. a timer): `terminate(reason)` runs while the process is
 *   still alive, then it exits with `reason`.
 * - When exited from outside (`exit(pid, reason)`), the process is dead at once (see
 *   ProcessTable.exit); `terminate(reason)` still runs once the handler in progress returns,
 *   except for reason `'kill'`. JavaScript cannot pre-empt a running handler: it completes.
 * Errors thrown by `terminate` are logged (event 'terminate_error') and otherwise ignored.
 *
 * @example
 *   class Counter extends Server<number> {
 *     private count = 0;
 *     override init(start: number) { this.count = start; }
 *     override handleCall(request: unknown) { return request === 'get' ? this.count : undefined; }
 *     override handleCast() { this.count++; }
 *   }
 *   const pid = host.spawn(Counter, 10);
 *   host.cast(pid, 'inc');
 *   await host.call(pid, 'get'); // 11
 */
export abstract class Server<A = unknown, S = unknown> {
  /** A conventional slot for the server's state; any field of the subclass works as well. */
  protected state!: S;
  #run: ServerRun | undefined;

  static {
    bindRun = (server, run) => {
      server.#run = run;
    };
  }

  init(arg: A): Promise<void> | void {
    void arg;
  }

  /**
   * The return value (awaited if it is a promise) is the reply. Return `noReply` to answer
   * later through `call`. The default answers every call with an InvalidArgumentError.
   */
  handleCall(request: unknown, from: Pid | undefined, call: CallRequest): unknown {
    void request;
    void from;
    call.replyError(new InvalidArgumentError(`${this.constructor.name} does not accept calls: implement handleCall()`));
    return noReply;
  }

  /** The default logs the message at debug (event 'unhandled_message') and drops it. */
  handleCast(message: unknown): Promise<void> | void {
    this.logUnhandled('cast', message);
  }

  /** Plain messages and monitor DOWN messages. The default logs at debug and drops them. */
  handleInfo(message: unknown): Promise<void> | void {
    this.logUnhandled('info', message);
  }

  terminate(reason: ExitReason): Promise<void> | void {
    void reason;
  }

  protected get self(): Pid {
    return this.running().ctx.self;
  }

  /** The node this server runs on, to send, call, spawn and monitor from it. */
  protected get node(): ProcessHost {
    return this.running().ctx.node;
  }

  /** Aborted when the process is exited; pass it to I/O started by a handler. */
  protected get signal(): AbortSignal {
    return this.running().ctx.signal;
  }

  protected get clock(): Clock {
    return this.running().env.clock;
  }

  protected get logger(): Logger {
    return this.running().env.logger;
  }

  /** End the server with `reason` (see the class comment). Later calls are ignored. */
  protected stop(reason: ExitReason = 'normal'): void {
    this.running().requestStop(reason);
  }

  /** Answer a call that handleCall left pending with `noReply`. A second answer is ignored. */
  protected reply(call: CallRequest, value: unknown): void {
    call.reply(value);
  }

  /** Make a pending call reject with `error`. */
  protected replyError(call: CallRequest, error: unknown): void {
    call.replyError(error);
  }

  private running(): ServerRun {
    const run = this.#run;
    if (run === undefined) {
      throw new NotRunningError(`${this.constructor.name} is not running yet: use this.self/node/stop from init() or a handler, not from the constructor`);
    }
    return run;
  }

  private logUnhandled(kind: string, message: unknown): void {
    const run = this.#run;
    run?.env.logger.debug({ event: 'unhandled_message', pid: run.ctx.self.key, server: this.constructor.name, kind, message: describeReason(message) });
  }
}

/** True when `value` is a Server subclass (as opposed to a process function). */
export function isServerClass(value: unknown): value is ServerClass<unknown> {
  return typeof value === 'function' && value.prototype instanceof Server;
}

/**
 * The process function of a server: init, then the one-message-at-a-time loop. Used by the
 * process table; not part of the public API.
 */
export async function runServer<A>(server: Server<A, unknown>, ctx: ProcessContext, arg: A, env: ServerEnvironment): Promise<void> {
  const run = new ServerRun(server as Server<never, unknown>, ctx, env);
  bindRun(server as Server<never, unknown>, run);
  run.handling = true;
  await server.init(arg);
  run.handling = false;
  for (;;) {
    if (run.stopReason !== undefined) return run.shutdown();
    let message: unknown;
    try {
      message = await ctx.receive();
    } catch (error) {
      return run.exitedWhileIdle(error);
    }
    // stop() called while idle already runs the shutdown; this message arrived too late.
    if (run.stopReason !== undefined) return run.shutdown();
    run.handling = true;
    try {
      const pending = dispatch(server, message);
      if (pending !== undefined) await pending;
    } catch (error) {
      run.handling = false;
      return run.crash(error);
    }
    run.handling = false;
  }
}

/** Returns a promise only for async handlers, so synchronous ones cost no extra microtask. */
function dispatch(server: Server<never, unknown>, message: unknown): Promise<unknown> | undefined {
  if (message instanceof CallRequest) {
    const result = server.handleCall(message.request, message.from, message);
    if (isThenable(result)) return Promise.resolve(result).then((value) => answer(message, value));
    answer(message, result);
    return undefined;
  }
  const result = message instanceof Cast ? server.handleCast(message.message) : server.handleInfo(message);
  return isThenable(result) ? Promise.resolve(result) : undefined;
}

function answer(call: CallRequest, value: unknown): void {
  if (value !== noReply) call.reply(value);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/** The per-process state of a running server, kept out of the user's subclass fields. */
class ServerRun {
  readonly server: Server<never, unknown>;
  readonly ctx: ProcessContext;
  readonly env: ServerEnvironment;
  handling = false;
  /** Set by stop(): `{ reason }` so that an undefined reason still counts as a request. */
  stopReason: { reason: ExitReason } | undefined = undefined;
  private terminating: Promise<void> | undefined = undefined;
  private shuttingDown: Promise<void> | undefined = undefined;

  constructor(server: Server<never, unknown>, ctx: ProcessContext, env: ServerEnvironment) {
    this.server = server;
    this.ctx = ctx;
    this.env = env;
  }

  requestStop(reason: ExitReason): void {
    if (this.stopReason !== undefined || this.terminating !== undefined) return;
    this.stopReason = { reason };
    // Outside a handler the loop is parked in receive(); shut down now instead of waiting for a message.
    if (!this.handling) void this.shutdown();
  }

  /** terminate(reason) while still alive, then exit with reason. Idempotent. */
  shutdown(): Promise<void> {
    return (this.shuttingDown ??= this.stopNow(this.stopReason?.reason));
  }

  /** A handler threw: terminate, then rethrow so the process exits with the error. */
  async crash(error: unknown): Promise<void> {
    const exited = this.exitReason();
    if (exited !== undefined) {
      // The process was exited while the handler ran; that exit, not this error, is its end.
      if (exited.reason !== 'kill') await this.terminate(exited.reason);
      return;
    }
    await this.terminate(error);
    throw error;
  }

  /** receive() rejected: the process was exited from outside (or stop() finished the shutdown). */
  async exitedWhileIdle(error: unknown): Promise<void> {
    if (!(error instanceof ExitSignal)) throw error;
    if (this.shuttingDown !== undefined) return this.shuttingDown;
    if (error.reason !== 'kill') await this.terminate(error.reason);
  }

  private async stopNow(reason: ExitReason): Promise<void> {
    await this.terminate(reason);
    try {
      this.ctx.node.exit(this.ctx.self, reason);
    } catch (error) {
      this.env.logger.error({ event: 'server_stop_failed', pid: this.ctx.self.key, err: error });
    }
  }

  private terminate(reason: ExitReason): Promise<void> {
    return (this.terminating ??= this.callTerminate(reason));
  }

  private async callTerminate(reason: ExitReason): Promise<void> {
    try {
      await this.server.terminate(reason);
    } catch (error) {
      this.env.logger.error({ event: 'terminate_error', pid: this.ctx.self.key, server: this.server.constructor.name, reason: describeReason(reason), err: error });
    }
  }

  /** The ExitSignal the process was exited with, if it was. */
  private exitReason(): ExitSignal | undefined {
    const signal = this.ctx.signal;
    return signal.aborted && signal.reason instanceof ExitSignal ? signal.reason : undefined;
  }
}
