/**
 * Explicit groups (createGroup / deleteGroup) on the in-memory network with virtual time: the
 * declared state replicates, survives its creator, and a delete reaches members across a
 * partition once it heals; concurrent writes on both sides converge to one answer everywhere.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Group, InvalidArgumentError, NotRunningError } from '../../../src/internal.js';
import { Declarations, supersedes, type Declaration } from '../../../src/group/declarations.js';
import { GroupFrame, Op } from '../../../src/group/protocol.js';
import type { GroupEvent, GroupLifecycleEvent, Node } from '../../../src/index.js';
import type { PeerIdentity } from '../../../src/transport/link.js';
import { createSim, idle, HEARTBEAT, type Sim } from '../node/sim-helpers.js';

const ANTI_ENTROPY_MS = 500;
let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

function startGroup(node: Node, options: { groupTombstoneMs?: number } = {}): Promise<Group> {
  return Group.start(node, { name: 'app', log: false, antiEntropyMs: ANTI_ENTROPY_MS, ...options });
}

async function threeNodes(seed: number, options: { groupTombstoneMs?: number } = {}) {
  const s = (sim = createSim(seed));
  const [a, b, c] = await s.cluster('a', 'b', 'c');
  const all = [await startGroup(a, options), await startGroup(b, options), await startGroup(c, options)];
  await s.until(() => all.every((g) => g.nodes().length === 2), 'Group peers meshed');
  const [ga, gb, gc] = all as [Group, Group, Group];
  return { s, a, b, c, ga, gb, gc, all };
}

/** Leave events of `key` seen by a monitor on `g`, as "pid|reason". */
function leaves(g: Group, key: string): string[] {
  const seen: string[] = [];
  g.monitor(key, (events: readonly GroupEvent<unknown>[]) => {
    for (const e of events) if (e.type === 'left') seen.push(`${e.pid.key}|${String(e.reason)}`);
  });
  return seen;
}

/** Cut every link between the two sides and wait until each side counts the other down. */
async function partition(s: Sim, groups: Record<string, Group>, side: string[], other: string[]): Promise<void> {
  for (const x of side) for (const y of other) s.network.cut(x, y);
  await s.until(
    () => side.every((x) => other.every((y) => !groups[x]!.nodes().includes(y) && !groups[y]!.nodes().includes(x))),
    'the two sides lose each other',
    HEARTBEAT.timeoutMs * 5,
  );
}

async function healAll(s: Sim, all: Group[]): Promise<void> {
  s.network.healAll();
  await s.until(() => all.every((g) => g.nodes().length === all.length - 1), 'Group peers meshed again', 10_000);
  await s.run(200);
}

function declarationsOf(g: Group): Declarations {
  return (g as unknown as { replicator: { declarations: Declarations } }).replicator.declarations;
}

describe('createGroup / deleteGroup', () => {
  it('an empty created group is listed on every node; a second create says exists', async () => {
    const { s, ga, all } = await threeNodes(1);
    expect(ga.hasGroup('rooms/1')).toBe(false);
    expect(ga.createGroup('rooms/1')).toBe('ok');
    expect(ga.createGroup('rooms/1')).toBe('exists');
    await s.until(() => all.every((g) => g.hasGroup('rooms/1')), 'every node has the group');
    for (const g of all) {
      expect(g.groups()).toEqual(['rooms/1']);
      expect(g.groups({ prefix: 'rooms/' })).toEqual(['rooms/1']);
      expect(g.groups({ prefix: 'other/' })).toEqual([]);
      expect(g.members('rooms/1')).toEqual([]);
      expect(g.createGroup('rooms/1')).toBe('exists');
      expect(g.checkConsistency()).toEqual([]);
    }
  });

  it('lists declared and populated groups together, sorted and once each', async () => {
    const { s, a, ga, gb } = await threeNodes(2);
    const pid = idle(a);
    ga.join('b', {}, { pid });
    ga.join('d', {}, { pid });
    await s.until(() => gb.groups().length === 2, 'b sees the populated groups');
    expect(gb.createGroup('a')).toBe('ok');
    expect(gb.createGroup('b')).toBe('ok'); // has members but was not declared: declared now
    expect(gb.createGroup('c')).toBe('ok');
    await s.until(() => ga.groups().length === 4, 'a lists four groups');
    expect(ga.groups()).toEqual(['a', 'b', 'c', 'd']);
    expect(gb.groups()).toEqual(['a', 'b', 'c', 'd']);
    ga.leave('b', { pid });
    ga.leave('d', { pid });
    await s.until(() => !gb.hasGroup('d'), 'd (never declared) goes with its last member');
    expect(gb.groups()).toEqual(['a', 'b', 'c']); // b is declared: empty but listed
    expect(ga.groups()).toEqual(['a', 'b', 'c']);
  });

  it('keeps named clusters apart', async () => {
    const { s, ga, gb, gc } = await threeNodes(3);
    ga.connect('chat');
    gb.connect('chat');
    await s.run(100);
    expect(ga.createGroup('k', { cluster: 'chat' })).toBe('ok');
    await s.until(() => gb.hasGroup('k', { cluster: 'chat' }), 'b has it in chat');
    expect(gb.hasGroup('k')).toBe(false);
    expect(gc.hasGroup('k', { cluster: 'chat' })).toBe(false);
    expect(gb.groups({ cluster: 'chat' })).toEqual(['k']);
    expect(gb.deleteGroup('k', { cluster: 'chat' })).toBe('ok');
    await s.until(() => !ga.hasGroup('k', { cluster: 'chat' }), 'deleted in chat on a');
    // Leaving a cluster forgets its declarations: reads of a cluster we left see nothing.
    expect(gb.createGroup('k2', { cluster: 'chat' })).toBe('ok');
    await s.until(() => ga.hasGroup('k2', { cluster: 'chat' }), 'a has k2');
    ga.disconnect('chat');
    expect(ga.hasGroup('k2', { cluster: 'chat' })).toBe(false);
    ga.connect('chat');
    await s.until(() => ga.hasGroup('k2', { cluster: 'chat' }), 'a learns k2 again on reconnect');
  });

  it('deleteGroup removes every member cluster-wide with reason group_deleted, registrations untouched', async () => {
    const { s, a, b, c, ga, gb, gc, all } = await threeNodes(4);
    const pids = [idle(a), idle(b), idle(c)];
    ga.join('room', { n: 1 }, { pid: pids[0] });
    gb.join('room', { n: 2 }, { pid: pids[1] });
    gc.join('room', { n: 3 }, { pid: pids[2] });
    gc.join('other', {}, { pid: pids[2] });
    gc.register('room', {}, { pid: pids[2] });
    await s.until(() => all.every((g) => g.memberCount('room') === 3 && g.lookup('room') !== null), 'three members everywhere');
    const seen = all.map((g) => leaves(g, 'room'));
    expect(gb.deleteGroup('room')).toBe('ok');
    await s.until(() => all.every((g) => !g.hasGroup('room')), 'room gone everywhere');
    await s.run(50);
    const expected = pids.map((p) => `${p.key}|group_deleted`).sort();
    for (const events of seen) expect(events.sort()).toEqual(expected);
    for (const g of all) {
      expect(g.groups()).toEqual(['other']);
      expect(g.lookup('room')?.pid.key).toBe(pids[2]!.key);
      expect(g.deleteGroup('room')).toBe('not_found');
      expect(g.checkConsistency()).toEqual([]);
    }
    expect([a.isAlive(pids[0]!), b.isAlive(pids[1]!), c.isAlive(pids[2]!)]).toEqual([true, true, true]);
  });

  it('a created group survives the death of its creator, and a node started later learns it', async () => {
    const { s, a, ga, gb, gc } = await threeNodes(5);
    expect(ga.createGroup('lobby')).toBe('ok');
    await s.until(() => gb.hasGroup('lobby') && gc.hasGroup('lobby'), 'b and c have lobby');
    await s.crash(a);
    await s.until(() => gb.nodes().length === 1 && gc.nodes().length === 1, 'a is gone');
    expect(gb.groups()).toEqual(['lobby']);
    expect(gc.groups()).toEqual(['lobby']);
    const d = await s.start('d', { seeds: ['b'] });
    const gd = await startGroup(d);
    await s.until(() => gd.hasGroup('lobby'), 'd learns lobby from the survivors');
    expect(gd.createGroup('lobby')).toBe('exists');
    expect(gd.checkConsistency()).toEqual([]);
  });

  it('a join after the delete recreates the group (implicitly, on every node)', async () => {
    const { s, b, ga, gb, all } = await threeNodes(6);
    expect(ga.createGroup('g')).toBe('ok');
    await s.until(() => all.every((g) => g.hasGroup('g')), 'created everywhere');
    expect(ga.deleteGroup('g')).toBe('ok');
    await s.until(() => all.every((g) => !g.hasGroup('g')), 'deleted everywhere');
    await s.run(10);
    const pid = idle(b);
    gb.join('g', {}, { pid });
    await s.until(() => all.every((g) => g.hasGroup('g') && g.memberCount('g') === 1), 'listed again everywhere');
    // Not declared: it goes with its last member, as any group that was never created.
    gb.leave('g', { pid });
    await s.until(() => all.every((g) => !g.hasGroup('g')), 'gone with its last member');
    expect(gb.createGroup('g')).toBe('ok');
    await s.until(() => all.every((g) => g.hasGroup('g')), 'created again everywhere');
  });

  it('a delete during a partition removes the members on the other side after the heal', async () => {
    const { s, a, c, ga, gb, gc, all } = await threeNodes(7);
    const byName = { a: ga, b: gb, c: gc };
    const early = idle(c);
    gc.join('room', {}, { pid: early });
    expect(ga.createGroup('room')).toBe('ok');
    await s.until(() => all.every((g) => g.memberCount('room') === 1 && g.hasGroup('room')), 'room everywhere');
    await partition(s, byName, ['a'], ['b', 'c']);
    const before = idle(c);
    gc.join('room', {}, { pid: before }); // joins on c's side, before the delete
    await s.run(100);
    expect(ga.deleteGroup('room')).toBe('ok');
    await s.run(100);
    const after = idle(c);
    gc.join('room2', {}, { pid: after }); // a join on another key after the delete is unaffected
    const seen = leaves(gb, 'room');
    expect(gc.memberCount('room')).toBe(2); // c has not heard of the delete yet
    await healAll(s, all);
    await s.until(() => all.every((g) => !g.hasGroup('room')), 'room deleted everywhere after the heal');
    expect(seen.sort()).toEqual([`${early.key}|group_deleted`, `${before.key}|group_deleted`].sort());
    for (const g of all) {
      expect(g.groups()).toEqual(['room2']);
      expect(g.checkConsistency()).toEqual([]);
    }
    expect(c.isAlive(early)).toBe(true);
    void a;
  });

  it('a member that joined after the delete, on the other side of a partition, keeps the group', async () => {
    const { s, c, ga, gb, gc, all } = await threeNodes(8);
    const byName = { a: ga, b: gb, c: gc };
    expect(ga.createGroup('room')).toBe('ok');
    await s.until(() => all.every((g) => g.hasGroup('room')), 'room everywhere');
    await partition(s, byName, ['a'], ['b', 'c']);
    expect(ga.deleteGroup('room')).toBe('ok');
    await s.run(100);
    const late = idle(c);
    gc.join('room', {}, { pid: late });
    await healAll(s, all);
    await s.until(() => all.every((g) => g.memberCount('room') === 1), 'the later member everywhere');
    for (const g of all) {
      expect(g.groups()).toEqual(['room']);
      expect(g.members('room').map((e) => e.pid.key)).toEqual([late.key]);
    }
  });

  it('concurrent create and delete on two sides of a partition converge to one answer everywhere', async () => {
    for (const [seed, deleteLast] of [
      [9, true],
      [10, false],
    ] as const) {
      const { s, b, ga, gb, gc, all } = await threeNodes(seed);
      const byName = { a: ga, b: gb, c: gc };
      await partition(s, byName, ['a'], ['b', 'c']);
      const pid = idle(b);
      gb.join('k', {}, { pid });
      await s.run(20);
      // a creates (it knows nothing of k), b deletes; which one is later decides, on every node.
      if (deleteLast) {
        expect(ga.createGroup('k')).toBe('ok');
        await s.run(5);
        expect(gb.deleteGroup('k')).toBe('ok');
      } else {
        expect(gb.deleteGroup('k')).toBe('ok');
        await s.run(5);
        expect(ga.createGroup('k')).toBe('ok');
      }
      await healAll(s, all);
      await s.run(ANTI_ENTROPY_MS);
      const answers = all.map((g) => [g.hasGroup('k'), g.groups(), g.memberCount('k')]);
      expect(answers).toEqual([answers[0], answers[0], answers[0]]);
      expect(answers[0]).toEqual(deleteLast ? [false, [], 0] : [true, ['k'], 0]);
      for (const g of all) expect(g.checkConsistency()).toEqual([]);
      await s.teardown();
      sim = undefined;
    }
  });

  it('the same create and delete at the same instant: ties go by node name, the same everywhere', async () => {
    const { s, b, ga, gb, gc, all } = await threeNodes(11);
    const byName = { a: ga, b: gb, c: gc };
    await partition(s, byName, ['b'], ['a', 'c']);
    const pid = idle(b);
    gb.join('k', {}, { pid });
    await s.run(20);
    // One virtual instant, no member newer than it on b: both writes carry the same time.
    expect(ga.createGroup('k')).toBe('ok');
    expect(gb.deleteGroup('k')).toBe('ok');
    expect(declarationsOf(ga).get(null, 'k')!.time).toBe(declarationsOf(gb).get(null, 'k')!.time);
    await healAll(s, all);
    await s.run(ANTI_ENTROPY_MS);
    // b > a: b's delete wins on every node.
    for (const g of all) {
      expect(g.hasGroup('k')).toBe(false);
      expect(declarationsOf(g).get(null, 'k')).toMatchObject({ exists: false, node: 'b' });
    }
  });

  it('a tombstone is forgotten after groupTombstoneMs: a longer partition lets a member survive the heal', async () => {
    const tombstoneMs = 3000;
    const { s, c, ga, gb, gc, all } = await threeNodes(12, { groupTombstoneMs: tombstoneMs });
    const byName = { a: ga, b: gb, c: gc };
    const member = idle(c);
    gc.join('room', {}, { pid: member });
    expect(ga.createGroup('room')).toBe('ok');
    await s.until(() => all.every((g) => g.hasGroup('room') && g.memberCount('room') === 1), 'room everywhere');
    await partition(s, byName, ['a'], ['b', 'c']);
    expect(ga.deleteGroup('room')).toBe('ok');
    expect(declarationsOf(ga).size()).toBe(1);
    await s.run(tombstoneMs + 2 * ANTI_ENTROPY_MS);
    expect(declarationsOf(ga).size()).toBe(0);
    await healAll(s, all);
    await s.run(ANTI_ENTROPY_MS * 2);
    // The documented trade-off: the delete is forgotten, the member joined before it stays.
    for (const g of all) expect(g.members('room').map((e) => e.pid.key)).toEqual([member.key]);
    // A tombstone still young when the heal comes does its work (the contrast).
    expect(ga.deleteGroup('room')).toBe('ok');
    await s.until(() => all.every((g) => !g.hasGroup('room')), 'deleted everywhere');
    await s.run(tombstoneMs + 2 * ANTI_ENTROPY_MS);
    for (const g of all) expect(declarationsOf(g).size()).toBe(0);
  });

  it('lost declaration ops are repaired by anti-entropy', async () => {
    const { s, a, b, ga, gb } = await threeNodes(13);
    const pid = idle(b);
    gb.join('room', {}, { pid });
    await s.until(() => ga.memberCount('room') === 1, 'a sees the member');
    const seen = leaves(gb, 'room');
    // a's frames to b are lost while the link stays up (shorter than the heartbeat timeout).
    a.block('b', { in: false, out: true });
    expect(ga.createGroup('lobby')).toBe('ok');
    expect(ga.deleteGroup('room')).toBe('ok');
    await s.run(50);
    a.unblock('b');
    expect(gb.hasGroup('lobby')).toBe(false);
    expect(gb.memberCount('room')).toBe(1);
    await s.until(() => gb.hasGroup('lobby') && !gb.hasGroup('room') && !ga.hasGroup('room'), 'b repaired by anti-entropy', 3 * ANTI_ENTROPY_MS);
    expect(seen).toEqual([`${pid.key}|group_deleted`]);
    expect(ga.checkConsistency()).toEqual([]);
    expect(gb.checkConsistency()).toEqual([]);
  });

  it('monitorGroups delivers group_created and group_deleted on every node', async () => {
    const { s, a, ga, gb, gc, all } = await threeNodes(14);
    const seen = all.map((g) => {
      const out: string[] = [];
      g.monitorGroups('rooms/', (events: readonly GroupLifecycleEvent[]) => {
        for (const e of events) out.push(`${e.type}:${e.key}:${e.node}`);
      });
      return out;
    });
    const watcher = idle(a);
    ga.monitorGroups('rooms/1', watcher);
    expect(gb.createGroup('rooms/1')).toBe('ok');
    expect(gb.createGroup('other')).toBe('ok'); // not matched
    await s.until(() => all.every((g) => g.hasGroup('other')), 'created everywhere');
    expect(gc.deleteGroup('rooms/1')).toBe('ok');
    await s.until(() => seen.every((x) => x.length === 2), 'both events on every node');
    for (const x of seen) expect(x).toEqual(['group_created:rooms/1:b', 'group_deleted:rooms/1:c']);
    ga.demonitorGroups('rooms/', () => undefined); // unknown subscriber: harmless
    expect(() => gb.monitorGroups('rooms/', watcher)).toThrow(InvalidArgumentError);
  });

  it('refuses misuse with InvalidArgumentError, and after stop with NotRunningError', async () => {
    const { s, ga } = await threeNodes(15);
    for (const bad of ['', 'rooms/', 42, null, undefined]) {
      expect(() => ga.createGroup(bad as string)).toThrow(InvalidArgumentError);
      expect(() => ga.deleteGroup(bad as string)).toThrow(InvalidArgumentError);
    }
    expect(() => ga.hasGroup(42 as unknown as string)).toThrow(InvalidArgumentError);
    expect(() => ga.createGroup('k', 'x' as unknown as object)).toThrow(InvalidArgumentError);
    expect(() => ga.createGroup('k', { cluster: 'nope' })).toThrow(/connect/);
    expect(() => ga.deleteGroup('k', { cluster: '' })).toThrow(InvalidArgumentError);
    expect(ga.deleteGroup('never')).toBe('not_found');
    const node = (ga as unknown as { node: Node }).node;
    for (const groupTombstoneMs of [0, -1, 'x', Number.NaN]) {
      await expect(Group.start(node, { name: 'other', groupTombstoneMs: groupTombstoneMs as number })).rejects.toThrow(InvalidArgumentError);
    }
    await ga.stop();
    expect(() => ga.createGroup('k')).toThrow(NotRunningError);
    expect(() => ga.deleteGroup('k')).toThrow(NotRunningError);
    expect(() => ga.monitorGroups('k', () => undefined)).toThrow(NotRunningError);
    await s.run(10);
  });

  it('drops malformed declaration ops and snapshot entries without changing anything', async () => {
    const { s, ga } = await threeNodes(16);
    const peer = { name: 'b' } as PeerIdentity;
    const bad: unknown[][] = [
      ['app', null, 1, Op.CREATE_GROUP, 7, null, null, 1, null],
      ['app', null, 1, Op.CREATE_GROUP, '', null, null, 1, null],
      ['app', null, 1, Op.DELETE_GROUP, 'k', null, null, 'x', null],
      ['app', null, 1, Op.DELETE_GROUP, 'k', null, null, Infinity, null],
      ['app', 'not-connected', 1, Op.CREATE_GROUP, 'k', null, null, 1, null],
      ['app', null, 1, 99, 'k', null, null, 1, null],
    ];
    for (const body of bad) ga.onFrame(GroupFrame.OP, peer, body);
    ga.onFrame(GroupFrame.STATE, peer, ['app', null, 0, [], [], true, false, [null, ['k'], ['k', 'yes', 1, 'b'], ['k', true, 1, ''], ['', true, 1, 'b'], 5]]);
    ga.onFrame(GroupFrame.STATE, peer, ['app', null, 0, [], [], true, false, 'not a list']);
    await s.run(10);
    expect(ga.groups()).toEqual([]);
    expect(declarationsOf(ga).size()).toBe(0);
    expect(ga.checkConsistency()).toEqual([]);
  });
});

describe('random declarations, joins and partitions (property)', () => {
  type Step =
    | { op: 'create' | 'delete'; node: number; key: number }
    | { op: 'join' | 'leave'; node: number; proc: number; key: number }
    | { op: 'isolate'; node: number }
    | { op: 'heal' }
    | { op: 'run'; ms: number };
  const node = fc.nat({ max: 2 });
  const key = fc.nat({ max: 2 });
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('create' as const, 'delete' as const), node, key }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('join' as const, 'leave' as const), node, proc: fc.nat({ max: 1 }), key }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('isolate' as const), node }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('heal' as const) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('run' as const), ms: fc.integer({ min: 0, max: 1500 }) }) },
  );
  const KEYS = ['k0', 'k1', 'k2'];
  const NAMES = ['a', 'b', 'c'];

  it('after the heal every node lists the same groups, members and declarations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.array(step, { minLength: 5, maxLength: 30 }), async (seed, steps) => {
        const { s, a, b, c, all } = await threeNodes(seed);
        try {
          const procs = [a, b, c].map((n) => [idle(n), idle(n)]);
          for (const st of steps) {
            if (st.op === 'create') all[st.node]!.createGroup(KEYS[st.key]!);
            else if (st.op === 'delete') all[st.node]!.deleteGroup(KEYS[st.key]!);
            else if (st.op === 'join') all[st.node]!.join(KEYS[st.key]!, {}, { pid: procs[st.node]![st.proc]! });
            else if (st.op === 'leave') all[st.node]!.leave(KEYS[st.key]!, { pid: procs[st.node]![st.proc]! });
            else if (st.op === 'isolate') {
              for (const other of NAMES) if (other !== NAMES[st.node]) s.network.cut(NAMES[st.node]!, other);
            } else if (st.op === 'heal') s.network.healAll();
            else if (st.op === 'run') await s.run(st.ms);
          }
          await healAll(s, all);
          await s.run(3 * ANTI_ENTROPY_MS);
          const view = (g: Group) =>
            KEYS.map((k) => ({
              listed: g.hasGroup(k),
              members: g.members(k).map((e) => e.pid.key),
              declared: declarationsOf(g).get(null, k) ?? null,
            }));
          const first = view(all[0]!);
          for (const g of all) {
            expect(view(g)).toEqual(first);
            expect(g.groups()).toEqual(KEYS.filter((_, i) => first[i]!.listed));
            expect(g.checkConsistency()).toEqual([]);
          }
        } finally {
          await s.teardown();
          sim = undefined;
        }
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});

describe('Declarations (the register)', () => {
  const decl = fc.record({ exists: fc.boolean(), time: fc.integer({ min: 0, max: 5 }), node: fc.constantFrom('a', 'b', 'c') });

  it('merging is order-independent and idempotent: every order of the same writes keeps the same winner', () => {
    fc.assert(
      fc.property(fc.array(decl, { minLength: 1, maxLength: 8 }), fc.integer(), (writes, seed) => {
        const once = new Declarations();
        for (const w of writes) once.merge(null, 'k', w);
        const shuffled = [...writes, ...writes].sort((x, y) => ((x.time * 7 + seed) % 5) - ((y.time * 3 + seed) % 5));
        const twice = new Declarations();
        for (const w of shuffled) twice.merge(null, 'k', w);
        expect(twice.get(null, 'k')).toEqual(once.get(null, 'k'));
        const winner = once.get(null, 'k')!;
        for (const w of writes) expect(supersedes(w as Declaration, winner)).toBe(false);
        expect(once.check()).toEqual([]);
      }),
    );
  });

  it('orders by time, then node name, then the delete', () => {
    expect(supersedes({ exists: true, time: 2, node: 'a' }, { exists: false, time: 1, node: 'z' })).toBe(true);
    expect(supersedes({ exists: true, time: 1, node: 'b' }, { exists: false, time: 1, node: 'a' })).toBe(true);
    expect(supersedes({ exists: false, time: 1, node: 'a' }, { exists: true, time: 1, node: 'a' })).toBe(true);
    expect(supersedes({ exists: true, time: 1, node: 'a' }, { exists: false, time: 1, node: 'a' })).toBe(false);
  });

  it('expires tombstones only, and the checker sees a corrupted counter', () => {
    const d = new Declarations();
    d.merge(null, 'dead', { exists: false, time: 10, node: 'a' });
    d.merge('x', 'live', { exists: true, time: 5, node: 'a' });
    expect(d.expire(9)).toBe(0);
    expect(d.expire(10)).toBe(1);
    expect(d.get(null, 'dead')).toBeUndefined();
    expect(d.exists('x', 'live')).toBe(true);
    expect(d.check()).toEqual([]);
    (d as unknown as { tombstones: number }).tombstones = 3;
    expect(d.check()).not.toEqual([]);
  });
});
