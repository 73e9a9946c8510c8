import type { Logger } from '../../src/index.js';

export interface LogRecord {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A Logger that keeps every record (all levels), so tests can wait for and check log events. */
export function capturingLogger(records: LogRecord[], bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: LogRecord['level']) =>
    (obj: object, msg?: string): void => {
      records.push({ ...bindings, ...obj, level, msg: msg ?? '' });
    };
  return {
    level: 'debug',
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: (more) => capturingLogger(records, { ...bindings, ...more }),
  };
}

/** The records of one event. */
export function eventsNamed(records: readonly LogRecord[], event: string): LogRecord[] {
  return records.filter((r) => r['event'] === event);
}
