/**
 * `rollcall node` configuration: file + flags + environment → one checked configuration, and the
 * messages for each mistake. (The running CLI is covered by test/cluster/cli.test.ts.)
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHostPort, UsageError } from '../../../src/cli/command.js';
import { resolveNodeConfig } from '../../../src/cli/node-config.js';

const tmp = mkdtempSync(join(tmpdir(), 'rollcall-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const env = { ROLLCALL_COOKIE: 'env-cookie' };

function file(name: string, content: unknown, mode = 0o600): string {
  const path = join(tmp, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(path, mode);
  return path;
}

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('rollcall node configuration', () => {
  it('fills defaults from flags alone', () => {
    const config = resolveNodeConfig({ name: 'a' }, env);
    expect(config).toMatchObject({
      name: 'a',
      listen: { host: '127.0.0.1', port: 4370 },
      seeds: [],
      groups: [],
      roles: [],
      dashboard: undefined,
      cookie: 'env-cookie',
      cookieSource: 'ROLLCALL_COOKIE',
      logLevel: 'info',
      tuning: {},
    });
  });

  it('flags override the file; a repeated flag replaces the list', () => {
    const path = file('a.json', {
      name: 'from-file',
      listen: '10.0.0.5:4370',
      seeds: ['b@10.0.0.6:4370', 'c@10.0.0.7:4370'],
      groups: ['g1', 'g2'],
      roles: ['web', 'api'],
      dashboard: '4000',
      logLevel: 'warn',
      node: { heartbeat: { intervalMs: 100, timeoutMs: 500 } },
    });
    const fromFile = resolveNodeConfig({ config: path }, env);
    expect(fromFile).toMatchObject({
      name: 'from-file',
      listen: { host: '10.0.0.5', port: 4370 },
      seeds: ['b@10.0.0.6:4370', 'c@10.0.0.7:4370'],
      groups: ['g1', 'g2'],
      roles: ['web', 'api'],
      dashboard: { host: '127.0.0.1', port: 4000 },
      logLevel: 'warn',
      tuning: { heartbeat: { intervalMs: 100, timeoutMs: 500 } },
    });
    const overridden = resolveNodeConfig({ config: path, name: 'x', seed: ['d@10.0.0.8:4370'], group: ['g3'], roles: 'db', 'log-level': 'debug', listen: '[::1]:0' }, env);
    expect(overridden).toMatchObject({ name: 'x', seeds: ['d@10.0.0.8:4370'], groups: ['g3'], roles: ['db'], logLevel: 'debug', listen: { host: '::1', port: 0 } });
  });

  it('takes the cookie from --cookie-file, then ROLLCALL_COOKIE, then the file\'s cookieFile (relative to the file)', () => {
    const cookie = file('cookie', 'from-file\n');
    const other = file('other-cookie', '  from-flag  \n');
    const path = file('c.json', { name: 'a', cookieFile: 'cookie' });
    expect(resolveNodeConfig({ config: path }, {})).toMatchObject({ cookie: 'from-file', cookieSource: `cookie file ${cookie}` });
    expect(resolveNodeConfig({ config: path }, env).cookie).toBe('env-cookie');
    expect(resolveNodeConfig({ config: path, 'cookie-file': other }, env)).toMatchObject({ cookie: 'from-flag', cookieSource: `--cookie-file ${other}` });
    expect(usageError(() => resolveNodeConfig({ name: 'a' }, {}))).toMatch(/no cookie.*ROLLCALL_COOKIE=<secret>.*--cookie-file/);
    expect(usageError(() => resolveNodeConfig({ name: 'a', 'cookie-file': file('empty', '\n') }, {}))).toContain('is empty');
    const open = file('open-cookie', 'x', 0o644);
    expect(resolveNodeConfig({ name: 'a', 'cookie-file': open }, {}).warnings).toEqual([`cookie file ${open} is readable by other users: chmod 600 ${open}`]);
  });

  it('says what is wrong, naming the flag or the file key', () => {
    expect(usageError(() => resolveNodeConfig({}, env))).toContain('--name is required');
    expect(usageError(() => resolveNodeConfig({ name: 'a b' }, env))).toContain('--name: invalid node name');
    expect(usageError(() => resolveNodeConfig({ name: 'a', seed: ['b@127.0.0.1'] }, env))).toContain('--seed: invalid seed "b@127.0.0.1"');
    expect(usageError(() => resolveNodeConfig({ name: 'a', listen: '127.0.0.1:99999' }, env))).toContain('--listen "127.0.0.1:99999"');
    expect(usageError(() => resolveNodeConfig({ name: 'a', 'log-level': 'loud' }, env))).toContain('use one of fatal, error, warn, info');
    expect(usageError(() => resolveNodeConfig({ name: 'a', group: ['g', 'g'] }, env))).toContain('the same Group is named twice');
    expect(usageError(() => resolveNodeConfig({ name: 'a', roles: 'web api' }, env))).toContain('role "web api"');
    const typo = file('typo.json', { name: 'a', seed: ['b@127.0.0.1:1'] });
    expect(usageError(() => resolveNodeConfig({ config: typo }, env))).toContain(`--config ${typo}: unknown key "seed"`);
    const wrongType = file('type.json', { name: 'a', seeds: 'b@127.0.0.1:1' });
    expect(usageError(() => resolveNodeConfig({ config: wrongType }, env))).toContain(`"seeds" in ${wrongType} must be an array of strings`);
    const tuning = file('tuning.json', { name: 'a', node: { transport: 'nats' } });
    expect(usageError(() => resolveNodeConfig({ config: tuning }, env))).toContain('"transport" cannot be set there');
    expect(usageError(() => resolveNodeConfig({ config: file('broken.json', '{"name": ') }, env))).toContain('not valid JSON');
    expect(usageError(() => resolveNodeConfig({ config: join(tmp, 'missing.json') }, env))).toContain('cannot read it (ENOENT)');
  });

  it('parses HOST:PORT, a bare port and bracketed IPv6', () => {
    expect(parseHostPort('0.0.0.0:4370', '--listen')).toEqual({ host: '0.0.0.0', port: 4370 });
    expect(parseHostPort('4000', '--dashboard')).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(parseHostPort('[::1]:4370', '--listen')).toEqual({ host: '::1', port: 4370 });
    expect(() => parseHostPort('::1:4370', '--listen')).toThrow('write an IPv6 host in brackets');
    expect(() => parseHostPort('127.0.0.1:0', '--advertise')).toThrow('not an integer from 1 to 65535');
    expect(parseHostPort('127.0.0.1:0', '--listen', { allowZero: true }).port).toBe(0);
  });
});
