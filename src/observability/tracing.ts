import { ProxyTracerProvider, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { GroupStatsSource } from './stats.js';

/** A Group, as far as tracing goes (observability sits below group/: it does not import it). */
type Group = GroupStatsSource;

/**
 * Whether the app has registered an OpenTelemetry SDK: the global provider's delegate is not the
 * API's no-op provider (which is what a fresh proxy delegates to).
 */
export function sdkRegistered(): boolean {
  const provider = trace.getTracerProvider();
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return delegate !== new ProxyTracerProvider().getDelegate();
}

/** The tracer name of every Rollcall span. */
export const TRACER_NAME = 'rollcall';

/**
 * Run `fn` inside a span `name` (made current, so spans the app starts inside `fn` are its
 * children). Without an OpenTelemetry SDK registered, the API's no-op tracer makes this cost a
 * few allocations and record nothing. A thrown error or a rejected promise marks the span failed.
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => T): T {
  // Not cached: a cached tracer keeps the provider it first found, and apps (tests) may replace it.
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, (span) => {
    let result: T;
    try {
      result = fn(span);
    } catch (error) {
      fail(span, error);
      span.end();
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          fail(span, error);
          span.end();
          throw error;
        },
      ) as T;
    }
    span.end();
    return result;
  });
}

function fail(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The attributes of a span of a Group operation on `key`. The default cluster is "". */
export function groupSpanAttributes(group: Group, key: unknown, cluster: unknown): Attributes {
  return {
    'rollcall.group': group.name,
    'rollcall.key': typeof key === 'string' ? key : String(key),
    'rollcall.cluster': typeof cluster === 'string' ? cluster : '',
    'rollcall.node': group.node.name,
  };
}

/**
 * Group methods traced with `tracing: true`: each takes (key, value, options) with the cluster in
 * options. The async ones (registerLocked, multiCall) end their span when their promise settles.
 */
const TRACED = ['register', 'registerLocked', 'join', 'dispatch', 'publish', 'multiCall'] as const;

type Method = (key: unknown, value: unknown, options?: { cluster?: unknown }) => unknown;

/**
 * Trace a Group's operations (Group option `tracing: true`): spans `rollcall.register`,
 * `rollcall.registerLocked`, `rollcall.join`, `rollcall.dispatch`, `rollcall.publish` and
 * `rollcall.multiCall` with the attributes of
 * `groupSpanAttributes`, the answer (`rollcall.result`) and, for sends, the recipients
 * (`rollcall.fanout`). The instance gets wrapping methods of its own, so an untraced Group runs
 * the class's methods with no check at all (measured: the no-op API costs the register path
 * 10-20%, see docs/operations.md "Tracing").
 */
export function traceGroup(group: Group): void {
  const methods = group as unknown as Record<string, Method | undefined>;
  for (const name of TRACED) {
    const original = methods[name];
    if (typeof original !== 'function') continue;
    const sends = name === 'dispatch' || name === 'publish';
    methods[name] = function traced(this: unknown, key, value, options) {
      return withSpan(`rollcall.${name}`, groupSpanAttributes(group, key, options?.cluster), (span) => {
        const before = group.counters.recipients;
        const result = original.call(group, key, value, options);
        if (sends) span.setAttribute('rollcall.fanout', group.counters.recipients - before);
        else if (typeof result === 'string') span.setAttribute('rollcall.result', result);
        return result;
      });
    };
  }
}
