/**
 * What `rollcall node` tells the operator on stderr while the node joins its cluster: progress
 * while the mesh forms, seeds still unreachable after a few seconds (and why, while it keeps
 * retrying), peers whose cookie differs, other refused handshakes, and when each Group replicates
 * with the peers. It learns all that from the node's own structured log records (their `event`
 * key is stable): the logger given to startNode is wrapped by `tapLogger`.
 */
import { parseSeed } from '../discovery/seeds.js';
import type { Group } from '../group/group.js';
import type { Node } from '../node/node.js';
import type { Logger } from '../observability/logger.js';
import { note } from './command.js';

export type LogRecordListener = (record: Readonly<Record<string, unknown>>) => void;

/** Records the report reads; every other call goes straight to the logger. */
const WATCHED = new Set(['dial_failed', 'auth_failed', 'handshake_refused']);

const LEVEL_ORDER = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * A Logger that shows the records named in WATCHED to `listener` before logging them (at any
 * level). With `floor`, a layer that sets its own level (a Group's `log: 'info'`) cannot log
 * below it: `--log-level warn` means warn for every layer.
 */
export function tapLogger(inner: Logger, listener: LogRecordListener, floor?: string): Logger {
  const see = (obj: object): void => {
    const event = (obj as { event?: unknown }).event;
    if (typeof event === 'string' && WATCHED.has(event)) listener(obj as Record<string, unknown>);
  };
  const floorRank = floor === undefined ? -1 : LEVEL_ORDER.indexOf(floor);
  return {
    get level() {
      return inner.level;
    },
    set level(value: string) {
      inner.level = LEVEL_ORDER.indexOf(value) < floorRank ? floor! : value;
    },
    error: (obj, msg) => (see(obj), inner.error(obj, msg)),
    warn: (obj, msg) => (see(obj), inner.warn(obj, msg)),
    info: (obj, msg) => (see(obj), inner.info(obj, msg)),
    debug: (obj, msg) => (see(obj), inner.debug(obj, msg)),
    child: (bindings) => tapLogger(inner.child(bindings), listener, floor),
  };
}

export interface StartupReportOptions {
  readonly seeds: readonly string[];
  /** Where the cookie came from, named in the wrong-cookie message ("ROLLCALL_COOKIE"). */
  readonly cookieSource: string;
  /** First "still connecting" line after this long. Default 1000 ms. */
  readonly progressAfterMs?: number;
  /** Seeds not connected after this long are reported unreachable (again at doubling intervals, up to a minute). Default 3000 ms. */
  readonly unreachableAfterMs?: number;
  readonly print?: (line: string) => void;
}

interface SeedState {
  readonly text: string;
  readonly address: string;
  readonly name: string | undefined;
  connected: boolean;
  lastError: string | undefined;
  /** A handshake problem already printed (wrong cookie, name in use): not reported as "unreachable" too. */
  refused: string | undefined;
}

/** Refusals in normal operation (dial races, injected partitions, a peer stopping): nothing to report. */
const NORMAL_REFUSALS = new Set(['duplicate_connection', 'blocked', 'stopping']);
const POLL_MS = 50;
const MAX_REPORT_INTERVAL_MS = 60_000;

export class StartupReport {
  private readonly seeds: SeedState[];
  private readonly print: (line: string) => void;
  private readonly progressAfterMs: number;
  private readonly cookieSource: string;
  private unreachableAfterMs: number;
  private node: Node | undefined;
  private groups: readonly Group[] = [];
  private readonly groupsReported = new Set<Group>();
  private readonly groupsWaitingReported = new Set<Group>();
  private readonly printedRefusals = new Set<string>();
  private startedAt = 0;
  private joinedAt: number | undefined;
  private progressPrinted = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onNodeUp = (e: { node: string; address: string }): void => this.nodeUp(e.node, e.address);

  constructor(options: StartupReportOptions) {
    this.seeds = options.seeds.map((text) => {
      const candidate = parseSeed(text);
      return { text, address: candidate.address, name: candidate.name, connected: false, lastError: undefined, refused: undefined };
    });
    this.print = options.print ?? note;
    this.progressAfterMs = options.progressAfterMs ?? 1000;
    this.unreachableAfterMs = options.unreachableAfterMs ?? 3000;
    this.cookieSource = options.cookieSource;
  }

  /** The listener to give tapLogger: may see records before `start` (the node dials as it starts). */
  readonly onRecord: LogRecordListener = (record) => {
    switch (record['event']) {
      case 'dial_failed': {
        const seed = this.seedFor(record['peer'], record['address']);
        if (seed !== undefined) seed.lastError = typeof record['err'] === 'string' ? record['err'] : 'cannot connect';
        return;
      }
      case 'auth_failed':
        return this.refused(record['peer'], record['remote'], 'bad_cookie');
      case 'handshake_refused':
        return this.refused(record['peer'], record['remote'], typeof record['reason'] === 'string' ? record['reason'] : 'refused');
    }
  };

  /** The node is up: report where, then watch it join. `groups` are reported once they replicate. */
  start(node: Node, groups: readonly Group[]): void {
    this.node = node;
    this.groups = groups;
    this.startedAt = performance.now();
    node.on('nodeup', this.onNodeUp);
    for (const peer of node.peers()) this.nodeUp(peer, '');
    if (this.seeds.length === 0) {
      this.print(`no seeds: node ${node.name} waits for others to join it (give them --seed ${node.seed})`);
      this.joinedAt = this.startedAt;
    }
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    this.poll();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.node?.off('nodeup', this.onNodeUp);
  }

  private seedFor(peer: unknown, address: unknown): SeedState | undefined {
    return this.seeds.find((s) => (typeof peer === 'string' && s.name === peer) || (typeof address === 'string' && s.address === address));
  }

  private refused(peer: unknown, remote: unknown, reason: string): void {
    if (NORMAL_REFUSALS.has(reason)) return;
    const seed = this.seedFor(peer, remote);
    const who = seed !== undefined ? `seed ${seed.text}` : `node ${typeof peer === 'string' ? peer : '?'}${typeof remote === 'string' ? ` (${remote})` : ''}`;
    const key = `${typeof peer === 'string' ? peer : (seed?.text ?? String(remote))}|${reason}`;
    if (seed !== undefined) seed.refused = reason;
    // Every retry is refused the same way: say it once per peer and reason.
    if (this.printedRefusals.has(key)) return;
    this.printedRefusals.add(key);
    const check = this.cookieSource.startsWith('--cookie-file') || this.cookieSource.startsWith('cookie file') ? `the ${this.cookieSource}` : this.cookieSource;
    switch (reason) {
      case 'bad_cookie':
        return this.print(`${who} refused our cookie: check ${check} (every node of a cluster needs the same cookie)`);
      case 'name_in_use':
        return this.print(`${who} refused us: a node named ${this.node?.name ?? 'like this one'} is already in the cluster; pick another --name`);
      case 'protocol_version_mismatch':
        return this.print(`${who} speaks another protocol version: run the same rollcall version on every node`);
      default:
        return this.print(`${who} refused the connection (${reason})`);
    }
  }

  private nodeUp(name: string, address: string): void {
    for (const seed of this.seeds) {
      if (seed.connected || (seed.name !== name && (seed.name !== undefined || seed.address !== address))) continue;
      seed.connected = true;
      seed.refused = undefined;
      if (this.joinedAt === undefined) {
        // One seed is enough to join: the others are found through it, or reported unreachable.
        this.joinedAt = performance.now();
        this.print(`joined the cluster through seed ${seed.text} (${elapsed(this.startedAt)})`);
      } else {
        this.print(`connected to seed ${seed.text} (${elapsed(this.startedAt)})`);
      }
    }
    for (const key of [...this.printedRefusals]) if (key.startsWith(`${name}|`)) this.printedRefusals.delete(key);
  }

  private poll(): void {
    const node = this.node;
    if (node === undefined || !node.running) return this.stop();
    const now = performance.now();
    if (this.joinedAt === undefined && !this.progressPrinted && now - this.startedAt >= this.progressAfterMs) {
      this.progressPrinted = true;
      // Seeds that refused us were reported with the reason; the rest are still being dialled.
      const dialling = this.seeds.filter((s) => s.refused === undefined);
      if (dialling.length > 0) this.print(`connecting to ${dialling.map((s) => s.text).join(', ')}...`);
    }
    this.reportUnreachable(now);
    this.reportGroups(node, now);
    if (this.seeds.every((s) => s.connected) && this.groupsReported.size === this.groups.length) this.stop();
  }

  private reportUnreachable(now: number): void {
    if (now - this.startedAt < this.unreachableAfterMs) return;
    const unreachable = this.seeds.filter((s) => !s.connected && s.refused === undefined);
    if (unreachable.length > 0) {
      const list = unreachable.map((s) => `${s.text}${s.lastError === undefined ? '' : ` (${s.lastError})`}`).join(', ');
      this.print(`seed${unreachable.length > 1 ? 's' : ''} unreachable after ${elapsed(this.startedAt)}: ${list}; still retrying`);
    }
    this.unreachableAfterMs = Math.min(this.unreachableAfterMs * 2, this.unreachableAfterMs + MAX_REPORT_INTERVAL_MS);
  }

  private reportGroups(node: Node, now: number): void {
    if (this.joinedAt === undefined) return;
    const peers = node.peers();
    for (const group of this.groups) {
      if (this.groupsReported.has(group)) continue;
      const groupPeers = new Set(group.nodes());
      const missing = peers.filter((p) => !groupPeers.has(p));
      if (missing.length === 0) {
        this.groupsReported.add(group);
        this.print(peers.length === 0 ? `group ${group.name}: running` : `group ${group.name}: replicating with ${[...groupPeers].sort().join(', ')}`);
      } else if (!this.groupsWaitingReported.has(group) && now - this.joinedAt >= this.progressAfterMs) {
        this.groupsWaitingReported.add(group);
        this.print(`group ${group.name}: waiting for ${missing.sort().join(', ')} (a node replicates a Group only if it runs one of the same name)`);
      }
    }
  }
}

function elapsed(since: number): string {
  const ms = performance.now() - since;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
