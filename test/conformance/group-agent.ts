/**
 * The node-side half of the Group scenarios: one function that runs a request against the Group
 * instances of one node. The memory runner calls it directly; the cluster runner sends its source
 * text once to every node process (test/support/node-main.ts) and then calls it by rpc. So it must
 * stay self-contained: it may use only its arguments (`api` is src/internal.ts), never an import
 * or a variable of this module, and it must not declare named functions or classes (the
 * transpiler may wrap those in a helper the node process does not have).
 *
 * Values cross as plain data in both runners: a Pid as its key, an Error as "error: message",
 * the ALL symbol as `{ $all: true }`; in requests, `{ $pid: key }` stands for a Pid.
 */

// The node and api are typed loosely: in the cluster runner they live in another process.
export interface AgentContext {
  node: any;
  api: any;
  state: Record<string, unknown>;
  emit(event: string, data: unknown): void;
}

/** A Group method call: `group[method](...args)`, with `{ $pid }` / `{ $all }` revived in args. */
export interface AgentCall {
  method: string;
  args: unknown[];
}

export type AgentRequest =
  | { op: 'start-group'; group: string; resolver?: 'tiebreak' | 'first-wins'; antiEntropyMs?: number; connect?: string[] }
  | { op: 'stop-group'; group: string }
  | { op: 'install-router' }
  | { op: 'on-nodeup'; group: string; peer: string; call: AgentCall }
  | { op: 'spawn'; count?: number }
  | { op: 'exit'; pid: string; reason: unknown }
  | { op: 'alive'; pid: string }
  | { op: 'down'; pid: string }
  | { op: 'inbox'; pid: string }
  | { op: 'call'; group: string; call: AgentCall; wallTime?: number }
  | { op: 'calls'; group: string; calls: AgentCall[] }
  | { op: 'lose-frames'; group: string; peer: string; calls: AgentCall[]; wallTime?: number }
  | { op: 'view'; group: string }
  | { op: 'monitor'; group: string; pattern: unknown; cluster?: string | null }
  | { op: 'events'; id: string }
  | { op: 'row-time'; group: string; key: string; cluster?: string | null }
  | { op: 'send-raw'; peer: string; type: number; body: unknown[] }
  | { op: 'record-sends' }
  | { op: 'sent' }
  | { op: 'disconnect-node'; peer: string }
  | { op: 'node-peers' }
  | { op: 'wall-now' }
  | { op: 'cleanup' };

/** What `view` returns: everything two nodes must agree on, plus this node's consistency check. */
export interface GroupView {
  node: string;
  /** Group peers (this node excluded), sorted. */
  peers: string[];
  /** Named clusters this node is connected to, sorted. */
  connected: string[];
  /** Named cluster → its nodes as this node sees them (only clusters some known node is in). */
  clusters: Record<string, string[]>;
  /** Clusters that have rows in the tables (null = the default cluster). */
  tableClusters: Array<string | null>;
  /** [cluster, key, pid, meta] sorted by cluster then key. */
  registry: Array<[string | null, string, string, unknown]>;
  /** [cluster, key, pid, meta] sorted by cluster, key, then pid order. */
  members: Array<[string | null, string, string, unknown]>;
  consistency: string[];
}

export interface SentFrame {
  peer: string;
  type: number;
  body: unknown;
}

export const groupAgent = async (ctx: AgentContext, req: AgentRequest): Promise<unknown> => {
  const { node, api, state } = ctx;
  const groups = (state['groups'] ??= {}) as Record<string, any>;
  const procs = (state['procs'] ??= {}) as Record<string, { pid: any; inbox: unknown[] }>;
  const downs = (state['downs'] ??= {}) as Record<string, unknown>;
  const monitors = (state['monitors'] ??= {}) as Record<string, unknown[][]>;

  const plain = (value: unknown): unknown => {
    if (value instanceof api.Pid) return (value as { key: string }).key;
    if (value instanceof Error) return `error: ${value.message}`;
    if (typeof value === 'symbol') return { $all: true };
    if (Array.isArray(value)) return value.map(plain);
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = plain(v);
      return out;
    }
    return value;
  };
  const revive = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(revive);
    if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (typeof record['$pid'] === 'string') return api.Pid.parse(record['$pid']);
      if (record['$all'] === true) return api.ALL;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(record)) out[k] = revive(v);
      return out;
    }
    return value;
  };
  const group = (name: string): any => {
    const g = groups[name];
    if (g === undefined) throw new Error(`no Group "${name}" running on ${String(node.name)}`);
    return g;
  };
  const proc = (key: string): { pid: any; inbox: unknown[] } => {
    const p = procs[key];
    if (p === undefined) throw new Error(`no process ${key} spawned by the agent on ${String(node.name)}`);
    return p;
  };
  const invoke = (g: any, call: AgentCall): unknown => {
    if (typeof g[call.method] !== 'function') throw new Error(`Group has no method ${call.method}`);
    return plain(g[call.method](...(revive(call.args) as unknown[])));
  };

  // Pin this node's wall clock during one synchronous step, so both sides of a partition can
  // register at exactly the same time (a tie), in a chosen order, or with a skewed clock.
  const atWallTime = <T>(time: number | undefined, fn: () => T): T => {
    if (time === undefined) return fn();
    const real = node.clock;
    node.clock = {
      now: () => real.now(),
      wallNow: () => time,
      setTimeout: (f: () => void, ms: number) => real.setTimeout(f, ms),
      setInterval: (f: () => void, ms: number) => real.setInterval(f, ms),
    };
    try {
      return fn();
    } finally {
      node.clock = real;
    }
  };

  switch (req.op) {
    case 'start-group': {
      const options: Record<string, unknown> = { name: req.group, log: state['groupLog'] ?? 'info' };
      if (req.antiEntropyMs !== undefined) options['antiEntropyMs'] = req.antiEntropyMs;
      if (req.resolver === 'tiebreak') {
        // The reference's TestConflictResolver: the default rule (later time, then higher pid), no kill.
        options['resolveRegistryConflict'] = (c: any) =>
          c.remote.time > c.local.time || (c.remote.time === c.local.time && c.remote.pid.compare(c.local.pid) > 0) ? c.remote.pid : c.local.pid;
      }
      if (req.resolver === 'first-wins') {
        // The earliest registration keeps the key (ties: lower pid); kills nobody.
        options['resolveRegistryConflict'] = (c: any) =>
          c.remote.time < c.local.time || (c.remote.time === c.local.time && c.remote.pid.compare(c.local.pid) < 0) ? c.remote.pid : c.local.pid;
      }
      const g = await api.Group.start(node, options);
      groups[req.group] = g;
      // Same turn as the start: before any peer has answered the HELLO (the discovery race).
      if (req.connect !== undefined) g.connect(req.connect);
      return null;
    }
    case 'stop-group': {
      await group(req.group).stop();
      delete groups[req.group];
      return null;
    }
    case 'install-router': {
      // Register the group frame types on this node (they stay after the Group stops), as on a
      // node that runs some Group: a node that never has drops the link on the first group frame
      // it receives (see the known-bug test in distributed-memory.test.ts).
      const g = await api.Group.start(node, { name: '__router', log: false });
      await g.stop();
      return null;
    }
    case 'on-nodeup': {
      // Run one Group call right after the Group itself handled the next nodeup of `peer` (its
      // listener was added first): lands a write between our HELLO and the peer's answer.
      const g = group(req.group);
      const handler = (e: { node: string }) => {
        if (e.node !== req.peer) return;
        node.off('nodeup', handler);
        invoke(g, req.call);
      };
      node.on('nodeup', handler);
      return null;
    }
    case 'spawn': {
      const keys: string[] = [];
      for (let i = 0; i < (req.count ?? 1); i++) {
        const inbox: unknown[] = [];
        const pid = node.spawn(async (pctx: { receive(): Promise<unknown> }) => {
          for (;;) inbox.push(plain(await pctx.receive()));
        });
        procs[pid.key] = { pid, inbox };
        node.monitor(pid, (down: { reason: unknown }) => {
          downs[pid.key] = plain(down.reason);
        });
        keys.push(pid.key);
      }
      return req.count === undefined ? keys[0] : keys;
    }
    case 'exit':
      node.exit(proc(req.pid).pid, req.reason);
      return null;
    case 'alive':
      return node.isAlive(proc(req.pid).pid);
    case 'down':
      return req.pid in downs ? { down: true, reason: downs[req.pid] } : { down: false, reason: null };
    case 'inbox':
      return proc(req.pid).inbox;
    case 'call':
      return atWallTime(req.wallTime, () => invoke(group(req.group), req.call));
    case 'calls': {
      const g = group(req.group);
      return req.calls.map((call) => invoke(g, call));
    }
    case 'lose-frames': {
      // The calls' replication to `peer` is lost while the link stays up (frames are dropped at
      // send time), as a batch dropped by an overloaded link would be.
      const g = group(req.group);
      node.block(req.peer, { in: false, out: true });
      try {
        return atWallTime(req.wallTime, () => req.calls.map((call) => invoke(g, call)));
      } finally {
        node.unblock(req.peer);
      }
    }
    case 'view': {
      const g = group(req.group);
      const self = String(node.name);
      const peers = (g.nodes() as string[]).slice().sort();
      const named = new Set<string>();
      for (const n of [self, ...peers]) {
        for (const c of g.membership.clustersOf(n) as Array<string | null>) if (c !== null) named.add(c);
      }
      const clusters: Record<string, string[]> = {};
      for (const c of [...named].sort()) clusters[c] = g.nodes(c) as string[];
      const tableClusters = g.tables.clusters() as Array<string | null>;
      const registry: Array<[string | null, string, string, unknown]> = [];
      const members: Array<[string | null, string, string, unknown]> = [];
      for (const c of tableClusters) {
        for (const key of g.tables.registeredKeys(c) as string[]) {
          const row = g.tables.lookup(c, key);
          registry.push([c, key, row.pid.key, plain(row.meta)]);
        }
        for (const key of g.tables.groups(c) as string[]) {
          for (const row of g.tables.members(c, key)) members.push([c, key, row.pid.key, plain(row.meta)]);
        }
      }
      return {
        node: self,
        peers,
        connected: (g.membership.clustersOf(self) as Array<string | null>).filter((c): c is string => c !== null).sort(),
        clusters,
        tableClusters,
        registry,
        members,
        consistency: g.checkConsistency(),
      };
    }
    case 'monitor': {
      const id = `m${Object.keys(monitors).length + 1}`;
      const batches: unknown[][] = [];
      monitors[id] = batches;
      group(req.group).monitor(revive(req.pattern), (events: unknown[]) => batches.push(events.map(plain)), { cluster: req.cluster ?? null });
      return id;
    }
    case 'events':
      return monitors[req.id] ?? [];
    case 'row-time': {
      const row = group(req.group).tables.lookup(req.cluster ?? null, req.key);
      return row === undefined ? null : row.time;
    }
    case 'send-raw':
      return node.sendRaw(req.peer, req.type, node.encodePayload(revive(req.body)));
    case 'record-sends': {
      // White box: every group frame this node sends from now on, decoded (sender-side filtering).
      const sent: unknown[] = [];
      state['sent'] = sent;
      if (state['realSendRaw'] === undefined) {
        const real = node.sendRaw.bind(node);
        state['realSendRaw'] = real;
        node.sendRaw = (peer: string, type: number, payload: unknown) => {
          const into = state['sent'] as unknown[] | undefined;
          if (into !== undefined && type >= 0x30 && type <= 0x3f) into.push({ peer, type, body: plain(api.decode(payload)) });
          return real(peer, type, payload);
        };
      }
      return null;
    }
    case 'sent':
      return state['sent'] ?? [];
    case 'disconnect-node':
      node.disconnect(req.peer);
      return null;
    case 'node-peers':
      return (node.peers() as string[]).slice().sort();
    case 'wall-now':
      return node.clock.wallNow();
    case 'cleanup': {
      for (const [name, g] of Object.entries(groups)) {
        await g.stop();
        delete groups[name];
      }
      for (const [key, p] of Object.entries(procs)) {
        if (node.running && node.isAlive(p.pid)) node.exit(p.pid, 'cleanup');
        delete procs[key];
      }
      for (const key of Object.keys(downs)) delete downs[key];
      for (const key of Object.keys(monitors)) delete monitors[key];
      state['sent'] = undefined;
      return null;
    }
  }
};
