/**
 * The configuration of `rollcall node`: a JSON file (`--config`), overridden flag by flag by the
 * command line, plus the cookie from `--cookie-file`, `ROLLCALL_COOKIE` or the file's
 * `cookieFile`. Everything is checked here, before anything starts, with messages that say what
 * to write instead.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseSeed, validateNodeName } from '../discovery/seeds.js';
import type { LogLevel } from '../observability/logger.js';
import type { NodeOptions } from '../node/options.js';
import { parseHostPort, UsageError } from './command.js';

export const DEFAULT_LISTEN = '127.0.0.1:4370';
export const COOKIE_ENV = 'ROLLCALL_COOKIE';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** startNode options a config file may set under "node" (JSON-representable tuning only). */
const TUNING_KEYS = ['heartbeat', 'reconnect', 'callTimeoutMs', 'maxFrameBytes', 'maxQueueBytes', 'handshakeTimeoutMs', 'maxPendingHandshakes'] as const;
type Tuning = Pick<NodeOptions, (typeof TUNING_KEYS)[number]>;

const FILE_KEYS = ['name', 'listen', 'advertise', 'seeds', 'roles', 'dashboard', 'groups', 'cookieFile', 'logLevel', 'node'] as const;

/** The command-line flags of `rollcall node`, as parseArgs returns them. */
export interface NodeFlags {
  name?: string;
  listen?: string;
  advertise?: string;
  seed?: string[];
  roles?: string;
  dashboard?: string;
  group?: string[];
  config?: string;
  'cookie-file'?: string;
  'log-level'?: string;
}

export interface CliNodeConfig {
  readonly name: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly advertise: string | undefined;
  readonly seeds: readonly string[];
  readonly roles: readonly string[];
  readonly dashboard: { readonly host: string; readonly port: number } | undefined;
  readonly groups: readonly string[];
  readonly cookie: string;
  /** Where the cookie came from, for messages ("ROLLCALL_COOKIE", "--cookie-file /x"). */
  readonly cookieSource: string;
  readonly logLevel: LogLevel;
  readonly tuning: Tuning;
  /** Things worth saying that do not stop the start (a cookie file others can read). */
  readonly warnings: readonly string[];
}

export const MISSING_COOKIE_MESSAGE =
  `no cookie: every node of a cluster must share one secret. Set it in the environment (${COOKIE_ENV}=<secret> rollcall node ...) ` +
  'or put it in a file readable only by you and pass --cookie-file <file> (or "cookieFile" in the --config file)';

/** Merge the config file (if any), the flags and the environment into a checked configuration. */
export function resolveNodeConfig(flags: NodeFlags, env: NodeJS.ProcessEnv): CliNodeConfig {
  const warnings: string[] = [];
  const file = flags.config === undefined ? {} : readConfigFile(flags.config);
  const fileDir = flags.config === undefined ? process.cwd() : dirname(resolve(flags.config));
  const from = (key: string): string => (flags.config === undefined ? key : `"${key}" in ${flags.config}`);

  const name = flags.name ?? stringField(file, 'name', from);
  if (name === undefined) throw new UsageError('--name is required: this node\'s name, unique in the cluster, e.g. --name a');
  try {
    validateNodeName(name);
  } catch (error) {
    throw new UsageError(`--name: ${(error as Error).message}`);
  }

  const listenText = flags.listen ?? stringField(file, 'listen', from) ?? DEFAULT_LISTEN;
  const listen = parseHostPort(listenText, '--listen', { allowZero: true });
  const advertise = flags.advertise ?? stringField(file, 'advertise', from);
  if (advertise !== undefined) parseHostPort(advertise, '--advertise');

  const seeds = flags.seed ?? stringList(file, 'seeds', from) ?? [];
  for (const seed of seeds) {
    try {
      parseSeed(seed);
    } catch (error) {
      throw new UsageError(`--seed: ${(error as Error).message}`);
    }
  }

  const roles = parseRoles(flags.roles ?? rolesField(file, from));
  const dashboardText = flags.dashboard ?? stringField(file, 'dashboard', from);
  const dashboard = dashboardText === undefined ? undefined : parseHostPort(dashboardText, '--dashboard', { allowZero: true });

  const groups = flags.group ?? stringList(file, 'groups', from) ?? [];
  for (const group of groups) {
    if (group === '' || group.length > 255) throw new UsageError(`--group ${JSON.stringify(group)}: a Group name is 1 to 255 characters, e.g. --group my_app`);
  }
  if (new Set(groups).size !== groups.length) throw new UsageError(`--group: the same Group is named twice (${groups.join(', ')})`);

  const levelText = flags['log-level'] ?? stringField(file, 'logLevel', from) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(levelText)) {
    throw new UsageError(`--log-level ${JSON.stringify(levelText)}: use one of ${LOG_LEVELS.join(', ')}`);
  }

  const tuning = tuningField(file, from);
  const fileCookie = stringField(file, 'cookieFile', from);
  const { cookie, cookieSource } = loadCookie(flags['cookie-file'], env, fileCookie === undefined ? undefined : resolve(fileDir, fileCookie), warnings);

  return {
    name,
    listen,
    advertise,
    seeds,
    roles,
    dashboard,
    groups,
    cookie,
    cookieSource,
    logLevel: levelText as LogLevel,
    tuning,
    warnings,
  };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--config ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--config ${path}: expected a JSON object such as {"name": "a", "listen": "127.0.0.1:4370"}`);
  }
  const object = parsed as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!(FILE_KEYS as readonly string[]).includes(key)) {
      const hint = key === 'cookie' ? ' (the cookie does not go in the config file: use "cookieFile" or ROLLCALL_COOKIE)' : '';
      throw new UsageError(`--config ${path}: unknown key "${key}"${hint}; known keys: ${FILE_KEYS.join(', ')}`);
    }
  }
  return object;
}

function stringField(file: Record<string, unknown>, key: string, from: (key: string) => string): string | undefined {
  const value = file[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new UsageError(`${from(key)} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function stringList(file: Record<string, unknown>, key: string, from: (key: string) => string): string[] | undefined {
  const value = file[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) {
    throw new UsageError(`${from(key)} must be an array of strings, got ${JSON.stringify(value)}`);
  }
  return value as string[];
}

function rolesField(file: Record<string, unknown>, from: (key: string) => string): string | undefined {
  const value = file['roles'];
  if (Array.isArray(value) && value.every((x) => typeof x === 'string')) return (value as string[]).join(',');
  return stringField(file, 'roles', from);
}

/** "web,api" → ['web', 'api']. Names are checked loosely; the roles module has the last word. */
function parseRoles(text: string | undefined): string[] {
  if (text === undefined) return [];
  const roles = text.split(',').map((r) => r.trim());
  for (const role of roles) {
    if (!/^[A-Za-z0-9_.:-]{1,255}$/.test(role)) {
      throw new UsageError(`--roles ${JSON.stringify(text)}: role ${JSON.stringify(role)} must be 1 to 255 letters, digits, "_", "-", "." or ":"; write them comma-separated, e.g. --roles web,api`);
    }
  }
  return [...new Set(roles)];
}

function tuningField(file: Record<string, unknown>, from: (key: string) => string): Tuning {
  const value = file['node'];
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${from('node')} must be an object of startNode tuning options (${TUNING_KEYS.join(', ')})`);
  }
  for (const key of Object.keys(value)) {
    if (!(TUNING_KEYS as readonly string[]).includes(key)) {
      throw new UsageError(`${from('node')}: "${key}" cannot be set there; it takes ${TUNING_KEYS.join(', ')} (the rest has its own key or flag)`);
    }
  }
  // The values themselves are checked by startNode, whose messages name the option.
  return value as Tuning;
}

function loadCookie(flagFile: string | undefined, env: NodeJS.ProcessEnv, configFile: string | undefined, warnings: string[]): { cookie: string; cookieSource: string } {
  if (flagFile !== undefined) return { cookie: readCookieFile(flagFile, '--cookie-file', warnings), cookieSource: `--cookie-file ${flagFile}` };
  const fromEnv = env[COOKIE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { cookie: fromEnv, cookieSource: COOKIE_ENV };
  if (configFile !== undefined) return { cookie: readCookieFile(configFile, '"cookieFile"', warnings), cookieSource: `cookie file ${configFile}` };
  throw new UsageError(MISSING_COOKIE_MESSAGE);
}

function readCookieFile(path: string, what: string, warnings: string[]): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${what} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  // Editors and `echo` add a final newline; nobody means it as part of the secret.
  const cookie = text.trim();
  if (cookie === '') throw new UsageError(`${what} ${path} is empty: put the cluster's shared secret in it`);
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    warnings.push(`cookie file ${path} is readable by other users: chmod 600 ${path}`);
  }
  return cookie;
}
