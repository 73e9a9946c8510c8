import { InvalidArgumentError } from '../errors.js';
import type { Timer } from '../time/clock.js';
import type { Candidate, Discovery, DiscoveryDeps } from './types.js';

/**
 * Static seeds: a fixed list of peers, emitted at start and again every `refreshMs`.
 *
 * Seed forms (surrounding whitespace is ignored):
 * - `"name@host:port"`     a TCP peer with a known node name: `"worker-1@10.0.0.5:4370"`;
 * - `"host:port"`          a TCP peer whose name the handshake will tell: `"10.0.0.5:4370"`;
 * - `"name@[v6]:port"`     an IPv6 host goes in brackets: `"worker-1@[::1]:4370"`;
 * - `"name"` / `"name@name"` a node on the in-memory network, where the address *is* the name.
 *
 * The rule that tells them apart: a seed whose address part has no `':'` is a memory-network
 * address, so it must be a valid node name, and when written `name@address` both halves must be
 * the same name. (`"worker-1@10.0.0.5"` is therefore rejected: it is a TCP seed missing its port.)
 * To catch that mistake without a name too, a portless `"localhost"` or dotted-quad IPv4 address
 * is rejected rather than read as a node name.
 * IPv6 addresses are emitted bracketed (`"[::1]:4370"`), so `"host:port"` always splits at the
 * last `':'`.
 */

const NODE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;
// Loose on purpose: the dialer reports unreachable hosts; this only catches obvious typos.
const IPV6_LITERAL = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?$/;
// Valid node names, but far likelier a TCP seed whose port was forgotten.
const LOOKS_LIKE_TCP_HOST = /^(localhost|\d{1,3}(\.\d{1,3}){3})$/;
const HOST_FORBIDDEN = /[\s@/[\]]/;
const SEED_FORMS = 'expected "name@host:port" (e.g. "worker-1@10.0.0.5:4370"), "host:port", ' +
  '"name@[ipv6]:port", or a bare node name on the memory network';
const DEFAULT_REFRESH_MS = 5000;

export function isValidNodeName(name: unknown): name is string {
  return typeof name === 'string' && NODE_NAME.test(name);
}

/** Throws InvalidArgumentError unless `name` is 1..255 letters, digits, `_`, `-` or `.`. */
export function validateNodeName(name: unknown): asserts name is string {
  if (isValidNodeName(name)) return;
  throw new InvalidArgumentError(`invalid node name ${quote(name)}: ${nodeNameProblem(name)}`);
}

function nodeNameProblem(name: unknown): string {
  const rule = 'use 1 to 255 letters, digits, "_", "-" or "." (e.g. "worker-1")';
  if (typeof name !== 'string') return `it must be a string; ${rule}`;
  if (name.length === 0) return `it is empty; ${rule}`;
  if (name.length > 255) return `it is ${name.length} characters long; ${rule}`;
  const bad = /[^A-Za-z0-9_.-]/.exec(name)?.[0] ?? '';
  return `it contains ${JSON.stringify(bad)}; ${rule}`;
}

/** `"host:port"`, with an IPv6 host in brackets so the port stays unambiguous. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parse one seed (forms in the module comment). Throws InvalidArgumentError on bad input. */
export function parseSeed(text: string): Candidate {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError(`invalid seed ${quote(text)}: it must be a string; ${SEED_FORMS}`);
  }
  const seed = text.trim();
  function fail(problem: string): never {
    throw new InvalidArgumentError(`invalid seed ${quote(text)}: ${problem}; ${SEED_FORMS}`);
  }
  if (seed.length === 0) fail('it is empty');

  const at = seed.indexOf('@');
  const name = at === -1 ? undefined : seed.slice(0, at);
  const address = at === -1 ? seed : seed.slice(at + 1);
  if (name !== undefined && !isValidNodeName(name)) fail(`node name ${quote(name)}: ${nodeNameProblem(name)}`);
  if (address.length === 0) fail('the address after "@" is empty');

  if (!address.includes(':')) {
    // Memory network: the address is the node name itself.
    if (LOOKS_LIKE_TCP_HOST.test(address)) {
      fail(`the host ${quote(address)} has no port: add ":port", e.g. "${address}:4370"`);
    }
    if (!isValidNodeName(address)) {
      fail(`${quote(address)} has no ":port", so it is read as a memory-network node name, ` +
        `but ${nodeNameProblem(address)}`);
    }
    if (name !== undefined && name !== address) {
      fail(`${quote(address)} has no ":port"; a TCP seed needs one, and a memory-network seed ` +
        `is "name" or "name@name" with both halves equal`);
    }
    return { address, name: address };
  }

  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close === -1) fail('the IPv6 host has no closing "]"');
    host = address.slice(1, close);
    if (address[close + 1] !== ':') fail('the IPv6 host in brackets must be followed by ":port"');
    portText = address.slice(close + 2);
    if (!IPV6_LITERAL.test(host)) fail(`${quote(host)} in brackets is not an IPv6 address`);
  } else {
    const colon = address.lastIndexOf(':');
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(':')) fail('an IPv6 host must be written in brackets, as "[::1]:4370"');
  }
  if (host.length === 0) fail('the host is empty');
  if (HOST_FORBIDDEN.test(host)) fail(`the host ${quote(host)} contains a space, "@", "/" or a bracket`);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) fail(`the port ${quote(portText)} is not an integer from 1 to 65535`);

  const candidate: Candidate = { address: formatHostPort(host, port) };
  if (name !== undefined) candidate.name = name;
  return candidate;
}

export interface SeedsOptions {
  /** Re-emit every seed this often, so a restarted seed is found again. Default 5000 ms. */
  refreshMs?: number;
}

/**
 * Discovery from a fixed list of seeds. Every seed is parsed here, so bad input throws when the
 * node is configured rather than later in a timer. An empty list is valid (the first node of a
 * cluster) and emits nothing. The first emit happens in a microtask after `start` returns, so
 * the node can finish its own start-up before dialling.
 *
 * ```ts
 * startNode({ name: 'a', discovery: seeds(['b@10.0.0.6:4370', 'c@10.0.0.7:4370']) })
 * ```
 */
export function seeds(list: readonly string[], options: SeedsOptions = {}): Discovery {
  if (!Array.isArray(list)) {
    throw new InvalidArgumentError(`seeds(list) needs an array of strings, got ${quote(list)}; ${SEED_FORMS}`);
  }
  const refreshMs = validateRefreshMs(options.refreshMs, 'seeds');
  const candidates = dedupeSeeds(list.map(parseSeed));
  return new SeedsDiscovery(candidates, refreshMs);
}

class SeedsDiscovery implements Discovery {
  readonly kind = 'seeds';
  #timer: Timer | undefined;
  #running = false;
  // Bumped by stop(): the start microtask of a stopped run must not emit, even after a restart.
  #runId = 0;

  constructor(
    readonly candidates: readonly Candidate[],
    readonly refreshMs: number,
  ) {}

  start(deps: DiscoveryDeps, emit: (candidates: Candidate[]) => void): void {
    if (this.#running) return;
    this.#running = true;
    if (this.candidates.length === 0) return;
    const logger = deps.logger;
    const runId = this.#runId;
    const emitNow = (): void => {
      if (!this.#running || runId !== this.#runId) return;
      try {
        // A copy: the node may keep or sort the array it is given.
        emit(this.candidates.slice());
      } catch (err) {
        logger.error({ event: 'discovery_emit_failed', kind: this.kind, err }, 'discovery callback threw');
      }
    };
    queueMicrotask(emitNow);
    this.#timer = deps.clock.setInterval(emitNow, this.refreshMs);
  }

  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#runId++;
    this.#timer?.cancel();
    this.#timer = undefined;
  }
}

// The same address twice is harmless; the same address under two names is a typo worth reporting.
function dedupeSeeds(parsed: Candidate[]): Candidate[] {
  const byAddress = new Map<string, Candidate>();
  for (const candidate of parsed) {
    const seen = byAddress.get(candidate.address);
    if (seen === undefined) {
      byAddress.set(candidate.address, candidate);
    } else if (seen.name === undefined) {
      byAddress.set(candidate.address, candidate);
    } else if (candidate.name !== undefined && candidate.name !== seen.name) {
      throw new InvalidArgumentError(`seeds list ${candidate.address} twice, as ${quote(seen.name)} ` +
        `and as ${quote(candidate.name)}: one address is one node; keep the right name`);
    }
  }
  return [...byAddress.values()];
}

/** Shared by the strategies that poll: a positive, finite number of milliseconds. */
export function validateRefreshMs(value: unknown, strategy: string): number {
  if (value === undefined) return DEFAULT_REFRESH_MS;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`${strategy}({ refreshMs }) must be a positive number of ` +
      `milliseconds (default ${DEFAULT_REFRESH_MS}), got ${quote(value)}`);
  }
  return value;
}

function quote(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
