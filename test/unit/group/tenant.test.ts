/**
 * Tenant views (src/group/tenant.ts) on three simulated nodes in virtual time: the key mapping,
 * every wrapped method, events and monitors confined and rewritten, replication between views on
 * different nodes, and an adversarial battery in which one tenant tries every read, write and
 * monitor against another tenant's (and the root's) keys. A property checks that the mapping is
 * injective and that random views never see each other's entries.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL, Group, type Entry, type GroupEvent, type GroupEventMessage, type Node } from '../../../src/index.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { MAX_TENANT_ID_LENGTH, TENANT_PREFIX, TenantView, parseTenantKey, tenantPrefix } from '../../../src/group/tenant.js';
import { collector, createSim, idle, type Collector, type Sim } from '../node/sim-helpers.js';

const keysOf = (events: readonly GroupEvent<unknown>[]): string[] => events.map((e) => `${e.type} ${e.key}`);
const pidKeys = (entries: Entry[]): string[] => entries.map((e) => e.pid.key);

function batches(c: Collector): GroupEventMessage<unknown>[] {
  return c.messages.filter((m): m is GroupEventMessage<unknown> => typeof m === 'object' && m !== null && 'events' in m);
}

describe('tenant key mapping', () => {
  it('escapes "/" and "%" so that ids can never run into each other', () => {
    expect(tenantPrefix('a/b', 'c')).not.toBe(tenantPrefix('a', 'b/c'));
    expect(tenantPrefix('a%2Fb', 'c')).not.toBe(tenantPrefix('a/b', 'c'));
    expect(tenantPrefix('acme', 'default')).toBe(`${TENANT_PREFIX}acme/default/`);
    expect(tenantPrefix('a/b', 'c%')).toBe(`${TENANT_PREFIX}a%2Fb/c%25/`);
  });

  it('parseTenantKey decodes a view key and rejects anything a view could not have written', () => {
    const stored = `${tenantPrefix('a/b', 'n%s')}room/1`;
    expect(parseTenantKey(stored)).toEqual({ tenant: 'a/b', namespace: 'n%s', key: 'room/1' });
    for (const bad of ['room/1', `${TENANT_PREFIX}a`, `${TENANT_PREFIX}a/b`, `${TENANT_PREFIX}a/b/`, `${TENANT_PREFIX}a%41/b/k`, `${TENANT_PREFIX}/b/k`, `${TENANT_PREFIX}a//k`]) {
      expect(parseTenantKey(bad)).toBeUndefined();
    }
  });

  it('refuses empty, non-string and too long ids with a message saying what to pass', () => {
    for (const [tenant, namespace] of [['', 'x'], ['x', ''], [42, 'x'], ['x', null], [undefined, 'x'], ['t'.repeat(MAX_TENANT_ID_LENGTH + 1), 'x'], ['x', 'n'.repeat(MAX_TENANT_ID_LENGTH + 1)]] as const) {
      expect(() => tenantPrefix(tenant as string, namespace as string)).toThrow(InvalidArgumentError);
    }
    expect(tenantPrefix('t'.repeat(MAX_TENANT_ID_LENGTH), 'x').length).toBeGreaterThan(MAX_TENANT_ID_LENGTH);
  });

  it('is injective, and a prefix never covers another pair (property)', () => {
    const id = fc.string({ unit: fc.constantFrom('a', 'b', '/', '%', '2', 'F', '5', '\u0000', 't', '.'), minLength: 1, maxLength: 6 });
    const key = fc.string({ unit: fc.constantFrom('a', '/', '%', '\u0000', '.'), minLength: 1, maxLength: 6 }).filter((k) => !k.endsWith('/'));
    fc.assert(
      fc.property(id, id, key, id, id, key, (t1, n1, k1, t2, n2, k2) => {
        const p1 = tenantPrefix(t1, n1);
        const p2 = tenantPrefix(t2, n2);
        const same = t1 === t2 && n1 === n2;
        expect(p1 === p2).toBe(same);
        if (!same) expect(p1.startsWith(p2) || p2.startsWith(p1)).toBe(false);
        expect(p1 + k1 === p2 + k2).toBe(same && k1 === k2);
        expect(parseTenantKey(p1 + k1)).toEqual({ tenant: t1, namespace: n1, key: k1 });
      }),
      { numRuns: 500 },
    );
  });
});

describe('tenant views on three simulated nodes', () => {
  let sim: Sim;
  let a: Node;
  let b: Node;
  let ga: Group;
  let gb: Group;
  let gc: Group;

  beforeEach(async () => {
    sim = createSim(11);
    const [na, nb, nc] = await sim.cluster('a', 'b', 'c');
    a = na;
    b = nb;
    ga = await Group.start(na, { name: 'app', log: false });
    gb = await Group.start(nb, { name: 'app', log: false });
    gc = await Group.start(nc, { name: 'app', log: false });
    await sim.until(() => [ga, gb, gc].every((g) => g.nodes().length === 2), 'group peers');
  });
  afterEach(async () => {
    for (const g of [ga, gb, gc]) expect(g.checkConsistency()).toEqual([]);
    await sim.teardown();
  });

  it('registry: register, lookup, whereis, registered, unregister, all tenant-relative', () => {
    const t = ga.tenant('acme');
    const u = ga.tenant('other');
    const p = idle(a);
    const q = idle(a);
    expect(t).toBeInstanceOf(TenantView);
    expect([t.tenant, t.namespace, t.name]).toEqual(['acme', 'default', 'app']);
    expect(t.register('user/1', { n: 1 }, { pid: p })).toBe('ok');
    expect(u.register('user/1', { n: 2 }, { pid: q })).toBe('ok');
    expect(t.register('user/1', {}, { pid: q })).toBe('taken');
    expect(t.lookup('user/1')).toEqual({ pid: p, meta: { n: 1 } });
    expect(u.lookup('user/1')).toEqual({ pid: q, meta: { n: 2 } });
    // A plain entry: not the stored row, whose `key` getter would answer the scoped key.
    expect(Object.getPrototypeOf(t.lookup('user/1'))).toBe(Object.prototype);
    expect(t.lookup('user/1', { extractMeta: (m) => (m as { n: number }).n })).toEqual({ pid: p, meta: 1 });
    expect(t.whereis('user/1')).toBe(p);
    expect(t.whereis('user/2')).toBeUndefined();
    expect(t.registered()).toEqual(['user/1']);
    expect(t.registered({ prefix: 'user/' })).toEqual(['user/1']);
    expect(t.registered({ prefix: 'x' })).toEqual([]);
    expect(ga.lookup('user/1')).toBeNull();
    expect(t.unregister('user/1')).toBe('ok');
    expect(t.unregister('user/1')).toBe('not_found');
    expect(t.lookup('user/1')).toBeNull();
    expect(u.lookup('user/1')).toEqual({ pid: q, meta: { n: 2 } });
  });

  it('process groups: join, leave, members (exact, prefix, includeRegistered, limit), groups', () => {
    const t = ga.tenant('acme', 'chat');
    const other = ga.tenant('acme', 'billing');
    const [p, q, r] = [idle(a), idle(a), idle(a)];
    t.join('room/1', { r: 1 }, { pid: p });
    t.join('room/1', { r: 1 }, { pid: q });
    t.join('room/2', {}, { pid: r });
    t.register('room/1', {}, { pid: r });
    other.join('room/1', {}, { pid: r });
    expect(pidKeys(t.members('room/1'))).toEqual([p.key, q.key]);
    expect(t.members('room/1').every((e) => Object.getPrototypeOf(e) === Object.prototype)).toBe(true);
    expect(pidKeys(t.members('room/'))).toEqual([p.key, q.key, r.key]);
    expect(pidKeys(t.members('room/1', { includeRegistered: true }))).toEqual([r.key, p.key, q.key]);
    expect(t.members('room/', { limit: 1 }).length).toBe(1);
    expect(t.members('')).toEqual([]);
    expect(t.groups()).toEqual(['room/1', 'room/2']);
    expect(t.groups({ prefix: 'room/2' })).toEqual(['room/2']);
    expect(pidKeys(other.members('room/'))).toEqual([r.key]);
    expect(t.leave('room/1', { pid: p })).toBe('ok');
    expect(t.leave('room/1', { pid: p })).toBe('not_in_group');
    expect(pidKeys(t.members('room/1'))).toEqual([q.key]);
    // The root is the administrator: its prefix-free reads see the tenant keys, decodable.
    expect(ga.groups().map((k) => parseTenantKey(k))).toEqual([
      { tenant: 'acme', namespace: 'billing', key: 'room/1' },
      { tenant: 'acme', namespace: 'chat', key: 'room/1' },
      { tenant: 'acme', namespace: 'chat', key: 'room/2' },
    ]);
  });

  it('counts are confined to the tenant, per node and cluster-wide', async () => {
    const ta = ga.tenant('acme');
    const tb = gb.tenant('acme');
    const [p, q] = [idle(a), idle(b)];
    ta.register('k1', {}, { pid: p });
    tb.register('k2', {}, { pid: q });
    ta.join('g', {}, { pid: p });
    tb.join('g', {}, { pid: q });
    tb.join('h', {}, { pid: q });
    // Noise the counts must not include: another tenant and the root.
    ga.tenant('zeta').register('k1', {}, { pid: p });
    ga.tenant('zeta').join('g', {}, { pid: p });
    ga.register('k1', {}, { pid: p });
    ga.join('g', {}, { pid: p });
    await sim.until(() => ga.registryCount() === 4 && ga.memberCount() === 5, 'replicated');
    expect(ta.registryCount()).toBe(2);
    expect(ta.localRegistryCount()).toBe(1);
    expect(tb.localRegistryCount()).toBe(1);
    expect(ta.memberCount()).toBe(3);
    expect(ta.memberCount('g')).toBe(2);
    expect(ta.memberCount('nope')).toBe(0);
    expect(ta.localMemberCount('g')).toBe(1);
    expect(tb.localMemberCount('h')).toBe(1);
    expect(ga.tenant('empty').registryCount()).toBe(0);
    expect(ga.tenant('empty').memberCount()).toBe(0);
  });

  it('dispatch and dispatchLocal reach this tenant\'s members only', async () => {
    const t = ga.tenant('acme');
    const u = ga.tenant('other');
    const [mine, theirs, remote] = [collector(a), collector(a), collector(b)];
    t.join('room', {}, { pid: mine.pid });
    u.join('room', {}, { pid: theirs.pid });
    gb.tenant('acme').join('room', {}, { pid: remote.pid });
    await sim.until(() => t.members('room').length === 2, 'replicated');
    t.dispatch('room', 'hello');
    t.dispatchLocal('room', 'local');
    await sim.until(() => mine.messages.length === 2 && remote.messages.length === 1, 'delivered');
    expect(mine.messages).toEqual(['hello', 'local']);
    expect(remote.messages).toEqual(['hello']);
    u.dispatch('room', 'theirs');
    await sim.until(() => theirs.messages.length === 1, 'delivered');
    expect(mine.messages).toEqual(['hello', 'local']);
  });

  it('monitor: callbacks get only the tenant\'s events, with tenant-relative keys; ALL, exact and prefix patterns', () => {
    const t = ga.tenant('acme');
    const u = ga.tenant('other');
    const all: GroupEvent<unknown>[] = [];
    const exact: GroupEvent<unknown>[] = [];
    const prefix: GroupEvent<unknown>[] = [];
    t.monitor(ALL, (events) => all.push(...events));
    t.monitor('user/1', (events) => exact.push(...events));
    t.monitor('room/', (events) => prefix.push(...events));
    const p = idle(a);
    t.register('user/1', { v: 1 }, { pid: p });
    t.register('user/1', { v: 2 }, { pid: p });
    t.join('room/9', {}, { pid: p });
    u.register('user/1', {}, { pid: p });
    u.join('room/9', {}, { pid: p });
    ga.register('user/1', {}, { pid: p });
    t.leave('room/9', { pid: p });
    t.unregister('user/1');
    expect(keysOf(all)).toEqual(['registered user/1', 'registered user/1', 'joined room/9', 'left room/9', 'unregistered user/1']);
    expect(all[1]).toMatchObject({ group: 'app', cluster: null, pid: p, meta: { v: 2 }, previousMeta: { v: 1 } });
    expect(keysOf(exact)).toEqual(['registered user/1', 'registered user/1', 'unregistered user/1']);
    expect(keysOf(prefix)).toEqual(['joined room/9', 'left room/9']);
  });

  it('monitor: a subscriber matched by two patterns gets each event once; demonitor works from another view of the pair', () => {
    const seen: string[] = [];
    const cb = (events: readonly GroupEvent<unknown>[]): void => {
      seen.push(...keysOf(events));
    };
    ga.tenant('acme').monitor(ALL, cb);
    ga.tenant('acme').monitor('k', cb);
    const p = idle(a);
    ga.tenant('acme').register('k', {}, { pid: p });
    expect(seen).toEqual(['registered k']);
    ga.tenant('acme').demonitor(ALL, cb);
    ga.tenant('acme').join('other', {}, { pid: p });
    ga.tenant('acme').join('k', {}, { pid: p });
    expect(seen).toEqual(['registered k', 'joined k']);
    ga.tenant('acme').demonitor('k', cb);
    expect(ga.wantsEvents()).toBe(false);
    expect(() => ga.tenant('acme').monitor('', cb)).toThrow(InvalidArgumentError);
    expect(() => ga.tenant('acme').monitor(7 as unknown as string, cb)).toThrow(InvalidArgumentError);
    expect(() => ga.tenant('acme').monitor(ALL, 'me' as unknown as typeof cb)).toThrow(InvalidArgumentError);
  });

  it('monitor with a Pid: {group, events} messages with rewritten events; the subscription ends when it exits', async () => {
    const t = ga.tenant('acme');
    const sub = collector(a);
    t.monitor('room/', sub.pid);
    const p = idle(a);
    t.join('room/1', { x: 1 }, { pid: p });
    ga.tenant('other').join('room/1', {}, { pid: p });
    await sim.until(() => batches(sub).length === 1, 'event message');
    expect(batches(sub)[0]).toEqual({ group: 'app', events: [expect.objectContaining({ type: 'joined', key: 'room/1', pid: p, meta: { x: 1 } })] });
    // A subscriber on another node subscribes through its own node's Group, as on the Group.
    expect(() => t.monitor(ALL, idle(b))).toThrow(/subscribe on that node's Group/);
    a.exit(sub.pid, 'shutdown');
    await sim.until(() => !a.isAlive(sub.pid), 'subscriber exited');
    expect(ga.wantsEvents()).toBe(false);
    // A dead process is not subscribed at all.
    t.monitor(ALL, sub.pid);
    expect(ga.wantsEvents()).toBe(false);
  });

  it('monitor with a Pid: demonitor ends it', async () => {
    const t = ga.tenant('acme');
    const sub = collector(a);
    t.monitor(ALL, sub.pid);
    t.demonitor(ALL, sub.pid);
    expect(ga.wantsEvents()).toBe(false);
    t.register('k', {}, { pid: idle(a) });
    a.send(sub.pid, 'marker');
    await sim.until(() => sub.messages.length === 1, 'marker');
    expect(sub.messages).toEqual(['marker']);
  });

  it("a stopping Group ends its tenants' Pid monitors and their exit listener", async () => {
    // Count the node's exit listeners made from now on (the Group's own was made at start).
    let listening = 0;
    const onProcessExit = a.onProcessExit.bind(a);
    a.onProcessExit = (listener) => {
      listening++;
      const stop = onProcessExit(listener);
      return () => {
        listening--;
        stop();
      };
    };
    const watcher = collector(a);
    ga.tenant('acme').monitor(ALL, watcher.pid);
    expect(listening).toBe(1);
    await ga.stop();
    expect(listening).toBe(0);
  });

  it('replication: a view on node b sees registrations, memberships and events made through a view on node a', async () => {
    const ta = ga.tenant('acme', 'ns');
    const tb = gb.tenant('acme', 'ns');
    const seen: GroupEvent<unknown>[] = [];
    tb.monitor(ALL, (events) => seen.push(...events));
    const p = idle(a);
    ta.register('svc', { v: 1 }, { pid: p });
    ta.join('room', {}, { pid: p });
    gc.tenant('acme', 'other').register('svc', {}, { pid: idle(gc.node) });
    await sim.until(() => tb.lookup('svc') !== null && tb.members('room').length === 1 && gb.registryCount() === 2, 'replicated');
    expect(tb.lookup('svc')).toEqual({ pid: p, meta: { v: 1 } });
    expect(tb.registered()).toEqual(['svc']);
    expect(keysOf(seen)).toEqual(['registered svc', 'joined room']);
    a.exit(p, 'shutdown');
    await sim.until(() => tb.lookup('svc') === null, 'removal replicated');
    expect(seen.slice(2).map((e) => `${e.type} ${e.key} ${String(e.reason)}`).sort()).toEqual(['left room shutdown', 'unregistered svc shutdown']);
  });

  it('named clusters: a view writes into a connected cluster; cluster membership is refused through a view', () => {
    const t = ga.tenant('acme');
    expect(() => t.connect('eu')).toThrow(/call connect on the Group/);
    expect(() => t.disconnect('eu')).toThrow(/call disconnect on the Group/);
    ga.connect('eu');
    expect(t.isConnected('eu')).toBe(true);
    expect(t.nodes('eu')).toEqual(['a']);
    expect(t.nodes()).toEqual(ga.nodes());
    const p = idle(a);
    t.register('k', {}, { pid: p, cluster: 'eu' });
    expect(t.lookup('k')).toBeNull();
    expect(t.lookup('k', { cluster: 'eu' })?.pid).toBe(p);
    expect(t.registryCount({ cluster: 'eu' })).toBe(1);
    expect(ga.tenant('other').lookup('k', { cluster: 'eu' })).toBeNull();
  });

  it('the view does not expose the root Group', () => {
    const t = ga.tenant('acme') as unknown as Record<string, unknown>;
    for (const name of ['group', 'node', 'tables', 'tenant', 'checkConsistency', 'stop', 'logLevel']) {
      if (name === 'tenant') expect(t[name]).toBe('acme');
      else expect(t[name]).toBeUndefined();
    }
  });

  describe('adversarial isolation: a tenant attacks another tenant\'s and the root\'s entries', () => {
    const VICTIM = { tenant: 'acme', namespace: 'default' };
    // Attackers whose ids look like pieces of the victim's stored keys.
    const ATTACKERS: Array<[string, string]> = [
      ['evil', 'default'],
      ['acme', 'other'],
      ['acme/default', 'x'],
      ['acme', 'default/secret'],
      ['acme%2Fdefault', 'default'],
      ['\u0000t', 'acme'],
      ['..', '..'],
    ];
    const stored = (key: string): string => tenantPrefix(VICTIM.tenant, VICTIM.namespace) + key;
    // Keys crafted to reach the victim's keys, the reserved space, or the root's keys.
    const CRAFTED = [
      'secret',
      'room/1',
      stored('secret'),
      stored('room/1'),
      `../acme/default/secret`,
      `../../acme/default/secret`,
      '/secret',
      '\u0000',
      '\u0000t',
      `\u0000t/acme`,
      'acme/default/secret',
      '%2F..%2Fsecret',
      'root-key',
      '..',
      '/',
      '',
      'room/',
      '\u0000t/',
      '../',
      '../../',
      '\uffff',
    ];
    const NOT_STRINGS: unknown[] = [undefined, null, 42, { toString: () => 'secret' }, new String('secret'), ['secret'], Symbol('x')];

    it('the later methods (publish, multiCall, updates, explicit groups, locked registration, local reads) are confined too', async () => {
      const victim = ga.tenant(VICTIM.tenant, VICTIM.namespace);
      const vp = collector(a);
      victim.register('secret', { s: 1 }, { pid: vp.pid });
      victim.join('room/1', { m: 1 }, { pid: vp.pid, topics: ['news'] });
      victim.createGroup('empty');
      ga.createGroup('root-group');
      const snapshot = (): unknown => ({
        lookup: victim.lookup('secret'),
        members: victim.members('room/1'),
        info: victim.memberInfo('room/1', { pid: vp.pid }),
        groups: victim.groups(),
        has: [victim.hasGroup('empty'), ga.hasGroup('root-group')],
        local: [victim.localGroups(), victim.localMembers('room/1')],
      });
      const before = snapshot();
      for (const [tenant, namespace] of ATTACKERS) {
        const attacker = ga.tenant(tenant, namespace);
        const own = idle(a);
        for (const key of CRAFTED) {
          if (key === '' || key.endsWith('/')) {
            expect(() => attacker.createGroup(key)).toThrow(InvalidArgumentError);
            expect(() => attacker.updateMeta(key, () => ({}))).toThrow(InvalidArgumentError);
            continue;
          }
          expect(attacker.publish(key, 'attack', { topic: 'news' })).toEqual([]);
          expect(attacker.publish(key, 'attack')).toEqual([]);
          expect(await sim.resolve(attacker.multiCall(key, 'attack', { timeoutMs: 100 }), 'multiCall')).toEqual({ replies: [], bad: [] });
          expect(attacker.hasGroup(key)).toBe(false);
          expect(attacker.deleteGroup(key)).toBe('not_found');
          expect(attacker.updateMeta(key, () => ({ attack: true }))).toBe('not_found');
          expect(attacker.updateMember(key, () => ({ attack: true }), { pid: vp.pid })).toBe('not_found');
          expect(attacker.memberInfo(key, { pid: vp.pid })).toBeNull();
          expect(attacker.localMembers(key)).toEqual([]);
          // Writes land in the attacker's own space, and are undone there.
          expect(attacker.createGroup(key)).toBe('ok');
          expect(attacker.hasGroup(key)).toBe(true);
          expect(attacker.deleteGroup(key)).toBe('ok');
          expect(await sim.resolve(attacker.registerLocked(key, {}, { pid: own, timeoutMs: 1000 }), 'registerLocked')).toBe('ok');
          expect(attacker.whereis(key)).toBe(own);
          expect(attacker.unregister(key)).toBe('ok');
        }
        expect(attacker.localGroups()).toEqual([]);
        expect(attacker.groupCount()).toBe(0);
        expect(attacker.memberCount(undefined, { node: 'a' })).toBe(0);
        expect(attacker.registryCount({ node: 'a' })).toBe(0);
        a.exit(own, 'done');
      }
      expect(snapshot()).toEqual(before);
      expect(vp.messages).toEqual([]);
      expect(victim.groupCount()).toBe(2);
      expect(victim.registryCount({ node: 'a' })).toBe(1);
      expect(victim.memberCount(undefined, { node: 'a' })).toBe(1);
      expect(victim.memberCount(undefined, { node: 'b' })).toBe(0);
      expect(victim.publish('room/1', 'news!', { topic: 'news' })).toEqual([vp.pid]);
      expect(victim.updateMeta('secret', (m) => ({ ...(m as object), s: 2 }))).toBe('ok');
      expect(victim.lookup('secret')?.meta).toEqual({ s: 2 });
    });

    it('every read, write, dispatch and monitor through each attacker view misses the victim and the root', async () => {
      const victim = ga.tenant(VICTIM.tenant, VICTIM.namespace);
      const vp = collector(a);
      const vq = collector(b);
      const rootProc = collector(a);
      victim.register('secret', { s: 1 }, { pid: vp.pid });
      victim.join('room/1', { m: 1 }, { pid: vp.pid });
      gb.tenant(VICTIM.tenant, VICTIM.namespace).join('room/1', {}, { pid: vq.pid });
      ga.register('root-key', {}, { pid: rootProc.pid });
      ga.join('root-key', {}, { pid: rootProc.pid });
      await sim.until(() => victim.members('room/1').length === 2, 'victim replicated');
      const victimPids = new Set([vp.pid.key, vq.pid.key, rootProc.pid.key]);
      const snapshot = (): unknown => ({
        registered: victim.registered(),
        groups: victim.groups(),
        lookup: victim.lookup('secret'),
        members: pidKeys(victim.members('room/', { includeRegistered: true })),
        counts: [victim.registryCount(), victim.memberCount()],
        root: [ga.lookup('root-key'), pidKeys(ga.members('root-key'))],
      });
      const before = snapshot();

      // The victim also listens: nothing the attackers do may show up there either.
      const victimSaw: GroupEvent<unknown>[] = [];
      victim.monitor(ALL, (events) => victimSaw.push(...events));
      const victimCallback = (events: readonly GroupEvent<unknown>[]): void => {
        victimSaw.push(...events);
      };
      victim.monitor('secret', victimCallback);

      for (const [tenant, namespace] of ATTACKERS) {
        const attacker = ga.tenant(tenant, namespace);
        const attackerB = gb.tenant(tenant, namespace);
        const own = idle(a);
        attacker.register('mine', {}, { pid: own });
        const isOwn = (entries: Entry[]): boolean => entries.every((e) => !victimPids.has(e.pid.key));

        // Monitors first, so the writes below (and the victim's later activity) would be seen.
        const seen: GroupEvent<unknown>[] = [];
        const seenB: GroupEvent<unknown>[] = [];
        const spy = collector(a);
        const cb = (events: readonly GroupEvent<unknown>[]): void => {
          seen.push(...events);
        };
        const cbB = (events: readonly GroupEvent<unknown>[]): void => {
          seenB.push(...events);
        };
        attacker.monitor(ALL, cb);
        attacker.monitor(ALL, spy.pid);
        for (const key of CRAFTED) {
          if (key === '') {
            expect(() => attacker.monitor(key, cb)).toThrow(InvalidArgumentError);
            continue;
          }
          attacker.monitor(key, cb);
          attackerB.monitor(key, cbB);
        }
        // Removing the victim's subscriptions through the attacker's view does nothing.
        attacker.demonitor(ALL, victimCallback);
        attacker.demonitor('secret', victimCallback);

        for (const key of CRAFTED) {
          for (const view of [attacker, attackerB]) {
            expect(view.lookup(key)).toBeNull();
            expect(view.whereis(key)).toBeUndefined();
            expect(isOwn(view.members(key, { includeRegistered: true }))).toBe(true);
            expect(view.memberCount(key)).toBe(0);
            expect(view.localMemberCount(key)).toBe(0);
            expect(view.registered({ prefix: key }).every((k) => k === 'mine')).toBe(true);
            expect(view.groups({ prefix: key })).toEqual([]);
            view.dispatch(key, 'attack', { includeRegistered: true });
            view.dispatchLocal(key, 'attack', { includeRegistered: true });
          }
          // Writes: nothing of the victim's can be removed; new entries land in the attacker's space.
          expect(attacker.unregister(key === '' || key.endsWith('/') ? 'secret' : key)).not.toBe('ok');
          expect(attacker.leave(key === '' || key.endsWith('/') ? 'room/1' : key, { pid: vp.pid })).toBe('not_in_group');
          if (key !== '' && !key.endsWith('/')) {
            expect(attacker.register(key, { attack: true }, { pid: own })).toBe('ok');
            expect(attacker.join(key, { attack: true }, { pid: vp.pid })).toBe('ok');
            expect(attacker.lookup(key)?.pid).toBe(own);
            expect(attacker.leave(key, { pid: vp.pid })).toBe('ok');
            expect(attacker.unregister(key)).toBe('ok');
          } else {
            expect(() => attacker.register(key, {}, { pid: own })).toThrow(InvalidArgumentError);
            expect(() => attacker.join(key, {}, { pid: own })).toThrow(InvalidArgumentError);
          }
        }
        // Enumerations of the whole tenant: only the attacker's own entry.
        expect(attacker.registered()).toEqual(['mine']);
        expect(attacker.groups()).toEqual([]);
        expect(attacker.registryCount()).toBe(1);
        expect(attacker.localRegistryCount()).toBe(1);
        expect(attacker.memberCount()).toBe(0);
        expect(attacker.members('')).toEqual([]);

        for (const bad of NOT_STRINGS) {
          for (const call of [
            () => attacker.lookup(bad as string),
            () => attacker.whereis(bad as string),
            () => attacker.members(bad as string),
            () => attacker.register(bad as string, {}, { pid: own }),
            () => attacker.unregister(bad as string),
            () => attacker.join(bad as string, {}, { pid: own }),
            () => attacker.leave(bad as string, { pid: own }),
            () => attacker.dispatch(bad as string, 'x'),
            () => attacker.dispatchLocal(bad as string, 'x'),
            () => attacker.memberCount(bad === undefined ? (null as unknown as string) : (bad as string)),
            () => attacker.localMemberCount(bad as string),
            () => attacker.monitor(bad as string, cb),
            () => attacker.registered({ prefix: bad === undefined ? (null as unknown as string) : (bad as string) }),
            () => attacker.groups({ prefix: bad === undefined ? (null as unknown as string) : (bad as string) }),
          ]) {
            expect(call).toThrow(InvalidArgumentError);
          }
        }

        // The victim and the root act; the attacker's monitors must stay silent about it.
        // The spy's mailbox fills asynchronously: a marker first, so what follows it is this phase's.
        a.send(spy.pid, 'phase');
        await sim.until(() => spy.messages.includes('phase'), 'spy phase marker');
        const seenBefore = seen.length;
        const spyBefore = batches(spy).length;
        expect(batches(spy).flatMap((m) => m.events).every((e) => (e.meta as { attack?: boolean }).attack === true || e.key === 'mine')).toBe(true);
        expect(batches(spy).length).toBeGreaterThan(0);
        victim.register('secret', { s: 2 }, { pid: vp.pid });
        victim.join('room/2', {}, { pid: vp.pid });
        victim.leave('room/2', { pid: vp.pid });
        ga.register('root-key', { r: tenant }, { pid: rootProc.pid });
        ga.join(stored('injected'), {}, { pid: rootProc.pid });
        ga.leave(stored('injected'), { pid: rootProc.pid });
        // Non-vacuous: the attacker's own activity is seen by the same monitors.
        attacker.join('mine-group', {}, { pid: own });
        a.send(spy.pid, 'marker');
        await sim.until(() => spy.messages.includes('marker'), 'spy marker');
        expect(keysOf(seen.slice(seenBefore))).toEqual(['joined mine-group']);
        expect(batches(spy).slice(spyBefore).flatMap((m) => keysOf(m.events))).toEqual(['joined mine-group']);
        // Everything the attacker ever saw, on either node, is its own doing.
        const attackers = (e: GroupEvent<unknown>): boolean => (e.meta as { attack?: boolean }).attack === true || e.key === 'mine' || e.key === 'mine-group';
        expect(seen.length).toBeGreaterThan(0);
        expect(seen.every(attackers)).toBe(true);
        expect(seenB.every(attackers)).toBe(true);
        attacker.leave('mine-group', { pid: own });
        attacker.unregister('mine');
        victim.register('secret', { s: 1 }, { pid: vp.pid });
        ga.register('root-key', {}, { pid: rootProc.pid });
        attacker.demonitor(ALL, cb);
        attacker.demonitor(ALL, spy.pid);
        for (const key of CRAFTED) {
          if (key === '') continue;
          attacker.demonitor(key, cb);
          attackerB.demonitor(key, cbB);
        }
      }

      // Every attack dispatch missed: only the markers reach the victim's and the root's processes.
      a.send(vp.pid, 'end');
      b.send(vq.pid, 'end');
      a.send(rootProc.pid, 'end');
      await sim.until(() => [vp, vq, rootProc].every((c) => c.messages.includes('end')), 'end markers');
      for (const c of [vp, vq, rootProc]) expect(c.messages).toEqual(['end']);
      await sim.until(() => gb.tenant(VICTIM.tenant, VICTIM.namespace).lookup('secret') !== null, 'settled');
      expect(snapshot()).toEqual(before);
      // The victim's monitors survived the attackers' demonitors and saw only the victim's own events.
      expect(new Set(victimSaw.map((e) => e.key))).toEqual(new Set(['secret', 'room/2', 'injected']));
      expect(victimSaw.filter((e) => e.key === 'secret').length).toBe(ATTACKERS.length * 2 * 2);
    });
  });

  it('random tenants never see each other (property)', () => {
    const id = fc.constantFrom('a', 'b', 'a/b', 'b/c', 'a%2Fb', '\u0000t', '..');
    const key = fc.constantFrom('k', 'x/k', '..', '\u0000t/a/b/k', 'b/c/k', 'a/b/k');
    const op = fc.tuple(id, id, key, fc.boolean());
    const p = idle(a);
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) => {
        // The model: per (tenant, namespace), the keys registered and the keys joined.
        const model = new Map<string, { regs: Set<string>; mems: Set<string> }>();
        for (const [tenant, namespace, k, register] of ops) {
          const view = ga.tenant(tenant, namespace);
          if (register) view.register(k, {}, { pid: p });
          else view.join(k, {}, { pid: p });
          const pair = JSON.stringify([tenant, namespace]);
          if (!model.has(pair)) model.set(pair, { regs: new Set(), mems: new Set() });
          model.get(pair)![register ? 'regs' : 'mems'].add(k);
        }
        for (const [pair, { regs, mems }] of model) {
          const [tenant, namespace] = JSON.parse(pair) as [string, string];
          const view = ga.tenant(tenant, namespace);
          expect(view.registered()).toEqual([...regs].sort());
          expect(view.groups()).toEqual([...mems].sort());
          expect(view.registryCount()).toBe(regs.size);
          expect(view.memberCount()).toBe(mems.size);
          for (const k of regs) expect(view.whereis(k)).toBe(p);
        }
        // Clean up through the views, and the root is empty again: no write escaped its view.
        for (const [pair, { regs, mems }] of model) {
          const [tenant, namespace] = JSON.parse(pair) as [string, string];
          const view = ga.tenant(tenant, namespace);
          for (const k of regs) expect(view.unregister(k)).toBe('ok');
          for (const k of mems) expect(view.leave(k, { pid: p })).toBe('ok');
        }
        expect(ga.registryCount() + ga.memberCount()).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});

