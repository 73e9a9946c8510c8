/**
 * An A/B measurement of the register (L2 seq) and join (L3 seq) loops that holds up on a busy
 * machine: the variants run in one process, interleaved round by round, and each round reports the
 * CPU time of the loop (process.cpuUsage) as well as its wall time. Other processes competing for
 * the cores stretch wall time, much less the CPU time the loop itself uses.
 *
 *   node --import tsx bench/support/ab-writes.ts [--rounds 7] [--n 100000] [--base /path/to/other/checkout]
 *
 * Variants: `base` (the Group of another checkout, e.g. the commit before a change: `git archive
 * <commit> | tar -x -C /tmp/base`, with a node_modules link), `plain` (this checkout), `traced`
 * (this checkout, `tracing: true`, no OpenTelemetry SDK registered).
 */
import { parseArgs } from 'node:util';
import * as here from '../../src/internal.js';

interface Api {
  startNode: typeof here.startNode;
  Group: typeof here.Group;
  silentLogger: typeof here.silentLogger;
}

interface Variant {
  readonly name: string;
  readonly api: Api;
  readonly tracing: boolean;
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, n: { type: 'string', default: '100000' }, base: { type: 'string' } } });
const rounds = Number(values.rounds);
const n = Number(values.n);

const variants: Variant[] = [];
if (values.base !== undefined) variants.push({ name: 'base', api: (await import(`${values.base}/src/internal.ts`)) as Api, tracing: false });
variants.push({ name: 'plain', api: here, tracing: false }, { name: 'traced', api: here, tracing: true });

const keys = Array.from({ length: n }, (_, i) => `user/${i}`);
const groupKeys = Array.from({ length: n }, (_, i) => `group/${Math.floor(i / 100)}`);
const metas = Array.from({ length: n }, (_, i) => ({ name: 'ui', n: i }));

const setups = await Promise.all(
  variants.map(async (variant, i) => {
    const node = await variant.api.startNode({ name: `ab${i}`, cookie: 'ab', logger: variant.api.silentLogger(), implicitSelf: false });
    const pids = Array.from({ length: n }, () => node.spawn(async (ctx) => void (await ctx.receive())));
    return { variant, node, pids };
  }),
);

type Kind = 'register' | 'join';
const results = new Map<string, { cpu: number[]; wall: number[] }>();

async function measure(setup: (typeof setups)[number], kind: Kind): Promise<void> {
  const group = await setup.variant.api.Group.start(setup.node, { name: 'ab', log: false, ...(setup.variant.tracing ? { tracing: true } : {}) });
  const { pids } = setup;
  globalThis.gc?.();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  if (kind === 'register') for (let i = 0; i < n; i++) group.register(keys[i]!, metas[i], { pid: pids[i]! });
  else for (let i = 0; i < n; i++) group.join(groupKeys[i]!, metas[i], { pid: pids[i]! });
  const wall = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  await group.stop();
  const key = `${kind}/${setup.variant.name}`;
  if (!results.has(key)) results.set(key, { cpu: [], wall: [] });
  results.get(key)!.cpu.push((cpu.user + cpu.system) / 1000);
  results.get(key)!.wall.push(wall);
}

for (let round = 0; round <= rounds; round++) {
  // Round 0 warms every variant up (JIT) and is not kept.
  for (const kind of ['register', 'join'] as const) for (const setup of round % 2 === 0 ? setups : [...setups].reverse()) await measure(setup, kind);
  if (round === 0) results.clear();
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${rounds} rounds of ${n} ops, medians (ns/op by CPU time, ns/op by wall time)`);
for (const kind of ['register', 'join'] as const) {
  const ref = median(results.get(`${kind}/${variants[0]!.name}`)!.cpu);
  for (const v of variants) {
    const r = results.get(`${kind}/${v.name}`)!;
    const cpu = median(r.cpu);
    console.log(`${kind.padEnd(9)} ${v.name.padEnd(7)} cpu ${((cpu * 1e6) / n).toFixed(0).padStart(5)} ns/op  wall ${((median(r.wall) * 1e6) / n).toFixed(0).padStart(5)} ns/op  vs ${variants[0]!.name}: ${(((cpu - ref) / ref) * 100).toFixed(1)}%`);
  }
}
await Promise.all(setups.map((s) => s.node.stop()));
