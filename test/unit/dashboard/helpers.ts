/**
 * Dashboard tests: three nodes on the in-memory network (virtual time) with a Group each, the
 * dashboard served by node a over real HTTP on 127.0.0.1, and small clients for its API.
 */
import { request, type IncomingMessage } from 'node:http';
import { Group, startDashboard, type Dashboard, type DashboardOptions, type Node } from '../../../src/index.js';
import { createSim, type Sim } from '../node/sim-helpers.js';

export interface DashboardEnv {
  sim: Sim;
  a: Node;
  b: Node;
  c: Node;
  ga: Group;
  gb: Group;
  gc: Group;
  dashboard: Dashboard;
  teardown(): Promise<void>;
}

export async function dashboardEnv(options: DashboardOptions = {}): Promise<DashboardEnv> {
  const sim = createSim(11);
  const [a, b, c] = await sim.cluster('a', 'b', 'c');
  const ga = await Group.start(a, { name: 'app', log: false });
  const gb = await Group.start(b, { name: 'app', log: false });
  const gc = await Group.start(c, { name: 'app', log: false });
  await sim.until(() => [ga, gb, gc].every((g) => g.nodes().length === 2), 'group peers');
  const dashboard = await startDashboard(a, options);
  return {
    sim,
    a,
    b,
    c,
    ga,
    gb,
    gc,
    dashboard,
    async teardown() {
      await dashboard.close();
      await sim.teardown();
    },
  };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any;
}

export async function getJson(d: Dashboard, path: string, init: { token?: string | null; method?: string; headers?: Record<string, string> } = {}): Promise<JsonResponse> {
  const token = init.token === undefined ? d.token : init.token;
  const headers: Record<string, string> = { ...(token === null ? {} : { Authorization: `Bearer ${token}` }), ...init.headers };
  const res = await fetch(new URL(path, d.url), { method: init.method ?? 'GET', headers, redirect: 'manual' });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (the page, Prometheus text): keep the text.
  }
  return { status: res.status, headers: res.headers, body };
}

/** An event stream read with node:http (so a test can stop reading, as a slow client does). */
export interface Stream {
  readonly events: any[];
  readonly response: IncomingMessage;
  closed: boolean;
  close(): void;
}

export function openStream(d: Dashboard, query = '', options: { paused?: boolean } = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/api/events${query}`, d.url), { headers: { Authorization: `Bearer ${d.token}` } }, (res) => {
      const stream: Stream = {
        events: [],
        response: res,
        closed: false,
        close: () => req.destroy(),
      };
      if (res.statusCode !== 200) {
        reject(Object.assign(new Error(`event stream: HTTP ${res.statusCode}`), { status: res.statusCode }));
        res.resume();
        return;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          for (const line of message.split('\n')) if (line.startsWith('data: ')) stream.events.push(JSON.parse(line.slice(6)));
        }
      });
      // The socket, not the response: a paused response reports nothing until it is read.
      res.socket.on('close', () => {
        stream.closed = true;
      });
      if (options.paused === true) res.pause();
      resolve(stream);
    });
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
    req.end();
  });
}
