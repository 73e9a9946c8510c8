/**
 * The dashboard's HTTP server (node:http, no framework): the page, the JSON API and the event
 * stream of one node. Secure by default: 127.0.0.1, a token on every request, read-only unless
 * `allowWrites`. A bad request gets a JSON error with a stable code; nothing a client sends can
 * throw out of a handler into the node.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError, RollcallError } from '../errors.js';
import type { Group } from '../group/group.js';
import { Node } from '../node/node.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import type { Timer } from '../time/clock.js';
import { DashboardApi, type ClusterSelector, type DashboardRoles, type GroupsQuery, type MembersQuery, type MetricsJson, type RegistryQuery } from './api.js';
import { ASSETS } from './assets.js';
import { checkToken, newToken, presentedToken, sameToken, tokenCookie } from './auth.js';
import { stringify } from './json.js';
import { RateRecorder, SAMPLE_MS } from './rates.js';
import { DEFAULT_SSE_LIMITS, EventFeed, SseHub, matches as matchesFilter, parseTypes, type DashboardEvent, type EventFilter } from './sse.js';

export interface DashboardOptions {
  /** Interface to listen on. Default 127.0.0.1: only this machine. */
  host?: string;
  /** Default 0: any free port (read it from `url`). */
  port?: number;
  /** The Groups to show; default: every Group running on the node (at each request). */
  groups?: readonly Group[];
  /** The access token; default: a random one (returned, for the caller to print). */
  token?: string;
  /** Enable write operations (POST /api/nodes/disconnect). Default false. */
  allowWrites?: boolean;
  /** Roles of the nodes, when the caller knows them (see DashboardRoles). */
  roles?: DashboardRoles;
  /**
   * The Prometheus text for GET /metrics. Default: `createMetrics` over the node and the Groups
   * shown (their dispatches and publishes are timed while the dashboard runs, for the latency
   * histogram). Pass your own to serve an app-wide prom-client registry.
   */
  metricsText?: () => string | Promise<string>;
  /** The figures in /api/metrics `stats`. Default: `{node: node.stats(), groups: [group.stats()...]}`. */
  stats?: () => unknown;
  /** Most concurrent event streams (default 32); more get 503. */
  maxEventStreams?: number;
  /** Unsent bytes after which an event stream that does not read is dropped (default 1 MiB). */
  maxStreamBufferBytes?: number;
}

/** The same functions as the HTTP API, for code in the same process (no token). */
export interface DashboardInProcessApi {
  cluster: DashboardApi['cluster'];
  registry: DashboardApi['registry'];
  groups: DashboardApi['groupList'];
  members: DashboardApi['members'];
  metrics(): MetricsJson & { eventStreams: { open: number; max: number; dropped: number } };
  /** Listen to the event stream (with an optional filter); returns the unsubscribe function. */
  events(listener: (event: DashboardEvent) => void, filter?: EventFilter): () => void;
  /** Drop the link to a peer; throws InvalidArgumentError unless writes are enabled. */
  disconnect: DashboardApi['disconnect'];
}

export interface Dashboard {
  /** `http://host:port/`: what to open (with `?token=`) or give to `rollcall inspect`. */
  readonly url: string;
  readonly token: string;
  readonly api: DashboardInProcessApi;
  close(): Promise<void>;
}

/** Every parameter a route accepts (anything else is a 400: typos should not silently match all). */
const PARAMS: Record<string, readonly string[]> = {
  '/api/cluster': [],
  '/api/registry': ['group', 'cluster', 'prefix', 'node', 'limit'],
  '/api/groups': ['group', 'cluster', 'prefix', 'limit'],
  '/api/groups/members': ['group', 'cluster', 'key', 'limit'],
  '/api/events': ['group', 'cluster', 'prefix', 'types'],
  '/api/metrics': [],
  '/metrics': [],
  '/api/nodes/disconnect': ['node'],
};

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Serve the dashboard of `node`. Resolves once listening. */
export async function startDashboard(node: Node, options: DashboardOptions = {}): Promise<Dashboard> {
  if (!(node instanceof Node)) throw new InvalidArgumentError('startDashboard(node, options): node must be a running Node (from startNode)');
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('startDashboard: options must be an object');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (typeof host !== 'string' || host === '') throw new InvalidArgumentError('startDashboard: host must be an interface address such as "127.0.0.1"');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('startDashboard: port must be an integer from 0 to 65535 (0: any free port)');
  if (options.groups !== undefined && !Array.isArray(options.groups)) throw new InvalidArgumentError('startDashboard: groups must be an array of Group instances');
  const token = options.token === undefined ? newToken() : checkToken(options.token);
  const allowWrites = options.allowWrites === true;
  const limits = {
    ...DEFAULT_SSE_LIMITS,
    ...(options.maxEventStreams === undefined ? {} : { maxClients: positive(options.maxEventStreams, 'maxEventStreams') }),
    ...(options.maxStreamBufferBytes === undefined ? {} : { maxBufferBytes: positive(options.maxStreamBufferBytes, 'maxStreamBufferBytes') }),
  };

  // The default /metrics and stats cover the Groups shown; Groups started later join at the next sample.
  let prometheus: Metrics | undefined;
  const exposed = new Set<Group>();
  const exposeGroups = (): void => {
    if (prometheus === undefined) return;
    for (const group of api.groups()) {
      if (exposed.has(group)) continue;
      exposed.add(group);
      prometheus.addGroup(group);
    }
  };
  const api: DashboardApi = new DashboardApi(node, {
    groups: options.groups,
    roles: options.roles,
    stats: options.stats ?? (() => ({ node: node.stats(), groups: api.groups().map((g) => g.stats()) })),
  });
  let metricsText = options.metricsText;
  if (metricsText === undefined) {
    prometheus = createMetrics({ node });
    exposeGroups();
    metricsText = () => prometheus!.metricsText();
  }
  const unexpose = (): void => {
    for (const group of exposed) prometheus?.removeGroup(group);
    exposed.clear();
  };
  const rates = new RateRecorder();
  api.rates = rates;
  const feed = new EventFeed(node, rates);
  feed.watch(api.groups());
  const hub = new SseHub(feed, limits);
  const sampler: Timer = node.clock.setInterval(() => {
    rates.tick(node.clock.wallNow());
    api.sampleLoopDelay();
    feed.watch(api.groups());
    exposeGroups();
  }, SAMPLE_MS);

  const metrics = (): MetricsJson & { eventStreams: { open: number; max: number; dropped: number } } => ({
    ...api.metrics(),
    eventStreams: { open: hub.size, max: limits.maxClients, dropped: hub.dropped },
  });

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const isWrite = path === '/api/nodes/disconnect';
    // HEAD of a stream would hold a connection open for nothing.
    const headOk = path !== '/api/events';
    if (isWrite ? method !== 'POST' : method !== 'GET' && (method !== 'HEAD' || !headOk)) {
      res.setHeader('Allow', isWrite ? 'POST' : headOk ? 'GET, HEAD' : 'GET');
      throw new HttpError(405, 'method_not_allowed', `${method} ${path}: use ${isWrite ? 'POST' : 'GET'}`);
    }

    // The browser entry: trade ?token= for a cookie, and take the token out of the address bar.
    if (path === '/' && url.searchParams.has('token')) {
      if (!sameToken(url.searchParams.get('token')!, token)) return sendHtml(res, 401, ASSETS.unauthorized);
      res.writeHead(303, { ...SECURITY_HEADERS, 'Set-Cookie': tokenCookie(token), Location: '/' });
      res.end();
      return;
    }
    const presented = presentedToken(req);
    if (presented === undefined || !sameToken(presented, token)) {
      if (path === '/' || path === '/index.html') return sendHtml(res, 401, ASSETS.unauthorized);
      res.setHeader('WWW-Authenticate', 'Bearer realm="rollcall"');
      throw new HttpError(401, 'unauthorized', presented === undefined ? 'an access token is required: Authorization: Bearer <token>' : 'wrong access token');
    }

    switch (path) {
      case '/':
      case '/index.html':
        return sendHtml(res, 200, ASSETS.html);
      case '/app.js':
        return send(res, 200, 'text/javascript; charset=utf-8', ASSETS.js);
      case '/app.css':
        return send(res, 200, 'text/css; charset=utf-8', ASSETS.css);
    }
    const allowed = PARAMS[path];
    if (allowed === undefined) throw new HttpError(404, 'not_found', `no such endpoint: ${path}`);
    const q = readQuery(url.searchParams, allowed);
    switch (path) {
      case '/api/cluster':
        return sendJson(res, 200, api.cluster());
      case '/api/registry':
        return sendJson(res, 200, api.registry(registryQuery(q)));
      case '/api/groups':
        return sendJson(res, 200, api.groupList(groupsQuery(q)));
      case '/api/groups/members':
        return sendJson(res, 200, api.members(membersQuery(q)));
      case '/api/metrics':
        return sendJson(res, 200, metrics());
      case '/metrics': {
        return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', await metricsText());
      }
      case '/api/events': {
        const filter = eventFilter(q);
        if (filter.group !== undefined) api.selectGroups(filter.group, 'events');
        if (hub.full) throw new HttpError(503, 'too_many_streams', `at most ${limits.maxClients} event streams at once`);
        feed.watch(api.groups());
        return hub.open(res, filter, SECURITY_HEADERS);
      }
      case '/api/nodes/disconnect': {
        // Only with the header: a cookie alone could be sent by another site's form (CSRF).
        if (!allowWrites) throw new HttpError(403, 'writes_disabled', 'write operations are disabled on this dashboard (start it with allowWrites: true)');
        if (req.headers.authorization === undefined) throw new HttpError(403, 'header_required', 'writes need the Authorization: Bearer header');
        return sendJson(res, 200, api.disconnect(q['node'] ?? ''));
      }
    }
    throw new HttpError(404, 'not_found', `no such endpoint: ${path}`);
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) return sendJson(res, error.status, { error: { code: error.code, message: error.message } });
      if (RollcallError.is(error) && error.code === 'ERR_ROLLCALL_INVALID_ARGUMENT') return sendJson(res, 400, { error: { code: 'bad_request', message: error.message } });
      node.logger.warn({ event: 'dashboard_error', err: error, path: req.url }, 'dashboard request failed');
      sendJson(res, 500, { error: { code: 'internal', message: 'internal error (logged on the node)' } });
    });
  });
  server.maxConnections = limits.maxClients + 64;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('clientError', (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    sampler.cancel();
    hub.close();
    feed.close();
    api.close();
    unexpose();
    if (error.code === 'EADDRINUSE') throw new InvalidArgumentError(`startDashboard: ${host}:${port} is in use; pick another port (0: any free port)`);
    throw error;
  });
  server.on('error', (error) => node.logger.warn({ event: 'dashboard_error', err: error }, 'dashboard server error'));

  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
  node.logger.info({ event: 'dashboard_started', url, allowWrites }, `dashboard on ${url} (open ${url}?token=<token>)`);

  let closed: Promise<void> | undefined;
  return {
    url,
    token,
    api: {
      cluster: () => api.cluster(),
      registry: (q?: RegistryQuery) => api.registry(q),
      groups: (q?: GroupsQuery) => api.groupList(q),
      members: (q: MembersQuery) => api.members(q),
      metrics,
      events: (listener, filter = {}) => feed.subscribe((e) => {
        if (matchesFilter(filter, e)) listener(e);
      }),
      disconnect: (peer: string) => {
        if (!allowWrites) throw new InvalidArgumentError('disconnect: write operations are disabled on this dashboard (start it with allowWrites: true)');
        return api.disconnect(peer);
      },
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        sampler.cancel();
        hub.close();
        feed.close();
        api.close();
        unexpose();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function positive(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) throw new InvalidArgumentError(`startDashboard: ${name} must be a positive integer`);
  return value as number;
}

function readQuery(params: URLSearchParams, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of params) {
    if (!allowed.includes(name)) throw new HttpError(400, 'bad_request', `unknown query parameter "${name}"${allowed.length > 0 ? ` (accepted: ${allowed.join(', ')})` : ''}`);
    if (name in out) throw new HttpError(400, 'bad_request', `query parameter "${name}" given twice`);
    out[name] = value;
  }
  return out;
}

/** `cluster` in a query string: absent = every cluster, empty = the default cluster, else its name. */
function clusterParam(q: Record<string, string>): ClusterSelector {
  const c = q['cluster'];
  return c === undefined ? undefined : c === '' ? null : c;
}

function limitParam(q: Record<string, string>): number | undefined {
  const text = q['limit'];
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text)) throw new HttpError(400, 'bad_request', 'limit must be a whole number');
  return Number(text);
}

function registryQuery(q: Record<string, string>): RegistryQuery {
  return { ...opt('group', q['group']), cluster: clusterParam(q), ...opt('prefix', q['prefix']), ...opt('node', q['node']), limit: limitParam(q) };
}

function groupsQuery(q: Record<string, string>): GroupsQuery {
  return { ...opt('group', q['group']), cluster: clusterParam(q), ...opt('prefix', q['prefix']), limit: limitParam(q) };
}

function membersQuery(q: Record<string, string>): MembersQuery {
  if (q['key'] === undefined || q['key'] === '') throw new HttpError(400, 'bad_request', 'key is required: the key of the group');
  return { ...opt('group', q['group']), cluster: clusterParam(q), key: q['key'], limit: limitParam(q) };
}

function eventFilter(q: Record<string, string>): EventFilter {
  const filter: EventFilter = { ...opt('group', q['group']), ...opt('prefix', q['prefix']) };
  const cluster = clusterParam(q);
  if (cluster !== undefined) filter.cluster = cluster;
  if (q['types'] !== undefined) filter.types = parseTypes(q['types']);
  return filter;
}

/** `{name: value}` when given and not empty (an empty box in a form means "any"). */
function opt<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined || value === '' ? {} : { [name]: value }) as { [P in K]?: string };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendHtml(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/html; charset=utf-8', body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', stringify(value));
}
