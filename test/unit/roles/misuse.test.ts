/**
 * Roles refuses bad input with InvalidArgumentError saying what to do, changes nothing when it
 * refuses, survives its internal process being killed, and can share a Group it did not start.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Group, Roles, type Node, type RoleEvent } from '../../../src/index.js';
import { MARKER_KEY } from '../../../src/roles/scope-view.js';
import { createSim, type Sim } from '../node/sim-helpers.js';

const INVALID = 'ERR_ROLLCALL_INVALID_ARGUMENT';

function refusal(code: string, fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect((error as { code?: string }).code).toBe(code);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

async function rejection(code: string, promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect((error as { code?: string }).code).toBe(code);
    return (error as Error).message;
  }
  throw new Error('expected a rejection');
}

let sim: Sim;
let a: Node;
let b: Node;
let ra: Roles;
let rb: Roles;

beforeEach(async () => {
  sim = createSim(21);
  [a, b] = await sim.cluster('a', 'b');
  ra = await Roles.start(a, { roles: ['web'] });
  rb = await Roles.start(b);
  await sim.until(() => rb.getNodes('web').length === 1, 'replicated');
});

afterEach(async () => {
  await ra.stop();
  await rb.stop();
  await sim.teardown();
});

describe('Roles misuse', () => {
  it('unencodable roles are refused and nothing of the call is applied', () => {
    expect(refusal(INVALID, () => ra.addRole(undefined))).toMatch(/addRole: the role is undefined/);
    expect(refusal(INVALID, () => ra.addRoles(['ok', { when: new Date(0) }]))).toMatch(/addRoles: role\.when is a Date/);
    expect(ra.getMyRoles()).toEqual(['web']);
    expect(refusal(INVALID, () => ra.addRoles('web' as unknown as unknown[]))).toMatch(/roles must be an array/);
    expect(refusal(INVALID, () => ra.removeRoles(['web', () => 1]))).toMatch(/removeRoles: the role is a function/);
    expect(ra.getMyRoles()).toEqual(['web']);
    expect(refusal(INVALID, () => ra.getNodes(Symbol('x')))).toMatch(/getNodes/);
    expect(refusal(INVALID, () => ra.getRoles(42 as unknown as string))).toMatch(/node must be a node name/);
  });

  it('scopes: unknown scopes, double joins, leaving what was not joined, bad names', () => {
    expect(refusal(INVALID, () => ra.addRole('x', 'nope'))).toMatch(/has not joined scope "nope"; call roles\.joinScope\("nope"\) first \(joined: default\)/);
    expect(refusal(INVALID, () => ra.getNodes('x', 'nope'))).toMatch(/joinScope/);
    expect(refusal(INVALID, () => ra.allNodes('nope'))).toMatch(/joinScope/);
    expect(refusal(INVALID, () => ra.joinScope('default'))).toMatch(/already joined scope "default"/);
    expect(refusal(INVALID, () => ra.leaveScope('nope'))).toMatch(/has not joined scope "nope" \(joined: default\)/);
    for (const bad of ['', 7, null, {}, 'x'.repeat(256)]) {
      expect(refusal(INVALID, () => ra.joinScope(bad as string))).toMatch(/a scope is a non-empty string/);
    }
    expect(refusal(INVALID, () => ra.getNodes('web', '' as string))).toMatch(/a scope is a non-empty string/);
    // Leaving the default scope is allowed; afterwards calls without a scope say so.
    ra.leaveScope('default');
    expect(ra.listScopes()).toEqual([]);
    expect(refusal(INVALID, () => ra.getMyRoles())).toMatch(/has not joined scope "default".*\(joined: none\)/);
    ra.joinScope('default');
    expect(ra.getMyRoles()).toEqual([]);
  });

  it('events: unknown event names and non-function listeners are refused; a throwing listener does not stop the others', async () => {
    expect(refusal(INVALID, () => ra.on('roleChanged' as 'roleAdded', () => undefined))).toMatch(/unknown event "roleChanged"; use one of roleAdded/);
    expect(refusal(INVALID, () => ra.on('roleAdded', 'nope' as unknown as () => void))).toMatch(/must be a function/);
    const seen: RoleEvent[] = [];
    rb.on('roleAdded', () => {
      throw new Error('listener bug');
    });
    const keep = (e: RoleEvent): void => void seen.push(e);
    rb.on('roleAdded', keep);
    ra.addRole('api');
    await sim.until(() => seen.length === 1, 'second listener called');
    rb.off('roleAdded', keep);
    ra.addRole('more');
    await sim.until(() => rb.getNodes('more').length === 1, 'replicated');
    expect(seen.map((e) => e.roles)).toEqual([['api']]);
  });

  it('start: bad options are refused and leave nothing running', async () => {
    const c = await sim.start('c', { seeds: ['a'] });
    expect(await rejection(INVALID, Roles.start('node' as unknown as Node))).toMatch(/node must be a running Node/);
    expect(await rejection(INVALID, Roles.start(c, { role: ['x'] } as never))).toMatch(/unknown option "role"/);
    expect(await rejection(INVALID, Roles.start(c, { roles: 'web' } as never))).toMatch(/"roles" must be an array/);
    expect(await rejection(INVALID, Roles.start(c, { roles: { s: 'web' } } as never))).toMatch(/roles of scope "s" must be an array/);
    expect(await rejection(INVALID, Roles.start(c, { scopes: 'a' } as never))).toMatch(/"scopes" must be an array/);
    expect(await rejection(INVALID, Roles.start(c, { roles: ['ok', NaN] }))).toMatch(/Roles\.start: roles of scope "default": the role is NaN/);
    expect(await rejection(INVALID, Roles.start(c, { group: '' }))).toMatch(/"group" must be a Group name/);
    expect(await rejection(INVALID, Roles.start(c, { group: ra.group }))).toMatch(/runs on another node/);
    const odd = await Group.start(c, { name: 'odd', extractMeta: (m) => m });
    expect(await rejection(INVALID, Roles.start(c, { group: odd }))).toMatch(/extractMeta/);
    await odd.stop();
    // None of the refused starts left a '$roles' Group behind: a good start works.
    const rc = await Roles.start(c, { roles: { default: ['x'], extra: ['y'] } });
    expect(rc.listScopes()).toEqual(['default', 'extra']);
    expect(await rejection(INVALID, Roles.start(c))).toMatch(/a Group named "\$roles" is already running/);
    await rc.stop();
  });

  it('after stop every call says so; stop is idempotent; the other nodes see the roles go', async () => {
    await ra.stop();
    await ra.stop();
    expect(refusal('ERR_ROLLCALL_NOT_RUNNING', () => ra.addRole('x'))).toMatch(/stopped/);
    expect(refusal('ERR_ROLLCALL_NOT_RUNNING', () => ra.getNodes('web'))).toMatch(/stopped/);
    expect(refusal('ERR_ROLLCALL_NOT_RUNNING', () => ra.joinScope('s'))).toMatch(/stopped/);
    await sim.until(() => rb.getNodes('web').length === 0 && rb.allNodes().length === 1, 'a gone from b');
  });

  it('the internal process killed: a new one re-asserts the roles, and the others keep (or get back) them', async () => {
    ra.addRole({ shard: 3 });
    await sim.until(() => rb.getNodes({ shard: 3 }).length === 1, 'replicated');
    const marker = () => ra.group.members(MARKER_KEY, { cluster: 'default' }).filter((e) => e.pid.node === 'a');
    const old = marker()[0]!.pid;
    a.exit(old, 'kill');
    await sim.until(() => marker().length === 1 && !marker()[0]!.pid.equals(old), 'a new roles process');
    await sim.until(() => rb.getNodes('web').join() === 'a' && rb.getNodes({ shard: 3 }).join() === 'a' && rb.checkConsistency().length === 0, 'b sees a\'s roles');
    expect(ra.getMyRoles()).toEqual(['web', { shard: 3 }]);
    expect(ra.getRoles('a')).toEqual(['web', { shard: 3 }]);
    expect(ra.checkConsistency()).toEqual([]);
  });

  it('a shared Group: Roles uses it and leaves it running (and its default cluster alone) on stop', async () => {
    const c = await sim.start('c', { seeds: ['a'] });
    const d = await sim.start('d', { seeds: ['a'] });
    const gc = await Group.start(c, { name: 'app' });
    const gd = await Group.start(d, { name: 'app' });
    const rc = await Roles.start(c, { group: gc, roles: ['shared'] });
    const rd = await Roles.start(d, { group: gd });
    await sim.until(() => rd.getNodes('shared').join() === 'c', 'replicated through the shared Group');
    // The roles live in the scope clusters, not in the app's default cluster.
    expect(gd.groups()).toEqual([]);
    await rc.stop();
    await sim.until(() => rd.getNodes('shared').length === 0, 'gone after stop');
    expect(gc.isConnected('default')).toBe(false);
    const p = c.spawn(async (ctx) => {
      for (;;) await ctx.receive();
    });
    expect(gc.join('still-works', {}, { pid: p })).toBe('ok');
    await rd.stop();
    await gc.stop();
    await gd.stop();
  });
});
