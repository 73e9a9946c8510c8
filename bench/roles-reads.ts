/**
 * Roles read throughput: `node --import tsx bench/roles-reads.ts [nodes] [iterations]`.
 *
 * N nodes (default 20) in this process on the in-memory network (virtual time, so no timer runs
 * while measuring), each with 5 roles in the default scope: 'web' (every node), a string of its
 * own, a number, an object {shard: i % 4} and a tuple-like array. Once every node sees every
 * role, one node's reads are timed in tight loops (the result of each call is kept alive). Prints
 * ops/s and ns/op per read.
 */
import { Roles, SimNetwork, VirtualClock, memory, seededRandom, startNode, type Node } from '../src/index.js';
import { silentLogger } from '../src/internal.js';

const NODES = Number(process.argv[2] ?? 20);
const ITERATIONS = Number(process.argv[3] ?? 1_000_000);

const clock = new VirtualClock();
const random = seededRandom(1);
const network = new SimNetwork({ clock, random, latencyMs: { min: 1, max: 2 } });
const nodes: Node[] = [];
const roles: Roles[] = [];
for (let i = 0; i < NODES; i++) {
  const node = await startNode({ name: `n${i}`, transport: memory(network), clock, random, logger: silentLogger(), ...(i === 0 ? {} : { seeds: ['n0'] }) });
  nodes.push(node);
  roles.push(await Roles.start(node, { roles: ['web', `own-${i}`, i, { shard: i % 4 }, ['zone', i % 3]] }));
}
const reader = roles[0]!;
for (let t = 0; reader.allNodes().length < NODES || reader.getNodes('web').length < NODES; t++) {
  if (t > 60_000) throw new Error('did not converge');
  await clock.advance(5);
}

let sink = 0;
function time(label: string, fn: (i: number) => unknown[] | boolean): void {
  for (let i = 0; i < 100_000; i++) fn(i); // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) {
    const out = fn(i);
    sink += out === true ? 1 : Array.isArray(out) ? out.length : 0;
  }
  const ns = Number(process.hrtime.bigint() - started) / ITERATIONS;
  console.log(`${label.padEnd(46)} ${Math.round(1e9 / ns).toLocaleString('en-US').padStart(12)} ops/s  ${ns.toFixed(0).padStart(5)} ns/op`);
}

const names = nodes.map((n) => n.name);
const shards = [{ shard: 0 }, { shard: 1 }, { shard: 2 }, { shard: 3 }];
console.log(`Roles reads on node n0, ${NODES} nodes x 5 roles, ${ITERATIONS.toLocaleString('en-US')} calls each (node ${process.version})`);
time(`getNodes('web')  -> ${NODES} nodes`, () => reader.getNodes('web'));
time(`getNodes('own-i') -> 1 node`, (i) => reader.getNodes(`own-${i % NODES}`));
time(`getNodes({shard}) -> ${NODES / 4} nodes (object role)`, (i) => reader.getNodes(shards[i & 3]));
time('getRoles(node) -> 5 roles', (i) => reader.getRoles(names[i % NODES]!));
time(`allNodes() -> ${NODES} nodes`, () => reader.allNodes());
time('hasRole(node, "web")', (i) => reader.hasRole(names[i % NODES]!, 'web'));
time('getMyRoles() -> 5 roles', () => reader.getMyRoles());
if (sink === 0) console.log('(nothing read)');

for (const r of roles) await r.stop();
await Promise.all(nodes.map((n) => n.stop()));
await clock.advance(1000);
