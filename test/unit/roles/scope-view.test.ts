/**
 * ScopeView on hand-made Group event batches: the orders replication can produce (roles before
 * the marker, a restarted Roles' rows before the old ones' removal), and the events it derives.
 */
import { describe, expect, it } from 'vitest';
import { Pid } from '../../../src/index.js';
import type { GroupEvent } from '../../../src/group/events.js';
import { roleKey } from '../../../src/roles/role-key.js';
import { MARKER_KEY, ROLE_PREFIX, ScopeView } from '../../../src/roles/scope-view.js';

const p1 = new Pid('b', 1, 1);
const p2 = new Pid('b', 1, 2);

function ev(type: 'joined' | 'left', pid: Pid, role?: unknown, reason: unknown = null): GroupEvent<unknown> {
  const key = role === undefined ? MARKER_KEY : ROLE_PREFIX + roleKey(role, 'test');
  return { type, group: '$roles', cluster: 's', key, pid, meta: role ?? {}, previousMeta: null, reason };
}

describe('ScopeView', () => {
  it('roles arriving before the marker are hidden, then shown with nodeAdded', () => {
    const v = new ScopeView('s');
    expect(v.apply([ev('joined', p1, 'web')])).toEqual([]);
    expect(v.nodesWith(roleKey('web', 't'))).toEqual([]);
    expect(v.rolesOf('b')).toEqual([]);
    expect(v.apply([ev('joined', p1)])).toEqual([{ type: 'nodeAdded', scope: 's', node: 'b', roles: ['web'], reason: null }]);
    expect(v.nodesWith(roleKey('web', 't'))).toEqual(['b']);
    expect(v.allNodes()).toEqual(['b']);
  });

  it('a batch that adds and removes roles of a present node says both; a no-op batch says nothing', () => {
    const v = new ScopeView('s');
    v.apply([ev('joined', p1), ev('joined', p1, 'a'), ev('joined', p1, 'b')]);
    const out = v.apply([ev('left', p1, 'a', 'leave'), ev('joined', p1, 'c'), ev('joined', p1, 'd')]);
    expect(out).toEqual([
      { type: 'roleRemoved', scope: 's', node: 'b', roles: ['a'], reason: 'leave' },
      { type: 'roleAdded', scope: 's', node: 'b', roles: ['c', 'd'], reason: null },
    ]);
    // Added then removed within one batch: nothing happened, as far as anyone can tell.
    expect(v.apply([ev('joined', p1, 'x'), ev('left', p1, 'x', 'leave')])).toEqual([]);
    expect(v.rolesOf('b')).toEqual(['b', 'c', 'd']);
  });

  it('the marker leaving first: roleRemoved + nodeRemoved at once; the role rows leaving later say nothing', () => {
    const v = new ScopeView('s');
    v.apply([ev('joined', p1), ev('joined', p1, 'a')]);
    expect(v.apply([ev('left', p1, undefined, 'nodedown')])).toEqual([
      { type: 'roleRemoved', scope: 's', node: 'b', roles: ['a'], reason: 'nodedown' },
      { type: 'nodeRemoved', scope: 's', node: 'b', roles: ['a'], reason: 'nodedown' },
    ]);
    expect(v.nodesWith(roleKey('a', 't'))).toEqual([]);
    expect(v.apply([ev('left', p1, 'a', 'nodedown')])).toEqual([]);
    expect(v.allNodes()).toEqual([]);
  });

  it('a restarted Roles (new pid) takes over: the old pid\'s late removals change nothing', () => {
    const v = new ScopeView('s');
    v.apply([ev('joined', p1), ev('joined', p1, 'a')]);
    expect(v.apply([ev('joined', p2), ev('joined', p2, 'a')])).toEqual([]);
    expect(v.apply([ev('left', p1, undefined, 'killed'), ev('left', p1, 'a', 'killed')])).toEqual([]);
    expect(v.rolesOf('b')).toEqual(['a']);
    expect(v.apply([ev('left', p2, 'a', 'leave')])).toEqual([{ type: 'roleRemoved', scope: 's', node: 'b', roles: ['a'], reason: 'leave' }]);
  });

  it('ignores keys that are not its own and removals of unknown nodes', () => {
    const v = new ScopeView('s');
    const foreign: GroupEvent<unknown> = { ...ev('joined', p1), key: 'someone-else' };
    expect(v.apply([foreign, ev('left', p2, 'a'), { ...ev('joined', p1), type: 'registered' }])).toEqual([]);
    expect(v.allNodes()).toEqual([]);
  });

  it('reads are copies: changing a returned array changes nothing inside', () => {
    const v = new ScopeView('s');
    v.apply([ev('joined', p1), ev('joined', p1, 'a')]);
    v.allNodes().push('z');
    v.nodesWith(roleKey('a', 't')).push('z');
    v.rolesOf('b').push('z');
    expect(v.allNodes()).toEqual(['b']);
    expect(v.nodesWith(roleKey('a', 't'))).toEqual(['b']);
    expect(v.rolesOf('b')).toEqual(['a']);
  });
});
