/** Two real nodes speaking different protocol versions refuse each other, and both say why. */
import { afterEach, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { startNode, type Logger, type Node } from '../../../src/index.js';
import { waitFor } from '../../support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

function recordingLogger(lines: Array<Record<string, unknown>>): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'debug' }, sink) as unknown as Logger;
}

it('two nodes: protocol v2 and v1 (an earlier release) never connect; both log protocol_version_mismatch with both versions', async () => {
  const logsA: Array<Record<string, unknown>> = [];
  const logsB: Array<Record<string, unknown>> = [];
  const a = await startNode({ name: 'a', cookie: 'k', logger: recordingLogger(logsA) });
  nodes.push(a);
  const b = await startNode({ name: 'b', cookie: 'k', seeds: [a.seed], protocolVersion: 1, logger: recordingLogger(logsB) });
  nodes.push(b);
  const mismatch = (r: Record<string, unknown>) => r['event'] === 'protocol_version_mismatch';
  const onA = await waitFor(() => logsA.find(mismatch), { what: 'a logs the mismatch' });
  const onB = await waitFor(() => logsB.find(mismatch), { what: 'b logs the mismatch' });
  expect(onA).toMatchObject({ theirs: 1, ours: 2 });
  expect(onB).toMatchObject({ theirs: 2, ours: 1 });
  expect(String(onA['msg'])).toMatch(/speaks v1, this node speaks v2/);
  expect(a.peers()).toEqual([]);
  expect(b.peers()).toEqual([]);
});
