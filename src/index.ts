// Public API of rollcall. Anything not exported here is internal (see ./internal.ts).
export { startNode, Node } from './node/node.js';
export type { NodeUpEvent, NodeDownEvent, NodeEvents } from './node/node.js';
export type { NodeOptions } from './node/options.js';
export { Pid, Ref, PidMap } from './process/pid.js';
export type {
  ProcessHost,
  ProcessContext,
  ProcessFunction,
  DownInfo,
  DownMessage,
  MonitorWatcher,
  Destination,
  CallOptions,
  ExitReason,
} from './process/host.js';
export { Server, noReply } from './process/server.js';
export { Supervisor, startChild, terminateChild, whichChildren } from './process/supervisor.js';
export type { ChildSpec, SupervisorOptions } from './process/supervisor.js';
export { CallRequest, Cast } from './process/envelopes.js';
export { currentProcess as self } from './process/table.js';
export { tcp } from './transport/tcp.js';
export type { TcpOptions, TlsOptions } from './transport/tcp.js';
export { memory, SimNetwork } from './transport/memory.js';
export { nats, type NatsOptions, type NatsTlsOptions, type NatsTransport } from './transport/nats.js';
export { seeds, dns, parseSeed } from './discovery/index.js';
export type { Discovery, Candidate, DnsOptions, DnsResolver } from './discovery/index.js';
export type { Clock, Timer } from './time/clock.js';
export { realClock } from './time/clock.js';
export type { Random } from './time/random.js';
export { cryptoRandom, seededRandom } from './time/random.js';
export { VirtualClock } from './time/virtual-clock.js';
export type { Logger, LogLevel } from './observability/logger.js';
export {
  RollcallError,
  InvalidArgumentError,
  TimeoutError,
  NoProcError,
  NodeDownError,
  CallExitError,
  EncodeError,
  BadFrameError,
  NotRunningError,
  NameTakenError,
  ExitSignal,
} from './errors.js';
export { Group } from './group/group.js';
export type { Entry, WriteOptions, ReadOptions, MembersOptions, DispatchOptions, JoinOptions, PublishOptions, CountOptions, MembershipInfo } from './group/group.js';
export { ALL } from './group/events.js';
export { TenantView, parseTenantKey, TENANT_PREFIX } from './group/tenant.js';
export type { GroupEvent, GroupEventType, GroupEventMessage, GroupEventCallback, GroupEventInfo, GroupLifecycleEvent, GroupLifecycleMessage, GroupLifecycleCallback, Pattern, Subscriber } from './group/events.js';
export type { GroupOptions, GroupLogLevel, ConflictResolver, RegistryConflict, ConflictEntry } from './group/options.js';
export { Roles } from './roles/roles.js';
export type { RolesOptions } from './roles/options.js';
export type { RoleEvent, RoleEventType, RoleEventListener } from './roles/events.js';
export { startDashboard } from './dashboard/server.js';
export type { Dashboard, DashboardOptions, DashboardInProcessApi } from './dashboard/server.js';
export type { DashboardRoles, ClusterJson, NodeJson, EntryJson, GroupJson, ListJson, MetricsJson, RegistryQuery, GroupsQuery, MembersQuery } from './dashboard/api.js';
export type { DashboardEvent, DashboardEventType, EventFilter } from './dashboard/sse.js';
export type { ConflictStrategy, NameConflictMessage } from './group/conflict-strategies.js';
export type { MultiCallOptions, MultiCallResult } from './group/multicall.js';
export type { GroupSpec, RegisteredServerOptions, RegisteredServerInfo } from './group/registered-servers.js';
export { createMetrics } from './observability/metrics.js';
export type { Metrics, MetricsOptions } from './observability/metrics.js';
export type { NodeStats, PeerStats, EventLoopDelayStats, GroupStats } from './observability/stats.js';
