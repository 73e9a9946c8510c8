import { pino } from 'pino';

/**
 * The logger interface every layer uses: a subset of pino's, so a pino logger (or anything with
 * the same methods) can be passed in. Log records carry a stable `event` key.
 */
export interface Logger {
  level: string;
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The default logger: pino to stdout at `warn`, named after the node. */
export function defaultLogger(nodeName: string, level: LogLevel = 'warn'): Logger {
  return pino({ name: 'rollcall', level, base: { node: nodeName } }) as unknown as Logger;
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' }) as unknown as Logger;
}
