/**
 * The node-address form of `rollcall inspect` (`a@host:port --group g`): a short-lived node of its
 * own joins the cluster through that node, replicates the named Groups, and answers the same
 * queries as the dashboard JSON API (through the dashboard's in-process DashboardApi, so both
 * forms print the same shapes). Closing it stops its Groups and the node gracefully: the cluster
 * sees a nodeup and then a nodedown with reason 'left'.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { DashboardApi, type ClusterSelector } from '../dashboard/api.js';
import { stringify } from '../dashboard/json.js';
import { parseSeed } from '../discovery/seeds.js';
import { RollcallError } from '../errors.js';
import { Group } from '../group/group.js';
import { startNode, type Node } from '../node/node.js';
import { silentLogger } from '../observability/logger.js';
import { CliError, UsageError } from './command.js';
import { COOKIE_ENV, resolveNodeConfig } from './node-config.js';
import { tapLogger } from './startup-report.js';

export interface NodeInspectOptions {
  /** `name@host:port` of a node of the cluster. */
  readonly target: string;
  /** The Groups to replicate (at least one). */
  readonly groups: readonly string[];
  /** `--cluster`: a named cluster to connect to as well ('' or undefined: the default cluster only). */
  readonly cluster: string | undefined;
  readonly cookieFile: string | undefined;
  readonly env: Record<string, string | undefined>;
  /** How long to wait for the connection and the Groups' snapshots. */
  readonly timeoutMs: number;
  /** Progress and warnings for the operator (one line each, no newline). */
  readonly progress: (line: string) => void;
}

/** Answers `get(path, params)` like the dashboard's HTTP API, from the temporary node. */
export interface NodeInspectSession {
  /** The temporary node's name (`inspect-<random>`). */
  readonly nodeName: string;
  get<T>(path: string, params?: Record<string, string | undefined>): T;
  /** Stop the Groups, then the node (graceful: peers see it leave). */
  close(): Promise<void>;
}

const POLL_MS = 50;
/** With no new peer and no new Group peer for this long after a barrier round, the view is complete. */
const SETTLE_MS = 200;
const PROGRESS_AFTER_MS = 1000;
/** A name no process registers: a call to it on a peer comes back at once as noproc. */
const BARRIER_NAME = '$rollcall-inspect-barrier';
/** Refusals in normal operation (dial races, a peer stopping): not a reason to give up. */
const NORMAL_REFUSALS = new Set(['duplicate_connection', 'blocked', 'stopping']);

/** `a@host:port` (a target with "@" is a node address; anything else is a dashboard). */
export function isNodeAddress(target: string): boolean {
  return target.includes('@');
}

export async function openNodeSession(options: NodeInspectOptions): Promise<NodeInspectSession> {
  const { target, groups: groupNames, timeoutMs, progress } = options;
  let targetName: string;
  let targetAddress: string;
  try {
    const seed = parseSeed(target);
    if (seed.name === undefined || !seed.address.includes(':')) throw new UsageError(`"${target}": give the node as name@host:port, e.g. a@127.0.0.1:4370`);
    targetName = seed.name;
    targetAddress = seed.address;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
  if (groupNames.length === 0) {
    throw new UsageError(`give the Groups to read with --group NAME (repeatable): the node address form replicates them on a temporary node`);
  }
  const cookieFile = options.cookieFile;
  if (cookieFile === undefined && (options.env[COOKIE_ENV] ?? '') === '') {
    throw new UsageError(
      `no cookie: reading ${target} joins the cluster briefly, so it needs the cluster's cookie. Set ${COOKIE_ENV}=<secret> or pass --cookie-file <file> ` +
        '(or give the URL of a dashboard and its token instead)',
    );
  }
  const name = `inspect-${randomBytes(4).toString('hex')}`;
  // The same checks and messages as `rollcall node` (unreadable or empty cookie file...).
  const config = resolveNodeConfig({ name, listen: '127.0.0.1:0', ...(cookieFile === undefined ? {} : { 'cookie-file': cookieFile }) }, options.env);
  for (const warning of config.warnings) progress(`warning: ${warning}`);

  const watch = new RefusalWatch(targetName, targetAddress, config.cookieSource);
  let node: Node;
  try {
    node = await startNode({
      name,
      cookie: config.cookie,
      listen: { host: '127.0.0.1', port: 0 },
      seeds: [target],
      logger: tapLogger(silentLogger(), watch.onRecord),
    });
  } catch (error) {
    throw RollcallError.is(error) ? new CliError(`cannot start the temporary node: ${error.message}`) : error;
  }
  const groups: Group[] = [];
  const close = async (): Promise<void> => {
    for (const group of [...groups].reverse()) await group.stop();
    await node.stop();
  };
  let api: DashboardApi | undefined;
  try {
    const cluster = options.cluster === undefined || options.cluster === '' ? undefined : options.cluster;
    for (const groupName of groupNames) {
      const group = await Group.start(node, { name: groupName, log: false });
      groups.push(group);
      // Rows of a named cluster are replicated only to its members.
      if (cluster !== undefined) group.connect(cluster);
    }
    await waitForSync({ node, groups, cluster, targetName, targetAddress, target, timeoutMs, progress, watch });
    api = new DashboardApi(node, { groups });
  } catch (error) {
    await close();
    throw RollcallError.is(error) && error.code === 'ERR_ROLLCALL_INVALID_ARGUMENT' ? new UsageError(error.message) : error;
  }
  const queries = api;
  return {
    nodeName: name,
    get: <T>(path: string, params: Record<string, string | undefined> = {}): T => JSON.parse(stringify(query(queries, path, params))) as T,
    close: async () => {
      queries.close();
      await close();
    },
  };
}

/** The dashboard endpoint `path` with its query-string parameters, answered in process. */
function query(api: DashboardApi, path: string, params: Record<string, string | undefined>): unknown {
  const cluster: ClusterSelector = params['cluster'] === undefined ? undefined : params['cluster'] === '' ? null : params['cluster'];
  const limit = params['limit'] === undefined ? undefined : Number(params['limit']);
  const common = { ...(params['group'] === undefined ? {} : { group: params['group'] }), cluster, limit };
  try {
    switch (path) {
      case 'api/cluster':
        return api.cluster();
      case 'api/registry':
        return api.registry({ ...common, ...(params['prefix'] === undefined ? {} : { prefix: params['prefix'] }) });
      case 'api/groups':
        return api.groupList({ ...common, ...(params['prefix'] === undefined ? {} : { prefix: params['prefix'] }) });
      case 'api/groups/members':
        return api.members({ ...common, key: params['key'] ?? '' });
      default:
        throw new Error(`inspect: no in-process answer for ${path}`);
    }
  } catch (error) {
    // What the HTTP API would answer with a 400.
    if (RollcallError.is(error) && error.code === 'ERR_ROLLCALL_INVALID_ARGUMENT') throw new CliError(error.message);
    throw error;
  }
}

/** Handshake problems with the target, from the temporary node's log records. */
class RefusalWatch {
  /** Why the target refused us, in the operator's words; set once. */
  refusal: string | undefined;
  /** The last reason a dial to the target failed (ECONNREFUSED...). */
  lastDialError: string | undefined;

  constructor(
    private readonly targetName: string,
    private readonly targetAddress: string,
    private readonly cookieSource: string,
  ) {}

  readonly onRecord = (record: Readonly<Record<string, unknown>>): void => {
    const isTarget = record['peer'] === this.targetName || record['address'] === this.targetAddress || record['remote'] === this.targetAddress;
    if (!isTarget) return;
    switch (record['event']) {
      case 'dial_failed':
        this.lastDialError = typeof record['err'] === 'string' ? record['err'] : undefined;
        return;
      case 'auth_failed':
        return this.refused('bad_cookie');
      case 'handshake_refused':
        return this.refused(typeof record['reason'] === 'string' ? record['reason'] : 'refused');
    }
  };

  private refused(reason: string): void {
    if (NORMAL_REFUSALS.has(reason) || this.refusal !== undefined) return;
    const check = this.cookieSource.startsWith('--cookie-file') ? `the ${this.cookieSource}` : this.cookieSource;
    const who = `${this.targetName}@${this.targetAddress}`;
    switch (reason) {
      case 'bad_cookie':
        this.refusal = `${who} refused our cookie: check ${check} (every node of a cluster needs the same cookie)`;
        return;
      case 'protocol_version_mismatch':
        this.refusal = `${who} speaks another protocol version: run the same rollcall version as the cluster`;
        return;
      default:
        this.refusal = `${who} refused the connection (${reason})`;
    }
  }
}

interface SyncWait {
  readonly node: Node;
  readonly groups: readonly Group[];
  readonly cluster: string | undefined;
  readonly target: string;
  readonly targetName: string;
  readonly targetAddress: string;
  readonly timeoutMs: number;
  readonly progress: (line: string) => void;
  readonly watch: RefusalWatch;
}

/**
 * Wait until the Groups hold what the cluster holds. How we know a peer's snapshot has arrived
 * without a "synced" signal from the Group: a peer sends its STATE in the same turn as the frame
 * that makes it our Group peer (HELLO, HELLO_ACK, CONNECT_ACK), or in answer to the frame we send
 * in the turn we add it. So a call made after a peer shows in `group.nodes()` travels behind that
 * frame, and its answer (noproc, from a name nobody registers) comes back behind the peer's whole
 * snapshot: one link, in order. Nodes met through the target's gossip are dialled in the
 * background: the view is complete when a barrier round to every peer changes nothing and no
 * peer or Group peer appears for SETTLE_MS afterwards.
 */
async function waitForSync(w: SyncWait): Promise<void> {
  const { node, groups, cluster, targetName, watch } = w;
  const started = performance.now();
  const deadline = started + w.timeoutMs;
  const seconds = `${Math.round(w.timeoutMs / 100) / 10} s`;
  const groupPeers = (g: Group): string[] => g.nodes(cluster).filter((n) => n !== node.name);
  const fingerprint = (): string => JSON.stringify([node.peers().sort(), ...groups.map((g) => groupPeers(g).sort())]);
  let progressShown = false;
  const showProgress = (line: string): void => {
    if (progressShown || performance.now() - started < PROGRESS_AFTER_MS) return;
    progressShown = true;
    w.progress(line);
  };

  // 1. Connected to the target, and each Group replicating with it.
  for (;;) {
    if (watch.refusal !== undefined) throw new CliError(watch.refusal);
    const connected = node.peers().includes(targetName);
    const waiting = connected ? groups.filter((g) => !groupPeers(g).includes(targetName)) : groups;
    if (connected && waiting.length === 0) break;
    if (performance.now() >= deadline) throw new CliError(connected ? groupsMissing(w, waiting, seconds) : unreachable(w, seconds));
    showProgress(connected ? `waiting for ${waiting.map((g) => `Group ${g.name}`).join(', ')} to sync with ${targetName}...` : `connecting to ${w.target}...`);
    await delay(POLL_MS);
  }

  // 2. Every peer's snapshot in (see above), and no more peers coming.
  for (;;) {
    const before = fingerprint();
    await Promise.all(node.peers().map((peer) => barrier(node, peer, Math.max(100, deadline - performance.now()))));
    await delay(SETTLE_MS);
    if (fingerprint() === before) return;
    if (performance.now() >= deadline) {
      w.progress(`the cluster was still changing after ${seconds}: what follows may miss some nodes' entries`);
      return;
    }
    showProgress(`waiting for the Groups to sync with ${node.peers().sort().join(', ')}...`);
  }
}

/** Resolves once everything `peer` sent before answering has been handled (or the peer is gone). */
function barrier(node: Node, peer: string, timeoutMs: number): Promise<void> {
  return node.call({ name: BARRIER_NAME, node: peer }, null, { timeoutMs }).then(
    () => undefined,
    () => undefined,
  );
}

function unreachable(w: SyncWait, seconds: string): string {
  // A node answered at that address, under another name.
  const other = w.node.peerInfo().find((p) => p.address === w.targetAddress);
  if (other !== undefined) return `the node at ${w.targetAddress} is named ${other.name}, not ${w.targetName}: use ${other.name}@${w.targetAddress}`;
  const why = w.watch.lastDialError === undefined ? '' : ` (${w.watch.lastDialError})`;
  return `could not reach ${w.target} within ${seconds}${why}: is the node running and listening there?`;
}

function groupsMissing(w: SyncWait, waiting: readonly Group[], seconds: string): string {
  const names = waiting.map((g) => `"${g.name}"`).join(', ');
  if (w.cluster !== undefined) return `${w.targetName} did not replicate Group ${names} in cluster "${w.cluster}" within ${seconds}: does it run that Group and is it connected to that cluster?`;
  return `${w.targetName} did not replicate Group ${names} within ${seconds}: does it run a Group of that name? (--group names a Group the cluster's nodes run)`;
}
