import { NotRunningError, TimeoutError } from '../errors.js';
import type { Node } from '../node/node.js';
import { Pid } from '../process/pid.js';
import type { Timer } from '../time/clock.js';
import type { ClusterMembership, ClusterName } from './clusters.js';
import { GroupFrame, isClusterName } from './protocol.js';

/**
 * Cluster-wide locks on (cluster, key), for `registerLocked` (Erlang `global`'s set_lock, without
 * its retries): a node takes the lock at every node of the cluster it sees, itself included, ONE
 * AT A TIME IN NODE-NAME ORDER, and each node queues the requests for a lock it has granted
 * (first come, first served). Why this is mutually exclusive, deadlock- and livelock-free is in
 * docs/consistency.md ("Locked registration"); the frames are in docs/protocol.md.
 *
 * A granter answers GRANTED (it now holds the lock for the requester) or TAKEN (the key is
 * registered here by another process: no lock is held, the requester gives up with 'taken'). There
 * is no "busy" answer: a busy lock queues the request. The winner's replicated REGISTER op goes out
 * before its UNLOCK on every link, so the next holder's granters already see the key taken.
 */
export const LockStatus = {
  GRANTED: 0,
  TAKEN: 1,
} as const;
type LockStatusCode = (typeof LockStatus)[keyof typeof LockStatus];

/** What the lock table needs from its Group. */
export interface LockHost {
  readonly node: Node;
  readonly name: string;
  readonly membership: ClusterMembership;
  /** The process registered under the key as this node sees it. */
  registeredPid(cluster: ClusterName, key: string): Pid | undefined;
  /** Send a group frame ([group, ...rest]) to a peer. */
  send(peer: string, type: number, rest: unknown[]): void;
}

/** Locks held at every node of the cluster this node saw: release them after the write. */
export interface Lease {
  release(): void;
}

/** One request for a lock, as a granter keeps it. */
interface Waiter {
  readonly node: string;
  readonly id: number;
  readonly pid: Pid;
}

interface LockState {
  holder: Waiter | undefined;
  readonly queue: Waiter[];
}

/** One `acquire` in progress on this node. */
interface Acquisition {
  readonly id: number;
  readonly cluster: ClusterName;
  readonly key: string;
  readonly pid: Pid;
  /** Every node of the cluster at the start, in name order (the acquisition order). */
  readonly nodes: string[];
  next: number;
  /** Where we wait for an answer now. */
  waitingAt: string | undefined;
  /** Nodes a LOCK was sent to (granted or queued): each gets an UNLOCK at the end. */
  readonly contacted: string[];
  readonly timer: Timer;
  readonly resolve: (result: Lease | 'taken') => void;
  readonly reject: (error: Error) => void;
}

export class GroupLocks {
  private readonly host: LockHost;
  /** Locks this node grants, by cluster and key. */
  private readonly locks = new Map<ClusterName, Map<string, LockState>>();
  /** Acquisitions this node runs, by request id. */
  private readonly acquiring = new Map<number, Acquisition>();
  private lastId = 0;

  constructor(host: LockHost) {
    this.host = host;
  }

  /** Acquisitions in progress on this node plus locks it grants (for tests and leak checks). */
  size(): { acquiring: number; locks: number } {
    let locks = 0;
    for (const keys of this.locks.values()) locks += keys.size;
    return { acquiring: this.acquiring.size, locks };
  }

  // ---- requester side ------------------------------------------------------------------------

  /**
   * Take the lock on (cluster, key) at every node of the cluster, in name order. Resolves with a
   * Lease once all are held, or 'taken' as soon as one granter sees the key registered by another
   * process; rejects with TimeoutError after `timeoutMs` (releasing what was taken).
   */
  acquire(cluster: ClusterName, key: string, pid: Pid, timeoutMs: number): Promise<Lease | 'taken'> {
    const id = ++this.lastId;
    return new Promise<Lease | 'taken'>((resolve, reject) => {
      const acquisition: Acquisition = {
        id,
        cluster,
        key,
        pid,
        nodes: this.host.membership.nodes(cluster),
        next: 0,
        waitingAt: undefined,
        contacted: [],
        timer: this.host.node.clock.setTimeout(() => {
          if (this.finish(acquisition)) reject(new TimeoutError(`registerLocked "${key}": the cluster-wide lock was not acquired within ${timeoutMs} ms`));
        }, timeoutMs),
        resolve,
        reject,
      };
      this.acquiring.set(id, acquisition);
      this.advance(acquisition);
    });
  }

  /** Ask the next node of the order; resolve once there is none left. */
  private advance(a: Acquisition): void {
    const self = this.host.node.name;
    while (a.next < a.nodes.length) {
      const node = a.nodes[a.next++]!;
      // A node that left the Group meanwhile holds no entry of the key and answers nobody.
      if (node !== self && !this.host.membership.has(null, node)) continue;
      a.waitingAt = node;
      a.contacted.push(node);
      if (node === self) this.request(a.cluster, a.key, { node: self, id: a.id, pid: a.pid });
      else this.host.send(node, GroupFrame.LOCK, [a.cluster, a.key, a.id, a.pid]);
      return;
    }
    a.waitingAt = undefined;
    a.timer.cancel();
    this.acquiring.delete(a.id);
    a.resolve({ release: () => this.releaseAll(a) });
  }

  /** An answer from `from` to our request `id`. */
  private onAnswer(from: string, id: number, status: LockStatusCode): void {
    const a = this.acquiring.get(id);
    if (a === undefined || a.waitingAt !== from) return;
    if (status === LockStatus.GRANTED) this.advance(a);
    else if (this.finish(a)) a.resolve('taken');
  }

  /** Stop an acquisition and release everything it asked for; false if it had already ended. */
  private finish(a: Acquisition): boolean {
    if (!this.acquiring.delete(a.id)) return false;
    a.timer.cancel();
    a.waitingAt = undefined;
    this.releaseAll(a);
    return true;
  }

  private releaseAll(a: Acquisition): void {
    const self = this.host.node.name;
    for (const node of a.contacted) {
      if (node === self) this.release(a.cluster, a.key, self, a.id);
      else this.host.send(node, GroupFrame.UNLOCK, [a.cluster, a.key, a.id]);
    }
    a.contacted.length = 0;
  }

  // ---- granter side --------------------------------------------------------------------------

  private request(cluster: ClusterName, key: string, waiter: Waiter): void {
    if (this.isTakenFor(cluster, key, waiter.pid)) return this.answer(waiter, LockStatus.TAKEN);
    let keys = this.locks.get(cluster);
    if (keys === undefined) this.locks.set(cluster, (keys = new Map()));
    const state = keys.get(key);
    if (state === undefined) {
      keys.set(key, { holder: waiter, queue: [] });
      this.answer(waiter, LockStatus.GRANTED);
    } else {
      state.queue.push(waiter);
    }
  }

  /** Release `node`'s request `id` (held or still queued); unknown ones are ignored. */
  private release(cluster: ClusterName, key: string, node: string, id: number): void {
    const state = this.locks.get(cluster)?.get(key);
    if (state === undefined) return;
    const holder = state.holder;
    if (holder !== undefined && holder.node === node && holder.id === id) {
      state.holder = undefined;
      this.grantNext(cluster, key, state);
      return;
    }
    const at = state.queue.findIndex((w) => w.node === node && w.id === id);
    if (at >= 0) state.queue.splice(at, 1);
  }

  /** The lock is free: the first queued request that still wants it gets it. */
  private grantNext(cluster: ClusterName, key: string, state: LockState): void {
    while (state.holder === undefined && state.queue.length > 0) {
      const waiter = state.queue.shift()!;
      // The previous holder has registered the key (its op came before its UNLOCK): the rest of
      // the queue learns it now rather than after taking every other lock.
      if (this.isTakenFor(cluster, key, waiter.pid)) {
        this.answer(waiter, LockStatus.TAKEN);
        continue;
      }
      state.holder = waiter;
      this.answer(waiter, LockStatus.GRANTED);
    }
    if (state.holder === undefined) {
      const keys = this.locks.get(cluster)!;
      keys.delete(key);
      if (keys.size === 0) this.locks.delete(cluster);
    }
  }

  private isTakenFor(cluster: ClusterName, key: string, pid: Pid): boolean {
    const registered = this.host.registeredPid(cluster, key);
    return registered !== undefined && !registered.equals(pid);
  }

  private answer(waiter: Waiter, status: LockStatusCode): void {
    if (waiter.node === this.host.node.name) this.onAnswer(waiter.node, waiter.id, status);
    else this.host.send(waiter.node, GroupFrame.LOCK_REPLY, [waiter.id, status]);
  }

  // ---- frames and peers ----------------------------------------------------------------------

  onFrame(type: number, peer: string, body: unknown[]): void {
    switch (type) {
      case GroupFrame.LOCK: {
        const [, cluster, key, id, pid] = body;
        if (!isClusterName(cluster) || typeof key !== 'string' || typeof id !== 'number' || !(pid instanceof Pid)) return;
        this.request(cluster, key, { node: peer, id, pid });
        return;
      }
      case GroupFrame.LOCK_REPLY: {
        const [, id, status] = body;
        if (typeof id !== 'number' || (status !== LockStatus.GRANTED && status !== LockStatus.TAKEN)) return;
        this.onAnswer(peer, id, status);
        return;
      }
      case GroupFrame.UNLOCK: {
        const [, cluster, key, id] = body;
        if (!isClusterName(cluster) || typeof key !== 'string' || typeof id !== 'number') return;
        this.release(cluster, key, peer, id);
        return;
      }
    }
  }

  /**
   * `peer` left the Group (nodedown, or its Group stopped): the locks it held and its queued
   * requests go, and our acquisitions waiting on it move on (it holds nothing of the key now).
   */
  onPeerGone(peer: string): void {
    for (const [cluster, keys] of this.locks) {
      for (const [key, state] of [...keys]) {
        for (let i = state.queue.length - 1; i >= 0; i--) if (state.queue[i]!.node === peer) state.queue.splice(i, 1);
        if (state.holder?.node === peer) {
          state.holder = undefined;
          this.grantNext(cluster, key, state);
        }
      }
    }
    for (const a of [...this.acquiring.values()]) {
      if (a.waitingAt !== peer) continue;
      a.contacted.pop();
      this.advance(a);
    }
  }

  /** The Group stops: acquisitions in progress reject; peers release our locks on its BYE. */
  stop(): void {
    for (const a of [...this.acquiring.values()]) {
      this.acquiring.delete(a.id);
      a.timer.cancel();
      a.reject(new NotRunningError(`registerLocked "${a.key}": the Group stopped`));
    }
    this.locks.clear();
  }
}
