/**
 * Topics and join counts of memberships (seed 001, pg/pg2): how a re-join merges topics, which
 * members a publish reaches, how count-mode listings repeat a member once per join, and how the
 * two optional trailing fields of a membership are checked when they arrive from the wire.
 * Pure functions; the rows store what these return (tables.ts), Group decides when to call them.
 */
import { InvalidArgumentError } from '../errors.js';
import type { MemberRow, Row } from './tables.js';

/** A frozen, sorted, duplicate-free, non-empty topic list; undefined means every message. */
export type Topics = readonly string[] | undefined;

/** Validate a `topics` option: an array of non-empty strings. [] means every message. */
export function topicsOption(topics: unknown, what: string): Topics {
  if (!Array.isArray(topics)) throw new InvalidArgumentError(`${what}: topics must be an array of strings ([] = every message), got ${typeof topics}`);
  for (const topic of topics as unknown[]) {
    if (typeof topic !== 'string' || topic === '') throw new InvalidArgumentError(`${what}: every topic must be a non-empty string, got ${JSON.stringify(topic) ?? typeof topic}`);
  }
  return canonicalTopics(topics as string[]);
}

/** Sorted, distinct and frozen; undefined for an empty list (every message). */
function canonicalTopics(topics: readonly string[]): Topics {
  if (topics.length === 0) return undefined;
  const sorted = [...new Set(topics)].sort();
  return Object.freeze(sorted);
}

/**
 * The topics of a (re-)join that gives a `topics` option (without one, a first join gets every
 * message and a re-join keeps its topics, so a meta update does not widen them). No membership
 * yet: what was asked. A re-join merges: [] means every message, and a membership that gets every message keeps getting it (the union
 * with "everything" is everything); otherwise the union. Returns `current` itself when nothing
 * changes, so callers compare by identity.
 */
export function mergedTopics(isMember: boolean, current: Topics, asked: Topics): Topics {
  if (!isMember) return asked;
  if (current === undefined || asked === undefined) return undefined;
  let added = false;
  for (const topic of asked) {
    if (!includesTopic(current, topic)) {
      added = true;
      break;
    }
  }
  return added ? canonicalTopics([...current, ...asked]) : current;
}

/** Whether `topics` (sorted) includes `topic`: binary search. */
function includesTopic(topics: readonly string[], topic: string): boolean {
  let low = 0;
  let high = topics.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const t = topics[mid]!;
    if (t < topic) low = mid + 1;
    else if (t > topic) high = mid - 1;
    else return true;
  }
  return false;
}

/** Whether a publish on `topic` (undefined: every member) reaches this membership. */
export function receives(row: MemberRow, topic: string | undefined): boolean {
  if (topic === undefined) return true;
  const topics = row.topics;
  return topics === undefined || includesTopic(topics, topic);
}

/** Count mode listing: each row repeated once per join (pg's get_members), at most `limit` entries. */
export function perJoin(rows: readonly Row[], limit: number): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < rows.length && out.length < limit; i++) {
    const row = rows[i]!;
    const n = row.kind === 'member' ? row.count : 1;
    for (let j = 0; j < n && out.length < limit; j++) out.push(row);
  }
  return out;
}

/** Joins of these memberships (each row's count). */
export function joinsOf(rows: readonly MemberRow[]): number {
  let n = 0;
  for (let i = 0; i < rows.length; i++) n += rows[i]!.count;
  return n;
}

/**
 * The optional trailing fields of a membership on the wire ([..., topics, count]): absent or nil
 * topics = every message, absent or nil count = 1. Undefined when malformed (the op is dropped).
 */
export function wireExtension(topics: unknown, count: unknown): { topics: Topics; count: number } | undefined {
  let checked: Topics;
  if (topics !== undefined && topics !== null) {
    if (!Array.isArray(topics) || !(topics as unknown[]).every((t) => typeof t === 'string' && t !== '')) return undefined;
    // Canonical again: a peer's list is not trusted to be sorted and distinct.
    checked = canonicalTopics(topics as string[]);
  }
  if (count === undefined || count === null) return { topics: checked, count: 1 };
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) return undefined;
  return { topics: checked, count };
}

/** The trailing wire fields of a membership, or none when both are defaults (plain joins cost no byte). */
export function wireTail(topics: Topics, count: number): unknown[] | undefined {
  if (count !== 1) return [topics ?? null, count];
  return topics === undefined ? undefined : [topics];
}
