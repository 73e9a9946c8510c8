/**
 * L2 register (bench-spec.md): 100,000 processes, each registers one distinct key
 * ("user/i", meta {name: "ui", n: i}). Metric: registrations/s, wall time from the first call
 * until all returned; seq and conc as in support/group-writes.ts. One forked node process.
 */
import { writeRoles, writeWorkload } from '../support/group-writes.js';

export default writeWorkload(
  'register',
  {
    id: 'L2',
    title: 'register: 100,000 processes each register one key, seq and conc (single node)',
    params: { processes: 100_000, perGroup: 1, timeoutMs: 120_000 },
    unit: 'regs/s',
  },
  import.meta.url,
);

export const roles = writeRoles('register');
