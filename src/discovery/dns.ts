import * as nodeDns from 'node:dns/promises';
import { InvalidArgumentError, TimeoutError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Timer } from '../time/clock.js';
import { formatHostPort, validateRefreshMs } from './seeds.js';
import type { Candidate, Discovery, DiscoveryDeps } from './types.js';

export interface SrvRecord {
  /** The target host name (not resolved here: the TCP dialer resolves it). */
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** The slice of `node:dns/promises` this strategy uses; tests pass a stub. */
export interface DnsResolver {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveSrv(name: string): Promise<SrvRecord[]>;
}

export type DnsRecordType = 'A' | 'AAAA' | 'SRV';

export interface DnsOptions {
  /** The name to look up, e.g. a Kubernetes headless service `"rollcall.default.svc.cluster.local"`. */
  name: string;
  /** The port every node listens on: required for A/AAAA, refused for SRV (records carry it). */
  port?: number;
  /** Default 'A'. */
  type?: DnsRecordType;
  /** Look up again this often. Default 5000 ms. */
  refreshMs?: number;
  /** Default: `node:dns/promises`. */
  resolver?: DnsResolver;
}

const systemResolver: DnsResolver = {
  resolve4: (name) => nodeDns.resolve4(name),
  resolve6: (name) => nodeDns.resolve6(name),
  resolveSrv: (name) => nodeDns.resolveSrv(name),
};

const RESOLVER_METHOD = { A: 'resolve4', AAAA: 'resolve6', SRV: 'resolveSrv' } as const;

/**
 * Discovery through DNS, for Kubernetes headless services: one A (or AAAA) record per pod, or
 * SRV records giving each pod's host name and port. The name is looked up at start and every
 * `refreshMs`; each answer is emitted as a deduplicated list of `"host:port"` candidates
 * (IPv6 bracketed, SRV ordered by priority then weight). A failed lookup is logged at warn
 * (`event: 'dns_lookup_failed'`) and retried at the next refresh, never thrown; a lookup still
 * unanswered at the next refresh is given up on (logged the same way) and a fresh one started.
 *
 * ```ts
 * dns({ name: 'rollcall.default.svc.cluster.local', port: 4370 })
 * dns({ name: '_dist._tcp.rollcall.default.svc.cluster.local', type: 'SRV' })
 * ```
 */
export function dns(options: DnsOptions): Discovery {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('dns(options) needs an object: { name, port } for A/AAAA, or { name, type: "SRV" }');
  }
  const { name, port, type = 'A', resolver = systemResolver } = options;
  if (typeof name !== 'string' || name.trim().length === 0 || /\s/.test(name)) {
    throw new InvalidArgumentError(`dns({ name }) must be a DNS name without spaces, e.g. ` +
      `"rollcall.default.svc.cluster.local", got ${JSON.stringify(name)}`);
  }
  if (type !== 'A' && type !== 'AAAA' && type !== 'SRV') {
    throw new InvalidArgumentError(`dns({ type }) must be "A", "AAAA" or "SRV", got ${JSON.stringify(type)}`);
  }
  if (type === 'SRV') {
    if (port !== undefined) {
      throw new InvalidArgumentError('dns({ port }) is not used with type "SRV": each SRV record ' +
        'carries its own port; remove the port option');
    }
  } else if (!isPort(port)) {
    throw new InvalidArgumentError(`dns({ port }) is required for type "${type}" and must be an ` +
      `integer from 1 to 65535 (the port every node listens on), got ${JSON.stringify(port)}`);
  }
  const method = RESOLVER_METHOD[type];
  if (typeof resolver !== 'object' || resolver === null || typeof resolver[method] !== 'function') {
    throw new InvalidArgumentError(`dns({ resolver }) must have a ${method}(name) method ` +
      `(like node:dns/promises) for type "${type}"`);
  }
  const refreshMs = validateRefreshMs(options.refreshMs, 'dns');
  return new DnsDiscovery(name, type, port ?? 0, refreshMs, resolver);
}

class DnsDiscovery implements Discovery {
  readonly kind = 'dns';
  #running = false;
  #timer: Timer | undefined;
  #logger: Logger | undefined;
  #emit: ((candidates: Candidate[]) => void) | undefined;
  // Each lookup takes a number; only the latest one's answer counts. stop() bumps it too, so
  // a lookup that settles after stop (or after a restart) is dropped.
  #lookupSeq = 0;
  #inFlight = false;

  constructor(
    readonly name: string,
    readonly type: DnsRecordType,
    readonly port: number,
    readonly refreshMs: number,
    readonly resolver: DnsResolver,
  ) {}

  start(deps: DiscoveryDeps, emit: (candidates: Candidate[]) => void): void {
    if (this.#running) return;
    this.#running = true;
    this.#logger = deps.logger;
    this.#emit = emit;
    this.#lookup();
    this.#timer = deps.clock.setInterval(() => this.#refresh(), this.refreshMs);
  }

  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#lookupSeq++;
    this.#inFlight = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#emit = undefined;
  }

  #refresh(): void {
    if (this.#inFlight) {
      // Real resolvers time out on their own, but a hung one must not stop discovery for good.
      this.#lookupFailed(new TimeoutError(`DNS ${this.type} lookup of "${this.name}" got no ` +
        `answer within ${this.refreshMs} ms; starting a new one`));
    }
    this.#lookup();
  }

  #lookup(): void {
    const seq = ++this.#lookupSeq;
    this.#inFlight = true;
    void this.#query().then(
      (candidates) => {
        if (seq !== this.#lookupSeq) return;
        this.#inFlight = false;
        if (candidates.length > 0) this.#deliver(candidates);
      },
      (err: unknown) => {
        if (seq !== this.#lookupSeq) return;
        this.#inFlight = false;
        this.#lookupFailed(err);
      },
    );
  }

  async #query(): Promise<Candidate[]> {
    switch (this.type) {
      case 'A':
        return hostsToCandidates(await this.resolver.resolve4(this.name), this.port);
      case 'AAAA':
        return hostsToCandidates(await this.resolver.resolve6(this.name), this.port);
      case 'SRV':
        return srvToCandidates(await this.resolver.resolveSrv(this.name));
    }
  }

  #deliver(candidates: Candidate[]): void {
    try {
      this.#emit?.(candidates);
    } catch (err) {
      this.#logger?.error({ event: 'discovery_emit_failed', kind: this.kind, err }, 'discovery callback threw');
    }
  }

  #lookupFailed(err: unknown): void {
    this.#logger?.warn(
      { event: 'dns_lookup_failed', kind: this.kind, name: this.name, type: this.type, err },
      `DNS lookup failed; retrying in ${this.refreshMs} ms`,
    );
  }
}

function hostsToCandidates(addresses: unknown, port: number): Candidate[] {
  if (!Array.isArray(addresses)) throw new TypeError('DNS resolver answered with something other than an array');
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const host of addresses) {
    if (typeof host !== 'string' || host.length === 0) continue;
    const address = formatHostPort(host, port);
    if (seen.has(address)) continue;
    seen.add(address);
    out.push({ address });
  }
  return out;
}

function srvToCandidates(records: unknown): Candidate[] {
  if (!Array.isArray(records)) throw new TypeError('DNS resolver answered with something other than an array');
  // Lower priority first, then heavier weight: the order a client is meant to prefer.
  const usable = (records as SrvRecord[])
    .filter((r) => typeof r === 'object' && r !== null && typeof r.name === 'string' && isPort(r.port))
    .sort((a, b) => (a.priority - b.priority) || (b.weight - a.weight));
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const record of usable) {
    // RFC 2782: a target of "." means "no service here". Trailing dots are dropped for the dialer.
    const host = record.name.endsWith('.') ? record.name.slice(0, -1) : record.name;
    if (host.length === 0) continue;
    const address = formatHostPort(host, record.port);
    if (seen.has(address)) continue;
    seen.add(address);
    out.push({ address });
  }
  return out;
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}
