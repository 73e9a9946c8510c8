/**
 * What every `rollcall` subcommand shares: flag specs that drive both node:util parseArgs and the
 * `--help` text (so the two cannot drift apart), usage errors, and host:port parsing.
 */
import { parseArgs } from 'node:util';

/** A subcommand: `run` gets the arguments after its name and resolves with the exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  /** Placeholder of the value in the help text, e.g. "HOST:PORT". */
  readonly value?: string;
  readonly description: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface CommandSpec {
  readonly usage: string;
  readonly description: string;
  readonly flags: FlagSpecs;
  /** Extra help after the flags (environment, examples). */
  readonly footer?: string;
  /** Whether positional arguments are accepted. Default false. */
  readonly positionals?: boolean;
}

/** Bad flags or configuration: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure whose message is the whole story for the operator (no stack): exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface ParsedCommand {
  readonly values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  readonly positionals: string[];
  readonly help: boolean;
}

/** Parse `argv` against the spec; throws UsageError (unknown flag, missing value...). */
export function parseCommand(spec: CommandSpec, argv: string[]): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, flag] of Object.entries(spec.flags)) {
    options[name] = { type: flag.type, ...(flag.multiple === true ? { multiple: true } : {}), ...(flag.short === undefined ? {} : { short: flag.short }) };
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    const help = values['help'] === true;
    if (!help && spec.positionals !== true && positionals.length > 0) {
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    }
    return { values, positionals, help };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // parseArgs' messages name the flag ("Unknown option '--nmae'. To specify a positional
    // argument..."): the first sentence is the useful part.
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument[\s\S]*$/, ''));
  }
}

export function formatHelp(spec: CommandSpec): string {
  const rows: Array<[string, string]> = [];
  for (const [name, flag] of Object.entries(spec.flags)) {
    const short = flag.short === undefined ? '    ' : `-${flag.short}, `;
    const value = flag.type === 'string' ? ` ${flag.value ?? 'VALUE'}` : '';
    rows.push([`${short}--${name}${value}`, flag.description + (flag.multiple === true ? ' (repeatable)' : '')]);
  }
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = [`Usage: ${spec.usage}`, '', spec.description, '', 'Options:'];
  for (const [left, right] of rows) lines.push(`  ${left.padEnd(width)}${right}`);
  if (spec.footer !== undefined) lines.push('', spec.footer);
  return `${lines.join('\n')}\n`;
}

/**
 * "host:port" (IPv6 host in brackets) → parts. `port 0` (ephemeral) only with `allowZero`.
 * A bare port means 127.0.0.1: the safe default for anything that listens.
 */
export function parseHostPort(text: string, flag: string, options: { allowZero?: boolean } = {}): { host: string; port: number } {
  const fail = (why: string): never => {
    throw new UsageError(`${flag} ${JSON.stringify(text)}: ${why}; expected HOST:PORT, e.g. 127.0.0.1:4370 (IPv6 as [::1]:4370)`);
  };
  let host = '127.0.0.1';
  let portText = text;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1 || text[close + 1] !== ':') fail('an IPv6 host in brackets must be followed by ":port"');
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else if (text.includes(':')) {
    const colon = text.lastIndexOf(':');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) fail('write an IPv6 host in brackets');
  }
  if (host === '') fail('the host is empty');
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  const min = options.allowZero === true ? 0 : 1;
  if (!(port >= min && port <= 65535)) fail(`the port ${JSON.stringify(portText)} is not an integer from ${min} to 65535`);
  return { host, port };
}

/** Human-facing messages go to stderr, so stdout stays a clean stream of JSON log records. */
export function note(text: string): void {
  process.stderr.write(`rollcall: ${text}\n`);
}
