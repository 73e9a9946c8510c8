import { InvalidArgumentError } from '../errors.js';
import type { Node } from '../node/node.js';
import type { Pid } from '../process/pid.js';

export interface MultiCallOptions {
  /** Per recipient; default: the node's callTimeoutMs. */
  timeoutMs?: number;
  cluster?: string | null;
}

export interface MultiCallResult<R = unknown> {
  /** One per recipient that replied, in member (pid) order. */
  readonly replies: Array<{ pid: Pid; reply: R }>;
  /** Recipients that did not reply: dead, exited during the call, node down, or timed out. */
  readonly bad: Pid[];
}

/**
 * Call every pid in parallel (`node.call`, so a recipient that dies or whose node goes down fails
 * at once, not at the timeout) and settle when each has replied or failed (syn's multi_call).
 */
export async function multiCall<R>(node: Node, pids: readonly Pid[], request: unknown, timeoutMs: number | undefined): Promise<MultiCallResult<R>> {
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) {
    throw new InvalidArgumentError('multiCall: timeoutMs must be a positive number of milliseconds');
  }
  const options = timeoutMs === undefined ? {} : { timeoutMs };
  const settled = await Promise.allSettled(pids.map((pid) => node.call<R>(pid, request, options)));
  const replies: Array<{ pid: Pid; reply: R }> = [];
  const bad: Pid[] = [];
  settled.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') replies.push({ pid: pids[i]!, reply: outcome.value });
    else bad.push(pids[i]!);
  });
  return { replies, bad };
}
