/**
 * `rollcall inspect <node address or dashboard URL>`: nodes, registry keys and groups of a
 * running cluster as text tables (or JSON for scripts), read from a node's dashboard JSON API,
 * or (given `name@host:port`) from a temporary node that joins the cluster for the purpose
 * (inspect-node.ts), which answers the same queries in process.
 */
import type { ClusterJson, EntryJson, GroupJson, ListJson } from '../dashboard/api.js';
import { CliError, UsageError as CommandUsageError } from './command.js';
import { isNodeAddress, openNodeSession } from './inspect-node.js';

export interface InspectIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
}

const USAGE = `usage: rollcall inspect <dashboard URL or host:port> [--token T] [--prefix p] [--group g] [--cluster c] [--limit n] [--timeout s] [--json]
       rollcall inspect <name@host:port> --group g [--group g2 ...] [--cookie-file F] [--prefix p] [--cluster c] [--limit n] [--timeout s] [--json]

  Dashboard form: the access token comes from --token, the ROLLCALL_TOKEN environment variable,
  or the URL's ?token= (as printed when the dashboard started). --cluster '' selects the default
  cluster only; without --cluster every cluster is shown.

  Node address form (a target with "@"): a temporary node (inspect-<random>) joins the cluster
  through that node for a moment (the cluster sees it come and leave), replicates the Groups
  named by --group and prints what they hold. It needs the cluster's cookie: ROLLCALL_COOKIE or
  --cookie-file. Only the default cluster is read, plus the one --cluster names.

  --timeout: seconds to wait for the dashboard, or for the connection and the Groups' sync
  (default 5).
`;

/** Groups whose members are listed (each is one more request). */
const MAX_MEMBER_LISTS = 20;
const TIMEOUT_MS = 5000;

interface Args {
  target: string;
  token: string | undefined;
  prefix: string | undefined;
  /** URL form: the one Group shown (all when undefined); node form: the Groups to replicate. */
  groups: string[];
  cookieFile: string | undefined;
  timeoutMs: number;
  cluster: string | undefined;
  limit: string | undefined;
  json: boolean;
}

class UsageError extends Error {}
class InspectError extends Error {}

/** Where the answers come from: a dashboard over HTTP, or the temporary node in process. */
interface Source {
  get<T>(path: string, params?: Record<string, string | undefined>): Promise<T>;
  /** For the text heading: the view is this command's own temporary node's. */
  readonly temporaryNode?: string;
  close(): Promise<void>;
}


/** Run `rollcall inspect` with the arguments after the command name; resolves with the exit code. */
export async function runInspect(argv: string[], io: Partial<InspectIo> = {}): Promise<number> {
  const out = io.out ?? ((text: string) => void process.stdout.write(text));
  const err = io.err ?? ((text: string) => void process.stderr.write(text));
  const env = io.env ?? process.env;
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      if (error.message !== '') err(`rollcall inspect: ${error.message}\n`);
      err(USAGE);
      return error.message === '' ? 0 : 2;
    }
    throw error;
  }
  let source: Source | undefined;
  try {
    source = await openSource(args, env, err);
    const get = <T>(path: string, params: Record<string, string | undefined> = {}): Promise<T> => source!.get<T>(path, params);
    // In the node form the temporary node runs only the Groups asked for: no filter needed.
    const group = source.temporaryNode === undefined ? args.groups[0] : undefined;
    const filters = { prefix: args.prefix, group, cluster: args.cluster, limit: args.limit };
    const cluster = await get<ClusterJson>('api/cluster');
    const registry = await get<ListJson<EntryJson>>('api/registry', filters);
    const groups = await get<ListJson<GroupJson>>('api/groups', filters);
    const members: Array<GroupJson & { list: ListJson<EntryJson> }> = [];
    for (const g of groups.items.slice(0, MAX_MEMBER_LISTS)) {
      const list = await get<ListJson<EntryJson>>('api/groups/members', { group: g.group, cluster: g.cluster ?? '', key: g.key, limit: args.limit });
      members.push({ ...g, list });
    }
    if (args.json) {
      out(JSON.stringify({ cluster, registry, groups, members: members.map((m) => ({ group: m.group, cluster: m.cluster, key: m.key, ...m.list })) }, null, 2) + '\n');
      return 0;
    }
    out(renderText(cluster, registry, groups, members, args, source.temporaryNode));
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof CommandUsageError || error instanceof InspectError || error instanceof CliError) {
      err(`rollcall inspect: ${error.message}\n`);
      return error instanceof UsageError || error instanceof CommandUsageError ? 2 : 1;
    }
    throw error;
  } finally {
    await source?.close();
  }
}

async function openSource(args: Args, env: Record<string, string | undefined>, err: (text: string) => void): Promise<Source> {
  if (isNodeAddress(args.target)) {
    if (args.token !== undefined) throw new UsageError('--token is for a dashboard URL; a node address needs the cookie (ROLLCALL_COOKIE or --cookie-file)');
    const session = await openNodeSession({
      target: args.target,
      groups: args.groups,
      cluster: args.cluster,
      cookieFile: args.cookieFile,
      env,
      timeoutMs: args.timeoutMs,
      progress: (line) => err(`rollcall inspect: ${line}\n`),
    });
    return { get: <T>(path: string, params?: Record<string, string | undefined>) => Promise.resolve(session.get<T>(path, params)), temporaryNode: session.nodeName, close: () => session.close() };
  }
  if (args.cookieFile !== undefined) throw new UsageError('--cookie-file is for a node address (name@host:port); a dashboard needs its token');
  if (args.groups.length > 1) throw new UsageError(`one --group with a dashboard (got ${args.groups.join(', ')})`);
  const { base, urlToken } = parseTarget(args.target);
  const token = args.token ?? env['ROLLCALL_TOKEN'] ?? urlToken;
  return { get: (path, params = {}) => getJson(base, path, params, token, args.timeoutMs), close: () => Promise.resolve() };
}

function parseArgs(argv: string[]): Args {
  const args: Args = { target: '', token: undefined, prefix: undefined, groups: [], cookieFile: undefined, timeoutMs: TIMEOUT_MS, cluster: undefined, limit: undefined, json: false };
  const targets: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') throw new UsageError('');
    if (arg === '--json') {
      args.json = true;
      continue;
    }
    const m = /^--(token|prefix|group|cluster|limit|cookie-file|timeout)(?:=(.*))?$/s.exec(arg);
    if (m !== null) {
      const value = m[2] ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${m[1]} needs a value`);
      const flag = m[1]!;
      if (flag === 'group') args.groups.push(value);
      else if (flag === 'cookie-file') args.cookieFile = value;
      else if (flag === 'timeout') args.timeoutMs = parseTimeout(value);
      else args[flag as 'token' | 'prefix' | 'cluster' | 'limit'] = value;
      continue;
    }
    if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    targets.push(arg);
  }
  if (targets.length !== 1) throw new UsageError(targets.length === 0 ? 'give a node address (name@host:port) or the dashboard URL or host:port' : `one node or dashboard at a time (got ${targets.join(', ')})`);
  if (args.limit !== undefined && !/^\d+$/.test(args.limit)) throw new UsageError('--limit must be a whole number');
  args.target = targets[0]!;
  return args;
}

function parseTimeout(text: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds > 0 && seconds <= 3600)) throw new UsageError(`--timeout ${JSON.stringify(text)}: a number of seconds from 0.1 to 3600, e.g. --timeout 10`);
  return Math.max(100, Math.round(seconds * 1000));
}

/** The API base URL and any ?token= in it ("host:port" means http://host:port/). */
function parseTarget(target: string): { base: URL; urlToken: string | undefined } {
  const text = /^https?:\/\//i.test(target) ? target : `http://${target}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`"${target}" is not a URL or host:port`);
  }
  if (url.port === '' && !/^https?:\/\//i.test(target)) throw new UsageError(`"${target}": give the dashboard's port (host:port)`);
  const urlToken = url.searchParams.get('token') ?? undefined;
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return { base: url, urlToken };
}

async function getJson<T>(base: URL, path: string, params: Record<string, string | undefined>, token: string | undefined, timeoutMs: number): Promise<T> {
  const url = new URL(path, base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  let res: Response;
  try {
    res = await fetch(url, { headers: token === undefined ? {} : { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    const why = cause?.code ?? ((error as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : (error as Error).message);
    throw new InspectError(`cannot reach the dashboard at ${base.origin} (${why}); is the node running with a dashboard on that address?`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new InspectError(`${base.origin} answered ${res.status} with something other than JSON: is that a rollcall dashboard?`);
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } }).error;
    if (res.status === 401) {
      throw new InspectError(
        token === undefined
          ? 'the dashboard needs its access token: pass --token or set ROLLCALL_TOKEN (it was printed when the dashboard started)'
          : 'the dashboard refused the access token (401): check --token / ROLLCALL_TOKEN',
      );
    }
    throw new InspectError(`${url.pathname}: ${res.status} ${e?.code ?? ''}: ${e?.message ?? 'request failed'}`);
  }
  return body as T;
}

// ---- text output ----------------------------------------------------------------------------------

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

const clusterText = (c: string | null): string => (c === null ? '(default)' : c);
const metaText = (meta: unknown): string => {
  const text = JSON.stringify(meta) ?? '';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

function renderText(
  cluster: ClusterJson,
  registry: ListJson<EntryJson>,
  groups: ListJson<GroupJson>,
  members: Array<GroupJson & { list: ListJson<EntryJson> }>,
  args: Args,
  temporaryNode: string | undefined,
): string {
  const parts: string[] = [];
  const groupFilter = temporaryNode === undefined ? args.groups[0] : args.groups.join(', ');
  const filter = [args.prefix === undefined ? '' : `prefix "${args.prefix}"`, groupFilter === undefined ? '' : `group ${groupFilter}`, args.cluster === undefined ? '' : `cluster ${clusterText(args.cluster === '' ? null : args.cluster)}`]
    .filter((s) => s !== '')
    .join(', ');
  const shown = (list: ListJson<unknown>): string => (list.truncated ? `${list.items.length} of ${list.total}` : `${list.total}`);

  parts.push(temporaryNode === undefined ? `Nodes (seen from ${cluster.node})\n` : `Nodes (seen from ${cluster.node}, this command's temporary node)\n`);
  parts.push(
    table(
      ['NODE', 'LINK', 'INCARNATION', 'ADDRESS', 'HEARTBEAT', 'LOOP P99', 'ROLES', 'ENTRIES (REG/MEMBERS)'],
      cluster.nodes.map((n) => [
        n.name,
        n.link + (n.down === undefined ? '' : ` (${n.down.reason})`),
        n.incarnation === null ? '' : String(n.incarnation),
        n.address ?? '',
        n.heartbeatAgeMs === null ? '' : `${n.heartbeatAgeMs} ms`,
        n.eventLoopDelayMs === null ? '' : `${n.eventLoopDelayMs.p99} ms`,
        n.roles === null ? '' : n.roles.join(','),
        n.entries.map((e) => `${e.group}${e.cluster === null ? '' : `/${e.cluster}`}: ${e.registrations}/${e.memberships}`).join(', '),
      ]),
    ),
  );
  parts.push(`\nRegistry (${shown(registry)} keys${filter === '' ? '' : `, ${filter}`})\n`);
  parts.push(table(['KEY', 'GROUP', 'CLUSTER', 'NODE', 'PID', 'META'], registry.items.map((e) => [e.key, e.group, clusterText(e.cluster), e.node, e.pid, metaText(e.meta)])));
  parts.push(`\nGroups (${shown(groups)}${filter === '' ? '' : `, ${filter}`})\n`);
  parts.push(table(['KEY', 'GROUP', 'CLUSTER', 'MEMBERS'], groups.items.map((g) => [g.key, g.group, clusterText(g.cluster), String(g.members)])));
  for (const m of members) {
    parts.push(`\nMembers of ${m.key} (${m.group}, ${clusterText(m.cluster)}: ${shown(m.list)})\n`);
    parts.push(table(['PID', 'NODE', 'META'], m.list.items.map((e) => [e.pid, e.node, metaText(e.meta)])));
  }
  if (groups.items.length > members.length) parts.push(`\n(members of the first ${members.length} groups only)\n`);
  return parts.join('');
}
