/**
 * INTEGRATION POINT: the node roles and the dashboard are separate modules (src/roles,
 * src/dashboard). `rollcall node` parses and checks `--roles` and `--dashboard` itself and calls
 * the hooks below; while a hook is undefined, using its flag is an error that says the feature is
 * not in this build. Wiring one is a few lines here and nothing else, e.g.:
 *
 * ```ts
 * // (import Roles from src/roles and startDashboard from src/dashboard; test/unit/meta/layering.test.ts
 * // ranks cli and dashboard equal today: give the dashboard the lower rank when wiring it)
 * export const rolesHook: RolesHook | undefined = async (node, roles) => {
 *   const running = await Roles.start(node, { roles: [...roles] });
 *   return { stop: () => running.stop() };
 * };
 * export const dashboardHook: DashboardHook | undefined = async (node, options) => {
 *   const dashboard = await startDashboard(node, { host: options.host, port: options.port, groups: [...options.groups] });
 *   return { url: dashboard.url, stop: () => dashboard.stop() };
 * };
 * ```
 *
 * The demo (src/cli/demo.ts) asks node a for a dashboard when `dashboardHook` is defined and
 * prints its URL (with the access token) as one of its first lines.
 */
import type { Group } from '../group/group.js';
import type { Node } from '../node/node.js';

/** Something started beside the node, stopped (in reverse order) before the node on shutdown. */
export interface Running {
  stop(): Promise<void> | void;
}

export type RolesHook = (node: Node, roles: readonly string[]) => Promise<Running>;

export interface DashboardHookOptions {
  readonly host: string;
  readonly port: number;
  readonly groups: readonly Group[];
}

/** `url` is what an operator opens: it carries the access token. */
export type DashboardHook = (node: Node, options: DashboardHookOptions) => Promise<Running & { readonly url: string }>;

export const rolesHook: RolesHook | undefined = undefined;
export const dashboardHook: DashboardHook | undefined = undefined;
