/**
 * The logger wrapper `rollcall node` gives its node: it shows the handshake and dial records to the
 * startup report at any level, and keeps every layer at or above a `--log-level` floor.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { tapLogger } from '../../../src/cli/startup-report.js';
import type { Logger } from '../../../src/observability/logger.js';

function capture(level: string): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) }) as unknown as Logger;
  return { logger, lines };
}

describe('tapLogger', () => {
  it('shows watched records to the listener even below the level, and logs as the inner logger would', () => {
    const { logger, lines } = capture('warn');
    const seen: Array<Record<string, unknown>> = [];
    const tapped = tapLogger(logger, (r) => seen.push(r));
    tapped.debug({ event: 'dial_failed', address: '127.0.0.1:1', err: 'connect ECONNREFUSED' }, 'cannot reach');
    tapped.child({ group: 'g' }).error({ event: 'auth_failed', peer: 'b' }, 'cookies differ');
    tapped.info({ event: 'nodeup', peer: 'b' }, 'connected');
    expect(seen.map((r) => r['event'])).toEqual(['dial_failed', 'auth_failed']);
    expect(lines.map((l) => l['event'])).toEqual(['auth_failed']);
    expect(lines[0]!['group']).toBe('g');
  });

  it('keeps a child logger at or above the floor, and lets it go higher', () => {
    const { logger, lines } = capture('warn');
    const child = tapLogger(logger, () => {}, 'warn').child({ group: 'g' });
    child.level = 'info'; // what Group.start does for log: 'info'
    expect(child.level).toBe('warn');
    child.info({ event: 'group_peer_up' }, 'hidden');
    child.warn({ event: 'group_conflict' }, 'shown');
    child.level = 'silent';
    child.warn({ event: 'group_conflict' }, 'hidden too');
    expect(lines.map((l) => l['msg'])).toEqual(['shown']);
    const unfloored = tapLogger(capture('info').logger, () => {}).child({});
    unfloored.level = 'debug';
    expect(unfloored.level).toBe('debug');
  });
});
