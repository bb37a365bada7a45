// Owns the metrics prometheus-community/pgbouncer_exporter publishes, under its names and labels
// (collector.go), read from the same rows the admin console's SHOW views print, so that
// dashboards and alerts built on the exporter keep working against pgmux's /metrics and no
// number differs from what SHOW says.
//
// The exporter's names changed in its 0.11 (June 2025): SHOW STATS_TOTALS columns became
// pgbouncer_stats_totals_*, where 0.10 and earlier published SHOW STATS's totals as
// pgbouncer_stats_* (the names its README still lists). Both are published: seven series per
// database each.

import type { DatabaseRow, DbStatsRow, NameValue, PoolRow } from '../admin/views';
import type { StatsSnapshot } from './counters';
import { family, type Family, type SampleSink } from './exposition';

/** What the families read: the console's rows (lib/pgmux.ts wires them to lib/admin/rows). */
export interface ConsoleView {
  /** SHOW VERSION's text. */
  readonly version: string;
  pools(): PoolRow[];
  databases(): DatabaseRow[];
  lists(): NameValue[];
  /** SHOW STATS_TOTALS: per database. */
  stats(): DbStatsRow[];
  /** SHOW CLIENTS, counted by database, user, application_name and state. */
  clientCounts(): { database: string; user: string; applicationName: string; state: string; count: number }[];
  readonly maxClientConn: number;
  readonly maxUserConnections: number;
}

/** pgbouncer_client_connections series at most; the rest are counted under application_name "other". */
export const MAX_CLIENT_GROUPS = 500;

type PoolColumn = readonly [metric: string, help: string, get: (r: PoolRow) => number];

/** collector.go's "pools" map, for the columns pgmux's SHOW POOLS has (PgBouncer 1.18's). */
const POOL_COLUMNS: readonly PoolColumn[] = [
  ['client_active_connections', 'Client connections linked to server connection and able to process queries, shown as connection', (r) => r.clActive],
  ['client_active_cancel_connections', 'Client connections that have forwarded query cancellations to the server and are waiting for the server response', () => 0],
  ['client_waiting_connections', 'Client connections waiting on a server connection, shown as connection', (r) => r.clWaiting],
  ['client_waiting_cancel_connections', 'Client connections that have not forwarded query cancellations to the server yet', () => 0],
  ['server_active_connections', 'Server connections linked to a client connection, shown as connection', (r) => r.svActive],
  ['server_active_cancel_connections', 'Server connections that are currently forwarding a cancel request.', () => 0],
  ['server_being_canceled_connections', 'Servers that normally could become idle but are waiting to do so until all in-flight cancel requests have completed that were sent to cancel a query on this server.', () => 0],
  ['server_idle_connections', 'Server connections idle and ready for a client query, shown as connection', (r) => r.svIdle],
  ['server_used_connections', 'Server connections idle more than server_check_delay, needing server_check_query, shown as connection', (r) => r.svUsed],
  ['server_testing_connections', 'Server connections currently running either server_reset_query or server_check_query, shown as connection', (r) => r.svTested],
  ['server_login_connections', 'Server connections currently in the process of logging in, shown as connection', (r) => r.svLogin],
  // The `maxwait` column: whole seconds, as the exporter reads it.
  ['client_maxwait_seconds', 'Age of oldest unserved client connection, shown as second', (r) => Math.floor(r.maxwaitUs / 1e6)],
];

type StatsColumn = readonly [metric: string, help: string, get: (s: StatsSnapshot) => number];

/** collector.go's "stats_totals" map (and 0.10's "stats"), for PgBouncer 1.18's columns; times in seconds. */
const STATS_COLUMNS: readonly StatsColumn[] = [
  ['queries_pooled_total', 'Total number of SQL queries pooled', (s) => s.queryCount],
  ['queries_duration_seconds_total', 'Total number of seconds spent by pgbouncer when actively connected to PostgreSQL, executing queries', (s) => s.queryTime / 1e6],
  ['received_bytes_total', 'Total volume in bytes of network traffic received by pgbouncer, shown as bytes', (s) => s.clientBytes],
  ['sent_bytes_total', 'Total volume in bytes of network traffic sent by pgbouncer, shown as bytes', (s) => s.serverBytes],
  ['client_wait_seconds_total', 'Time spent by clients waiting for a server in seconds', (s) => s.waitTime / 1e6],
  ['sql_transactions_pooled_total', 'Total number of SQL transactions pooled', (s) => s.xactCount],
  ['server_in_transaction_seconds_total', 'Total number of seconds spent by pgbouncer when connected to PostgreSQL in a transaction, either idle in transaction or executing queries', (s) => s.xactTime / 1e6],
];

type DatabaseColumn = readonly [metric: string, help: string, get: (r: DatabaseRow) => number];

/** collector.go's "databases" map. */
const DATABASE_COLUMNS: readonly DatabaseColumn[] = [
  ['pool_size', 'Maximum number of server connections', (r) => r.poolSize],
  ['reserve_pool', 'Maximum number of additional connections for this database', (r) => r.reservePool],
  ['max_connections', 'Maximum number of allowed connections for this database', (r) => r.maxConnections],
  ['current_connections', 'Current number of connections for this database', (r) => r.currentConnections],
  ['paused', '1 if this database is currently paused, else 0', (r) => (r.paused ? 1 : 0)],
  ['disabled', '1 if this database is currently disabled, else 0', (r) => (r.disabled ? 1 : 0)],
];

/** collector.go's listsMap: SHOW LISTS row -> metric. */
const LISTS: readonly (readonly [list: string, metric: string, help: string])[] = [
  ['databases', 'databases', 'Count of databases'],
  ['users', 'users', 'Count of users'],
  ['pools', 'pools', 'Count of pools'],
  ['free_clients', 'free_clients', 'Count of free clients'],
  ['used_clients', 'used_clients', 'Count of used clients'],
  ['login_clients', 'login_clients', 'Count of clients in login state'],
  ['free_servers', 'free_servers', 'Count of free servers'],
  ['used_servers', 'used_servers', 'Count of used servers'],
  ['dns_names', 'cached_dns_names', 'Count of DNS names in the cache'],
  ['dns_zones', 'cached_dns_zones', 'Count of DNS zones in the cache'],
  ['dns_queries', 'in_flight_dns_queries', 'Count of in-flight DNS queries'],
];

/**
 * Rows are read once per scrape, not once per family: each view's rows are taken by the first
 * family that needs them, and forgotten when the next scrape starts (Exposition's beforeScrape).
 */
export class ConsoleRows {
  private pools: PoolRow[] | null = null;
  private databases: DatabaseRow[] | null = null;
  private stats: DbStatsRow[] | null = null;
  private lists: NameValue[] | null = null;

  constructor(readonly view: ConsoleView) {}

  startScrape(): void {
    this.pools = this.databases = this.stats = this.lists = null;
  }

  poolRows(): PoolRow[] {
    return (this.pools ??= this.view.pools());
  }
  databaseRows(): DatabaseRow[] {
    return (this.databases ??= this.view.databases());
  }
  statsRows(): DbStatsRow[] {
    return (this.stats ??= this.view.stats());
  }
  listRows(): NameValue[] {
    return (this.lists ??= this.view.lists());
  }
}

export function pgbouncerFamilies(rows: ConsoleRows): Family[] {
  const view = rows.view;
  const out: Family[] = [
    family('pgbouncer_up', 'gauge', 'The pgbouncer scrape succeeded', (s) => s.push({ labels: {}, value: 1 })),
    family('pgbouncer_version_info', 'gauge', 'The pgbouncer version info', (s) => s.push({ labels: { version: view.version }, value: 1 })),
    family('pgbouncer_config_max_client_connections', 'gauge', 'Config maximum number of client connections', (s) =>
      s.push({ labels: {}, value: view.maxClientConn }),
    ),
    family('pgbouncer_config_max_user_connections', 'gauge', 'Config maximum number of server connections per user', (s) =>
      s.push({ labels: {}, value: view.maxUserConnections }),
    ),
    family('pgbouncer_client_connections', 'gauge', 'Number of client connections grouped by database, user, application name, and state', (s) =>
      clientConnections(view, s),
    ),
  ];
  for (const [list, metric, help] of LISTS) {
    out.push(
      family(`pgbouncer_${metric}`, 'gauge', help, (s) => {
        const row = rows.listRows().find((r) => r.name === list);
        s.push({ labels: {}, value: Number(row?.value ?? 0) });
      }),
    );
  }
  for (const [metric, help, get] of POOL_COLUMNS) {
    out.push(
      family(`pgbouncer_pools_${metric}`, 'gauge', help, (s) => {
        for (const r of rows.poolRows()) s.push({ labels: { database: r.database, user: r.user }, value: get(r) });
      }),
    );
  }
  for (const prefix of ['pgbouncer_stats_totals_', 'pgbouncer_stats_']) {
    for (const [metric, help, get] of STATS_COLUMNS) {
      out.push(
        family(`${prefix}${metric}`, 'counter', help, (s) => {
          for (const r of rows.statsRows()) s.push({ labels: { database: r.database }, value: get(r.total) });
        }),
      );
    }
  }
  for (const [metric, help, get] of DATABASE_COLUMNS) {
    out.push(
      family(`pgbouncer_databases_${metric}`, 'gauge', help, (s) => {
        for (const r of rows.databaseRows()) s.push({ labels: databaseLabels(r), value: get(r) });
      }),
    );
  }
  return out;
}

/** The exporter's labels for a SHOW DATABASES row: every text column, NULL as "". */
function databaseLabels(r: DatabaseRow): Record<string, string> {
  return { name: r.name, host: r.host ?? '', port: String(r.port), database: r.database, force_user: r.forceUser ?? '', pool_mode: r.poolMode ?? '' };
}

/** application_name is the client's to choose: past MAX_CLIENT_GROUPS series the rest fold into "other". */
function clientConnections(view: ConsoleView, out: SampleSink): void {
  const folded = new Map<string, { labels: Record<string, string>; value: number }>();
  for (const g of view.clientCounts()) {
    let key = `${g.database}\u0000${g.user}\u0000${g.applicationName}\u0000${g.state}`;
    let app = g.applicationName;
    if (!folded.has(key) && folded.size >= MAX_CLIENT_GROUPS) {
      app = 'other';
      key = `${g.database}\u0000${g.user}\u0000\u0001other\u0000${g.state}`;
    }
    const slot = folded.get(key);
    if (slot !== undefined) slot.value += g.count;
    else folded.set(key, { labels: { database: g.database, user: g.user, application_name: app, state: g.state }, value: g.count });
  }
  for (const v of folded.values()) out.push(v);
}
