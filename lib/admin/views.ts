// Owns the columns of every SHOW view, exactly as PgBouncer 1.18 names, orders and types them
// (recorded from the real binary; spec/admin/columns.spec.ts compares both side by side). Each
// view is one array: a column's name, type and value sit together.

import type { ShowConfigRow } from '../config';
import type { StatsSnapshot } from '../metrics/counters';
import type { StatsAverages } from '../metrics/stats-period';
import type { Statement } from '../prepared/statements';
import type { CacheCounters } from '../rules/result-cache';
import type { View } from './table';

export interface PoolRow {
  database: string;
  user: string;
  clActive: number;
  clWaiting: number;
  svActive: number;
  svIdle: number;
  svUsed: number;
  svTested: number;
  svLogin: number;
  /** Microseconds the oldest waiting client has waited. */
  maxwaitUs: number;
  poolMode: string;
}

export const POOLS: View<PoolRow> = [
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'user', type: 'text', get: (r) => r.user },
  { name: 'cl_active', type: 'int4', get: (r) => r.clActive },
  { name: 'cl_waiting', type: 'int4', get: (r) => r.clWaiting },
  // pgmux forwards cancel requests on their own short-lived sockets: nothing queues for them.
  { name: 'cl_active_cancel_req', type: 'int4', get: () => 0 },
  { name: 'cl_waiting_cancel_req', type: 'int4', get: () => 0 },
  { name: 'sv_active', type: 'int4', get: (r) => r.svActive },
  { name: 'sv_active_cancel', type: 'int4', get: () => 0 },
  { name: 'sv_being_canceled', type: 'int4', get: () => 0 },
  { name: 'sv_idle', type: 'int4', get: (r) => r.svIdle },
  { name: 'sv_used', type: 'int4', get: (r) => r.svUsed },
  { name: 'sv_tested', type: 'int4', get: (r) => r.svTested },
  { name: 'sv_login', type: 'int4', get: (r) => r.svLogin },
  { name: 'maxwait', type: 'int4', get: (r) => Math.floor(r.maxwaitUs / 1e6) },
  { name: 'maxwait_us', type: 'int4', get: (r) => Math.floor(r.maxwaitUs % 1e6) },
  { name: 'pool_mode', type: 'text', get: (r) => r.poolMode },
];

export interface DbStatsRow {
  database: string;
  total: StatsSnapshot;
  avg: StatsAverages;
}

export const STATS: View<DbStatsRow> = [
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'total_xact_count', type: 'numeric', get: (r) => r.total.xactCount },
  { name: 'total_query_count', type: 'numeric', get: (r) => r.total.queryCount },
  { name: 'total_received', type: 'numeric', get: (r) => r.total.clientBytes },
  { name: 'total_sent', type: 'numeric', get: (r) => r.total.serverBytes },
  { name: 'total_xact_time', type: 'numeric', get: (r) => r.total.xactTime },
  { name: 'total_query_time', type: 'numeric', get: (r) => r.total.queryTime },
  { name: 'total_wait_time', type: 'numeric', get: (r) => r.total.waitTime },
  { name: 'avg_xact_count', type: 'numeric', get: (r) => r.avg.xactCount },
  { name: 'avg_query_count', type: 'numeric', get: (r) => r.avg.queryCount },
  { name: 'avg_recv', type: 'numeric', get: (r) => r.avg.clientBytes },
  { name: 'avg_sent', type: 'numeric', get: (r) => r.avg.serverBytes },
  { name: 'avg_xact_time', type: 'numeric', get: (r) => r.avg.xactTime },
  { name: 'avg_query_time', type: 'numeric', get: (r) => r.avg.queryTime },
  { name: 'avg_wait_time', type: 'numeric', get: (r) => r.avg.waitTime },
];

/** STATS_TOTALS and STATS_AVERAGES share their column names; only the source differs. */
function statsColumns(pick: (r: DbStatsRow) => StatsSnapshot | StatsAverages): View<DbStatsRow> {
  return [
    { name: 'database', type: 'text', get: (r) => r.database },
    { name: 'xact_count', type: 'numeric', get: (r) => pick(r).xactCount },
    { name: 'query_count', type: 'numeric', get: (r) => pick(r).queryCount },
    { name: 'bytes_received', type: 'numeric', get: (r) => pick(r).clientBytes },
    { name: 'bytes_sent', type: 'numeric', get: (r) => pick(r).serverBytes },
    { name: 'xact_time', type: 'numeric', get: (r) => pick(r).xactTime },
    { name: 'query_time', type: 'numeric', get: (r) => pick(r).queryTime },
    { name: 'wait_time', type: 'numeric', get: (r) => pick(r).waitTime },
  ];
}

export const STATS_TOTALS = statsColumns((r) => r.total);
export const STATS_AVERAGES = statsColumns((r) => r.avg);

export interface NameValue {
  name: string;
  value: number | string | null;
}

/** SHOW TOTALS: one row per counter, all pools summed (names in PgBouncer's order). */
export function totalsRows(total: StatsSnapshot, avg: StatsAverages): NameValue[] {
  const rows: [string, number][] = [
    ['total_xact_count', total.xactCount],
    ['total_query_count', total.queryCount],
    ['total_client_bytes', total.clientBytes],
    ['total_server_bytes', total.serverBytes],
    ['total_xact_time', total.xactTime],
    ['total_query_time', total.queryTime],
    ['total_wait_time', total.waitTime],
    ['avg_xact_count', avg.xactCount],
    ['avg_query_count', avg.queryCount],
    ['avg_client_bytes', avg.clientBytes],
    ['avg_server_bytes', avg.serverBytes],
    ['avg_xact_time', avg.xactTime],
    ['avg_query_time', avg.queryTime],
    ['avg_wait_time', avg.waitTime],
  ];
  return rows.map(([name, value]) => ({ name, value }));
}

export const TOTALS: View<NameValue> = [
  { name: 'name', type: 'text', get: (r) => r.name },
  { name: 'value', type: 'numeric', get: (r) => r.value },
];

/** One client or server socket (SHOW CLIENTS, SERVERS, SOCKETS, ACTIVE_SOCKETS). */
export interface SocketRow {
  type: 'C' | 'S';
  user: string;
  database: string;
  state: string;
  addr: string;
  port: number;
  localAddr: string;
  localPort: number;
  /** clock.now values (ms). */
  connectTime: number;
  requestTime: number;
  /** Microseconds since the running query began (0: none). */
  waitUs: number;
  closeNeeded: boolean;
  ptr: string;
  link: string;
  remotePid: number;
  applicationName: string;
  /** The TLS session description, '' for plain text (PgBouncer's tls column). */
  tls: string;
  /** Bytes written to the socket but not yet sent. */
  sendAvail: number;
  /** A client's session pins, comma-separated reasons (lib/session/pins); '' for none and for servers. */
  pins: string;
}

/** The columns PgBouncer 1.18 prints for every socket. */
const SOCKET_COLUMNS: View<SocketRow> = [
  { name: 'type', type: 'text', get: (r) => r.type },
  { name: 'user', type: 'text', get: (r) => r.user },
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'state', type: 'text', get: (r) => r.state },
  { name: 'addr', type: 'text', get: (r) => r.addr },
  { name: 'port', type: 'int4', get: (r) => r.port },
  { name: 'local_addr', type: 'text', get: (r) => r.localAddr },
  { name: 'local_port', type: 'int4', get: (r) => r.localPort },
  { name: 'connect_time', type: 'time', get: (r) => r.connectTime },
  { name: 'request_time', type: 'time', get: (r) => r.requestTime },
  { name: 'wait', type: 'int4', get: (r) => Math.floor(r.waitUs / 1e6) },
  { name: 'wait_us', type: 'int4', get: (r) => Math.floor(r.waitUs % 1e6) },
  { name: 'close_needed', type: 'int4', get: (r) => (r.closeNeeded ? 1 : 0) },
  { name: 'ptr', type: 'text', get: (r) => r.ptr },
  { name: 'link', type: 'text', get: (r) => r.link },
  { name: 'remote_pid', type: 'int4', get: (r) => r.remotePid },
  // PgBouncer prints an empty string for a plain connection.
  { name: 'tls', type: 'text', get: (r) => r.tls },
  { name: 'application_name', type: 'text', get: (r) => r.applicationName },
];

/** SHOW CLIENTS: PgBouncer's columns, then pgmux's `pins` (the session state keeping the client on its server or on the primary) last, so tools reading PgBouncer's columns by position still do. */
export const CLIENTS: View<SocketRow> = [...SOCKET_COLUMNS, { name: 'pins', type: 'text', get: (r) => r.pins }];

export const SERVERS = SOCKET_COLUMNS;

/** SOCKETS adds PgBouncer's buffer positions; pgmux keeps no such buffers except the send queue. */
export const SOCKETS: View<SocketRow> = [
  ...SOCKET_COLUMNS,
  { name: 'recv_pos', type: 'int4', get: () => 0 },
  { name: 'pkt_pos', type: 'int4', get: () => 0 },
  { name: 'pkt_remain', type: 'int4', get: () => 0 },
  { name: 'send_pos', type: 'int4', get: () => 0 },
  { name: 'send_remain', type: 'int4', get: () => 0 },
  { name: 'pkt_avail', type: 'int4', get: () => 0 },
  { name: 'send_avail', type: 'int4', get: (r) => r.sendAvail },
];

export interface DatabaseRow {
  name: string;
  host: string | null;
  port: number;
  database: string;
  forceUser: string | null;
  poolSize: number;
  minPoolSize: number;
  reservePool: number;
  /** null when the database line sets none (PgBouncer prints NULL then). */
  poolMode: string | null;
  maxConnections: number;
  currentConnections: number;
  paused: boolean;
  disabled: boolean;
}

export const DATABASES: View<DatabaseRow> = [
  { name: 'name', type: 'text', get: (r) => r.name },
  { name: 'host', type: 'text', get: (r) => r.host },
  { name: 'port', type: 'int4', get: (r) => r.port },
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'force_user', type: 'text', get: (r) => r.forceUser },
  { name: 'pool_size', type: 'int4', get: (r) => r.poolSize },
  { name: 'min_pool_size', type: 'int4', get: (r) => r.minPoolSize },
  { name: 'reserve_pool', type: 'int4', get: (r) => r.reservePool },
  { name: 'pool_mode', type: 'text', get: (r) => r.poolMode },
  { name: 'max_connections', type: 'int4', get: (r) => r.maxConnections },
  { name: 'current_connections', type: 'int4', get: (r) => r.currentConnections },
  { name: 'paused', type: 'int4', get: (r) => (r.paused ? 1 : 0) },
  { name: 'disabled', type: 'int4', get: (r) => (r.disabled ? 1 : 0) },
];

export interface UserRow {
  name: string;
  poolMode: string | null;
}

export const USERS: View<UserRow> = [
  { name: 'name', type: 'text', get: (r) => r.name },
  { name: 'pool_mode', type: 'text', get: (r) => r.poolMode },
];

export const LISTS: View<NameValue> = [
  { name: 'list', type: 'text', get: (r) => r.name },
  { name: 'items', type: 'int4', get: (r) => r.value },
];

export const VERSION: View<string> = [{ name: 'version', type: 'text', get: (v) => v }];

export interface MemRow {
  name: string;
  used: number;
}

/**
 * PgBouncer's slab caches. pgmux allocates from the JS heap, not slabs: `used` counts the live
 * objects of each kind; size, free and memtotal have no meaning here and are 0.
 */
export const MEM: View<MemRow> = [
  { name: 'name', type: 'text', get: (r) => r.name },
  { name: 'size', type: 'int4', get: () => 0 },
  { name: 'used', type: 'int4', get: (r) => r.used },
  { name: 'free', type: 'int4', get: () => 0 },
  { name: 'memtotal', type: 'int4', get: () => 0 },
];

export interface FdRow {
  fd: number | null;
  task: 'pooler' | 'client' | 'server';
  user: string | null;
  database: string | null;
  addr: string;
  port: number;
  /** The 8-byte cancel key as PgBouncer prints it (big-endian uint64). */
  cancel: bigint;
  link: number;
  params: ReadonlyMap<string, string> | null;
}

export const FDS: View<FdRow> = [
  { name: 'fd', type: 'int4', get: (r) => r.fd },
  { name: 'task', type: 'text', get: (r) => r.task },
  { name: 'user', type: 'text', get: (r) => r.user },
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'addr', type: 'text', get: (r) => r.addr },
  { name: 'port', type: 'int4', get: (r) => r.port },
  { name: 'cancel', type: 'int8', get: (r) => r.cancel },
  { name: 'link', type: 'int4', get: (r) => r.link },
  { name: 'client_encoding', type: 'text', get: (r) => r.params?.get('client_encoding') ?? null },
  { name: 'std_strings', type: 'text', get: (r) => r.params?.get('standard_conforming_strings') ?? null },
  { name: 'datestyle', type: 'text', get: (r) => r.params?.get('DateStyle') ?? null },
  { name: 'timezone', type: 'text', get: (r) => r.params?.get('TimeZone') ?? null },
  // PgBouncer sends these for online restart takeover only; pgmux never hands secrets out.
  { name: 'password', type: 'text', get: () => null },
  { name: 'scram_client_key', type: 'bytea', get: () => null },
  { name: 'scram_server_key', type: 'bytea', get: () => null },
];

export const DNS_HOSTS: View<never> = [
  { name: 'hostname', type: 'text', get: () => null },
  { name: 'ttl', type: 'int8', get: () => null },
  { name: 'addrs', type: 'text', get: () => null },
];

export const DNS_ZONES: View<never> = [
  { name: 'zonename', type: 'text', get: () => null },
  { name: 'serial', type: 'int8', get: () => null },
  { name: 'count', type: 'int4', get: () => null },
];

export const CONFIG: View<ShowConfigRow> = [
  { name: 'key', type: 'text', get: (r) => r.key },
  { name: 'value', type: 'text', get: (r) => r.value },
  { name: 'default', type: 'text', get: (r) => r.default },
  { name: 'changeable', type: 'text', get: (r) => r.changeable },
];

/** SHOW STATE: a pgmux addition (PgBouncer 1.18 lacks it), with PgBouncer 1.20's columns. */
export const STATE: View<NameValue> = [
  { name: 'key', type: 'text', get: (r) => r.name },
  { name: 'value', type: 'text', get: (r) => r.value },
];

/** SHOW REPLICAS (pgmux only): one row per replica of each routed database, from its lag tracker. */
export interface ReplicaRow {
  database: string;
  host: string;
  port: number;
  weight: number;
  state: string;
  reason: string;
  lagBytes: number | null;
  lagSeconds: number | null;
  replayLsn: string | null;
  readsRouted: number;
}

export const REPLICAS: View<ReplicaRow> = [
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'host', type: 'text', get: (r) => r.host },
  { name: 'port', type: 'int4', get: (r) => r.port },
  { name: 'weight', type: 'int4', get: (r) => r.weight },
  { name: 'state', type: 'text', get: (r) => r.state },
  { name: 'reason', type: 'text', get: (r) => r.reason },
  { name: 'lag_bytes', type: 'int8', get: (r) => r.lagBytes },
  { name: 'lag_seconds', type: 'numeric', get: (r) => (r.lagSeconds === null ? null : r.lagSeconds.toFixed(3)) },
  { name: 'replay_lsn', type: 'text', get: (r) => r.replayLsn },
  { name: 'reads_routed', type: 'int8', get: (r) => r.readsRouted },
];

/** SHOW HOSTS (pgmux only): every host of every database, as the failover layer sees it. */
export interface HostRow {
  database: string;
  host: string;
  port: number;
  zone: string;
  /** What its probe says: primary, standby, or unknown (not probed, or not answering). */
  role: string;
  /** Whether it is the database's primary now, a standby taking reads (up), or why not. */
  state: string;
  /** The database's primary: up, searching (requests held) or unavailable. */
  primaryState: string;
  breaker: string;
  failures: number;
  /** Milliseconds since its last answered probe; null before one. */
  lastProbeMs: number | null;
  probeRttMs: number | null;
  timeline: number | null;
  lagBytes: number | null;
  lagSeconds: number | null;
  /** Requests waiting for the database's primary now. */
  held: number;
  connectAttempts: number;
  reason: string;
}

export const HOSTS: View<HostRow> = [
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'host', type: 'text', get: (r) => r.host },
  { name: 'port', type: 'int4', get: (r) => r.port },
  { name: 'zone', type: 'text', get: (r) => r.zone },
  { name: 'role', type: 'text', get: (r) => r.role },
  { name: 'state', type: 'text', get: (r) => r.state },
  { name: 'primary_state', type: 'text', get: (r) => r.primaryState },
  { name: 'breaker', type: 'text', get: (r) => r.breaker },
  { name: 'failures', type: 'int4', get: (r) => r.failures },
  { name: 'last_probe_ms', type: 'int8', get: (r) => r.lastProbeMs },
  { name: 'probe_rtt_ms', type: 'numeric', get: (r) => (r.probeRttMs === null ? null : r.probeRttMs.toFixed(3)) },
  { name: 'timeline', type: 'int4', get: (r) => r.timeline },
  { name: 'lag_bytes', type: 'int8', get: (r) => r.lagBytes },
  { name: 'lag_seconds', type: 'numeric', get: (r) => (r.lagSeconds === null ? null : r.lagSeconds.toFixed(3)) },
  { name: 'held', type: 'int4', get: (r) => r.held },
  { name: 'connect_attempts', type: 'int8', get: (r) => r.connectAttempts },
  { name: 'reason', type: 'text', get: (r) => r.reason },
];

/** SHOW KEYS (pgmux only): per routed database, read_your_writes = key's table and counters. */
export interface KeyRow {
  database: string;
  mode: string;
  keys: number;
  keyedReads: number;
  keyedWaits: number;
  keyedTimeouts: number;
}

export const KEYS: View<KeyRow> = [
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'read_your_writes', type: 'text', get: (r) => r.mode },
  { name: 'keys', type: 'int8', get: (r) => r.keys },
  { name: 'keyed_reads', type: 'int8', get: (r) => r.keyedReads },
  { name: 'keyed_waits', type: 'int8', get: (r) => r.keyedWaits },
  { name: 'keyed_timeouts', type: 'int8', get: (r) => r.keyedTimeouts },
];

/**
 * SHOW ROUTE <sql> (pgmux only): where a fresh client's statement would go in each database, and
 * why; the [rules] that would act on it (with the conditions on the client they need) and its
 * fingerprint, as a fingerprint= rule takes it.
 */
export interface RouteRow {
  database: string;
  route: string;
  reason: string;
  statement: string;
  tier: string;
  rule: string;
  ruleActions: string;
  fingerprint: string;
}

export const ROUTE: View<RouteRow> = [
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'route', type: 'text', get: (r) => r.route },
  { name: 'reason', type: 'text', get: (r) => r.reason },
  { name: 'statement_reason', type: 'text', get: (r) => r.statement },
  { name: 'tier', type: 'text', get: (r) => r.tier },
  { name: 'rule', type: 'text', get: (r) => r.rule },
  { name: 'rule_actions', type: 'text', get: (r) => r.ruleActions },
  { name: 'fingerprint', type: 'text', get: (r) => r.fingerprint },
];

/** SHOW RULES (pgmux only): the [rules] table in the order rules are tried, with what each did since it was loaded. */
export interface RuleRow {
  position: number;
  name: string;
  match: string;
  actions: string;
  matched: number;
  denied: number;
  throttled: number;
  refused: number;
  timedOut: number;
  cacheHits: number;
  source: string;
}

export const RULES: View<RuleRow> = [
  { name: 'position', type: 'int4', get: (r) => r.position },
  { name: 'name', type: 'text', get: (r) => r.name },
  { name: 'match', type: 'text', get: (r) => r.match },
  { name: 'actions', type: 'text', get: (r) => r.actions },
  { name: 'matched', type: 'int8', get: (r) => r.matched },
  { name: 'denied', type: 'int8', get: (r) => r.denied },
  { name: 'throttled', type: 'int8', get: (r) => r.throttled },
  { name: 'rate_refused', type: 'int8', get: (r) => r.refused },
  { name: 'timed_out', type: 'int8', get: (r) => r.timedOut },
  { name: 'cache_hits', type: 'int8', get: (r) => r.cacheHits },
  { name: 'source', type: 'text', get: (r) => r.source },
];

/** SHOW CACHE (pgmux only): the result cache per database since start. */
export interface CacheRow extends CacheCounters {
  database: string;
  maxBytes: number;
}

export const CACHE: View<CacheRow> = [
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'entries', type: 'int8', get: (r) => r.entries },
  { name: 'bytes', type: 'int8', get: (r) => r.bytes },
  { name: 'hits', type: 'int8', get: (r) => r.hits },
  { name: 'misses', type: 'int8', get: (r) => r.misses },
  { name: 'hit_ratio', type: 'numeric', get: (r) => (r.hits + r.misses === 0 ? null : (r.hits / (r.hits + r.misses)).toFixed(4)) },
  { name: 'stores', type: 'int8', get: (r) => r.stores },
  { name: 'invalidations', type: 'int8', get: (r) => r.invalidations },
  { name: 'evictions', type: 'int8', get: (r) => r.evictions },
  { name: 'not_stored', type: 'int8', get: (r) => r.notStored },
  { name: 'raced', type: 'int8', get: (r) => r.raced },
  { name: 'uncacheable', type: 'int8', get: (r) => r.uncacheable },
  { name: 'max_bytes', type: 'int8', get: (r) => r.maxBytes },
];

/** SHOW PINS (pgmux only): per database and pin reason, clients held by session state (on their server, or on the primary when routed). */
export interface PinRow {
  database: string;
  reason: string;
  pinnedNow: number;
  pinnedTotal: number;
}

export const PINS: View<PinRow> = [
  { name: 'database', type: 'text', get: (r) => r.database },
  { name: 'reason', type: 'text', get: (r) => r.reason },
  { name: 'pinned_now', type: 'int8', get: (r) => r.pinnedNow },
  { name: 'pinned_total', type: 'int8', get: (r) => r.pinnedTotal },
];

/** Characters of a statement's text SHOW PREPARED prints. */
const PREPARED_QUERY_MAX = 200;

/** SHOW PREPARED (pgmux only): the shared registry's statements, oldest first. */
export const PREPARED: View<Statement> = [
  { name: 'name', type: 'text', get: (r) => r.serverName },
  // Long texts are cut so one huge statement cannot flood the console.
  { name: 'query', type: 'text', get: (r) => (r.sql.length > PREPARED_QUERY_MAX ? `${r.sql.slice(0, PREPARED_QUERY_MAX)}...` : r.sql) },
  { name: 'parameter_types', type: 'text', get: (r) => r.typesText },
  { name: 'uses', type: 'int8', get: (r) => r.uses },
  { name: 'servers', type: 'int4', get: (r) => r.servers },
];
