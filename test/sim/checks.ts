/**
 * The invariants a simulated cluster must hold at quiescence, checked on what World.run() returns.
 * Every failure is one line that starts with the run's label (`SIM_SEED=1234: convergence: ...`).
 */
import { Pid, type Pattern } from '../../src/index.js';
import { KILLING_RESOLVERS, NAMED_CLUSTERS } from './schedule.js';
import { clusterLabel, conflictKill, type ClusterName, type ModelRow } from './model.js';
import { compareRows, sameList, type NodeView, type ViewRow } from './views.js';
import type { SubscriberRecord, WorldOutcome } from './outcome.js';

export type CheckKind = 'tables' | 'liveness' | 'uniqueness' | 'convergence' | 'model' | 'conflicts' | 'events' | 'errors';

export interface CheckReport {
  readonly failures: string[];
  /** Failures by kind (before the per-kind cap on messages). */
  readonly kinds: Partial<Record<CheckKind, number>>;
  invariantChecks: number;
  eventsChecked: number;
  subscribersChecked: number;
}

/** At most this many messages per kind; the rest are counted. */
const MAX_MESSAGES_PER_KIND = 6;

const CLUSTERS: ClusterName[] = [null, ...NAMED_CLUSTERS];

export function checkOutcome(outcome: WorldOutcome, label: string): CheckReport {
  const report: CheckReport = { failures: [], kinds: {}, invariantChecks: 0, eventsChecked: 0, subscribersChecked: 0 };
  const fail = (kind: CheckKind, message: string): void => {
    const seen = (report.kinds[kind] = (report.kinds[kind] ?? 0) + 1);
    if (seen <= MAX_MESSAGES_PER_KIND) report.failures.push(`${label}: ${kind}: ${message}`);
    else if (seen === MAX_MESSAGES_PER_KIND + 1) report.failures.push(`${label}: ${kind}: (more failures of this kind not shown)`);
  };
  const check = (ok: boolean, kind: CheckKind, message: () => string): void => {
    report.invariantChecks++;
    if (!ok) fail(kind, message());
  };
  const context = new Context(outcome);

  checkTables(context, check);
  checkLiveness(context, check);
  checkUniqueness(context, check);
  checkConvergence(context, check);
  checkModel(context, check);
  checkConflicts(context, check);
  checkEvents(context, check, report);
  for (const error of outcome.errors) check(false, 'errors', () => error);
  return report;
}

type Check = (ok: boolean, kind: CheckKind, message: () => string) => void;

/** The outcome, indexed for the checks. */
class Context {
  readonly outcome: WorldOutcome;
  readonly views: NodeView[];
  /** Live node name → its incarnation. */
  readonly incarnations = new Map<string, number>();

  constructor(outcome: WorldOutcome) {
    this.outcome = outcome;
    this.views = outcome.views;
    for (const view of this.views) this.incarnations.set(view.name, view.incarnation);
  }

  /** Live nodes that are in the cluster (every live node for the default cluster). */
  membersOf(cluster: ClusterName): NodeView[] {
    return this.views.filter((v) => cluster === null || v.connected.includes(cluster));
  }

  modelRows(rows: readonly ModelRow[], cluster: ClusterName): ViewRow[] {
    return rows
      .filter((r) => r.cluster === cluster)
      .map((r): ViewRow => [r.key, r.pid, r.serial])
      .sort(compareRows);
  }
}

function checkTables(c: Context, check: Check): void {
  for (const view of c.views) check(view.consistency.length === 0, 'tables', () => `${view.name}: checkConsistency() = ${view.consistency.join('; ')}`);
}

/** No entry of a dead process, of a node that is down (or an older incarnation), or of a cluster its node left. */
function checkLiveness(c: Context, check: Check): void {
  for (const view of c.views) {
    for (const cluster of CLUSTERS) {
      const label = clusterLabel(cluster);
      const inCluster = cluster === null || view.connected.includes(cluster);
      for (const [kind, rows] of [
        ['registry', view.registry[label] ?? []],
        ['members', view.members[label] ?? []],
      ] as const) {
        if (!inCluster) {
          check(rows.length === 0, 'liveness', () => `${view.name} is not in cluster ${label} but its ${kind} holds ${rows.length} rows of it`);
          continue;
        }
        for (const [key, pidKey] of rows) {
          const pid = Pid.parse(pidKey);
          const where = `${view.name} ${kind} ${label}/${key} -> ${pidKey}`;
          const incarnation = c.incarnations.get(pid.node);
          check(incarnation !== undefined, 'liveness', () => `${where}: node ${pid.node} is down`);
          if (incarnation === undefined) continue;
          check(incarnation === pid.incarnation, 'liveness', () => `${where}: an older incarnation of ${pid.node} (now ${incarnation})`);
          const proc = c.outcome.procs.get(pidKey);
          check(proc?.alive === true, 'liveness', () => `${where}: the process is dead (${JSON.stringify(proc?.reason)})`);
          const owner = c.views.find((v) => v.name === pid.node);
          check(cluster === null || owner?.connected.includes(cluster) === true, 'liveness', () => `${where}: ${pid.node} has left cluster ${label}`);
        }
      }
    }
  }
}

function checkUniqueness(c: Context, check: Check): void {
  for (const cluster of CLUSTERS) {
    const holders = new Map<string, Set<string>>();
    for (const view of c.membersOf(cluster)) {
      for (const [key, pid] of view.registry[clusterLabel(cluster)] ?? []) {
        let set = holders.get(key);
        if (set === undefined) holders.set(key, (set = new Set()));
        set.add(`${pid} (on ${view.name})`);
      }
    }
    for (const [key, set] of holders) {
      const pids = new Set([...set].map((s) => s.split(' ')[0]));
      check(pids.size === 1, 'uniqueness', () => `${clusterLabel(cluster)}/${key} is held by different pids on different nodes: ${[...set].join(', ')}`);
    }
  }
}

function checkConvergence(c: Context, check: Check): void {
  check(c.outcome.agreed, 'convergence', () => `the nodes did not agree within the deadline after healing`);
  const names = c.views.map((v) => v.name);
  for (const view of c.views) {
    const others = names.filter((n) => n !== view.name);
    check(sameList(view.meshPeers, others), 'convergence', () => `${view.name} is connected to [${view.meshPeers.join(',')}], expected [${others.join(',')}]`);
    check(sameList(view.groupPeers, others), 'convergence', () => `${view.name}'s Group peers are [${view.groupPeers.join(',')}], expected [${others.join(',')}]`);
  }
  for (const cluster of CLUSTERS) {
    const label = clusterLabel(cluster);
    const members = c.membersOf(cluster);
    const ref = members[0];
    if (ref === undefined) continue;
    for (const view of members) {
      if (cluster !== null) {
        const expected = members.map((m) => m.name);
        const seen = view.clusterNodes[cluster] ?? [];
        check(sameList(seen, expected), 'convergence', () => `${view.name} sees cluster ${label} as [${seen.join(',')}], its members are [${expected.join(',')}]`);
      }
      if (view === ref) continue;
      for (const kind of ['registry', 'members'] as const) {
        const mine = view[kind][label] ?? [];
        const theirs = ref[kind][label] ?? [];
        check(JSON.stringify(mine) === JSON.stringify(theirs), 'convergence', () => `${view.name} and ${ref.name} differ on ${kind} of ${label}: ${diff(mine, theirs, view.name, ref.name)}`);
      }
    }
  }
}

/**
 * Nothing lost, nothing extra: each cluster holds exactly the registrations and memberships the
 * model says the processes still have (writes that returned ok, minus unregister/leave, deaths,
 * crashes, disconnects and conflicts lost).
 */
function checkModel(c: Context, check: Check): void {
  const { model } = c.outcome;
  for (const cluster of CLUSTERS) {
    const label = clusterLabel(cluster);
    const expected = { registry: c.modelRows(model.registry, cluster), members: c.modelRows(model.members, cluster) };
    for (const view of c.membersOf(cluster)) {
      for (const kind of ['registry', 'members'] as const) {
        const held = view[kind][label] ?? [];
        check(JSON.stringify(held) === JSON.stringify(expected[kind]), 'model', () => `${view.name} ${kind} of ${label} is not what the processes hold: ${diff(held, expected[kind], view.name, 'model')}`);
      }
    }
  }
}

function checkConflicts(c: Context, check: Check): void {
  const { outcome } = c;
  const variant = outcome.schedule.variant ?? 'correct';
  const custom = !KILLING_RESOLVERS.includes(outcome.schedule.config.resolver) || variant === 'local-wins' || variant === 'mutual-kill';
  // Losers killed by conflict resolution, each with the registration that won (from the kill's meta).
  const beatenBy = new Map<string, { winner: string | undefined; key: string }>();
  for (const [pidKey, proc] of outcome.procs) {
    const kill = conflictKill(proc.reason);
    if (kill === undefined) continue;
    const winner = kill.serial === null ? undefined : outcome.registrations.get(kill.serial)?.pid;
    beatenBy.set(pidKey, { winner, key: kill.key });
    check(winner !== undefined, 'conflicts', () => `${pidKey} was killed for ${kill.key} naming a registration nobody made (meta ${String(kill.serial)})`);
    check(!custom, 'conflicts', () => `${pidKey} was killed by conflict resolution, but a custom resolver kills nobody`);
    const decided = outcome.decisions.some((d) => d.local === pidKey && d.key === kill.key && d.winner !== pidKey);
    check(decided, 'conflicts', () => `${pidKey} was killed for ${kill.key} without its node deciding it lost`);
  }
  // Each default-resolver loser dies with the conflict reason (unless it was already dead).
  if (!custom) {
    for (const d of outcome.decisions) {
      if (d.winner === d.local) continue;
      const proc = outcome.procs.get(d.local);
      const ok = proc !== undefined && (conflictKill(proc.reason) !== undefined || (!proc.alive && proc.diedAt <= d.at));
      check(ok, 'conflicts', () => `${d.node} decided ${d.local} lost ${d.key} to ${d.remote} but it ${proc?.alive === true ? 'is still alive' : `died of ${JSON.stringify(proc?.reason)}`}`);
    }
  }
  // No double kill: following "killed for this key in favour of" from any loser never comes back
  // to it. (A winner may still die for losing another key it also held: the chain ends there.)
  const reported = new Set<string>();
  for (const [start, { key: conflictKey }] of beatenBy) {
    const path: string[] = [start];
    const next = (pid: string): string | undefined => {
      const beaten = beatenBy.get(pid);
      return beaten?.key === conflictKey ? beaten.winner : undefined;
    };
    let at = next(start);
    let cycle = false;
    while (at !== undefined) {
      if (path.includes(at)) {
        cycle = true;
        break;
      }
      path.push(at);
      at = next(at);
    }
    const key = [...path].sort().join(',');
    if (cycle && reported.has(key)) continue;
    if (cycle) reported.add(key);
    check(!cycle, 'conflicts', () => `double kill on ${conflictKey}: ${path.join(' -> ')} were each killed in favour of the next`);
    // The survivor: where the chain ends, a process that is alive and still registered (per the
    // model) holds the key on every node of the cluster.
    const end = path[path.length - 1]!;
    const survivor = outcome.procs.get(end);
    const holds = outcome.model.registry.find((r) => r.pid === end && r.key === conflictKey);
    if (cycle || survivor?.alive !== true || holds === undefined) continue;
    for (const view of c.membersOf(holds.cluster)) {
      const row = (view.registry[clusterLabel(holds.cluster)] ?? []).find((r) => r[0] === holds.key);
      check(row?.[1] === end, 'conflicts', () => `survivor ${end} of the conflict on ${holds.key} is alive and registered, but ${view.name} shows ${row?.[1] ?? 'nothing'}`);
    }
  }
  // No double keep: at most one live process per key still believes it holds it.
  for (const cluster of CLUSTERS) {
    const byKey = new Map<string, string[]>();
    for (const row of outcome.model.registry) {
      if (row.cluster !== cluster) continue;
      byKey.set(row.key, [...(byKey.get(row.key) ?? []), row.pid]);
    }
    for (const [key, pids] of byKey) check(pids.length === 1, 'conflicts', () => `double keep on ${clusterLabel(cluster)}/${key}: ${pids.join(' and ')} were each told ok and neither lost`);
  }
}

function matches(pattern: Pattern, key: string): boolean {
  if (typeof pattern !== 'string') return true;
  return pattern.endsWith('/') ? key.startsWith(pattern) : key === pattern;
}

/** Replaying a subscriber's batches from the start gives its node's final view of the keys it watches. */
function checkEvents(c: Context, check: Check, report: CheckReport): void {
  for (const sub of c.outcome.subscribers) {
    // Only subscribers of the Groups running at the end are here (see World.run).
    const view = c.views.find((v) => v.name === sub.node);
    if (view === undefined) continue;
    report.subscribersChecked++;
    const who = `subscriber ${describeSubscriber(sub)}`;
    const registry = new Map<string, [string, number | null]>();
    const members = new Map<string, number | null>();
    for (const batch of sub.batches) {
      check(batch.length > 0, 'events', () => `${who} got an empty batch`);
      for (const e of batch) {
        report.eventsChecked++;
        if (e.cluster !== sub.cluster || !matches(sub.pattern, e.key)) {
          check(false, 'events', () => `${who} got an event it does not watch: ${e.type} ${clusterLabel(e.cluster)}/${e.key}`);
          continue;
        }
        if (e.type === 'registered') registry.set(e.key, [e.pid, e.serial]);
        else if (e.type === 'unregistered' && registry.get(e.key)?.[0] === e.pid) registry.delete(e.key);
        else if (e.type === 'joined') members.set(`${e.key}\u0000${e.pid}`, e.serial);
        else if (e.type === 'left') members.delete(`${e.key}\u0000${e.pid}`);
      }
    }
    const label = clusterLabel(sub.cluster);
    const replayedRegistry = [...registry].map(([key, [pid, serial]]): ViewRow => [key, pid, serial]).sort(compareRows);
    const replayedMembers = [...members].map(([k, serial]): ViewRow => {
      const [key, pid] = k.split('\u0000') as [string, string];
      return [key, pid, serial];
    });
    replayedMembers.sort(compareRows);
    const heldRegistry = (view.registry[label] ?? []).filter((r) => matches(sub.pattern, r[0]));
    const heldMembers = (view.members[label] ?? []).filter((r) => matches(sub.pattern, r[0]));
    check(JSON.stringify(replayedRegistry) === JSON.stringify(heldRegistry), 'events', () => `${who}: replayed registry differs from the node's: ${diff(replayedRegistry, heldRegistry, 'events', sub.node)}`);
    check(JSON.stringify(replayedMembers) === JSON.stringify(heldMembers), 'events', () => `${who}: replayed members differ from the node's: ${diff(replayedMembers, heldMembers, 'events', sub.node)}`);
  }
}

function describeSubscriber(sub: SubscriberRecord): string {
  const pattern = typeof sub.pattern === 'string' ? sub.pattern : 'ALL';
  return `on ${sub.node} (${clusterLabel(sub.cluster)}, ${pattern})`;
}

function diff(a: readonly ViewRow[], b: readonly ViewRow[], aName: string, bName: string): string {
  const fmt = (r: ViewRow): string => `${r[0]}=${r[1]}/v${String(r[2])}`;
  const as = new Set(a.map(fmt));
  const bs = new Set(b.map(fmt));
  const onlyA = [...as].filter((x) => !bs.has(x));
  const onlyB = [...bs].filter((x) => !as.has(x));
  return `only ${aName}: [${onlyA.join(' ')}], only ${bName}: [${onlyB.join(' ')}]`;
}
