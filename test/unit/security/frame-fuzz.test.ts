/**
 * In-process frame fuzzer on the memory network (fast, deterministic per seed): an authenticated
 * raw peer sends node a (which runs a Group, replicating with its real peer b) frames of every node
 * and group type carrying well-formed, nearly well-formed and arbitrary payloads, whole or mutated
 * at the byte level. After every case: a still serves b, nothing polluted Object.prototype, and no
 * frame handler threw; at the end a's and b's Group tables are consistent. The long run against a
 * live node process is test/cluster/fuzz.test.ts.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from '../../../src/internal.js';
import { FrameType, seededRandom, type Node } from '../../../src/internal.js';
import type { Group } from '../../../src/group/group.js';
import { GroupFrame } from '../../../src/group/protocol.js';
import { capturingLogger, eventsNamed, type LogRecord } from '../../support/log-capture.js';
import { RawPeer, authenticate } from '../../support/raw-peer.js';
import { GROUP_TYPES, MUTATIONS, NODE_TYPES, Rng, UNKNOWN_TYPES, fuzzBody, fuzzFrame, type Target } from '../../support/frame-fuzz.js';
import { createSim, idle, type Sim } from '../node/sim-helpers.js';

const COOKIE = 'fuzz-cookie';
const RUNS = Number(process.env['FRAME_FUZZ_RUNS'] ?? 600);

let sim: Sim;
let a: Node;
let b: Node;
let groupA: Group;
let groupB: Group;
const logs: LogRecord[] = [];
let target: Target;
let peers = 0;

beforeAll(async () => {
  sim = createSim(301);
  a = await sim.start('a', { cookie: COOKIE, logger: capturingLogger(logs) });
  b = await sim.start('b', { cookie: COOKIE, seeds: ['a'] });
  await sim.until(() => a.peers().length === 1, 'a and b connected');
  groupA = await api.Group.start(a, { name: 'app', log: false });
  groupB = await api.Group.start(b, { name: 'app', log: false });
  const pid = idle(a);
  a.register('fuzz-inbox', pid);
  groupA.register('k', { on: 'a' }, { pid });
  groupB.join('room/1', {}, { pid: idle(b) });
  await sim.until(() => groupB.whereis('k') !== undefined && groupA.members('room/1').length === 1, 'the Groups replicated');
  target = { node: 'a', incarnation: a.incarnation, pid, self: 'fuzzer', group: 'app' };
});
afterAll(async () => {
  await groupA.stop();
  await groupB.stop();
  await sim.teardown();
});

async function authenticated(): Promise<RawPeer> {
  const name = `fuzzer-${++peers}`;
  const raw = await RawPeer.memory(sim.network, name, 'a', { clock: sim.clock, random: seededRandom(peers) });
  await authenticate(raw, { name, incarnation: 1 }, COOKIE, (cond, what) => sim.until(cond, what));
  return raw;
}

const TYPES = [...NODE_TYPES, ...GROUP_TYPES, ...UNKNOWN_TYPES];

/** A fuzzed EXIT may kill the target (any peer may exit any process): give it a live one again. */
function reviveTarget(): void {
  if (a.isAlive(target.pid)) return;
  const pid = idle(a);
  a.unregister('fuzz-inbox');
  a.register('fuzz-inbox', pid);
  groupA.register('k', { on: 'a' }, { pid });
  target = { ...target, pid };
}

/** What a Group holds in the default cluster, in comparable form. */
function view(group: Group): { registered: string[][]; members: string[][] } {
  return {
    registered: group.registered().map((key) => [key, group.whereis(key)!.key]),
    members: group.groups().map((key) => [key, ...group.members(key).map((m) => m.pid.key)]),
  };
}

describe('frame fuzzer (memory network)', () => {
  it(`${RUNS} random frames from an authenticated peer: only that link ever closes, a keeps serving b`, async () => {
    let closed = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.constantFrom(...TYPES), fc.constantFrom(...MUTATIONS), async (seed, type, mutation) => {
        reviveTarget();
        const rng = new Rng(seed);
        const raw = await authenticated();
        target = { ...target, self: `fuzzer-${peers}` };
        if (GROUP_TYPES.includes(type) && rng.int(4) !== 0) {
          // Say hello as a Group peer first, so the frames reach the replicator's deeper paths.
          raw.send(GroupFrame.HELLO, ['app', ['c1']]);
          await sim.run(3);
        }
        for (let i = 1 + rng.int(3); i > 0; i--) raw.write(fuzzFrame(type, fuzzBody(type, rng, target), mutation, rng, target));
        await sim.run(5);
        if (raw.closed) closed++;
        raw.close();
        expect(a.peers()).toContain('b');
        expect(b.peers()).toContain('a');
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
        expect(Object.keys(Object.prototype)).toEqual([]);
        const thrown = eventsNamed(logs, 'handler_error');
        expect(thrown, `type ${type} ${mutation} seed ${seed}: ${String(thrown[0]?.['err'])}`).toEqual([]);
      }),
      { numRuns: RUNS, seed: Number(process.env['FRAME_FUZZ_SEED'] ?? 42), endOnFailure: true },
    );
    console.log(`frame fuzz: ${RUNS} cases, ${closed} closed the link`);
    reviveTarget();
    await sim.run(6000); // anti-entropy rounds
    expect(groupA.checkConsistency()).toEqual([]);
    expect(groupB.checkConsistency()).toEqual([]);
    // Whatever the fuzzer did (an EXIT, or a registration conflict it won, may have ended a's
    // processes, as any peer may), a and b agree.
    expect(view(groupA)).toEqual(view(groupB));
    expect(a.peers()).toEqual(['b']);
  }, Math.max(30_000, RUNS * 10));

  it('random bytes before the handshake: the connection closes (or times out), the node carries on', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        const raw = await RawPeer.memory(sim.network, `noise-${++peers}`, 'a', { clock: sim.clock, random: seededRandom(peers) });
        raw.write(Buffer.from(bytes));
        await sim.run(3);
        raw.close();
        expect(a.peers()).toContain('b');
        expect(raw.frame(FrameType.WELCOME)).toBeUndefined();
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});
