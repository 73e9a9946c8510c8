/**
 * A Group handshake frame lost on a link that stays up (no real link loses a frame without
 * breaking, but a Group must not depend on that): the nodes are connected yet only one of them
 * counts the other as a Group peer. The periodic anti-entropy round says hello again, so they
 * peer and exchange their rows within one period.
 */
import { afterEach, expect, it } from 'vitest';
import { Group } from '../../../src/internal.js';
import { createSim, idle, type Sim } from '../node/sim-helpers.js';

const ANTI_ENTROPY_MS = 1000;
let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

it('two connected nodes whose HELLO_ACK was lost become Group peers within one anti-entropy period', async () => {
  sim = createSim(21);
  const [a, b] = await sim.cluster('a', 'b');
  // a's frames to b are lost while the link stays up: b's HELLO reaches a, a's answer does not.
  a.block('b', { in: false, out: true });
  const ga = await Group.start(a, { name: 'app', log: false, antiEntropyMs: ANTI_ENTROPY_MS });
  const gb = await Group.start(b, { name: 'app', log: false, antiEntropyMs: ANTI_ENTROPY_MS });
  await sim.until(() => ga.nodes().includes('b'), 'a counts b as a Group peer');
  const pid = idle(a);
  expect(ga.register('k', { on: 'a' }, { pid })).toBe('ok');
  await sim.run(50);
  a.unblock('b');
  expect(a.peers()).toContain('b');
  expect(gb.nodes()).not.toContain('a');
  expect(gb.lookup('k')).toBeNull();
  await sim.until(() => gb.nodes().includes('a') && gb.lookup('k')?.pid.key === pid.key, 'b peers with a and has its row', 2 * ANTI_ENTROPY_MS + 500);
  expect(ga.checkConsistency()).toEqual([]);
  expect(gb.checkConsistency()).toEqual([]);
});

it('a lost CONNECT, and a lost DISCONNECT, are repaired by the next anti-entropy round (the digest lists the sender’s clusters)', async () => {
  sim = createSim(22);
  const [a, b] = await sim.cluster('a', 'b');
  const ga = await Group.start(a, { name: 'app', log: false, antiEntropyMs: ANTI_ENTROPY_MS });
  const gb = await Group.start(b, { name: 'app', log: false, antiEntropyMs: ANTI_ENTROPY_MS });
  await sim.until(() => ga.nodes().includes('b') && gb.nodes().includes('a'), 'Group peers');
  gb.connect('x');
  const q = idle(b);
  expect(gb.register('kb', {}, { pid: q, cluster: 'x' })).toBe('ok');
  await sim.run(50);
  // a's CONNECT to b is lost (the link stays up); b's row in x never reaches a.
  a.block('b', { in: false, out: true });
  ga.connect('x');
  const p = idle(a);
  expect(ga.register('ka', {}, { pid: p, cluster: 'x' })).toBe('ok');
  await sim.run(50);
  a.unblock('b');
  expect([ga.nodes('x'), gb.nodes('x')]).toEqual([['a'], ['b']]);
  await sim.until(() => gb.lookup('ka', { cluster: 'x' })?.pid.key === p.key && ga.lookup('kb', { cluster: 'x' })?.pid.key === q.key, 'both rows on both nodes', 2 * ANTI_ENTROPY_MS + 500);
  expect([ga.nodes('x'), gb.nodes('x')]).toEqual([['a', 'b'], ['a', 'b']]);

  // Now a's DISCONNECT is lost: b would keep a's row in x for ever.
  a.block('b', { in: false, out: true });
  ga.disconnect('x');
  await sim.run(50);
  a.unblock('b');
  expect(gb.lookup('ka', { cluster: 'x' })?.pid.key).toBe(p.key);
  await sim.until(() => gb.lookup('ka', { cluster: 'x' }) === null && gb.nodes('x').length === 1, 'b forgets a in x', 2 * ANTI_ENTROPY_MS + 500);
  expect(gb.lookup('kb', { cluster: 'x' })?.pid.key).toBe(q.key);
  expect(ga.checkConsistency()).toEqual([]);
  expect(gb.checkConsistency()).toEqual([]);
});
