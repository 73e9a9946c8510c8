import type { Pid, Ref } from './pid.js';

/** Why a process ended. Strings used by the library: 'normal', 'shutdown', 'kill', 'noproc', 'noconnection'. */
export type ExitReason = unknown;

/** What a monitor delivers when the watched process ends. */
export interface DownInfo {
  readonly ref: Ref;
  readonly pid: Pid;
  readonly reason: ExitReason;
}

/** A monitor's target for the notification: a callback, or a process that gets a DownMessage. */
export type MonitorWatcher = ((down: DownInfo) => void) | Pid;

/** The message a process receives when a monitor it holds fires (watcher given as a Pid). */
export interface DownMessage extends DownInfo {
  readonly type: 'DOWN';
}

export interface CallOptions {
  /** Default 5000 ms. */
  timeoutMs?: number;
}

/** Where to send: a Pid, a local name, or a name on a given node. */
export type Destination = Pid | string | { readonly name: string; readonly node: string };

/**
 * What a process (function, Server, Supervisor) can ask of the node it runs on. The Node
 * implements it and routes each operation to the local process table or to the peer that owns
 * the pid, so the same code works for local and remote pids.
 */
export interface ProcessHost {
  readonly name: string;
  readonly incarnation: number;
  spawn(fn: ProcessFunction): Pid;
  spawn<A>(server: ServerClass<A>, arg: A): Pid;
  send(to: Destination, message: unknown): void;
  cast(to: Destination, message: unknown): void;
  call<R = unknown>(to: Destination, request: unknown, options?: CallOptions): Promise<R>;
  exit(pid: Pid, reason: ExitReason): void;
  isAlive(pid: Pid): boolean;
  monitor(pid: Pid, watcher: MonitorWatcher): Ref;
  demonitor(ref: Ref): boolean;
  register(name: string, pid: Pid): void;
  unregister(name: string): boolean;
  whereis(name: string): Pid | undefined;
}

/** The context a process function runs with. */
export interface ProcessContext {
  readonly self: Pid;
  readonly node: ProcessHost;
  /** Aborted when the process is exited, so I/O it started can be cancelled. */
  readonly signal: AbortSignal;
  /**
   * The next message in the mailbox. Rejects with TimeoutError when `timeoutMs` passes first,
   * and with ExitSignal when the process is exited while waiting.
   */
  receive<T = unknown>(options?: { timeoutMs?: number }): Promise<T>;
}

export type ProcessFunction = (ctx: ProcessContext) => Promise<unknown> | unknown;

/** Constructor of a Server subclass (see process/server.ts). */
export type ServerClass<A> = new () => { init(arg: A): unknown };
