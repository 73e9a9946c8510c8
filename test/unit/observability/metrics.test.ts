/**
 * createMetrics: the Prometheus text has the node and Group metrics, with the values the stats
 * hold at the scrape (virtual clock: nothing moves while the text is produced).
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Group, InvalidArgumentError, createMetrics } from '../../../src/internal.js';
import { createSim, idle, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

/** Samples of a Prometheus text exposition: `name{a="x",b="y"}` (labels sorted) → value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort();
    samples.set(`${match[1]}{${labels.join(',')}}`, Number(match[3]));
  }
  return samples;
}

function sample(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
  const key = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',')}}`;
  return samples.get(key);
}

async function twoNodes() {
  sim = createSim(11);
  const [a, b] = await sim.cluster('a', 'b');
  const [ga, gb] = await Promise.all([a, b].map((n) => Group.start(n, { name: 'app', log: false })));
  await sim.until(() => ga!.nodes().length === 1 && gb!.nodes().length === 1, 'group handshakes');
  return { s: sim, a, b, ga: ga!, gb: gb! };
}

describe('createMetrics', () => {
  it('exposes node and Group metrics with the values of the stats', async () => {
    const { s, a, b, ga, gb } = await twoNodes();
    const metrics = createMetrics({ node: a, groups: [ga] });
    const p = idle(a);
    ga.register('k', {}, { pid: p });
    ga.register('k', {}, { pid: idle(a) }); // taken
    ga.join('g', {}, { pid: p });
    gb.join('g', {}, { pid: idle(b) });
    await s.until(() => ga.memberCount('g') === 2, 'replicated');
    ga.dispatch('g', 'hi');
    await s.run(20);

    const samples = parse(await metrics.metricsText());
    const node = a.stats();
    const group = ga.stats();
    const peer = node.peers.find((x) => x.node === 'b')!;
    expect(sample(samples, 'rollcall_node_peers')).toBe(1);
    expect(sample(samples, 'rollcall_node_processes')).toBe(node.processes);
    expect(sample(samples, 'rollcall_node_uptime_seconds')).toBeCloseTo(node.uptimeMs / 1000, 6);
    expect(sample(samples, 'rollcall_link_bytes_total', { peer: 'b', direction: 'out' })).toBe(peer.bytesOut);
    expect(sample(samples, 'rollcall_link_bytes_total', { peer: 'b', direction: 'in' })).toBe(peer.bytesIn);
    expect(sample(samples, 'rollcall_link_frames_total', { peer: 'b', direction: 'out' })).toBe(peer.framesOut);
    expect(sample(samples, 'rollcall_link_queue_bytes', { peer: 'b' })).toBe(0);
    expect(sample(samples, 'rollcall_peer_heartbeat_age_seconds', { peer: 'b' })).toBeCloseTo(peer.heartbeatAgeMs / 1000, 6);
    expect(sample(samples, 'rollcall_node_link_bytes_total', { direction: 'out' })).toBe(node.links.bytesOut);
    expect(sample(samples, 'rollcall_event_loop_delay_seconds', { stat: 'p99' })).toBeGreaterThanOrEqual(0);

    expect(sample(samples, 'rollcall_group_entries', { group: 'app', cluster: '' })).toBe(1);
    expect(sample(samples, 'rollcall_group_members', { group: 'app', cluster: '' })).toBe(2);
    expect(sample(samples, 'rollcall_group_operations_total', { group: 'app', op: 'register' })).toBe(1);
    expect(sample(samples, 'rollcall_group_operations_total', { group: 'app', op: 'join' })).toBe(1);
    expect(sample(samples, 'rollcall_group_operations_total', { group: 'app', op: 'dispatch' })).toBe(1);
    expect(sample(samples, 'rollcall_group_joins_total', { group: 'app' })).toBe(1);
    expect(sample(samples, 'rollcall_group_leaves_total', { group: 'app' })).toBe(0);
    expect(sample(samples, 'rollcall_group_publishes_total', { group: 'app' })).toBe(1);
    expect(sample(samples, 'rollcall_group_errors_total', { group: 'app', op: 'register', error: 'taken' })).toBe(1);
    expect(sample(samples, 'rollcall_group_replication_frames_total', { group: 'app', direction: 'out', type: 'op' })).toBe(group.replication.opsSent);
    expect(sample(samples, 'rollcall_group_replication_frames_total', { group: 'app', direction: 'in', type: 'op' })).toBe(1);
    expect(sample(samples, 'rollcall_group_replication_ops_applied_total', { group: 'app' })).toBe(1);
    expect(sample(samples, 'rollcall_group_replication_bytes_sent_total', { group: 'app' })).toBe(group.replication.bytesOut);
    expect(sample(samples, 'rollcall_group_purged_rows_total', { group: 'app', reason: 'exit' })).toBe(0);
    // Histograms: the dispatch reached 2 recipients; the lag of b's join was sampled.
    expect(sample(samples, 'rollcall_group_fanout_size_bucket', { group: 'app', le: '1' })).toBe(0);
    expect(sample(samples, 'rollcall_group_fanout_size_bucket', { group: 'app', le: '2' })).toBe(1);
    expect(sample(samples, 'rollcall_group_fanout_size_bucket', { group: 'app', le: '+Inf' })).toBe(1);
    expect(sample(samples, 'rollcall_group_fanout_size_sum', { group: 'app' })).toBe(2);
    expect(sample(samples, 'rollcall_group_publish_duration_seconds_count', { group: 'app' })).toBe(1);
    expect(sample(samples, 'rollcall_group_replication_lag_seconds_count', { group: 'app' })).toBe(1);
    expect(sample(samples, 'rollcall_group_replication_lag_seconds_bucket', { group: 'app', le: '0.005' })).toBe(1);
  });

  it('follows peers that come and go, and groups added later', async () => {
    const { s, a, b, gb } = await twoNodes();
    const registry = new Registry();
    const metrics = createMetrics({ node: a, registry, prefix: 'x_' });
    expect(metrics.registry).toBe(registry);
    expect(sample(parse(await metrics.metricsText()), 'x_link_queue_bytes', { peer: 'b' })).toBe(0);
    await b.stop();
    await s.until(() => a.peers().length === 0, 'b gone');
    const after = parse(await metrics.metricsText());
    expect(sample(after, 'x_link_queue_bytes', { peer: 'b' })).toBeUndefined();
    expect(sample(after, 'x_node_peers')).toBe(0);
    expect(sample(after, 'x_group_entries', { group: 'app', cluster: '' })).toBeUndefined();
    const other = await Group.start(a, { name: 'other', log: false });
    other.register('k', {}, { pid: idle(a) });
    metrics.addGroup(other);
    expect(sample(parse(await metrics.metricsText()), 'x_group_entries', { group: 'other', cluster: '' })).toBe(1);
    metrics.removeGroup(other);
    expect(sample(parse(await metrics.metricsText()), 'x_group_entries', { group: 'other', cluster: '' })).toBeUndefined();
    expect(gb.stats().group).toBe('app');
  });

  it('times dispatches only for Groups whose metrics are exposed', async () => {
    const { a, ga } = await twoNodes();
    ga.join('g', {}, { pid: idle(a) });
    ga.dispatch('g', 'before');
    expect(ga.counters.publishSeconds.count).toBe(0);
    expect(ga.counters.fanout.count).toBe(0);
    expect(ga.stats().recipients).toBe(1);
    createMetrics({ node: a, groups: [ga] });
    ga.dispatch('g', 'after');
    expect(ga.counters.publishSeconds.count).toBe(1);
    expect(ga.counters.fanout.count).toBe(1);
  });

  it('refuses bad options with what to do', async () => {
    const { a } = await twoNodes();
    expect(() => createMetrics({} as never)).toThrow(InvalidArgumentError);
    expect(() => createMetrics({ node: a, prefix: 'bad prefix' })).toThrow(/prefix/);
    expect(() => createMetrics({ node: a, registry: {} as never })).toThrow(/Registry/);
    expect(() => createMetrics({ node: a, groups: [{} as never] })).toThrow(/Group/);
    const registry = new Registry();
    createMetrics({ node: a, registry });
    expect(() => createMetrics({ node: a, registry })).toThrow(/already been registered/);
  });
});
