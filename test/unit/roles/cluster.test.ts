/**
 * Roles on a 10-node cluster over the in-memory network (virtual time): propagation, departure
 * cleanup, churn waves, scope isolation, value comparison of object roles, resync after a
 * partition heals. After each scenario every node's index is checked against its Group tables.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventsAbout, readState, replay, rolesCluster, TEN, type RolesCluster } from './support.js';

let c: RolesCluster;

afterEach(async () => {
  await c.teardown();
});

const everywhere = (c: RolesCluster, check: (name: string) => boolean): boolean => c.live().every(check);

describe('Roles on 10 nodes (memory network)', () => {
  it('propagates: a role added on one node is seen by all, with one roleAdded event per node', async () => {
    c = await rolesCluster(1);
    await c.sim.until(() => everywhere(c, (n) => c.r(n).allNodes().length === 10), 'every node sees every node in the default scope');
    c.r('n3').addRoles(['web', 'api']);
    c.r('n7').addRole('web');
    await c.sim.until(() => everywhere(c, (n) => c.r(n).getNodes('web').length === 2 && c.r(n).getNodes('api').length === 1), 'roles replicated');
    for (const n of TEN) {
      expect(c.r(n).getNodes('web')).toEqual(['n3', 'n7']);
      expect(c.r(n).getNodes('api')).toEqual(['n3']);
      expect(c.r(n).getRoles('n3')).toEqual(['api', 'web']);
      expect(c.r(n).allNodes()).toEqual([...TEN]);
      // addRoles([web, api]) is one change: one event with both roles, everywhere.
      const added = eventsAbout(c.events.get(n)!, 'roleAdded', 'n3');
      expect(added.map((e) => [...e.roles].sort())).toEqual([['api', 'web']]);
    }
    expect(c.r('n3').getMyRoles()).toEqual(['api', 'web']);
    c.r('n3').removeRole('web');
    await c.sim.until(() => everywhere(c, (n) => c.r(n).getNodes('web').length === 1), 'removal replicated');
    for (const n of TEN) {
      expect(c.r(n).getNodes('web')).toEqual(['n7']);
      expect(eventsAbout(c.events.get(n)!, 'roleRemoved', 'n3').map((e) => e.roles)).toEqual([['web']]);
    }
    c.consistent();
  });

  it('a node that crashes loses its roles everywhere, with roleRemoved then nodeRemoved (reason nodedown)', async () => {
    c = await rolesCluster(2);
    c.r('n5').addRoles(['db', { shard: 1 }]);
    c.r('n6').addRole('db');
    await c.sim.until(() => everywhere(c, (n) => c.r(n).getNodes('db').length === 2), 'roles replicated');
    await c.crash('n5');
    await c.sim.until(() => everywhere(c, (n) => c.r(n).getNodes('db').length === 1 && !c.r(n).allNodes().includes('n5')), 'n5 purged', 20_000);
    for (const n of c.live()) {
      const r = c.r(n);
      expect(r.getNodes('db')).toEqual(['n6']);
      expect(r.getNodes({ shard: 1 })).toEqual([]);
      expect(r.getRoles('n5')).toEqual([]);
      const seen = c.events.get(n)!.filter((e) => e.node === 'n5' && (e.type === 'roleRemoved' || e.type === 'nodeRemoved'));
      expect(seen.map((e) => e.type)).toEqual(['roleRemoved', 'nodeRemoved']);
      expect(seen[0]!.roles).toEqual(['db', { shard: 1 }]);
      expect(seen[1]!.roles).toEqual(['db', { shard: 1 }]);
      expect(seen[1]!.reason).toBe('nodedown');
      expect(replay(c.events.get(n)!)).toEqual(readState(r));
    }
    c.consistent();
  });

  it('a node that joins late sees the roles already there (resync on connect), and its nodeAdded carries its roles', async () => {
    c = await rolesCluster(3, TEN.slice(0, 9));
    c.r('n0').addRole('leader');
    const late = await c.sim.start('late', { seeds: ['n0'] });
    const { Roles } = await import('../../../src/index.js');
    const r = await Roles.start(late, { roles: ['fresh', ['tuple', 2]] });
    try {
      await c.sim.until(() => r.getNodes('leader').length === 1 && r.allNodes().length === 10, 'the late node caught up');
      await c.sim.until(() => everywhere(c, (n) => c.r(n).getNodes('fresh').includes('late')), 'the late node seen');
      for (const n of c.live()) {
        const added = eventsAbout(c.events.get(n)!, 'nodeAdded', 'late');
        expect(added).toHaveLength(1);
        // Canonical key order: a string ("...) sorts before an array ([...).
        expect(added[0]!.roles).toEqual(['fresh', ['tuple', 2]]);
        // It appeared with its roles: no bare nodeAdded followed by a roleAdded.
        expect(eventsAbout(c.events.get(n)!, 'roleAdded', 'late')).toEqual([]);
        expect(c.r(n).getRoles('late')).toEqual(added[0]!.roles);
      }
      expect(r.checkConsistency()).toEqual([]);
    } finally {
      await r.stop();
    }
    await c.sim.until(() => everywhere(c, (n) => !c.r(n).allNodes().includes('late')), 'stopped node gone');
    for (const n of c.live()) {
      const gone = eventsAbout(c.events.get(n)!, 'nodeRemoved', 'late');
      expect(gone.map((e) => [e.roles, e.reason])).toEqual([[['fresh', ['tuple', 2]], { nodedown: 'late' }]]);
    }
    c.consistent();
  });

  it('churn waves: bursts of adds and removes on every node converge to each node\'s own roles', async () => {
    c = await rolesCluster(4);
    const pool = ['a', 'b', 'c', 'd', 'e', 1, 2, { k: 'x' }, ['t', 1]];
    let rng = 12345;
    const rand = (n: number): number => {
      rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
      return rng % n;
    };
    for (let wave = 0; wave < 8; wave++) {
      for (const n of TEN) {
        const r = c.r(n);
        for (let i = 0; i < 6; i++) {
          const role = pool[rand(pool.length)];
          if (rand(2) === 0) r.addRole(role);
          else r.removeRole(role);
        }
        if (rand(3) === 0) r.addRoles(pool.slice(0, rand(pool.length)));
      }
      // Half the waves land while the previous one is still in flight.
      await c.sim.run(wave % 2 === 0 ? 1 : 20);
    }
    const expected = (role: unknown): string[] => TEN.filter((n) => c.r(n).getMyRoles().some((m) => JSON.stringify(m) === JSON.stringify(role)));
    await c.sim.until(() => everywhere(c, (n) => pool.every((role) => c.r(n).getNodes(role).join() === expected(role).join())), 'converged', 20_000);
    for (const n of TEN) for (const m of TEN) expect(c.r(n).getRoles(m)).toEqual(c.r(m).getMyRoles());
    // The events each node saw, replayed, give what it reads.
    for (const n of TEN) expect(replay(c.events.get(n)!)).toEqual(readState(c.r(n)));
    c.consistent();
  });

  it('scopes are isolated: roles of scope A are never visible in B, on any node, even under the same role names', async () => {
    c = await rolesCluster(5, TEN, (n) => ({ scopes: Number(n.slice(1)) % 2 === 0 ? ['default', 'A'] : ['default', 'B'] }));
    const inA: string[] = TEN.filter((n) => Number(n.slice(1)) % 2 === 0);
    const inB: string[] = TEN.filter((n) => Number(n.slice(1)) % 2 === 1);
    for (const n of inA) c.r(n).addRoles(['shared-name', `a-only-${n}`], 'A');
    for (const n of inB) c.r(n).addRoles(['shared-name', `b-only-${n}`], 'B');
    c.r('n0').addRole('default-role');
    await c.sim.until(
      () => inA.every((n) => c.r(n).getNodes('shared-name', 'A').length === 5) && inB.every((n) => c.r(n).getNodes('shared-name', 'B').length === 5),
      'each scope converged',
    );
    await c.sim.until(() => everywhere(c, (n) => c.r(n).getNodes('default-role').length === 1), 'default scope converged');
    for (const n of inA) {
      const r = c.r(n);
      expect(r.getNodes('shared-name', 'A')).toEqual(inA);
      expect(r.allNodes('A')).toEqual(inA);
      for (const m of inB) expect(r.getRoles(m, 'A')).toEqual([]);
      for (const m of inB) expect(r.getNodes(`b-only-${m}`, 'A')).toEqual([]);
      // A scope this node is not in cannot be read at all (it would be an empty lie).
      expect(() => r.getNodes('shared-name', 'B')).toThrow(/has not joined scope "B"/);
      // The default scope has neither scope's roles.
      expect(r.getNodes('shared-name')).toEqual([]);
      expect(r.getRoles('n0')).toEqual(['default-role']);
      expect(r.getRoles('n0', 'A')).toEqual(['a-only-n0', 'shared-name']);
    }
    for (const n of inB) {
      expect(c.r(n).getNodes('shared-name', 'B')).toEqual(inB);
      for (const m of inA) expect(c.r(n).getRoles(m, 'B')).toEqual([]);
    }
    // No event of one scope ever reached a node outside it.
    for (const n of inA) expect(c.events.get(n)!.filter((e) => e.scope === 'B')).toEqual([]);
    for (const n of inB) expect(c.events.get(n)!.filter((e) => e.scope === 'A')).toEqual([]);
    for (const n of TEN) expect(c.events.get(n)!.filter((e) => e.scope === 'A' && !inA.includes(e.node))).toEqual([]);
    // Joining B at runtime shows B; leaving it again removes this node from B everywhere.
    c.r('n0').joinScope('B');
    await c.sim.until(() => c.r('n0').allNodes('B').length === 6 && inB.every((n) => c.r(n).allNodes('B').includes('n0')), 'n0 in B');
    expect(c.r('n0').getNodes('shared-name', 'B')).toEqual(inB);
    c.r('n0').addRole('late-b', 'B');
    await c.sim.until(() => inB.every((n) => c.r(n).getNodes('late-b', 'B').length === 1), 'late-b replicated');
    c.r('n0').leaveScope('B');
    await c.sim.until(() => inB.every((n) => !c.r(n).allNodes('B').includes('n0')), 'n0 left B');
    for (const n of inB) {
      expect(c.r(n).getNodes('late-b', 'B')).toEqual([]);
      const gone = eventsAbout(c.events.get(n)!, 'nodeRemoved', 'n0', 'B');
      expect(gone.map((e) => [e.roles, e.reason])).toEqual([[['late-b'], 'cluster_disconnect']]);
    }
    expect(c.r('n0').listScopes()).toEqual(['A', 'default']);
    c.consistent();
  });

  it('object roles compare by value: key order does not matter, types do', async () => {
    c = await rolesCluster(6);
    c.r('n1').addRole({ shard: 1, region: 'eu' });
    c.r('n2').addRole({ region: 'eu', shard: 1 });
    c.r('n3').addRole({ region: 'eu', shard: '1' });
    c.r('n4').addRole(['shard', 1]);
    await c.sim.until(() => everywhere(c, (n) => c.r(n).getNodes({ shard: 1, region: 'eu' }).length === 2 && c.r(n).getNodes(['shard', 1]).length === 1), 'replicated');
    for (const n of TEN) {
      const r = c.r(n);
      expect(r.getNodes({ region: 'eu', shard: 1 })).toEqual(['n1', 'n2']);
      expect(r.getNodes({ region: 'eu', shard: '1' })).toEqual(['n3']);
      expect(r.getNodes(['shard', 1])).toEqual(['n4']);
      expect(r.getNodes(['shard', '1'])).toEqual([]);
      expect(r.getRoles('n2')).toEqual([{ region: 'eu', shard: 1 }]);
      expect(r.hasRole('n1', { region: 'eu', shard: 1 })).toBe(true);
    }
    // Adding an equal value again is a no-op, whatever its key order.
    c.r('n1').addRole({ region: 'eu', shard: 1 });
    expect(c.r('n1').getMyRoles()).toEqual([{ shard: 1, region: 'eu' }]);
    // The stored role is a copy: changing the caller's object later changes nothing.
    const mine = { tier: 'gold' };
    c.r('n5').addRole(mine);
    mine.tier = 'lead';
    await c.sim.until(() => everywhere(c, (n) => c.r(n).getNodes({ tier: 'gold' }).length === 1), 'replicated');
    expect(c.r('n0').getNodes({ tier: 'lead' })).toEqual([]);
    expect(c.r('n5').getMyRoles()).toEqual([{ tier: 'gold' }]);
    c.consistent();
  });

  it('a partition removes the other side\'s roles; the heal brings them back (resync) with nodeAdded events', async () => {
    c = await rolesCluster(7);
    for (const n of TEN) c.r(n).addRole(`r-${n}`);
    c.r('n0').addRole('common');
    c.r('n9').addRole('common');
    await c.sim.until(() => everywhere(c, (n) => c.r(n).getNodes('common').length === 2 && c.r(n).allNodes().length === 10), 'converged');
    const left = TEN.slice(0, 5);
    const right = TEN.slice(5);
    for (const a of left) for (const b of right) c.sim.network.cut(a, b);
    await c.sim.until(() => left.every((n) => c.r(n).allNodes().join() === left.join()) && right.every((n) => c.r(n).allNodes().join() === right.join()), 'each side alone', 20_000);
    expect(c.r('n0').getNodes('common')).toEqual(['n0']);
    expect(c.r('n9').getNodes('common')).toEqual(['n9']);
    // Changes on each side during the partition.
    c.r('n1').addRole('during');
    c.r('n8').removeRole('r-n8');
    c.r('n8').addRole('during');
    c.sim.network.healAll();
    await c.sim.until(() => everywhere(c, (n) => c.r(n).allNodes().length === 10 && c.r(n).getNodes('during').length === 2 && c.r(n).getNodes('common').length === 2), 'healed', 30_000);
    for (const n of TEN) {
      expect(c.r(n).getNodes('during')).toEqual(['n1', 'n8']);
      expect(c.r(n).getNodes('r-n8')).toEqual([]);
      expect(c.r(n).getRoles('n8')).toEqual(['during']);
      // Each node saw every node of the other side go and come back.
      const other = left.includes(n) ? right : left;
      for (const m of other) {
        expect(eventsAbout(c.events.get(n)!, 'nodeRemoved', m).length).toBeGreaterThanOrEqual(1);
        const back = eventsAbout(c.events.get(n)!, 'nodeAdded', m);
        expect(back.at(-1)!.roles).toEqual(c.r(m).getMyRoles());
      }
      expect(replay(c.events.get(n)!)).toEqual(readState(c.r(n)));
    }
    c.consistent();
  });
});
