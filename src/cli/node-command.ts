/**
 * `rollcall node`: one node of a cluster in this OS process (TCP transport, seeds discovery),
 * optionally running Groups, node roles and the dashboard; JSON logs on stdout, progress and
 * problems in plain words on stderr; SIGINT/SIGTERM stop it gracefully (exit 0).
 */
import { Group } from '../group/group.js';
import { startNode, type Node } from '../node/node.js';
import { defaultLogger, type LogLevel } from '../observability/logger.js';
import { RollcallError } from '../errors.js';
import { CliError, EXIT_FAILURE, EXIT_OK, formatHelp, note, parseCommand, UsageError, type Command, type CommandSpec } from './command.js';
import { startNodeDashboard, startRoles, type Running, type RunningRoles } from './extensions.js';
import { COOKIE_ENV, DEFAULT_LISTEN, resolveNodeConfig, type CliNodeConfig, type NodeFlags } from './node-config.js';
import { StartupReport, tapLogger } from './startup-report.js';

export const NODE_SPEC: CommandSpec = {
  usage: 'rollcall node --name NAME [--listen HOST:PORT] [--seed NAME@HOST:PORT ...] [options]',
  description: 'Start a node of a rollcall cluster in this process and keep it running until SIGINT or SIGTERM.',
  flags: {
    name: { type: 'string', value: 'NAME', description: "this node's name, unique in the cluster (letters, digits, _ - .)" },
    listen: { type: 'string', value: 'HOST:PORT', description: `where to accept peers (default ${DEFAULT_LISTEN}; port 0 = any free port)` },
    advertise: { type: 'string', value: 'HOST:PORT', description: 'the address peers should dial, when it differs from --listen (0.0.0.0, NAT)' },
    seed: { type: 'string', multiple: true, value: 'NAME@HOST:PORT', description: 'a node to join through; one reachable member is enough' },
    group: { type: 'string', multiple: true, value: 'NAME', description: 'run a Group (registry and process groups) of this name' },
    roles: { type: 'string', value: 'ROLE,...', description: 'node roles, comma-separated (e.g. web,api)' },
    dashboard: { type: 'string', value: 'HOST:PORT', description: 'serve the dashboard there (a bare port means 127.0.0.1)' },
    config: { type: 'string', value: 'FILE', description: 'a JSON config file; flags given on the command line override it' },
    'cookie-file': { type: 'string', value: 'FILE', description: `read the cluster cookie from FILE instead of ${COOKIE_ENV}` },
    'log-level': { type: 'string', value: 'LEVEL', description: 'fatal, error, warn, info (default), debug, trace or silent' },
  },
  footer: [
    'Environment:',
    `  ${COOKIE_ENV}   the cluster's shared secret (required unless --cookie-file or "cookieFile" is given)`,
    '',
    'Config file (every key optional; flags override keys, repeated flags replace lists):',
    '  {"name": "a", "listen": "127.0.0.1:4370", "seeds": ["b@127.0.0.1:4371"], "groups": ["my_app"],',
    '   "roles": ["web"], "dashboard": "127.0.0.1:4000", "cookieFile": "cookie", "logLevel": "info",',
    '   "advertise": "10.0.0.5:4370", "node": {"heartbeat": {"intervalMs": 500, "timeoutMs": 2500}}}',
    '',
    'Logs are JSON lines (pino) on stdout; progress and problems are plain lines on stderr.',
    'SIGINT / SIGTERM: graceful stop (peers see a clean nodedown), exit 0. A second signal forces exit 1.',
    '',
    'Example:',
    `  ${COOKIE_ENV}=secret rollcall node --name a --listen 127.0.0.1:4370 --group my_app`,
    `  ${COOKIE_ENV}=secret rollcall node --name b --listen 127.0.0.1:4371 --seed a@127.0.0.1:4370 --group my_app`,
  ].join('\n'),
};

/** A node started by the CLI, with what runs beside it. */
export interface CliNode {
  readonly node: Node;
  readonly groups: readonly Group[];
  /** The dashboard's URL (with its access token) when `--dashboard` was given. */
  readonly dashboardUrl: string | undefined;
  /** Stop the dashboard, roles, Groups, then the node (graceful: peers see `left`). */
  stop(): Promise<void>;
}

export interface StartCliNodeOptions {
  /** Where progress and problem lines go. Default: stderr. */
  readonly print?: (line: string) => void;
}

/** Start a node as configured; throws CliError with an operator-facing message when it cannot. */
export async function startCliNode(config: CliNodeConfig, options: StartCliNodeOptions = {}): Promise<CliNode> {
  const print = options.print ?? note;
  const report = new StartupReport({ seeds: config.seeds, cookieSource: config.cookieSource, print });
  let node: Node;
  try {
    node = await startNode({
      ...config.tuning,
      name: config.name,
      cookie: config.cookie,
      listen: config.listen,
      ...(config.advertise === undefined ? {} : { advertise: config.advertise }),
      seeds: [...config.seeds],
      // Below info, --log-level is a floor for every layer (see tapLogger); at debug and trace
      // the Groups log every replication op too.
      logger: tapLogger(defaultLogger(config.name, config.logLevel), report.onRecord, quieterThanInfo(config.logLevel) ? config.logLevel : undefined),
    });
  } catch (error) {
    throw explainStartError(error, config);
  }
  const groups: Group[] = [];
  // Stopped in reverse order of start: what uses the node goes before it.
  const beside: Running[] = [];
  let dashboardUrl: string | undefined;
  try {
    for (const name of config.groups) groups.push(await Group.start(node, { name, log: config.logLevel === 'debug' || config.logLevel === 'trace' ? 'verbose' : 'info' }));
    let roles: RunningRoles | undefined;
    if (config.roles.length > 0) beside.push((roles = await startRoles(node, config.roles)));
    if (config.dashboard !== undefined) {
      const dashboard = await startNodeDashboard(node, { ...config.dashboard, groups, roles });
      beside.push(dashboard);
      dashboardUrl = dashboard.url;
    }
  } catch (error) {
    await stopAll(beside, groups, node);
    throw error instanceof RollcallError ? new CliError(error.message) : error;
  }
  const extras = [
    config.groups.length > 0 ? `groups ${config.groups.join(', ')}` : undefined,
    config.roles.length > 0 ? `roles ${config.roles.join(', ')}` : undefined,
  ].filter((x) => x !== undefined);
  print(`node ${node.name} listening on ${node.address}${extras.length > 0 ? ` (${extras.join('; ')})` : ''}; cookie from ${config.cookieSource}`);
  if (dashboardUrl !== undefined) print(`dashboard: ${dashboardUrl}`);
  report.start(node, groups);
  let stopping: Promise<void> | undefined;
  return {
    node,
    groups,
    dashboardUrl,
    stop: () => {
      report.stop();
      stopping ??= stopAll(beside, groups, node);
      return stopping;
    },
  };
}

function quieterThanInfo(level: LogLevel): boolean {
  return level === 'warn' || level === 'error' || level === 'fatal' || level === 'silent';
}

async function stopAll(beside: Running[], groups: Group[], node: Node): Promise<void> {
  for (const running of [...beside].reverse()) await running.stop();
  for (const group of [...groups].reverse()) await group.stop();
  await node.stop();
}

/** The listen errors an operator makes, in their words; anything else passes through. */
function explainStartError(error: unknown, config: CliNodeConfig): Error {
  const { host, port } = config.listen;
  const code = ((error as { cause?: { code?: unknown } } | undefined)?.cause?.code ?? undefined) as string | undefined;
  if (code === 'EADDRINUSE') return new CliError(`port ${port} on ${host} is in use: pick another --listen`);
  if (code === 'EADDRNOTAVAIL') return new CliError(`${host} is not an address of this machine: pick another --listen host (and --advertise what peers should dial)`);
  if (code === 'EACCES') return new CliError(`not allowed to listen on port ${port}${port < 1024 ? ' (ports below 1024 need privileges)' : ''}: pick another --listen`);
  // Bad tuning in the config file: startNode's message names the option.
  if (RollcallError.is(error)) return new UsageError(error.message);
  return error instanceof Error ? error : new Error(String(error));
}

/** Stop gracefully on the first SIGINT/SIGTERM; a second one forces the exit. */
const STOP_TIMEOUT_MS = 10_000;

async function runNodeCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(NODE_SPEC, argv);
  if (parsed.help) {
    process.stdout.write(formatHelp(NODE_SPEC));
    return EXIT_OK;
  }
  const config = resolveNodeConfig(parsed.values as NodeFlags, process.env);
  for (const warning of config.warnings) note(`warning: ${warning}`);

  // Installed before the node starts, so a signal during start-up is a graceful stop too.
  let signalled: (signal: NodeJS.Signals) => void = () => {};
  let received: NodeJS.Signals | undefined;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    signalled = resolve;
  });
  const onSignal = (name: NodeJS.Signals): void => {
    if (received !== undefined) {
      note(`${name} again: exiting without a graceful stop`);
      process.exit(EXIT_FAILURE);
    }
    received = name;
    signalled(name);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const running = await startCliNode(config);
    const name = await signal;
    note(`${name}: stopping node ${config.name} (send it again to force)`);
    const timeout = setTimeout(() => {
      note(`graceful stop did not finish within ${STOP_TIMEOUT_MS / 1000} s: exiting`);
      process.exit(EXIT_FAILURE);
    }, STOP_TIMEOUT_MS);
    timeout.unref();
    await running.stop();
    clearTimeout(timeout);
    note(`node ${config.name} stopped`);
    return EXIT_OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const nodeCommand: Command = {
  name: 'node',
  summary: 'start a node (TCP, seeds), optionally with Groups, roles and the dashboard',
  run: runNodeCommand,
};
