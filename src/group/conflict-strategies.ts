import type { Pid } from '../process/pid.js';

/**
 * The built-in ways to settle a registry conflict (the same key registered by two processes, seen
 * when two partitions meet or two nodes register at once), as Erlang `global`'s resolve functions:
 *
 * - `keepNewest` (default): the later registration keeps the key; the other process is killed.
 * - `keepOldest`: the earlier registration keeps the key; the other process is killed.
 * - `notifyBoth`: neither keeps it; both are unregistered and sent a {@link NameConflictMessage};
 *   nobody is killed (`global:notify_all_name`).
 * - `keepRandom`: a winner picked by a hash of the key and the pid, the same on every node; the
 *   other process is killed (`global:random_exit_name`, made deterministic).
 */
export type ConflictStrategy = 'keepNewest' | 'keepOldest' | 'notifyBoth' | 'keepRandom';

export const CONFLICT_STRATEGIES: readonly ConflictStrategy[] = ['keepNewest', 'keepOldest', 'notifyBoth', 'keepRandom'];

/** What a `notifyBoth` loser receives (each of the two, from its own node). */
export interface NameConflictMessage {
  readonly type: 'rollcall_name_conflict';
  readonly group: string;
  readonly cluster: string | null;
  readonly key: string;
  /** The other process that held the key. */
  readonly other: Pid;
}

interface Side {
  readonly pid: Pid;
  readonly time: number;
}

/**
 * The time order the whole engine follows for one strategy: which of two registration times is
 * preferred (by the owners deciding a conflict under keepNewest/keepOldest, by third nodes, and
 * when a shadowed registration is shown again), and how a registration's time may change.
 *
 * The rule that keeps decisions consistent: a registration's time may only ever move in the
 * preferred direction. Then every later copy of X beats whatever an earlier copy of X beat, so two
 * owners judging different copies of each other's entries (one re-stamped or updated since) may
 * both keep theirs for a while, which the re-asserts settle, but never both lose.
 *
 * `keepNewest` moves times later: a conflict's winner is re-stamped with the current time, and a
 * meta update takes the current time. `keepOldest` never moves a registration's time, so time and
 * pid order a key's registrations totally and the same on every node, and the one registered first
 * keeps the key. It used to give a meta update the current time (the wrong way: the updated
 * registration could lose to a rival whose owner had already killed its process in favour of the
 * older copy, a kill cycle; sim seed 857409133), and to re-stamp a winner 1 ms earlier than both
 * entries (so a registration that won two conflicts beat one registered before it). One case is
 * outside the rule: a process that unregisters a key and registers it again makes a new
 * registration, younger under keepOldest (test/sim/README.md, known issues).
 */
export interface TimeOrder {
  /** `a` is strictly preferred to `b` by time. */
  after(a: number, b: number): boolean;
  /** The time a conflict's winner is kept with: every node prefers it (by `preferred`) to the loser. */
  restamp(now: number, winner: number, loser: number): number;
  /** The time of a registration whose owner changed its meta (`current`: its time until then). */
  updated(now: number, current: number): number;
}

export const NEWEST_FIRST: TimeOrder = {
  after: (a, b) => a > b,
  // Later than both even if this wall clock is behind them (a skewed node, a clock stepped back).
  restamp: (now, winner, loser) => Math.max(now, winner + 1, loser + 1),
  updated: (now) => now,
};

export const OLDEST_FIRST: TimeOrder = {
  after: (a, b) => a < b,
  // keepOldest's winner is already preferred to the loser by (time, pid): nothing to move.
  restamp: (_now, winner) => winner,
  updated: (_now, current) => current,
};

export function timeOrderOf(strategy: ConflictStrategy): TimeOrder {
  return strategy === 'keepOldest' ? OLDEST_FIRST : NEWEST_FIRST;
}

/** `a` before `b` in the order of `order`, ties by pid order (higher pid first). */
export function preferred(order: TimeOrder, a: Side, b: Side): boolean {
  return order.after(a.time, b.time) || (a.time === b.time && a.pid.compare(b.pid) > 0);
}

/**
 * The winner of a conflict between `local` and `remote` under a built-in strategy (null: neither).
 * A pure function of what both owners see, so both decide the same.
 */
export function decideConflict(strategy: ConflictStrategy, key: string, local: Side, remote: Side): Pid | null {
  switch (strategy) {
    case 'keepNewest':
      return preferred(NEWEST_FIRST, remote, local) ? remote.pid : local.pid;
    case 'keepOldest':
      return preferred(OLDEST_FIRST, remote, local) ? remote.pid : local.pid;
    case 'notifyBoth':
      return null;
    case 'keepRandom': {
      // One score per (key, pid), not one coin per pair: a pairwise coin is not transitive (p beats
      // q, q beats r, r beats p), and with three registrations of a key every owner would lose
      // one of its two conflicts: three kills, no survivor. Scores order the pids totally.
      const l = randomScore(key, local.pid);
      const r = randomScore(key, remote.pid);
      return r > l || (r === l && remote.pid.compare(local.pid) > 0) ? remote.pid : local.pid;
    }
  }
}

/** Whether the strategy kills the losing process (notifyBoth and custom resolvers do not). */
export function killsLoser(strategy: ConflictStrategy): boolean {
  return strategy !== 'notifyBoth';
}

/** 32-bit FNV-1a of the key and the pid's identity: the same number on every node. */
export function randomScore(key: string, pid: Pid): number {
  let hash = 0x811c9dc5;
  const text = `${key}\u0000${pid.key}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // Avalanche (murmur3 finalizer): pids of one node differ in their last characters only.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
