/**
 * Topics (seed 001): a member subscribes to topics within a group; publish reaches the members of
 * a topic (and those that take every message) on every node, returns who was sent the message,
 * and each of them receives it once. Topics replicate with ops and snapshots; re-joins merge.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Group, InvalidArgumentError, type Pid } from '../../../src/index.js';
import { decode } from '../../../src/wire/codec.js';
import { GroupFrame } from '../../../src/group/protocol.js';
import { idle } from '../node/sim-helpers.js';
import { recordOps } from '../../support/wire-tap.js';
import { actor, keys, pgCluster, type Actor, type PgCluster } from './pg-support.js';

let cluster: PgCluster | undefined;
afterEach(async () => {
  await cluster?.sim.teardown();
  cluster = undefined;
});

const topicsOn = (g: Group, key: string, pid: Pid): readonly string[] | null | undefined => g.memberInfo(key, { pid })?.topics;

/** Sort pids the way the tables do (node, incarnation, id). */
const sorted = (pids: Pid[]): string[] => keys([...pids].sort((x, y) => x.compare(y)));

describe('Group topics', () => {
  it('replicates topics to every node; absent topics mean every message', async () => {
    cluster = await pgCluster(11, ['a', 'b', 'c']);
    const [a] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups;
    const p = idle(a!);
    const q = idle(a!);
    expect(ga!.join('events', {}, { pid: p, topics: ['user.login', 'user.login', 'config'] })).toBe('ok');
    expect(ga!.join('events', {}, { pid: q })).toBe('ok');
    await cluster.settle();
    for (const g of [ga!, gb!, gc!]) {
      expect(topicsOn(g, 'events', p)).toEqual(['config', 'user.login']);
      expect(topicsOn(g, 'events', q)).toBeNull();
      expect(g.checkConsistency()).toEqual([]);
    }
  });

  it('merges topics on re-join: union; absent keeps them; [] means every message for good', async () => {
    cluster = await pgCluster(12, ['a', 'b']);
    const [a] = cluster.nodes;
    const [ga, gb] = cluster.groups;
    const p = idle(a!);
    ga!.join('events', { v: 1 }, { pid: p, topics: ['b'] });
    ga!.join('events', { v: 1 }, { pid: p, topics: ['a', 'b'] });
    await cluster.settle();
    expect(topicsOn(gb!, 'events', p)).toEqual(['a', 'b']);
    // A meta update without topics keeps the topics.
    ga!.join('events', { v: 2 }, { pid: p });
    await cluster.settle();
    expect(gb!.memberInfo('events', { pid: p })).toMatchObject({ meta: { v: 2 }, topics: ['a', 'b'], joins: 1 });
    // [] = every message, and stays so whatever topics a later join names.
    ga!.join('events', { v: 2 }, { pid: p, topics: [] });
    await cluster.settle();
    expect(topicsOn(gb!, 'events', p)).toBeNull();
    ga!.join('events', { v: 2 }, { pid: p, topics: ['z'] });
    await cluster.settle();
    expect(topicsOn(ga!, 'events', p)).toBeNull();
    expect(topicsOn(gb!, 'events', p)).toBeNull();
    expect(gb!.memberCount('events')).toBe(1);
  });

  it('a re-join that adds no topic and keeps the meta changes nothing and sends nothing', async () => {
    cluster = await pgCluster(13, ['a', 'b']);
    const [a] = cluster.nodes;
    const [ga] = cluster.groups;
    const p = idle(a!);
    ga!.join('events', { v: 1 }, { pid: p, topics: ['x', 'y'] });
    await cluster.settle();
    const ops = recordOps(a!);
    const events = cluster.events[0]!.length;
    ga!.join('events', { v: 1 }, { pid: p, topics: ['y'] });
    await cluster.settle();
    expect(ops).toEqual([]);
    expect(cluster.events[0]!.length).toBe(events);
  });

  it('a plain join sends the same op as before topics existed (no trailing fields); a join with topics appends them', async () => {
    cluster = await pgCluster(14, ['a', 'b']);
    const [a] = cluster.nodes;
    const [ga] = cluster.groups;
    const ops = recordOps(a!);
    ga!.join('plain', { n: 1 }, { pid: idle(a!) });
    ga!.join('topical', { n: 1 }, { pid: idle(a!), topics: ['t'] });
    await cluster.settle();
    expect(ops.map((op) => op.length)).toEqual([9, 10]);
    expect(ops[1]![9]).toEqual(['t']);
  });

  it('publish reaches the subscribers of a topic and the every-message members on every node, each once, and returns them', async () => {
    cluster = await pgCluster(15, ['a', 'b', 'c']);
    const [a, b, c] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups;
    const login: Actor[] = [actor(a!), actor(b!)];
    const logout: Actor[] = [actor(c!)];
    const everything: Actor[] = [actor(b!), actor(c!)];
    const both = actor(a!);
    for (const x of login) cluster.groups[cluster.nodes.indexOf(x.node)]!.join('events', {}, { pid: x.pid, topics: ['user.login'] });
    for (const x of logout) cluster.groups[cluster.nodes.indexOf(x.node)]!.join('events', {}, { pid: x.pid, topics: ['user.logout'] });
    for (const x of everything) cluster.groups[cluster.nodes.indexOf(x.node)]!.join('events', {}, { pid: x.pid });
    ga!.join('events', {}, { pid: both.pid, topics: ['user.login', 'user.logout'] });
    await cluster.settle();

    const fromB = gb!.publish('events', { hello: 'login' }, { topic: 'user.login' });
    const expectLogin = [...login, ...everything, both].map((x) => x.pid);
    expect(keys(fromB)).toEqual(sorted(expectLogin));
    const fromC = gc!.publish('events', { hello: 'all' });
    const all = [...login, ...logout, ...everything, both];
    expect(keys(fromC)).toEqual(sorted(all.map((x) => x.pid)));
    const nobody = ga!.publish('events', { hello: 'nobody' }, { topic: 'user.deleted' });
    expect(keys(nobody)).toEqual(sorted(everything.map((x) => x.pid)));
    await cluster.settle();

    for (const x of all) {
      const expected = [
        ...(expectLogin.some((p) => p.equals(x.pid)) ? [{ hello: 'login' }] : []),
        { hello: 'all' },
        ...(everything.includes(x) ? [{ hello: 'nobody' }] : []),
      ];
      // Publishes from different nodes are not ordered among themselves: compare as sets.
      const byText = (m: unknown[]): string[] => m.map((v) => JSON.stringify(v)).sort();
      expect(byText(x.inbox), `inbox of ${x.pid.key}`).toEqual(byText(expected));
    }
  });

  it('publish to an unknown key reaches nobody; a snapshot brings topics to a node that starts later', async () => {
    cluster = await pgCluster(16, ['a', 'b']);
    const [a] = cluster.nodes;
    const [ga] = cluster.groups;
    expect(ga!.publish('nothing', 'x', { topic: 't' })).toEqual([]);
    const p = idle(a!);
    ga!.join('events', { n: 1 }, { pid: p, topics: ['t1', 't2'] });
    const d = await cluster.sim.start('d', { seeds: ['a'] });
    await cluster.sim.until(() => d.peers().length === 2, 'd meshed');
    const gd = await Group.start(d, { name: 'app', log: false });
    await cluster.sim.until(() => gd.memberCount('events') === 1, 'd receives the snapshot');
    expect(gd.memberInfo('events', { pid: p })).toMatchObject({ topics: ['t1', 't2'], joins: 1 });
    expect(keys(gd.publish('events', 'x', { topic: 't2' }))).toEqual([p.key]);
    expect(gd.publish('events', 'x', { topic: 't3' })).toEqual([]);
    expect(gd.checkConsistency()).toEqual([]);
  });

  it('a topic change is an update event on every node (previousMeta set), with topics in memberInfo', async () => {
    cluster = await pgCluster(17, ['a', 'b']);
    const [a] = cluster.nodes;
    const [ga] = cluster.groups;
    const p = idle(a!);
    ga!.join('events', { n: 1 }, { pid: p, topics: ['x'] });
    ga!.join('events', { n: 1 }, { pid: p, topics: ['y'] });
    await cluster.settle();
    for (const events of cluster.events) {
      expect(events.map((e) => [e.type, e.previousMeta])).toEqual([
        ['joined', null],
        ['joined', { n: 1 }],
      ]);
    }
  });

  it('refuses bad topics and bad publish options with InvalidArgumentError', async () => {
    cluster = await pgCluster(18, ['a']);
    const [a] = cluster.nodes;
    const [ga] = cluster.groups;
    const p = idle(a!);
    expect(() => ga!.join('k', {}, { pid: p, topics: 'news' as unknown as string[] })).toThrow(InvalidArgumentError);
    expect(() => ga!.join('k', {}, { pid: p, topics: ['ok', 3 as unknown as string] })).toThrow(/every topic must be a non-empty string/);
    expect(() => ga!.join('k', {}, { pid: p, topics: [''] })).toThrow(InvalidArgumentError);
    expect(ga!.memberCount('k')).toBe(0);
    expect(() => ga!.publish('k', 'm', { topic: '' })).toThrow(/topic must be a non-empty string/);
    expect(() => ga!.publish('k', 'm', { topic: 1 as unknown as string })).toThrow(InvalidArgumentError);
    expect(() => ga!.publish(1 as unknown as string, 'm')).toThrow(InvalidArgumentError);
    await ga!.stop();
    expect(() => ga!.publish('k', 'm')).toThrow(/stopped/);
  });

  it('a peer sending malformed topics has that op dropped; the node keeps running', async () => {
    cluster = await pgCluster(19, ['a', 'b']);
    const [a] = cluster.nodes;
    const [ga, gb] = cluster.groups;
    const p = idle(a!);
    // Forge what a buggy or hostile peer could send: the op of a join with topics that are not strings.
    const send = a!.sendRaw.bind(a!);
    a!.sendRaw = (peer, type, payload) => {
      if (type !== GroupFrame.OP) return send(peer, type, payload);
      const op = decode(payload) as unknown[];
      op[9] = [1, 2];
      return send(peer, type, a!.encodePayload(op));
    };
    ga!.join('events', {}, { pid: p, topics: ['t'] });
    await cluster.settle();
    expect(gb!.memberCount('events')).toBe(0);
    expect(gb!.checkConsistency()).toEqual([]);
    expect(a!.peers()).toEqual(['b']);
  });
});
