import { InvalidArgumentError, NameTakenError } from '../errors.js';
import type { ServerClass } from '../process/host.js';
import type { Pid, Ref } from '../process/pid.js';
import type { Node } from '../node/node.js';
import { writableKey } from './options.js';

/** A group to join: a key, or a key with the member's meta. */
export type GroupSpec = string | { key: string; meta?: unknown };

export interface RegisteredServerOptions {
  /** Meta of the registration (default {}). */
  meta?: unknown;
  /** Groups the server joins once registered. */
  groups?: GroupSpec[];
  cluster?: string | null;
  /** For the cluster-wide lock of the registration (default 5000). */
  timeoutMs?: number;
}

/** A server started by `startRegisteredServer` on this node, while it lives. */
export interface RegisteredServerInfo {
  readonly pid: Pid;
  readonly key: string;
  readonly cluster: string | null;
  readonly groups: string[];
}

/** The Group operations the one-step start uses (the Group itself). */
export interface ServerRegistrar {
  readonly node: Node;
  registerLocked(key: string, meta: unknown, options: { pid: Pid; cluster?: string | null; timeoutMs?: number }): Promise<'ok' | 'taken'>;
  unregister(key: string, options?: { cluster?: string | null }): 'ok' | 'not_found' | 'not_owner';
  join(key: string, meta: unknown, options: { pid: Pid; cluster?: string | null }): 'ok';
  leave(key: string, options: { pid: Pid; cluster?: string | null }): 'ok' | 'not_in_group';
  whereis(key: string, options?: { cluster?: string | null }): Pid | undefined;
}

/**
 * Start a Server, register it under a key (with the cluster-wide lock) and join it to groups, in
 * one step, as the seed's `start_mcp_server`; if any step fails, what was done is undone (groups
 * left, key unregistered, server stopped with 'shutdown') and the promise rejects. The servers
 * started here are listed (with their key and groups) until they exit.
 */
export class RegisteredServers {
  private readonly started = new Map<string, { info: RegisteredServerInfo; ref: Ref }>();

  constructor(private readonly registrar: ServerRegistrar) {}

  async start<A>(key: string, server: ServerClass<A>, arg: A, options: RegisteredServerOptions = {}): Promise<Pid> {
    writableKey(key, 'startRegisteredServer');
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('startRegisteredServer: options must be an object (or omitted)');
    const { cluster = null, meta = {}, timeoutMs } = options;
    const groups = (options.groups ?? []).map(groupSpec);
    const { node } = this.registrar;
    // Fail before starting anything when this node already sees the key taken.
    const holder = this.registrar.whereis(key, { cluster });
    if (holder !== undefined) throw new NameTakenError(`startRegisteredServer: "${key}" is already registered by ${holder.key}`, key, holder);
    const pid = node.spawn(server, arg);
    const joined: string[] = [];
    let registered = false;
    try {
      const result = await this.registrar.registerLocked(key, meta, { pid, cluster, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
      if (result === 'taken') {
        const by = this.registrar.whereis(key, { cluster });
        throw new NameTakenError(`startRegisteredServer: "${key}" is already registered${by === undefined ? '' : ` by ${by.key}`}`, key, by);
      }
      registered = true;
      for (const g of groups) {
        this.registrar.join(g.key, g.meta, { pid, cluster });
        joined.push(g.key);
      }
      // init may have failed meanwhile (it runs after spawn returned): then nothing is left to list.
      if (!node.isAlive(pid)) throw new InvalidArgumentError(`startRegisteredServer: the server for "${key}" exited during its start (see its init)`);
    } catch (error) {
      for (const g of joined) this.registrar.leave(g, { pid, cluster });
      if (registered && this.registrar.whereis(key, { cluster })?.equals(pid) === true) this.registrar.unregister(key, { cluster });
      node.exit(pid, 'shutdown');
      throw error;
    }
    const info: RegisteredServerInfo = { pid, key, cluster, groups: joined };
    const ref = node.monitor(pid, () => this.started.delete(pid.key));
    this.started.set(pid.key, { info, ref });
    return pid;
  }

  list(): RegisteredServerInfo[] {
    return [...this.started.values()].map((s) => ({ ...s.info, groups: [...s.info.groups] }));
  }

  clear(): void {
    for (const { ref } of this.started.values()) this.registrar.node.demonitor(ref);
    this.started.clear();
  }
}

function groupSpec(spec: GroupSpec): { key: string; meta: unknown } {
  if (typeof spec === 'string') return { key: writableKey(spec, 'startRegisteredServer: groups'), meta: {} };
  if (typeof spec !== 'object' || spec === null) throw new InvalidArgumentError('startRegisteredServer: each of groups is a key or {key, meta}');
  return { key: writableKey(spec.key, 'startRegisteredServer: groups'), meta: spec.meta ?? {} };
}
