/**
 * What `rollcall node` starts beside the node: node roles (`--roles`) and the dashboard
 * (`--dashboard`). Each returns something to stop, in reverse order, before the node on shutdown.
 */
import { startDashboard } from '../dashboard/server.js';
import type { Group } from '../group/group.js';
import type { Node } from '../node/node.js';
import { Roles } from '../roles/roles.js';

/** Something started beside the node, stopped (in reverse order) before the node on shutdown. */
export interface Running {
  stop(): Promise<void> | void;
}

export interface RunningRoles extends Running {
  /** The roles of a node as the dashboard shows them (default scope), or undefined if unknown. */
  rolesOf(node: string): readonly string[] | undefined;
}

export async function startRoles(node: Node, roles: readonly string[]): Promise<RunningRoles> {
  const running = await Roles.start(node, { roles: [...roles] });
  return {
    stop: () => running.stop(),
    rolesOf: (name) => (running.allNodes().includes(name) ? running.getRoles(name).map((r) => (typeof r === 'string' ? r : JSON.stringify(r))) : undefined),
  };
}

export interface DashboardStartOptions {
  readonly host: string;
  readonly port: number;
  readonly groups: readonly Group[];
  readonly roles?: RunningRoles | undefined;
}

/** `url` is what an operator opens: it carries the access token. */
export async function startNodeDashboard(node: Node, options: DashboardStartOptions): Promise<Running & { readonly url: string }> {
  const { roles } = options;
  const dashboard = await startDashboard(node, {
    host: options.host,
    port: options.port,
    groups: [...options.groups],
    ...(roles === undefined ? {} : { roles: (name: string) => roles.rolesOf(name) }),
  });
  return { url: `${dashboard.url}?token=${dashboard.token}`, stop: () => dashboard.close() };
}
