import { InvalidArgumentError } from '../errors.js';

/**
 * Roles are compared by value, and Group keys are strings: a role's key is a canonical text of its
 * value, the same on every node for values that are equal (object keys sorted, one spelling per
 * number). The grammar is JSON's plus `123n` for bigints, and a role that is a string is written
 * `'text` (unescaped), so two different values never share a key: a string is always quoted or
 * apostrophed, a number never is.
 *
 * Accepted values are the ones that round-trip the wire codec unchanged and whose equality is
 * plain: strings, finite numbers, booleans, null, bigints, arrays and plain objects of those.
 * Anything else (undefined, functions, symbols, Dates, Maps, Sets, class instances, NaN,
 * Infinity, cycles) is refused, naming where in the value the problem is.
 */

/** Role keys longer than this are refused: a role is a tag, not a document. */
export const MAX_ROLE_KEY_LENGTH = 4096;
/** Nesting deeper than this is refused (and keeps the encoder's recursion bounded). */
export const MAX_ROLE_DEPTH = 32;

/** The canonical key of a role value; throws InvalidArgumentError for a value that cannot be a role. */
export function roleKey(role: unknown, what: string): string {
  let key: string;
  // The common role, a string, skips escaping: an apostrophe starts no other form.
  if (typeof role === 'string') key = `'${wellFormed(role, '', what)}`;
  else key = write(role, '', 0, what);
  if (key.length > MAX_ROLE_KEY_LENGTH) throw tooLong(what, key.length);
  return key;
}

/** ES2024's String.prototype.isWellFormed (in Node 20), not in the ES2022 lib the project compiles against. */
interface WellFormed {
  isWellFormed(): boolean;
}

/** A lone surrogate would arrive as U+FFFD (UTF-8 on the wire): a different role on every other node. */
function wellFormed(text: string, path: string, what: string): string {
  if (!(text as unknown as WellFormed).isWellFormed()) throw refused(what, path, 'a string with a lone surrogate (not valid UTF-16)');
  return text;
}

function write(value: unknown, path: string, depth: number, what: string): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(wellFormed(value, path, what));
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw refused(what, path, `${String(value)} (numbers must be finite)`);
      // -0 travels as 0 on the wire, so it is the same role as 0.
      return Object.is(value, -0) ? '0' : String(value);
    case 'bigint':
      return `${value.toString()}n`;
    case 'object':
      break;
    case 'undefined':
      throw refused(what, path, 'undefined');
    default:
      throw refused(what, path, `a ${typeof value}`);
  }
  if (value === null) return 'null';
  // The depth bound also catches cycles, without a set of visited objects on every call.
  if (depth >= MAX_ROLE_DEPTH) throw refused(what, path, `a value nested deeper than ${MAX_ROLE_DEPTH} levels (or a cycle)`);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      // A hole reads as undefined: refused like an explicit undefined.
      out += write(value[i], `${path}[${i}]`, depth + 1, what);
    }
    return out + ']';
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    throw refused(what, path, `a ${name} (only plain objects and arrays; turn it into one, e.g. a Date into its ISO string)`);
  }
  const keys = Object.keys(value);
  if (keys.length > 1) keys.sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    // The wire codec renames this key (a prototype-pollution guard): it would not arrive as sent.
    if (k === '__proto__') throw refused(what, path, 'an object with a key named "__proto__"');
    if (i > 0) out += ',';
    out += JSON.stringify(k) + ':' + write((value as Record<string, unknown>)[k], `${path}.${k}`, depth + 1, what);
  }
  return out + '}';
}

function refused(what: string, path: string, got: string): InvalidArgumentError {
  const where = path === '' ? 'the role' : `role${path}`;
  return new InvalidArgumentError(
    `${what}: ${where} is ${got}; a role is a string, finite number, boolean, null, bigint, or an array/plain object of those`,
  );
}

function tooLong(what: string, length: number): InvalidArgumentError {
  return new InvalidArgumentError(`${what}: the role's canonical form is ${length} characters, more than ${MAX_ROLE_KEY_LENGTH}; use a shorter tag`);
}
