/**
 * Logs: a user-supplied logger receives the records of every layer (transport, node, processes,
 * Group through a child logger); node.logLevel() and group.logLevel() change what a pino logger
 * writes at runtime.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Group, InvalidArgumentError, type Logger } from '../../../src/internal.js';
import { capturingLogger, eventsNamed, type LogRecord } from '../../support/log-capture.js';
import { createSim, idle, HEARTBEAT, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

/** A real pino logger at `level` whose JSON lines are parsed into `records`. */
function pinoInto(records: Array<Record<string, unknown>>, level: string): Logger {
  return pino({ level, base: { app: 'test' } }, { write: (line: string) => records.push(JSON.parse(line) as Record<string, unknown>) }) as unknown as Logger;
}

const events = (records: Array<Record<string, unknown>>, event: string) => records.filter((r) => r['event'] === event);

describe('logging', () => {
  it('sends the records of every layer to the logger given in NodeOptions', async () => {
    sim = createSim(31);
    const logs: LogRecord[] = [];
    const a = await sim.start('a', { logger: capturingLogger(logs, { mine: true }) });
    const b = await sim.start('b', { seeds: ['a'] });
    await sim.until(() => a.peers().includes('b'), 'connected');
    const ga = await Group.start(a, { name: 'app' });
    await Group.start(b, { name: 'app', log: false });
    await sim.until(() => ga.nodes().length === 1, 'group peers');
    a.spawn(async () => {
      throw new Error('crash on purpose');
    });
    await sim.run(10);
    await b.stop();
    await sim.until(() => a.peers().length === 0, 'b gone', HEARTBEAT.timeoutMs * 4);

    expect(eventsNamed(logs, 'node_started')).toHaveLength(1); // node
    expect(eventsNamed(logs, 'nodeup')[0]).toMatchObject({ peer: 'b', level: 'info' }); // mesh / transport
    expect(eventsNamed(logs, 'process_crashed')[0]).toMatchObject({ level: 'warn' }); // processes
    expect(eventsNamed(logs, 'group_peer_up')[0]).toMatchObject({ group: 'app', peer: 'b', level: 'info' }); // Group (child logger)
    expect(eventsNamed(logs, 'nodedown')[0]).toMatchObject({ peer: 'b', reason: 'left' });
    // Every record came through the user's logger (its bindings are on each one).
    expect(logs.every((r) => r['mine'] === true)).toBe(true);
  });

  it('node.logLevel() changes the level of the node logger at runtime', async () => {
    sim = createSim(32);
    const records: Array<Record<string, unknown>> = [];
    const a = await sim.start('a', { logger: pinoInto(records, 'warn') });
    expect(a.logLevel()).toBe('warn');
    const b = await sim.start('b', { seeds: ['a'] });
    await sim.until(() => a.peers().includes('b'), 'connected');
    expect(events(records, 'nodeup')).toEqual([]); // info, below warn

    expect(a.logLevel('info')).toBe('info');
    a.disconnect('b');
    await sim.until(() => events(records, 'nodeup').length === 1, 'nodeup logged at info');
    expect(events(records, 'nodeup')[0]).toMatchObject({ app: 'test', peer: 'b' });

    a.logLevel('silent');
    const count = records.length;
    a.disconnect('b');
    await sim.until(() => a.peers().includes('b') && b.peers().includes('a'), 'reconnected', 5000);
    await sim.run(50);
    expect(records.length).toBe(count);
    expect(() => a.logLevel('loud' as never)).toThrow(InvalidArgumentError);
    expect(a.logLevel()).toBe('silent');
  });

  it("group.logLevel() changes the Group's child logger, independently of the node's", async () => {
    sim = createSim(33);
    const records: Array<Record<string, unknown>> = [];
    const a = await sim.start('a', { logger: pinoInto(records, 'warn') });
    const b = await sim.start('b', { seeds: ['a'] });
    await sim.until(() => a.peers().includes('b'), 'connected');
    const ga = await Group.start(a, { name: 'app', log: false });
    const gb = await Group.start(b, { name: 'app', log: false });
    await sim.until(() => ga.nodes().length === 1, 'group peers');
    expect(events(records, 'group_peer_up')).toEqual([]);

    ga.logLevel('verbose');
    gb.register('k', {}, { pid: idle(b) });
    await sim.until(() => events(records, 'group_frame').length > 0, 'a verbose record');
    expect(events(records, 'group_frame')[0]).toMatchObject({ group: 'app', peer: 'b', app: 'test' });
    // The node logger stayed at warn: its info records are still off.
    a.disconnect('b');
    await sim.until(() => events(records, 'group_peer_up').length === 1, 'group peer up again (Group info)');
    expect(events(records, 'nodeup')).toEqual([]);

    ga.logLevel(false);
    const count = records.length;
    gb.register('k2', {}, { pid: idle(b) });
    await sim.until(() => ga.lookup('k2') !== null, 'replicated');
    expect(records.length).toBe(count);
  });
});
