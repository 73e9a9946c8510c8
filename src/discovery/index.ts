export type { Candidate, Discovery, DiscoveryDeps } from './types.js';
export { seeds, parseSeed, validateNodeName, isValidNodeName, formatHostPort } from './seeds.js';
export type { SeedsOptions } from './seeds.js';
export { dns } from './dns.js';
export type { DnsOptions, DnsResolver, DnsRecordType, SrvRecord } from './dns.js';
