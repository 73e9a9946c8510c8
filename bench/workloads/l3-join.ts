/**
 * L3 join (bench-spec.md): 1,000 groups x 100 members = 100,000 joins, one per process
 * ("group/g", meta {name: "ui", n: i}; process i joins group floor(i / 100)). Metric: joins/s,
 * seq and conc as in support/group-writes.ts. One forked node process.
 */
import { writeRoles, writeWorkload } from '../support/group-writes.js';

export default writeWorkload(
  'join',
  {
    id: 'L3',
    title: 'join: 1,000 groups x 100 members = 100,000 joins, seq and conc (single node)',
    params: { processes: 100_000, perGroup: 100, timeoutMs: 120_000 },
    unit: 'joins/s',
  },
  import.meta.url,
);

export const roles = writeRoles('join');
