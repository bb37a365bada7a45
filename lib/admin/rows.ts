// Owns reading pgmux's live objects into the rows SHOW views print: pools in PgBouncer's order
// (database, then user name), their clients and servers per state, databases, users, stats.
// Built on demand for one SHOW; nothing here runs on the forwarding path.

import { resolveDatabase, type Config, type DatabaseDef } from '../config';
import type { Registry } from '../pool/registry';
import type { Pool } from '../pool/pool';
import type { ClientConnection } from '../client/client-connection';
import type { ServerConnection } from '../server/server-connection';
import { addStats, ZERO, type PoolStats } from '../metrics/counters';
import { nowUs } from '../clock';
import type { StatsPeriod } from '../metrics/stats-period';
import { socketFd } from './peer';
import type { DatabaseRow, DbStatsRow, FdRow, NameValue, PoolRow, SocketRow, UserRow } from './views';
import { describePins } from '../session/pins';
import { pendingBytes } from '../direct-write';

/** The console's own database, pool and user, as PgBouncer names them. */
export const ADMIN_NAME = 'pgbouncer';

/** What rows are read from: the registry plus the console's own pseudo pool. */
export interface Inventory {
  readonly registry: Registry;
  /** Logged-in console clients (the pgbouncer/pgbouncer pool's active clients). */
  readonly consoleClients: Iterable<ClientConnection>;
  readonly consoleStats: PoolStats;
  readonly stats: StatsPeriod;
}

/** One entry of PgBouncer's pool list: a real pool, or the console's (pool === null). */
interface PoolEntry {
  database: string;
  user: string;
  pool: Pool | null;
  stats: PoolStats;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every pool, the console's included, ordered by database then user (PgBouncer's pool_list). */
export function poolEntries(inv: Inventory): PoolEntry[] {
  const out: PoolEntry[] = [...inv.registry.pools.values()].map((pool) => ({
    // A replica's pool of a routed database has its own row: app@10.0.0.2:5432.
    database: pool.replicaAddress === null ? pool.db.name : `${pool.db.name}@${pool.replicaAddress}`,
    user: pool.user,
    pool,
    stats: pool.stats,
  }));
  out.push({ database: ADMIN_NAME, user: ADMIN_NAME, pool: null, stats: inv.consoleStats });
  return out.sort((a, b) => byName(a.database, b.database) || byName(a.user, b.user));
}

// ---- SHOW POOLS ----

const NO_CLIENTS: { active: ClientConnection[]; waiting: ClientConnection[] } = { active: [], waiting: [] };

export function poolRows(inv: Inventory): PoolRow[] {
  const now = nowUs();
  const byPool = clientsByPool(inv);
  return poolEntries(inv).map(({ database, user, pool }) => {
    const clients = byPool.get(pool) ?? NO_CLIENTS;
    if (pool === null) {
      return { database, user, clActive: clients.active.length, clWaiting: 0, svActive: 0, svIdle: 0, svUsed: 0, svTested: 0, svLogin: 0, maxwaitUs: 0, poolMode: 'statement' };
    }
    let oldest = 0;
    for (const c of pool.welcomeWaiting) if (c.waitStart !== 0 && (oldest === 0 || c.waitStart < oldest)) oldest = c.waitStart;
    const head = pool.waiting.peek();
    if (head !== undefined && head.waitStart !== 0 && (oldest === 0 || head.waitStart < oldest)) oldest = head.waitStart;
    return {
      database,
      user,
      clActive: clients.active.length,
      clWaiting: clients.waiting.length,
      svActive: pool.active.size,
      svIdle: pool.idle.length,
      svUsed: pool.used.size,
      svTested: pool.tested.size,
      svLogin: pool.login.size,
      maxwaitUs: oldest === 0 ? 0 : now - oldest,
      poolMode: pool.settings.poolMode,
    };
  });
}

// ---- SHOW STATS, STATS_TOTALS, STATS_AVERAGES, TOTALS ----

/** Per database (pools summed, in pool order), with averages over the current stats period. */
export function dbStatsRows(inv: Inventory): DbStatsRow[] {
  const rows: DbStatsRow[] = [];
  let name: string | null = null;
  let cur = ZERO;
  let old = ZERO;
  const flush = () => {
    if (name !== null) rows.push({ database: name, total: cur, avg: inv.stats.averages(cur, old) });
  };
  for (const e of poolEntries(inv)) {
    if (e.database !== name) {
      flush();
      name = e.database;
      cur = ZERO;
      old = ZERO;
    }
    cur = addStats(cur, e.stats.snapshot());
    old = addStats(old, e.stats.older);
  }
  flush();
  return rows;
}

export function grandTotal(inv: Inventory): { total: DbStatsRow['total']; avg: DbStatsRow['avg'] } {
  let cur = ZERO;
  let old = ZERO;
  for (const e of poolEntries(inv)) {
    cur = addStats(cur, e.stats.snapshot());
    old = addStats(old, e.stats.older);
  }
  return { total: cur, avg: inv.stats.averages(cur, old) };
}

// ---- SHOW CLIENTS, SERVERS, SOCKETS, ACTIVE_SOCKETS ----

export function ptr(id: number): string {
  return `0x${id.toString(16)}`;
}

function endpoint(address: string | undefined, port: number | undefined, unixPort: number): { addr: string; port: number } {
  if (address === undefined || address === '') return { addr: 'unix', port: unixPort };
  return { addr: address.replace(/^::ffff:/, ''), port: port ?? 0 };
}

/** The addresses of a connection's two ends (a server's net.Socket, a client's ClientSocket). */
interface SocketEnds {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
}

function sockEnds(socket: SocketEnds, unixPort: number, pending: number): Pick<SocketRow, 'addr' | 'port' | 'localAddr' | 'localPort' | 'sendAvail'> {
  const remote = endpoint(socket.remoteAddress, socket.remotePort, unixPort);
  const local = endpoint(socket.localAddress, socket.localPort, unixPort);
  return { addr: remote.addr, port: remote.port, localAddr: local.addr, localPort: local.port, sendAvail: pending };
}

export function clientRow(c: ClientConnection, state: string, listenPort: number): SocketRow {
  const start = c.timing.queryStart;
  return {
    type: 'C',
    user: c.user,
    database: c.database,
    state,
    ...sockEnds(c.socket, listenPort, c.socket.writableLength),
    connectTime: c.connectedAt,
    requestTime: c.timing.requestAt || c.connectedAt,
    waitUs: start === 0 ? 0 : nowUs() - start,
    closeNeeded: false,
    ptr: ptr(c.id),
    link: c.server === null ? '' : ptr(c.server.id),
    remotePid: 0,
    applicationName: c.params.get('application_name') ?? '',
    tls: c.tlsInfo,
    pins: c.pinWatch === null ? '' : describePins(c.pinWatch.pins.mask),
  };
}

export function serverRow(s: ServerConnection, pool: Pool, state: string, linked: ClientConnection | undefined, listenPort: number): SocketRow {
  return {
    type: 'S',
    user: pool.serverUser,
    database: pool.db.name,
    state,
    ...sockEnds(s.socket, listenPort, pendingBytes(s.socket)),
    port: s.socket.remotePort ?? s.address.port,
    connectTime: s.connectedAt,
    requestTime: s.lastUsed,
    waitUs: 0,
    closeNeeded: s.closeOnRelease,
    ptr: ptr(s.id),
    link: linked === undefined ? '' : ptr(linked.id),
    remotePid: s.pid,
    applicationName: s.params.get('application_name') ?? '',
    tls: s.tlsInfo,
    pins: '',
  };
}

/** Clients grouped per pool entry, each with the list it is on (PgBouncer's client lists). */
/**
 * Logged-in clients per pool, each once, in the pool it is in now: queued in or linked through
 * (a replica's pool when routed there), else its own. Waiting: for the welcome, for a server, or
 * for a replica to replay its writes; active: linked, or idle between transactions (PgBouncer's
 * CL_ACTIVE). So the rows of a database add up to its clients. Console clients are under null.
 */
export function clientsByPool(inv: Inventory): Map<Pool | null, { active: ClientConnection[]; waiting: ClientConnection[] }> {
  const map = new Map<Pool | null, { active: ClientConnection[]; waiting: ClientConnection[] }>();
  const slot = (pool: Pool | null) => {
    let s = map.get(pool);
    if (s === undefined) map.set(pool, (s = { active: [], waiting: [] }));
    return s;
  };
  for (const c of inv.consoleClients) slot(null).active.push(c);
  for (const c of inv.registry.clients) {
    const pool = c.countedIn;
    if (pool === null) continue;
    if (c.state === 'idle' || c.state === 'active') slot(pool).active.push(c);
    else if (c.state === 'waiting' || c.state === 'welcome') slot(pool).waiting.push(c);
  }
  return map;
}

/**
 * SHOW CLIENTS counted by database, user, application_name and state (what pgbouncer_exporter
 * makes of it: pgbouncer_client_connections).
 */
export function clientCounts(inv: Inventory): { database: string; user: string; applicationName: string; state: string; count: number }[] {
  const counts = new Map<string, { database: string; user: string; applicationName: string; state: string; count: number }>();
  for (const lists of clientsByPool(inv).values()) {
    for (const [state, clients] of [['active', lists.active], ['waiting', lists.waiting]] as const) {
      for (const c of clients) {
        const applicationName = c.params.get('application_name') ?? '';
        const key = `${c.database}\u0000${c.user}\u0000${applicationName}\u0000${state}`;
        const slot = counts.get(key);
        if (slot !== undefined) slot.count++;
        else counts.set(key, { database: c.database, user: c.user, applicationName, state, count: 1 });
      }
    }
  }
  return [...counts.values()];
}

/** Which client each server is linked to, for the servers' `link` column. */
export function linkedClients(inv: Inventory): Map<ServerConnection, ClientConnection> {
  const map = new Map<ServerConnection, ClientConnection>();
  for (const c of inv.registry.clients) if (c.server !== null) map.set(c.server, c);
  return map;
}

/** A pool's servers per PgBouncer list, in SHOW SERVERS order. */
export function serverLists(pool: Pool): [string, Iterable<ServerConnection>][] {
  return [
    ['active', pool.active],
    ['idle', pool.idle],
    ['used', pool.used],
    ['tested', pool.tested],
    ['new', pool.login],
  ];
}

/** Clients still logging in (PgBouncer's login_client_list). */
export function loginClients(inv: Inventory): ClientConnection[] {
  return [...inv.registry.clients].filter((c) => c.state === 'startup' || c.state === 'auth');
}

// ---- SHOW DATABASES, USERS, LISTS, MEM, FDS ----

/** Configured databases, those made from "*" that have a pool, and the console's. */
function databaseDefs(inv: Inventory): DatabaseDef[] {
  const config = inv.registry.config;
  const defs = new Map<string, DatabaseDef>();
  for (const [name, def] of config.databases) if (name !== '*') defs.set(name, def);
  for (const pool of inv.registry.pools.values()) {
    if (!defs.has(pool.db.name)) defs.set(pool.db.name, resolveDatabase(config, pool.db.name) ?? pool.db);
  }
  return [...defs.values()];
}

export function databaseRows(inv: Inventory): DatabaseRow[] {
  const reg = inv.registry;
  const s = reg.settings;
  const servers = new Map<string, number>();
  for (const pool of reg.pools.values()) servers.set(pool.db.name, (servers.get(pool.db.name) ?? 0) + pool.serverCount);
  const rows: DatabaseRow[] = databaseDefs(inv).map((db) => ({
    name: db.name,
    host: db.host ?? null,
    port: db.port,
    database: db.dbname,
    forceUser: db.user ?? null,
    poolSize: db.poolSize ?? s.default_pool_size,
    minPoolSize: db.minPoolSize ?? s.min_pool_size,
    reservePool: db.reservePool ?? s.reserve_pool_size,
    poolMode: db.poolMode ?? null,
    maxConnections: db.maxDbConnections ?? s.max_db_connections,
    currentConnections: servers.get(db.name) ?? 0,
    paused: reg.pausedDbs.has(db.name),
    disabled: reg.disabledDbs.has(db.name),
  }));
  rows.push({
    name: ADMIN_NAME,
    host: null,
    port: s.listen_port,
    database: ADMIN_NAME,
    forceUser: ADMIN_NAME,
    poolSize: 2,
    minPoolSize: 0,
    reservePool: 0,
    poolMode: 'statement',
    maxConnections: s.max_db_connections,
    currentConnections: 0,
    paused: false,
    disabled: false,
  });
  return rows.sort((a, b) => byName(a.name, b.name));
}

/** auth_file users, [users] lines, forced users, pool users and the console's own user. */
export function userRows(inv: Inventory): UserRow[] {
  const config: Config = inv.registry.config;
  const names = new Set<string>([ADMIN_NAME, ...inv.registry.secrets.keys(), ...config.users.keys()]);
  for (const db of config.databases.values()) if (db.user !== undefined) names.add(db.user);
  for (const pool of inv.registry.pools.values()) names.add(pool.user);
  return [...names].sort(byName).map((name) => ({ name, poolMode: config.users.get(name)?.poolMode ?? null }));
}

export function listRows(inv: Inventory): NameValue[] {
  const reg = inv.registry;
  let servers = 0;
  for (const pool of reg.pools.values()) servers += pool.serverCount;
  return [
    { name: 'databases', value: databaseDefs(inv).length + 1 },
    { name: 'users', value: userRows(inv).length },
    { name: 'pools', value: reg.pools.size + 1 },
    { name: 'free_clients', value: 0 },
    { name: 'used_clients', value: reg.clients.size },
    { name: 'login_clients', value: loginClients(inv).length },
    { name: 'free_servers', value: 0 },
    { name: 'used_servers', value: servers },
    { name: 'dns_names', value: 0 },
    { name: 'dns_zones', value: 0 },
    { name: 'dns_queries', value: 0 },
    { name: 'dns_pending', value: 0 },
  ];
}

export function memRows(inv: Inventory): { name: string; used: number }[] {
  const lists = new Map(listRows(inv).map((r) => [r.name, Number(r.value)]));
  return [
    { name: 'user_cache', used: lists.get('users') ?? 0 },
    { name: 'db_cache', used: lists.get('databases') ?? 0 },
    { name: 'pool_cache', used: lists.get('pools') ?? 0 },
    { name: 'server_cache', used: lists.get('used_servers') ?? 0 },
    { name: 'client_cache', used: lists.get('used_clients') ?? 0 },
    { name: 'iobuf_cache', used: 0 },
  ];
}

function cancelKey(pid: number, secret: number): bigint {
  return (BigInt(pid >>> 0) << 32n) | BigInt(secret >>> 0);
}

export function fdRows(inv: Inventory, listeners: readonly { fd: number | null; addr: string; port: number }[]): FdRow[] {
  const port = inv.registry.settings.listen_port;
  const rows: FdRow[] = listeners.map((l) => ({ fd: l.fd, task: 'pooler', user: null, database: null, addr: l.addr, port: l.port, cancel: 0n, link: 0, params: null }));
  const linked = linkedClients(inv);
  for (const pool of poolEntries(inv)) {
    if (pool.pool === null) continue;
    const p = pool.pool;
    for (const c of inv.registry.clients) {
      if (c.pool !== p || c.state === 'startup' || c.state === 'auth') continue;
      const end = endpoint(c.socket.remoteAddress, c.socket.remotePort, port);
      const link = c.server === null ? 0 : (socketFd(c.server.socket) ?? 0);
      rows.push({ fd: c.socket.fd, task: 'client', user: c.user, database: p.db.name, addr: end.addr, port: end.port, cancel: cancelKey(c.cancelKey.pid, c.cancelKey.secret), link, params: c.params });
    }
    for (const [, servers] of serverLists(p)) {
      for (const s of servers) {
        const peer = linked.get(s);
        const end = endpoint(s.socket.remoteAddress, s.socket.remotePort, s.address.port);
        const link = peer === undefined ? 0 : (peer.socket.fd ?? 0);
        rows.push({ fd: socketFd(s.socket), task: 'server', user: p.serverUser, database: p.db.name, addr: end.addr, port: end.port, cancel: cancelKey(s.pid, s.secret), link, params: s.params });
      }
    }
  }
  return rows;
}
