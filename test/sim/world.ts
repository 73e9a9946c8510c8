/**
 * The simulated world: 3–9 nodes on one SimNetwork and one VirtualClock, a Group 'sim' on each,
 * idle processes to register and join, and a model of what each node's own processes should hold.
 * `World.run()` plays a schedule's steps, brings the cluster to quiescence and returns everything
 * the checker (checks.ts) needs, plus a trace whose digest shows that a seed replays exactly.
 *
 * Only the public API drives the world. Two things are observed beyond it: the Group's
 * `group_conflict` log records (which node decided which conflict, and how), through the logger
 * every node is given; and exit reasons, through node.monitor.
 */
import { createHash } from 'node:crypto';
import {
  ALL,
  Group,
  SimNetwork,
  VirtualClock,
  memory,
  seededRandom,
  startNode,
  type Clock,
  type ConflictResolver,
  type ConflictStrategy,
  type Logger,
  type Node,
  type Pattern,
} from '../../src/index.js';
import { LATENCY, NetworkFaults } from './faults.js';
import { CONFLICT_REASON, Model, clusterLabel, conflictKill, serialOf, type ClusterName, type ModelRow, type RowKind } from './model.js';
import { EXIT_REASONS, GROUP_KEYS, NAMED_CLUSTERS, PATTERNS, REG_KEYS, describeStep, type Schedule, type Step, type SubscriberSpec } from './schedule.js';
import { emptyStats, type Decision, type ProcRecord, type RunStats, type SubscriberRecord, type WorldOutcome } from './outcome.js';
import { readView, sameList, viewsAgree } from './views.js';

export const GROUP = 'sim';
export const HEARTBEAT = { intervalMs: 100, timeoutMs: 600 } as const;
export const RECONNECT = { initialMs: 50, maxMs: 300 } as const;
/** Virtual time allowed for the cluster to agree once every fault is gone. */
export const CONVERGE_DEADLINE_MS = 60_000;
const POLL_MS = 50;

interface LiveNode {
  readonly index: number;
  readonly name: string;
  readonly node: Node;
  readonly group: Group;
}

function plainReason(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  try {
    return JSON.stringify(reason);
  } catch {
    return String(reason);
  }
}

export class World {
  readonly schedule: Schedule;
  private readonly clock = new VirtualClock();
  private readonly network: SimNetwork;
  private readonly random;
  private readonly names: string[];
  private readonly live: Array<LiveNode | undefined>;
  private readonly procs = new Map<string, ProcRecord>();
  private readonly procOrder: string[][];
  private readonly model = new Model();
  private readonly decisions: Decision[] = [];
  private readonly subscribers: SubscriberRecord[] = [];
  private readonly errors: string[] = [];
  private readonly trace: string[] = [];
  private readonly faults: NetworkFaults;
  /** Set before teardown: what happens while the world is torn down is not part of the run. */
  private closed = false;
  private readonly stats: RunStats;
  private readonly onTrace: ((line: string) => void) | undefined;

  constructor(schedule: Schedule, options: { onTrace?: (line: string) => void } = {}) {
    this.schedule = schedule;
    this.onTrace = options.onTrace;
    this.random = seededRandom(schedule.seed);
    this.network = new SimNetwork({ clock: this.clock, random: this.random, latencyMs: LATENCY });
    const n = schedule.config.nodeCount;
    this.names = Array.from({ length: n }, (_, i) => `n${i}`);
    this.live = new Array<LiveNode | undefined>(n).fill(undefined);
    this.procOrder = Array.from({ length: n }, () => []);
    this.stats = emptyStats(n, schedule.steps.length);
    this.faults = new NetworkFaults(this.network, this.clock, this.names, this.stats, schedule.loss ?? 'ops');
  }

  async run(): Promise<WorldOutcome> {
    try {
      let agreed = false;
      try {
        await this.play();
        agreed = await this.quiesce();
      } catch (error) {
        // A throw out of the library (a timer's callback, a step) is a finding, not a harness crash.
        this.errors.push(`the run threw at t=${this.clock.now()}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
      const views = this.liveNodes().map((l) => readView(l.node, l.group));
      for (const view of views) this.log(`final ${view.name} ${JSON.stringify({ ...view, consistency: view.consistency.length })}`);
      this.stats.virtualMs = this.clock.now();
      return {
        schedule: this.schedule,
        trace: this.trace,
        digest: createHash('sha256').update(this.trace.join('\n')).digest('hex'),
        views,
        agreed,
        procs: this.procs,
        model: { registry: this.model.list('registry'), members: this.model.list('members') },
        decisions: this.decisions,
        registrations: this.model.registrations,
        subscribers: this.subscribers.filter((s) => this.live.some((l) => l?.group === s.group)),
        errors: this.errors,
        stats: this.stats,
      };
    } finally {
      await this.teardown();
    }
  }

  private async play(): Promise<void> {
    for (let i = 0; i < this.names.length; i++) await this.boot(i);
    await this.untilMeshed();
    for (let i = 0; i < this.names.length; i++) {
      for (let p = 0; p < 2; p++) this.spawn(i);
    }
    for (const step of this.schedule.steps) {
      const outcome = await this.apply(step);
      if (outcome === undefined) this.stats.skipped++;
      else this.stats.applied++;
      this.log(`${describeStep(step)} -> ${outcome ?? 'skipped'}`);
      // Callbacks of this step (monitors, exit clean-ups) run before the next; time stands still.
      await this.clock.settle();
    }
  }

  // ---- nodes --------------------------------------------------------------------------------

  private log(line: string): void {
    const entry = `t=${this.clock.now().toFixed(3)} ${line}`;
    this.trace.push(entry);
    this.onTrace?.(entry);
  }

  private async boot(index: number): Promise<void> {
    const name = this.names[index]!;
    const node = await startNode({
      name,
      transport: memory(this.network),
      clock: this.skewedClock(this.schedule.config.skewMs?.[index] ?? 0),
      random: this.random,
      heartbeat: HEARTBEAT,
      reconnect: RECONNECT,
      logger: this.captureLogger({ node: name }),
      seeds: this.names.filter((n) => n !== name),
    });
    this.loseOpsWhenTold(node);
    node.on('nodeup', (e) => this.log(`${name} nodeup ${e.node}`));
    node.on('nodedown', (e) => this.log(`${name} nodedown ${e.node} ${e.reason}`));
    this.log(`${name} started incarnation=${node.incarnation}`);
    // Before any virtual time passes, so no group frame reaches a node without its Group.
    await this.startGroup(index, node);
  }

  /**
   * Frames this node sends to a peer vanish while a 'lose' step says so, the link staying up: what
   * a dropped batch would do, which the per-op sequence numbers and the periodic digest must repair.
   */
  private loseOpsWhenTold(node: Node): void {
    const send = node.sendRaw.bind(node);
    node.sendRaw = (peer, type, payload) => (this.faults.isLost(node.name, peer, type) ? true : send(peer, type, payload));
  }

  /** The shared virtual clock, with this node's wall clock `skew` ms ahead (timers unchanged). */
  private skewedClock(skew: number): Clock {
    if (skew === 0) return this.clock;
    const clock = this.clock;
    return {
      now: () => clock.now(),
      wallNow: () => clock.wallNow() + skew,
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      setInterval: (fn, ms) => clock.setInterval(fn, ms),
    };
  }

  private async startGroup(index: number, node: Node): Promise<void> {
    const group = await Group.start(node, {
      name: GROUP,
      log: 'info',
      antiEntropyMs: this.schedule.config.antiEntropyMs,
      ...this.resolverOption(node),
    });
    if (this.schedule.variant === 'ignore-nodedown') {
      // The broken variant: the Group's own nodedown listener goes (the trace's is put back).
      node.removeAllListeners('nodedown');
      node.on('nodedown', (e) => this.log(`${node.name} nodedown ${e.node} ${e.reason}`));
    }
    this.live[index] = { index, name: node.name, node, group };
    for (const spec of this.schedule.config.subscribers) {
      if (spec.node % this.names.length === index) this.subscribe(index, spec);
    }
  }

  private resolverOption(node: Node): { resolveRegistryConflict?: ConflictResolver; conflictStrategy?: ConflictStrategy } {
    const lowest: ConflictResolver = (c) => (c.local.pid.compare(c.remote.pid) < 0 ? c.local.pid : c.remote.pid);
    switch (this.schedule.variant ?? 'correct') {
      case 'local-wins':
        return { resolveRegistryConflict: (c) => c.local.pid };
      case 'mutual-kill':
        return {
          resolveRegistryConflict: (c) => {
            node.exit(c.local.pid, { reason: CONFLICT_REASON, key: c.key, meta: c.remote.meta });
            return c.remote.pid;
          },
        };
      default:
        break;
    }
    switch (this.schedule.config.resolver) {
      case 'default':
        return {};
      case 'lowest-pid':
        return { resolveRegistryConflict: lowest };
      case 'none-for-svc':
        return { resolveRegistryConflict: (c) => (c.key.startsWith('svc/') ? null : lowest(c)) };
      case 'keepOldest':
      case 'notifyBoth':
      case 'keepRandom':
        return { conflictStrategy: this.schedule.config.resolver };
    }
  }

  private subscribe(index: number, spec: SubscriberSpec): void {
    const l = this.live[index]!;
    const cluster = spec.cluster === 0 ? null : NAMED_CLUSTERS[(spec.cluster - 1) % NAMED_CLUSTERS.length]!;
    const raw = PATTERNS[spec.pattern % PATTERNS.length]!;
    const pattern: Pattern = raw === '*' ? ALL : raw;
    const record: SubscriberRecord = { spec, node: l.name, group: l.group, cluster, pattern, batches: [] };
    const drop = this.schedule.variant === 'drop-event-batch';
    let seen = 0;
    l.group.monitor(
      pattern,
      (events) => {
        seen++;
        if (drop && seen % 3 === 0) return;
        record.batches.push(
          events.map((e) => ({ type: e.type, cluster: e.cluster, key: e.key, pid: e.pid.key, serial: serialOf(e.meta), reason: e.reason === null ? '' : plainReason(e.reason) })),
        );
      },
      { cluster },
    );
    this.subscribers.push(record);
  }

  /** Logger for one node: keeps error records and the Group's conflict decisions, drops the rest. */
  private captureLogger(bindings: Record<string, unknown>): Logger {
    const record = (level: 'error' | 'warn', obj: object, msg?: string): void => {
      if (this.closed) return;
      const fields = { ...bindings, ...obj } as Record<string, unknown>;
      if (level === 'error') {
        this.errors.push(`${String(fields['node'])} logged an error: ${msg ?? ''} ${plainReason({ ...fields, err: String(fields['err']) })}`);
        return;
      }
      if (fields['event'] === 'group_conflict') this.onDecision(fields);
      else if (fields['event'] === 'group_diverged' || fields['event'] === 'group_seq_gap') this.stats.resyncs++;
    };
    return {
      level: 'info',
      error: (obj, msg) => record('error', obj, msg),
      warn: (obj, msg) => record('warn', obj, msg),
      info: () => undefined,
      debug: () => undefined,
      child: (more) => this.captureLogger({ ...bindings, ...more }),
    };
  }

  private onDecision(fields: Record<string, unknown>): void {
    const decision: Decision = {
      node: String(fields['node']),
      cluster: (fields['cluster'] as ClusterName | undefined) ?? null,
      key: String(fields['key']),
      local: String(fields['local']),
      remote: String(fields['remote']),
      winner: typeof fields['winner'] === 'string' ? fields['winner'] : null,
      at: this.clock.now(),
    };
    this.decisions.push(decision);
    this.stats.conflicts++;
    this.log(`conflict at ${decision.node} ${clusterLabel(decision.cluster)}/${decision.key} local=${decision.local} remote=${decision.remote} winner=${decision.winner ?? 'none'}`);
    // The node gave up its own entry: the model follows (a default-resolver loser also dies).
    if (decision.winner !== decision.local) this.model.drop('registry', decision.cluster, decision.key, decision.local);
  }

  private async crash(index: number): Promise<void> {
    const l = this.live[index]!;
    this.live[index] = undefined;
    for (const key of this.procOrder[index]!) this.markDead(key, 'node_crashed');
    this.procOrder[index] = [];
    this.network.crash(l.name);
    // A dead OS process tells nobody anything: silence it, then stop its timers.
    l.node.removeAllListeners();
    await l.group.stop();
    await l.node.stop();
  }

  private async untilMeshed(): Promise<void> {
    const deadline = this.clock.now() + 10_000;
    while (!this.meshed() && this.clock.now() < deadline) await this.clock.advance(5);
  }

  private liveNodes(): LiveNode[] {
    return this.live.filter((l): l is LiveNode => l !== undefined);
  }

  private meshed(): boolean {
    const names = this.liveNodes().map((l) => l.name);
    return this.liveNodes().every((l) => {
      const others = names.filter((n) => n !== l.name);
      return sameList(l.node.peers().sort(), others) && sameList(l.group.nodes(), others);
    });
  }

  // ---- processes and the model ---------------------------------------------------------------

  private spawn(index: number): string {
    const l = this.live[index]!;
    const pid = l.node.spawn(async (ctx) => {
      for (;;) await ctx.receive();
    });
    const record: ProcRecord = { pid, node: l.name, alive: true, reason: undefined, diedAt: -1 };
    this.procs.set(pid.key, record);
    this.procOrder[index]!.push(pid.key);
    l.node.monitor(pid, (down) => {
      if (!record.alive || this.closed) return;
      this.markDead(pid.key, down.reason);
      this.procOrder[index] = this.procOrder[index]!.filter((k) => k !== pid.key);
      const kill = conflictKill(down.reason);
      if (kill !== undefined) this.stats.conflictKills++;
      this.log(`exit ${pid.key} ${plainReason(down.reason)}`);
    });
    return pid.key;
  }

  private markDead(key: string, reason: unknown): void {
    const record = this.procs.get(key)!;
    if (!record.alive) return;
    record.alive = false;
    record.reason = reason;
    record.diedAt = this.clock.now();
    this.model.dropWhere((row) => row.pid === key);
  }

  private procAt(index: number, proc: number): ProcRecord | undefined {
    const keys = this.procOrder[index]!;
    if (keys.length === 0) return undefined;
    return this.procs.get(keys[proc % keys.length]!);
  }

  private clusterOf(cluster: number): ClusterName {
    return cluster === 0 ? null : NAMED_CLUSTERS[(cluster - 1) % NAMED_CLUSTERS.length]!;
  }

  private ownedBy(node: string): (row: ModelRow) => boolean {
    return (row) => this.procs.get(row.pid)!.node === node;
  }

  /**
   * A write to a named cluster this node is not in must throw: then makes it and says how that
   * went; returns undefined when the node is in the cluster (the caller makes the write).
   */
  private refusedWrite(l: LiveNode, cluster: ClusterName, write: () => unknown): string | undefined {
    if (cluster === null || l.group.isConnected(cluster)) return undefined;
    try {
      write();
      this.errors.push(`a write to cluster ${cluster} on ${l.name}, which is not connected to it, did not throw`);
      return 'accepted while not connected';
    } catch {
      return 'refused (not connected)';
    }
  }

  // ---- steps ---------------------------------------------------------------------------------

  /** Run one step; returns what happened, or undefined when it did not apply (skipped). */
  private async apply(step: Step): Promise<string | undefined> {
    const n = this.names.length;
    switch (step.op) {
      case 'spawn': {
        const index = step.node % n;
        return this.live[index] === undefined ? undefined : this.spawn(index);
      }
      case 'kill': {
        const index = step.node % n;
        const l = this.live[index];
        const proc = l === undefined ? undefined : this.procAt(index, step.proc);
        if (l === undefined || proc === undefined) return undefined;
        l.node.exit(proc.pid, EXIT_REASONS[step.reason % EXIT_REASONS.length]!);
        return proc.pid.key;
      }
      case 'register':
        return this.write('registry', step);
      case 'unregister':
        return this.unregister(step);
      case 'join':
        return this.write('members', step);
      case 'leave':
        return this.leave(step);
      case 'connect': {
        const l = this.live[step.node % n];
        if (l === undefined) return undefined;
        return l.group.connect(NAMED_CLUSTERS[step.cluster % NAMED_CLUSTERS.length]!);
      }
      case 'disconnect': {
        const l = this.live[step.node % n];
        if (l === undefined) return undefined;
        const cluster = NAMED_CLUSTERS[step.cluster % NAMED_CLUSTERS.length]!;
        // The node's own entries of the cluster go everywhere.
        const owned = this.ownedBy(l.name);
        this.model.dropWhere((row) => row.cluster === cluster && owned(row));
        return l.group.disconnect(cluster);
      }
      case 'cut':
        return step.a % n === step.b % n ? undefined : this.faults.cut(this.names[step.a % n]!, this.names[step.b % n]!, step.oneWay);
      case 'partition':
        return this.faults.partition(this.names.filter((_, i) => (step.mask & (1 << i)) !== 0));
      case 'heal':
        return step.a % n === step.b % n ? undefined : this.faults.heal(this.names[step.a % n]!, this.names[step.b % n]!);
      case 'healAll':
        return this.faults.healAll();
      case 'crash': {
        const index = step.node % n;
        if (this.live[index] === undefined) return undefined;
        await this.crash(index);
        this.stats.crashes++;
        return 'crashed';
      }
      case 'restart': {
        const index = step.node % n;
        if (this.live[index] !== undefined) return undefined;
        await this.boot(index);
        this.stats.restarts++;
        return `incarnation ${this.live[index]!.node.incarnation}`;
      }
      case 'delay':
        return step.a % n === step.b % n ? undefined : this.faults.delay(this.names[step.a % n]!, this.names[step.b % n]!, step.ms);
      case 'contend': {
        const results: string[] = [];
        for (let i = 0; i < n; i++) {
          if ((step.mask & (1 << i)) === 0) continue;
          const result = this.write('registry', { node: i, proc: step.proc, key: step.key, cluster: step.cluster, fresh: true });
          if (result !== undefined) results.push(result);
        }
        return results.length === 0 ? undefined : results.join('; ');
      }
      case 'bounce': {
        const index = step.node % n;
        const l = this.live[index];
        if (l === undefined) return undefined;
        // Its peers purge everything of this node's; its tables start empty.
        this.model.dropWhere(this.ownedBy(l.name));
        await l.group.stop();
        await this.startGroup(index, l.node);
        this.stats.groupRestarts++;
        return 'Group restarted';
      }
      case 'flap': {
        const [a, b] = [step.a % n, step.b % n];
        const l = this.live[a];
        if (a === b || l === undefined || !l.node.peers().includes(this.names[b]!)) return undefined;
        l.node.disconnect(this.names[b]!);
        this.stats.flaps++;
        return 'dropped';
      }
      case 'lose': {
        const [a, b] = [step.a % n, step.b % n];
        if (a === b || this.live[a] === undefined) return undefined;
        return this.faults.lose(this.names[a]!, this.names[b]!, step.ms);
      }
      case 'advance':
        await this.clock.advance(step.ms);
        return `now ${this.clock.now()}`;
    }
  }

  /** register (registry) or join (members) a process; fresh=false reuses its current meta. */
  private write(kind: RowKind, step: { node: number; proc: number; key: number; cluster: number; fresh: boolean }): string | undefined {
    const index = step.node % this.names.length;
    const l = this.live[index];
    const proc = l === undefined ? undefined : this.procAt(index, step.proc);
    if (l === undefined || proc === undefined) return undefined;
    const pid = proc.pid.key;
    const cluster = this.clusterOf(step.cluster);
    const keys = kind === 'registry' ? REG_KEYS : GROUP_KEYS;
    const key = keys[step.key % keys.length]!;
    const current = this.model.get(kind, cluster, key, pid);
    const meta = !step.fresh && current !== undefined ? { v: current.serial } : this.model.newMeta({ pid, cluster, key });
    const options = { pid: proc.pid, cluster };
    const call = (): 'ok' | 'taken' => (kind === 'registry' ? l.group.register(key, meta, options) : l.group.join(key, meta, options));
    const result = this.refusedWrite(l, cluster, call) ?? this.guard(l, `${kind === 'registry' ? 'register' : 'join'} ${key}`, call);
    if (result === 'ok') this.model.set(kind, { cluster, key, pid, serial: meta.v });
    return `${pid} ${clusterLabel(cluster)}/${key} v${meta.v}: ${result}`;
  }

  private unregister(step: Extract<Step, { op: 'unregister' }>): string | undefined {
    const l = this.live[step.node % this.names.length];
    if (l === undefined) return undefined;
    const cluster = this.clusterOf(step.cluster);
    const key = REG_KEYS[step.key % REG_KEYS.length]!;
    const holder = l.group.lookup(key, { cluster })?.pid.key;
    const call = (): string => l.group.unregister(key, { cluster });
    const result = this.refusedWrite(l, cluster, call) ?? this.guard(l, `unregister ${key}`, call);
    if (result === 'ok' && holder !== undefined) this.model.drop('registry', cluster, key, holder);
    return `${clusterLabel(cluster)}/${key} (${holder ?? 'none'}): ${result}`;
  }

  private leave(step: Extract<Step, { op: 'leave' }>): string | undefined {
    const index = step.node % this.names.length;
    const l = this.live[index];
    const proc = l === undefined ? undefined : this.procAt(index, step.proc);
    if (l === undefined || proc === undefined) return undefined;
    const cluster = this.clusterOf(step.cluster);
    const key = GROUP_KEYS[step.key % GROUP_KEYS.length]!;
    const call = (): string => l.group.leave(key, { pid: proc.pid, cluster });
    const result = this.refusedWrite(l, cluster, call) ?? this.guard(l, `leave ${key}`, call);
    if (result === 'ok') this.model.drop('members', cluster, key, proc.pid.key);
    return `${proc.pid.key} ${clusterLabel(cluster)}/${key}: ${result}`;
  }

  /** An API call that must not throw here (its arguments are valid): a throw is recorded as an error. */
  private guard<T>(l: LiveNode, what: string, call: () => T): T | 'threw' {
    try {
      return call();
    } catch (error) {
      this.errors.push(`${what} on ${l.name} threw: ${error instanceof Error ? error.message : String(error)}`);
      return 'threw';
    }
  }

  // ---- quiescence --------------------------------------------------------------------------------

  /**
   * Heal every link, reset every latency, restart the crashed nodes the config says to (at least
   * two nodes end up running), then let time pass beyond every timeout and until the nodes agree
   * (or the deadline passes: the checker then reports what differs). Returns whether they agreed.
   */
  private async quiesce(): Promise<boolean> {
    this.log('quiesce');
    this.faults.removeAll();
    for (let i = 0; i < this.names.length; i++) {
      const needed = this.liveNodes().length < 2;
      if (this.live[i] === undefined && (this.schedule.config.restartAtEnd[i] === true || needed)) {
        await this.boot(i);
        this.stats.restarts++;
      }
    }
    const start = this.clock.now();
    const { antiEntropyMs } = this.schedule.config;
    await this.clock.advance(HEARTBEAT.timeoutMs + RECONNECT.maxMs + antiEntropyMs);
    const deadline = this.clock.now() + CONVERGE_DEADLINE_MS;
    while (!this.agreed() && this.clock.now() < deadline) await this.clock.advance(POLL_MS);
    this.stats.convergeMs = this.clock.now() - start;
    // Stable, not a passing moment: another anti-entropy round and heartbeat timeout.
    await this.clock.advance(antiEntropyMs + HEARTBEAT.timeoutMs);
    const agreed = this.agreed();
    this.log(`quiescent after ${this.stats.convergeMs} ms: ${agreed ? 'agreed' : 'NOT agreed'}`);
    return agreed;
  }

  private agreed(): boolean {
    return viewsAgree(this.liveNodes().map((l) => readView(l.node, l.group)));
  }

  private async teardown(): Promise<void> {
    this.closed = true;
    for (const l of this.liveNodes()) {
      try {
        l.node.removeAllListeners();
        await l.group.stop();
        await l.node.stop();
      } catch (error) {
        this.errors.push(`stopping ${l.name} threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
