/**
 * multiCall: every member of a group called in parallel; a member that dies is in `bad` at once
 * (not after the timeout), a slow one after the timeout, the others' replies are kept.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Group, Server, noReply, type Pid } from '../../../src/internal.js';
import { createSim, track, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

/** Answers `{echo, node}`; 'die' crashes it; 'hang' is never answered. */
class Worker extends Server<string> {
  private tag = '';
  override init(tag: string): void {
    this.tag = tag;
  }
  override handleCall(request: unknown): unknown {
    if (request === 'die' && this.tag.startsWith('fragile')) throw new Error('crashed on purpose');
    if (request === 'die' || request === 'hang') return this.tag.startsWith('slow') ? noReply : { echo: request, tag: this.tag };
    return { echo: request, tag: this.tag };
  }
}

async function setup(): Promise<{ s: Sim; groups: Group[]; pids: Record<string, Pid> }> {
  sim = createSim(21);
  const nodes = await sim.cluster('a', 'b', 'c');
  const groups = await Promise.all(nodes.map((n) => Group.start(n, { name: 'app', log: false })));
  const pids: Record<string, Pid> = {};
  const spec: Array<[number, string]> = [[0, 'a1'], [1, 'b1'], [1, 'fragile-b'], [2, 'slow-c'], [2, 'c1']];
  for (const [i, tag] of spec) {
    pids[tag] = nodes[i]!.spawn(Worker, tag);
    groups[i]!.join('workers', {}, { pid: pids[tag] });
  }
  await sim.until(() => groups.every((g) => g.members('workers').length === spec.length), 'every node sees 5 workers');
  return { s: sim, groups, pids };
}

describe('multiCall', () => {
  it('collects every reply, in member order', async () => {
    const { s, groups, pids } = await setup();
    const result = await s.resolve(groups[0]!.multiCall('workers', 'ping', { timeoutMs: 1000 }), 'multiCall');
    const order = groups[0]!.members('workers').map((m) => m.pid.key);
    expect(result.replies.map((r) => r.pid.key)).toEqual(order);
    expect(result.replies.find((r) => r.pid.equals(pids['c1']!))?.reply).toEqual({ echo: 'ping', tag: 'c1' });
    expect(result.bad).toEqual([]);
  });

  it('a member that dies during the call is bad at once; a slow one after the timeout; the rest reply', async () => {
    const { s, groups, pids } = await setup();
    const start = s.clock.now();
    const result = await s.resolve(groups[0]!.multiCall('workers', 'die', { timeoutMs: 500 }), 'multiCall');
    expect(result.bad.map((p) => p.key).sort()).toEqual([pids['fragile-b']!.key, pids['slow-c']!.key].sort());
    expect(result.replies.map((r) => r.pid.key).sort()).toEqual([pids['a1']!.key, pids['b1']!.key, pids['c1']!.key].sort());
    expect(s.clock.now() - start).toBeGreaterThanOrEqual(500);
  });

  it('returns before the timeout when the only non-replying member dies (no waiting for the timeout)', async () => {
    const { s, groups, pids } = await setup();
    groups[2]!.leave('workers', { pid: pids['slow-c']! });
    await s.until(() => groups[0]!.members('workers').length === 4, 'a sees the slow one leave');
    const start = s.clock.now();
    const call = track(groups[0]!.multiCall('workers', 'die', { timeoutMs: 5000 }));
    await s.until(() => call.outcome !== undefined, 'multiCall settles', 1000);
    expect(s.clock.now() - start).toBeLessThan(100);
    const outcome = call.outcome!;
    expect(outcome.ok && outcome.value.bad.map((p) => p.key)).toEqual([pids['fragile-b']!.key]);
  });

  it('an empty group answers at once; bad arguments reject', async () => {
    const { groups } = await setup();
    await expect(groups[0]!.multiCall('nobody', 'x')).resolves.toEqual({ replies: [], bad: [] });
    await expect(groups[0]!.multiCall('workers', 'x', { timeoutMs: -1 })).rejects.toMatchObject({ code: 'ERR_ROLLCALL_INVALID_ARGUMENT' });
    await expect(groups[0]!.multiCall(1 as unknown as string, 'x')).rejects.toMatchObject({ code: 'ERR_ROLLCALL_INVALID_ARGUMENT' });
  });
});
