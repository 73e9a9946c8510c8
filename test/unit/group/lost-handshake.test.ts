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
