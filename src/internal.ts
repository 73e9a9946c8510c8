// What cli/, dashboard/, tests and benchmarks may use beyond the public API. Not semver-stable.
export * from './index.js';
export { Mesh } from './transport/mesh.js';
export { Link } from './transport/link.js';
export type { PeerIdentity, LocalIdentity, LinkCloseReason } from './transport/link.js';
export type { Conduit, Connector, ConnectorDeps, TransportFactory } from './transport/conduit.js';
export { parseHostPort } from './transport/tcp.js';
export { FrameDecoder, encodeFrame, writeFrameHeader, PROTOCOL_VERSION, FRAME_HEADER_BYTES, DEFAULT_MAX_FRAME_BYTES } from './wire/frame.js';
export { encode, decode } from './wire/codec.js';
export { FrameType, frameTypeName } from './wire/types.js';
export { silentLogger, defaultLogger } from './observability/logger.js';
export { resolveNodeOptions, DEFAULTS } from './node/options.js';
// startDashboard is public (./index.js, re-exported above); test node processes reach it as api.startDashboard.
export { GroupCounters, Buckets } from './observability/stats.js';
export { withSpan, groupSpanAttributes, traceGroup, TRACER_NAME } from './observability/tracing.js';
