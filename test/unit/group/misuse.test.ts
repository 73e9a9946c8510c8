/**
 * Group API misuse on two simulated nodes: every public method given wrong types, empty keys,
 * keys ending in "/" for writes, unknown clusters, pids of other nodes (or dead, or of an earlier
 * incarnation) where a local live pid is required, unencodable metadata, a stopped Group. Each
 * gets an error with a stable code, and nothing changes: both nodes' tables are as before and pass
 * the consistency checker, and no member received anything. The checks it found missing
 * (since added) are at the end.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL, Group, Pid, type Node } from '../../../src/index.js';
import { GroupFrame } from '../../../src/group/protocol.js';
import { collector, createSim, idle, type Collector, type Sim } from '../node/sim-helpers.js';

const INVALID = 'ERR_ROLLCALL_INVALID_ARGUMENT';

let sim: Sim;
let a: Node;
let b: Node;
let ga: Group;
let gb: Group;
let local: Collector;
let remote: Collector;
let dead: Pid;

beforeEach(async () => {
  sim = createSim(601);
  [a, b] = await sim.cluster('a', 'b');
  ga = await Group.start(a, { name: 'app', log: false });
  gb = await Group.start(b, { name: 'app', log: false });
  local = collector(a);
  remote = collector(b);
  dead = idle(a);
  a.exit(dead, 'gone');
  ga.connect('c1');
  gb.connect('c1');
  ga.register('user/1', { v: 1 }, { pid: local.pid });
  ga.join('room/1', { v: 1 }, { pid: local.pid });
  gb.join('room/1', { v: 2 }, { pid: remote.pid });
  ga.register('only-c1', {}, { pid: local.pid, cluster: 'c1' });
  await sim.until(
    () => gb.whereis('user/1') !== undefined && ga.members('room/1').length === 2 && gb.whereis('only-c1', { cluster: 'c1' }) !== undefined,
    'the Groups replicated',
  );
});
afterEach(async () => {
  await ga.stop();
  await gb.stop();
  await sim.teardown();
});

/** Everything a Group holds, in both clusters, in comparable form. */
function snapshot(group: Group): unknown {
  const view = (cluster: string | null): unknown => ({
    registered: group.registered({ cluster }).map((key) => [key, group.whereis(key, { cluster })!.key, group.lookup(key, { cluster })!.meta]),
    members: group.groups({ cluster }).map((key) => [key, group.members(key, { cluster }).map((m) => [m.pid.key, m.meta])]),
  });
  return { default: view(null), c1: view('c1'), nodes: group.nodes(), c1Nodes: group.nodes('c1') };
}

/** The call throws an error with `code`; returns its message. */
function refusal(code: string, fn: () => unknown): string {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'an error').toBeInstanceOf(Error);
  expect((caught as { code?: string }).code, String(caught)).toBe(code);
  return (caught as Error).message;
}

/** Run misuses, then check nothing changed anywhere (after the replication had time to run). */
async function expectNothingChanged(misuse: () => void | Promise<void>): Promise<void> {
  const before = [snapshot(ga), snapshot(gb)];
  await misuse();
  await sim.run(200);
  expect([snapshot(ga), snapshot(gb)]).toEqual(before);
  expect(ga.checkConsistency()).toEqual([]);
  expect(gb.checkConsistency()).toEqual([]);
  expect(local.messages).toEqual([]);
  expect(remote.messages).toEqual([]);
}

const NOT_STRINGS: unknown[] = [undefined, null, 7, {}, ['k'], Symbol('k')];

describe('Group writes refuse bad arguments and change nothing', () => {
  it('keys that are not strings, or end in "/"', async () => {
    await expectNothingChanged(() => {
      for (const key of [...NOT_STRINGS, 'user/', '/', 'room/1/']) {
        const pattern = typeof key === 'string' ? /must not end with "\/"/ : /key must be a string/;
        expect(refusal(INVALID, () => ga.register(key as string, {}, { pid: local.pid }))).toMatch(pattern);
        expect(refusal(INVALID, () => ga.unregister(key as string))).toMatch(pattern);
        expect(refusal(INVALID, () => ga.join(key as string, {}, { pid: local.pid }))).toMatch(pattern);
        expect(refusal(INVALID, () => ga.leave(key as string, { pid: local.pid }))).toMatch(pattern);
      }
    });
  });

  it('unknown and malformed clusters', async () => {
    await expectNothingChanged(() => {
      for (const cluster of ['unknown', '', 7, {}]) {
        const pattern = cluster === 'unknown' ? /not connected to cluster "unknown"/ : /cluster must be a non-empty string/;
        expect(refusal(INVALID, () => ga.register('user/2', {}, { pid: local.pid, cluster: cluster as string }))).toMatch(pattern);
        expect(refusal(INVALID, () => ga.unregister('user/1', { cluster: cluster as string }))).toMatch(pattern);
        expect(refusal(INVALID, () => ga.join('room/1', {}, { pid: local.pid, cluster: cluster as string }))).toMatch(pattern);
        expect(refusal(INVALID, () => ga.leave('room/1', { pid: local.pid, cluster: cluster as string }))).toMatch(pattern);
      }
      for (const cluster of ['', 7, {}, null, [], ['c1', 7]]) {
        expect(refusal(INVALID, () => ga.connect(cluster as string))).toMatch(/cluster/);
        expect(refusal(INVALID, () => ga.disconnect(cluster as string))).toMatch(/cluster/);
      }
    });
  });

  it('pids of another node, dead ones, of an earlier incarnation, or not pids at all', async () => {
    const earlier = new Pid('a', a.incarnation - 1, local.pid.id);
    await expectNothingChanged(() => {
      for (const write of [
        (pid: Pid) => ga.register('user/2', {}, { pid }),
        (pid: Pid) => ga.join('room/1', {}, { pid }),
        (pid: Pid) => ga.leave('room/1', { pid }),
      ]) {
        expect(refusal(INVALID, () => write(remote.pid))).toMatch(/lives on node b; only its own node may write its entries/);
        expect(refusal('ERR_ROLLCALL_NOPROC', () => write(dead))).toMatch(/is not alive/);
        expect(refusal('ERR_ROLLCALL_NOPROC', () => write(earlier))).toMatch(/is not alive/);
        for (const bad of ['<a.1.1>', 7, { node: 'a', incarnation: a.incarnation, id: local.pid.id }]) {
          expect(refusal(INVALID, () => write(bad as unknown as Pid))).toMatch(/pid must be a Pid/);
        }
        // Outside a process and without {pid}: no default to act for.
        expect(refusal(INVALID, () => write(undefined as unknown as Pid))).toMatch(/no pid given/);
      }
    });
    // A remote registration cannot be removed from here.
    gb.register('user/b', {}, { pid: remote.pid });
    await sim.until(() => ga.whereis('user/b') !== undefined, 'user/b replicated');
    expect(ga.unregister('user/b')).toBe('not_owner');
    expect(gb.whereis('user/b')?.equals(remote.pid)).toBe(true);
  });

  it('metadata that cannot cross the wire is refused before anything changes (EncodeError)', async () => {
    await expectNothingChanged(() => {
      for (const meta of [{ f: () => 1 }, { s: Symbol('s') }, { p: Promise.resolve() }, { w: new WeakMap() }]) {
        expect(refusal('ERR_ROLLCALL_ENCODE', () => ga.register('user/1', meta, { pid: local.pid }))).toMatch(/cannot encode/);
        expect(refusal('ERR_ROLLCALL_ENCODE', () => ga.register('user/3', meta, { pid: local.pid }))).toMatch(/cannot encode/);
        expect(refusal('ERR_ROLLCALL_ENCODE', () => ga.join('room/1', meta, { pid: local.pid }))).toMatch(/cannot encode/);
        expect(refusal('ERR_ROLLCALL_ENCODE', () => ga.join('room/2', meta, { pid: local.pid }))).toMatch(/cannot encode/);
      }
    });
  });

  it('subscriptions: bad patterns and subscribers, subscribers on other nodes', async () => {
    await expectNothingChanged(() => {
      for (const pattern of [undefined, null, 7, {}, '']) {
        expect(refusal(INVALID, () => ga.monitor(pattern as string, () => undefined))).toMatch(/pattern/);
      }
      for (const subscriber of [undefined, null, 'me', 7, {}]) {
        expect(refusal(INVALID, () => ga.monitor(ALL, subscriber as never))).toMatch(/subscriber must be a Pid .* or a function/);
        expect(refusal(INVALID, () => ga.demonitor(ALL, subscriber as never))).toMatch(/subscriber must be a Pid .* or a function/);
      }
      expect(refusal(INVALID, () => ga.monitor(ALL, remote.pid))).toMatch(/lives on node b; subscribe on that node's Group/);
      expect(refusal(INVALID, () => ga.monitor(ALL, () => undefined, { cluster: '' }))).toMatch(/cluster must be a non-empty string/);
    });
    // Not subscribed by any of the above: a change produces no event for them.
    ga.register('user/9', {}, { pid: local.pid });
    await sim.run(20);
    expect(local.messages).toEqual([]);
  });

  it('members and reads: bad limits and clusters; logLevel; Group.start with a taken or bad name', async () => {
    await expectNothingChanged(async () => {
      for (const limit of [-1, 'x', Number.NaN]) {
        expect(refusal(INVALID, () => ga.members('room/1', { limit: limit as number }))).toMatch(/limit must be a number >= 0/);
      }
      for (const cluster of ['', 7, {}]) {
        expect(refusal(INVALID, () => ga.lookup('user/1', { cluster: cluster as string }))).toMatch(/cluster must be a non-empty string/);
        expect(refusal(INVALID, () => ga.members('room/1', { cluster: cluster as string }))).toMatch(/cluster must be a non-empty string/);
        expect(refusal(INVALID, () => ga.dispatch('room/1', 'm', { cluster: cluster as string }))).toMatch(/cluster must be a non-empty string/);
        expect(refusal(INVALID, () => ga.registryCount({ cluster: cluster as string }))).toMatch(/cluster must be a non-empty string/);
      }
      for (const key of NOT_STRINGS) expect(refusal(INVALID, () => ga.members(key as string))).toMatch(/key must be a string/);
      expect(refusal(INVALID, () => ga.logLevel('loud' as never))).toMatch(/logLevel/);
      for (const options of [{ name: 'app' }, { name: '' }, { name: 7 }, { name: 'x', extra: 1 }, null]) {
        const outcome = await sim.settle(Group.start(a, options as never), 'Group.start');
        expect(outcome.ok).toBe(false);
        expect((outcome as { error: { code?: string } }).error.code).toBe(INVALID);
      }
    });
    // Reads of a cluster this node is not in see nothing (the reference's semantics), not an error.
    expect(ga.lookup('user/1', { cluster: 'unknown' })).toBeNull();
    expect(ga.members('room/1', { cluster: 'unknown' })).toEqual([]);
  });

  it('a stopped Group refuses writes and subscriptions (ERR_ROLLCALL_NOT_RUNNING)', async () => {
    await ga.stop();
    await sim.until(() => gb.whereis('user/1') === undefined, 'b purged the stopped Group');
    const after = snapshot(gb);
    const NOT_RUNNING = 'ERR_ROLLCALL_NOT_RUNNING';
    expect(refusal(NOT_RUNNING, () => ga.register('user/2', {}, { pid: local.pid }))).toMatch(/has stopped/);
    expect(refusal(NOT_RUNNING, () => ga.unregister('user/1'))).toMatch(/has stopped/);
    expect(refusal(NOT_RUNNING, () => ga.join('room/1', {}, { pid: local.pid }))).toMatch(/has stopped/);
    expect(refusal(NOT_RUNNING, () => ga.leave('room/1', { pid: local.pid }))).toMatch(/has stopped/);
    expect(refusal(NOT_RUNNING, () => ga.monitor(ALL, () => undefined))).toMatch(/has stopped/);
    await sim.run(200);
    expect(snapshot(gb)).toEqual(after);
    expect(gb.checkConsistency()).toEqual([]);
  });
});

describe('argument checks added after this suite found them missing', () => {
  it('an empty key is refused by register, unregister, join and leave', async () => {
    await expectNothingChanged(() => {
      expect(refusal(INVALID, () => ga.register('', {}, { pid: local.pid }))).toMatch(/key must not be empty/);
      expect(refusal(INVALID, () => ga.unregister(''))).toMatch(/key must not be empty/);
      expect(refusal(INVALID, () => ga.join('', {}, { pid: local.pid }))).toMatch(/key must not be empty/);
      expect(refusal(INVALID, () => ga.leave('', { pid: local.pid }))).toMatch(/key must not be empty/);
    });
  });

  it('reads and dispatch refuse a key that is not a string (lookup, whereis, dispatch, dispatchLocal, memberCount, localMemberCount)', async () => {
    await expectNothingChanged(() => {
      for (const key of [7, null, {}, Symbol('k')]) {
        expect(refusal(INVALID, () => ga.lookup(key as never))).toMatch(/lookup: key must be a string/);
        expect(refusal(INVALID, () => ga.whereis(key as never))).toMatch(/whereis: key must be a string/);
        expect(refusal(INVALID, () => ga.dispatch(key as never, 'm'))).toMatch(/dispatch: key must be a string/);
        expect(refusal(INVALID, () => ga.dispatchLocal(key as never, 'm'))).toMatch(/dispatchLocal: key must be a string/);
        expect(refusal(INVALID, () => ga.memberCount(key as never))).toMatch(/memberCount: key must be a string/);
        expect(refusal(INVALID, () => ga.localMemberCount(key as never))).toMatch(/localMemberCount: key must be a string/);
      }
    });
    expect(local.messages).toEqual([]);
    expect(remote.messages).toEqual([]);
  });

  it('options that are not an object are an InvalidArgumentError, not a TypeError', async () => {
    await expectNothingChanged(() => {
      for (const bad of [null, 5, 'x']) {
        const options = bad as never;
        expect(refusal(INVALID, () => ga.register('user/2', {}, options))).toMatch(/register: options must be an object/);
        expect(refusal(INVALID, () => ga.unregister('user/1', options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.join('room/2', {}, options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.leave('room/1', options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.lookup('user/1', options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.whereis('user/1', options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.members('room/1', options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.dispatch('room/1', 'm', options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.dispatchLocal('room/1', 'm', options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.monitor(ALL, () => undefined, options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.groups(options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.registered(options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.registryCount(options))).toMatch(/options/);
        expect(refusal(INVALID, () => ga.memberCount('room/1', options))).toMatch(/options/);
      }
    });
    expect(local.messages).toEqual([]);
  });

  it('groups() and registered() refuse a prefix that is not a string', () => {
    expect(refusal(INVALID, () => ga.groups({ prefix: 5 as never }))).toMatch(/groups: prefix must be a string/);
    expect(refusal(INVALID, () => ga.registered({ prefix: {} as never }))).toMatch(/registered: prefix must be a string/);
  });

  it('lookup() and members() refuse an extractMeta that is not a function, whether or not the key has rows', () => {
    expect(refusal(INVALID, () => ga.lookup('user/1', { extractMeta: 5 as never }))).toMatch(/extractMeta/);
    expect(refusal(INVALID, () => ga.lookup('nobody', { extractMeta: 'x' as never }))).toMatch(/extractMeta/);
    expect(refusal(INVALID, () => ga.members('room/1', { extractMeta: 5 as never }))).toMatch(/extractMeta/);
    expect(refusal(INVALID, () => ga.members('empty', { extractMeta: 5 as never }))).toMatch(/extractMeta/);
  });

  it('Group.start(node) refuses something that is not a Node', async () => {
    for (const notANode of [null, {}, { name: 'a', running: true }]) {
      const outcome = await sim.settle(Group.start(notANode as never, { name: 'x' }), 'Group.start');
      expect((outcome as { error: { code?: string; message: string } }).error.code).toBe(INVALID);
      expect((outcome as { error: { message: string } }).error.message).toMatch(/node must be a running Node/);
    }
  });

  it('dispatch of an unencodable message throws before any member received it', async () => {
    expect(refusal('ERR_ROLLCALL_ENCODE', () => ga.dispatch('room/1', () => 1))).toMatch(/cannot encode/);
    await sim.run(20);
    expect(local.messages).toEqual([]);
    expect(remote.messages).toEqual([]);
  });

  it('a stopped Group refuses connect, disconnect, dispatch and dispatchLocal', async () => {
    await ga.stop();
    expect(refusal('ERR_ROLLCALL_NOT_RUNNING', () => ga.connect('c2'))).toMatch(/stopped/);
    expect(refusal('ERR_ROLLCALL_NOT_RUNNING', () => ga.disconnect('c1'))).toMatch(/stopped/);
    expect(refusal('ERR_ROLLCALL_NOT_RUNNING', () => ga.dispatch('room/1', 'm'))).toMatch(/stopped/);
    expect(refusal('ERR_ROLLCALL_NOT_RUNNING', () => ga.dispatchLocal('room/1', 'm'))).toMatch(/stopped/);
    await sim.run(20);
    expect(local.messages).toEqual([]);
    expect(remote.messages).toEqual([]);
  });

  it('a DISPATCH frame from a peer reaches only processes of the receiving node (no relaying to a third node)', async () => {
    const c = await sim.start('c', { seeds: ['a'] });
    await sim.until(() => c.peers().length === 2, 'c meshed');
    const gc = await Group.start(c, { name: 'app', log: false });
    const onC = collector(c);
    await sim.until(() => gb.nodes().includes('c'), 'c is a Group peer');
    // b asks a to deliver to a process of c and to one of a: a serves only its own.
    b.sendRaw('a', GroupFrame.DISPATCH, b.encodePayload(['app', [onC.pid, local.pid], 'relayed?']));
    await sim.until(() => local.messages.length > 0, 'a delivers to its own process');
    await sim.run(50);
    expect(local.messages).toEqual(['relayed?']);
    expect(onC.messages).toEqual([]);
    await gc.stop();
  });
});
