/**
 * The process layer: pids, mailboxes, the local process table, Server and Supervisor.
 * `ProcessTable`, `Mailbox` and the envelopes are for the Node and for tests; applications use
 * Server, Supervisor and the ProcessHost the Node gives them.
 */
export { Pid, Ref, PidMap } from './pid.js';
export type {
  CallOptions,
  Destination,
  DownInfo,
  DownMessage,
  ExitReason,
  MonitorWatcher,
  ProcessContext,
  ProcessFunction,
  ProcessHost,
  ServerClass,
} from './host.js';
export { Mailbox } from './mailbox.js';
export { CallRequest, Cast } from './envelopes.js';
export { ProcessTable, currentProcess } from './table.js';
export type { ProcessTableOptions, ExitListener } from './table.js';
export { Server, noReply, isServerClass } from './server.js';
export type { NoReply, ServerEnvironment } from './server.js';
export { Supervisor, startChild, terminateChild, restartChild, deleteChild, whichChildren } from './supervisor.js';
export type { ChildSpec, ChildInfo, RestartType, SupervisorOptions } from './supervisor.js';
