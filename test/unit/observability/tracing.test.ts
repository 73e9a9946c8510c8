/**
 * OpenTelemetry spans of Group operations (Group option `tracing`: 'auto' by default), recorded by an
 * in-memory exporter behind a BasicTracerProvider registered as the global provider; and no
 * spans, no errors, without an SDK or without the option.
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Group, InvalidArgumentError, withSpan } from '../../../src/internal.js';
import { createSim, idle, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
let exporter: InMemorySpanExporter;

beforeEach(() => {
  exporter = new InMemorySpanExporter();
  trace.disable();
});
afterEach(async () => {
  trace.disable();
  await sim?.teardown();
  sim = undefined;
});

function registerSdk(): void {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
}

async function twoNodes(tracing: boolean | 'auto') {
  sim = createSim(21);
  const [a, b] = await sim.cluster('a', 'b');
  const ga = await Group.start(a, { name: 'app', log: false, tracing });
  const gb = await Group.start(b, { name: 'app', log: false, tracing: false });
  await sim.until(() => ga.nodes().length === 1 && gb.nodes().length === 1, 'group handshakes');
  return { s: sim, a, b, ga, gb };
}

describe('tracing', () => {
  it('records register, join and dispatch spans with group, key, cluster and node', async () => {
    registerSdk();
    const { s, a, b, ga, gb } = await twoNodes(true);
    ga.connect('blue');
    gb.connect('blue');
    await s.run(20);
    const p = idle(a);
    expect(ga.register('k', { v: 1 }, { pid: p })).toBe('ok');
    expect(ga.register('k', {}, { pid: idle(a) })).toBe('taken');
    expect(ga.join('g', {}, { pid: p, cluster: 'blue' })).toBe('ok');
    gb.join('g', {}, { pid: idle(b), cluster: 'blue' });
    await s.until(() => ga.memberCount('g', { cluster: 'blue' }) === 2, 'replicated');
    ga.dispatch('g', 'hi', { cluster: 'blue' });

    const spans = exporter.getFinishedSpans();
    expect(spans.map((x) => x.name)).toEqual(['rollcall.register', 'rollcall.register', 'rollcall.join', 'rollcall.dispatch']);
    expect(spans.every((x) => x.instrumentationScope.name === 'rollcall')).toBe(true);
    expect(spans[0]!.attributes).toEqual({ 'rollcall.group': 'app', 'rollcall.key': 'k', 'rollcall.cluster': '', 'rollcall.node': 'a', 'rollcall.result': 'ok' });
    expect(spans[1]!.attributes['rollcall.result']).toBe('taken');
    expect(spans[2]!.attributes).toMatchObject({ 'rollcall.key': 'g', 'rollcall.cluster': 'blue', 'rollcall.result': 'ok' });
    expect(spans[3]!.attributes).toMatchObject({ 'rollcall.key': 'g', 'rollcall.cluster': 'blue', 'rollcall.fanout': 2 });
    // b's Group was started with tracing: false: nothing from it, though an SDK is registered.
    expect(spans.some((x) => x.attributes['rollcall.node'] === 'b')).toBe(false);
  });

  it('records publish (with its fan-out), registerLocked and multiCall spans; the async ones end when they settle', async () => {
    registerSdk();
    const { s, a, b, ga, gb } = await twoNodes(true);
    ga.join('news', {}, { pid: idle(a), topics: ['sport'] });
    gb.join('news', {}, { pid: idle(b) });
    gb.join('news', {}, { pid: idle(b), topics: ['weather'] });
    await s.until(() => ga.memberCount('news') === 3, 'replicated');
    expect(ga.publish('news', 'goal', { topic: 'sport' })).toHaveLength(2);
    expect(await s.resolve(ga.registerLocked('lock/1', {}, { pid: idle(a) }), 'registerLocked')).toBe('ok');
    const result = await s.resolve(ga.multiCall('nobody', 'ping', { timeoutMs: 100 }), 'multiCall');
    expect(result).toEqual({ replies: [], bad: [] });
    const spans = exporter.getFinishedSpans().filter((x) => x.name !== 'rollcall.join');
    // registerLocked registers once it holds the lock: its register span ends first.
    expect(spans.map((x) => x.name)).toEqual(['rollcall.publish', 'rollcall.register', 'rollcall.registerLocked', 'rollcall.multiCall']);
    expect(spans[0]!.attributes).toMatchObject({ 'rollcall.key': 'news', 'rollcall.fanout': 2 });
    expect(spans[1]!.attributes).toMatchObject({ 'rollcall.key': 'lock/1', 'rollcall.result': 'ok' });
    expect(spans[2]!.attributes).toMatchObject({ 'rollcall.key': 'lock/1', 'rollcall.node': 'a' });
    expect(spans[3]!.attributes).toMatchObject({ 'rollcall.key': 'nobody' });
    const stats = ga.stats();
    expect(stats.ops.publish).toBe(1);
  });

  it('marks the span of a failed operation as an error and still throws', async () => {
    registerSdk();
    const { a, ga } = await twoNodes(true);
    expect(() => ga.register('bad/', {}, { pid: idle(a) })).toThrow(InvalidArgumentError);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe('rollcall.register');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('withSpan ends the span of a promise when it settles', async () => {
    registerSdk();
    await expect(withSpan('rollcall.multiCall', { 'rollcall.group': 'app' }, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await withSpan('rollcall.multiCall', {}, () => Promise.resolve(42))).toBe(42);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((x) => [x.name, x.status.code])).toEqual([
      ['rollcall.multiCall', SpanStatusCode.ERROR],
      ['rollcall.multiCall', SpanStatusCode.UNSET],
    ]);
  });

  it("'auto' (the default) traces a Group started after an SDK was registered, and only then", async () => {
    const { a, ga } = await twoNodes('auto');
    ga.register('k', {}, { pid: idle(a) });
    registerSdk();
    ga.register('k2', {}, { pid: idle(a) });
    // Started without an SDK: not wrapped, so nothing even after one appears.
    expect(exporter.getFinishedSpans()).toEqual([]);
    await sim!.teardown();
    const started = await twoNodes('auto');
    started.ga.register('k', {}, { pid: idle(started.a) });
    expect(exporter.getFinishedSpans().map((x) => x.name)).toEqual(['rollcall.register']);
    // The default is 'auto'.
    expect(started.ga.options.tracing).toBe('auto');
  });

  it('records nothing for a Group with tracing: false, SDK or not', async () => {
    registerSdk();
    const { a, ga } = await twoNodes(false);
    ga.register('k', {}, { pid: idle(a) });
    ga.join('g', {}, { pid: idle(a) });
    ga.dispatch('g', 'hi');
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('without an SDK, a traced Group works and nothing is recorded', async () => {
    const { s, a, ga, gb } = await twoNodes(true);
    const p = idle(a);
    expect(ga.register('k', {}, { pid: p })).toBe('ok');
    expect(ga.join('g', {}, { pid: p })).toBe('ok');
    ga.dispatch('g', 'hi');
    await s.until(() => gb.lookup('k') !== null && gb.memberCount('g') === 1, 'replicated');
    expect(exporter.getFinishedSpans()).toEqual([]);
    // Registered now, the SDK sees the next operations: the tracer is looked up per span.
    registerSdk();
    ga.leave('g', { pid: p });
    ga.join('g', {}, { pid: p });
    expect(exporter.getFinishedSpans().map((x) => x.name)).toEqual(['rollcall.join']);
  });
});
