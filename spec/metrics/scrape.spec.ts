// Specs for GET /metrics (issue 13): known traffic through pgmux to a real primary and
// streaming replica, then /metrics scraped and read with the Prometheus project's own parsers
// (spec/support/prometheus.ts), in both formats. Counts must equal what was sent, histogram
// buckets must add up, pgbouncer_exporter's names and labels must be there with the values the
// traffic implies, and trace ids sent in sqlcommenter comments must come back as exemplars.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { repoRoot, startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePorts } from '../support/ports';
import { samples, scrape, value, type MetricFamily } from '../support/prometheus';
import { until } from '../routing/support';

let cluster: Cluster;
let pgmux: PgmuxProcess;
let port: number;
let http: number;
let primaryHost: string;
let replicaHost: string;
const clients: Client[] = [];

async function connect(database: string, applicationName?: string): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database, application_name: applicationName });
  await c.connect();
  clients.push(c);
  return c;
}

/** The change of the one sample `name{labels}` between two scrapes (absent before: 0). */
function delta(before: MetricFamily[], after: MetricFamily[], name: string, labels: Record<string, string>): number {
  const was = samples(before, name, labels);
  return value(after, name, labels) - (was.length === 1 ? was[0].value : 0);
}

const le = (text: string): number => (text === '+Inf' ? Infinity : Number(text));

/** Every bucket series of `name` with `labels`: cumulative, ending at +Inf equal to _count. */
function checkBuckets(families: MetricFamily[], name: string, labels: Record<string, string>): void {
  const buckets = samples(families, `${name}_bucket`, labels);
  expect(buckets.length).toBeGreaterThan(1);
  for (let i = 1; i < buckets.length; i++) {
    expect(le(buckets[i].labels.le)).toBeGreaterThan(le(buckets[i - 1].labels.le));
    expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
  }
  expect(buckets[buckets.length - 1].labels.le).toBe('+Inf');
  expect(buckets[buckets.length - 1].value).toBe(value(families, `${name}_count`, labels));
}

const TRACE = (n: number): string => `4bf92f3577b34da6a3ce929d0e0e47${String(n).padStart(2, '0')}`;
const traced = (sql: string, n: number): string => `${sql} /*controller='index',traceparent='00-${TRACE(n)}-00f067aa0ba902b7-01'*/`;

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  await cluster.query(cluster.primary, 'CREATE TABLE mt (id int); GRANT ALL ON mt TO app');
  await cluster.waitForReplay();
  [port, http] = await freePorts(2);
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('no replica');
  primaryHost = `${cluster.primary.host}:${cluster.primary.port}`;
  replicaHost = `${replica.host}:${replica.port}`;
  const server = `host=${cluster.primary.host} port=${cluster.primary.port} dbname=app`;
  const ini =
    '[databases]\n' +
    `app = ${server} replicas=${replicaHost}\n` +
    `plain = ${server}\n` +
    `stmt = ${server} pool_mode=statement\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\nadmin_users = app\n' +
    'pool_mode = transaction\ndefault_pool_size = 4\nmax_client_conn = 150\n' +
    'replica_lag_poll_interval = 0.05\nread_your_writes = off\n' +
    `http_listen_port = ${http}\nmetrics_fingerprints = 50\nslow_query_threshold = 0.15\n`;
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
}, 60000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

describe('GET /metrics', () => {
  /** The format Prometheus 2 asks for by default, and the one it falls back to. */
  it('answers Prometheus text by default and OpenMetrics when the scraper asks for it', async () => {
    const text = await scrape(http, 'text');
    expect(text.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const om = await scrape(http, 'openmetrics');
    expect(om.contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.body.endsWith('# EOF\n')).toBe(true);
    // Counters keep their _total in both.
    expect(samples(text.families, 'pgbouncer_stats_totals_queries_pooled_total').length).toBeGreaterThan(0);
    expect(samples(om.families, 'pgbouncer_stats_totals_queries_pooled_total').length).toBeGreaterThan(0);
  });

  /** Every request counted once, in the right kind, and in histograms whose buckets add up. */
  it('counts the requests sent, by kind, with histogram buckets consistent with their count', async () => {
    const before = (await scrape(http)).families;
    const c = await connect('plain');
    for (let i = 0; i < 30; i++) await c.query(`SELECT ${i}`);
    for (let i = 0; i < 10; i++) await c.query('SELECT $1::int AS v', [i]);
    for (let i = 0; i < 5; i++) await c.query({ name: 'plus_one', text: 'SELECT $1::int + 1 AS v', values: [i] });
    await c.query('BEGIN');
    await c.query('INSERT INTO mt VALUES (1)');
    await c.query('COMMIT');
    const after = (await scrape(http)).families;
    const pool = { database: 'plain', user: 'app', destination: 'primary' };
    expect(delta(before, after, 'pgmux_queries_total', { ...pool, kind: 'read' })).toBe(45);
    expect(delta(before, after, 'pgmux_queries_total', { ...pool, kind: 'write' })).toBe(1);
    expect(delta(before, after, 'pgmux_queries_total', { ...pool, kind: 'other' })).toBe(2);
    expect(delta(before, after, 'pgmux_transactions_total', { ...pool, kind: 'read' })).toBe(45);
    expect(delta(before, after, 'pgmux_transactions_total', { ...pool, kind: 'write' })).toBe(1);
    expect(delta(before, after, 'pgmux_query_duration_seconds_count', pool)).toBe(48);
    expect(delta(before, after, 'pgmux_transaction_duration_seconds_count', pool)).toBe(46);
    expect(delta(before, after, 'pgmux_query_duration_seconds_sum', pool)).toBeGreaterThan(0);
    for (const name of ['pgmux_query_duration_seconds', 'pgmux_transaction_duration_seconds', 'pgmux_client_wait_seconds', 'pgmux_server_connect_seconds']) {
      checkBuckets(after, name, pool);
    }
    // The pgbouncer_exporter view of the same traffic, under both generations of its names.
    expect(delta(before, after, 'pgbouncer_stats_totals_queries_pooled_total', { database: 'plain' })).toBe(48);
    expect(delta(before, after, 'pgbouncer_stats_queries_pooled_total', { database: 'plain' })).toBe(48);
    expect(delta(before, after, 'pgbouncer_stats_totals_sql_transactions_pooled_total', { database: 'plain' })).toBe(46);
    // The named statement: its Parse found the server without it (a miss, prepared there), each
    // of its five Binds found it there (hits).
    expect(delta(before, after, 'pgmux_prepared_cache_misses_total', {})).toBe(1);
    expect(delta(before, after, 'pgmux_prepared_cache_hits_total', {})).toBe(5);
  });

  /** Reads go to the replica and writes to the primary: the metrics say where each went. */
  it('splits a routed database by destination and counts the routing reasons', async () => {
    const c = await connect('app');
    await until('the replica to take reads', async () => value((await scrape(http)).families, 'pgmux_replica_state', { database: 'app', host: replicaHost, state: 'up' }) === 1);
    const before = (await scrape(http)).families;
    for (let i = 0; i < 12; i++) await c.query(`SELECT ${i} AS n`);
    for (let i = 0; i < 3; i++) await c.query(`INSERT INTO mt VALUES (${i})`);
    const after = (await scrape(http)).families;
    expect(delta(before, after, 'pgmux_queries_total', { database: 'app', user: 'app', destination: replicaHost, kind: 'read' })).toBe(12);
    expect(delta(before, after, 'pgmux_queries_total', { database: 'app', user: 'app', destination: 'primary', kind: 'write' })).toBe(3);
    expect(delta(before, after, 'pgmux_query_duration_seconds_count', { database: 'app', user: 'app', destination: replicaHost })).toBe(12);
    expect(delta(before, after, 'pgmux_routing_decisions_total', { database: 'app', reason: 'replica: plain select' })).toBe(12);
    expect(delta(before, after, 'pgmux_routing_decisions_total', { database: 'app', reason: 'primary: INSERT' })).toBe(3);
    expect(delta(before, after, 'pgmux_replica_reads_total', { database: 'app', host: replicaHost })).toBe(12);
    // Hosts and replicas as the failover layer sees them.
    expect(value(after, 'pgmux_database_primary_state', { database: 'app', state: 'up' })).toBe(1);
    expect(value(after, 'pgmux_database_primary_info', { database: 'app', host: primaryHost })).toBe(1);
    expect(value(after, 'pgmux_backend_breaker_state', { host: primaryHost, state: 'closed' })).toBe(1);
    expect(value(after, 'pgmux_backend_role', { host: replicaHost, role: 'standby' })).toBe(1);
    expect(value(after, 'pgmux_replica_lag_bytes', { database: 'app', host: replicaHost })).toBeGreaterThanOrEqual(0);
    expect(value(after, 'pgmux_replica_lag_seconds', { database: 'app', host: replicaHost })).toBeGreaterThanOrEqual(0);
    expect(samples(after, 'pgmux_replica_lag_bytes', { host: primaryHost })).toEqual([]);
  });

  /** SET default_transaction_isolation pins a routed client to the primary: the gauge shows it while the client holds it. */
  it('shows session pins by reason', async () => {
    const c = await connect('app');
    await c.query("SET default_transaction_isolation = 'repeatable read'");
    const pinned = (await scrape(http)).families;
    expect(value(pinned, 'pgmux_pinned_clients', { database: 'app', reason: 'set' })).toBe(1);
    expect(value(pinned, 'pgmux_pins_total', { database: 'app', reason: 'set' })).toBeGreaterThanOrEqual(1);
    await c.end();
    clients.splice(clients.indexOf(c), 1);
    await until('the pin to go with its client', async () => value((await scrape(http)).families, 'pgmux_pinned_clients', { database: 'app', reason: 'set' }) === 0);
  });

  /** Errors clients see, by SQLSTATE class: a server's (42703) and pgmux's own (08P01 in statement mode). */
  it('counts errors sent to clients by SQLSTATE class and source', async () => {
    const before = (await scrape(http)).families;
    const c = await connect('plain');
    await expect(c.query('SELECT no_such_column')).rejects.toThrow(/no_such_column/);
    // The error's ReadyForQuery follows it; the next answer proves it went through.
    await c.query('SELECT 1');
    const s = await connect('stmt');
    s.on('error', () => undefined);
    await expect(s.query('BEGIN')).rejects.toThrow(/transaction blocks not allowed in statement pooling mode/);
    // A login refused before the client has a pool: counted with database "".
    await expect(connect('no_such_db')).rejects.toThrow(/no such database/);
    const after = (await scrape(http)).families;
    expect(delta(before, after, 'pgmux_client_errors_total', { database: 'plain', source: 'server', sqlstate_class: '42' })).toBe(1);
    expect(delta(before, after, 'pgmux_client_errors_total', { database: 'stmt', source: 'pgmux', sqlstate_class: '08' })).toBe(1);
    expect(delta(before, after, 'pgmux_client_errors_total', { database: '', source: 'pgmux', sqlstate_class: '3D' })).toBe(1);
  });

  /** pgbouncer_exporter's families, names and labels (collector.go), with values the setup fixes. */
  it("publishes pgbouncer_exporter's metrics under its names and labels", async () => {
    const idle = [await connect('plain'), await connect('plain')];
    const { families } = await scrape(http);
    const names = new Set(families.flatMap((f) => f.samples.map((s) => s.name)));
    const pools = ['client_active_connections', 'client_waiting_connections', 'server_active_connections', 'server_idle_connections', 'server_used_connections',
      'server_testing_connections', 'server_login_connections', 'client_maxwait_seconds', 'client_active_cancel_connections', 'client_waiting_cancel_connections',
      'server_active_cancel_connections', 'server_being_canceled_connections'];
    const stats = ['queries_pooled_total', 'queries_duration_seconds_total', 'received_bytes_total', 'sent_bytes_total', 'client_wait_seconds_total',
      'sql_transactions_pooled_total', 'server_in_transaction_seconds_total'];
    const expected = [
      'pgbouncer_up', 'pgbouncer_version_info', 'pgbouncer_config_max_client_connections', 'pgbouncer_config_max_user_connections', 'pgbouncer_client_connections',
      ...['databases', 'users', 'pools', 'free_clients', 'used_clients', 'login_clients', 'free_servers', 'used_servers', 'cached_dns_names', 'cached_dns_zones', 'in_flight_dns_queries'].map((n) => `pgbouncer_${n}`),
      ...pools.map((n) => `pgbouncer_pools_${n}`),
      ...stats.map((n) => `pgbouncer_stats_totals_${n}`),
      ...stats.map((n) => `pgbouncer_stats_${n}`),
      ...['pool_size', 'reserve_pool', 'max_connections', 'current_connections', 'paused', 'disabled'].map((n) => `pgbouncer_databases_${n}`),
    ];
    for (const name of expected) expect([name, names.has(name)]).toEqual([name, true]);
    expect(value(families, 'pgbouncer_up')).toBe(1);
    expect(samples(families, 'pgbouncer_version_info')[0].labels.version).toMatch(/^PgBouncer 1\.18\.0 \(pgmux /);
    expect(value(families, 'pgbouncer_config_max_client_connections')).toBe(150);
    expect(value(families, 'pgbouncer_databases_pool_size', { name: 'plain', host: cluster.primary.host, port: String(cluster.primary.port), database: 'app', force_user: '', pool_mode: '' })).toBe(4);
    expect(value(families, 'pgbouncer_databases_pool_size', { name: 'stmt', pool_mode: 'statement' })).toBe(4);
    // The two idle clients are cl_active, as SHOW POOLS counts logged-in clients.
    expect(value(families, 'pgbouncer_pools_client_active_connections', { database: 'plain', user: 'app' })).toBeGreaterThanOrEqual(idle.length);
    expect(value(families, 'pgbouncer_client_connections', { database: 'plain', user: 'app', application_name: '', state: 'active' })).toBeGreaterThanOrEqual(idle.length);
  });

  /** W3C trace context in a sqlcommenter comment comes back as the exemplar of the observation's bucket. */
  it('carries trace ids as OpenMetrics exemplars on the pool and fingerprint histograms', async () => {
    const c = await connect('plain');
    await c.query(traced('SELECT 42 AS answer', 1));
    const { families } = await scrape(http, 'openmetrics');
    for (const [name, labels] of [
      ['pgmux_query_duration_seconds_bucket', { database: 'plain', destination: 'primary' }],
      ['pgmux_query_fingerprint_duration_seconds_bucket', {}],
    ] as const) {
      const withTrace = samples(families, name, labels).filter((s) => s.exemplar?.labels.trace_id === TRACE(1));
      expect([name, withTrace.length]).toEqual([name, 1]);
      const ex = withTrace[0].exemplar as NonNullable<(typeof withTrace)[0]['exemplar']>;
      expect(ex.value).toBeGreaterThan(0);
      expect(ex.value).toBeLessThanOrEqual(le(withTrace[0].labels.le));
      expect(ex.timestamp).toBeGreaterThan(Date.now() / 1000 - 60);
    }
    // No exemplars in the Prometheus text format (it has no syntax for them).
    expect((await scrape(http, 'text')).body).not.toContain('trace_id');
  });

  /** The slow-query log names what an on-call engineer needs to find the statement and its caller. */
  it('logs a statement slower than slow_query_threshold with its fingerprint, destination, times and trace id', async () => {
    const c = await connect('plain', 'billing-worker');
    await c.query(traced('SELECT pg_sleep(0.2)', 2));
    await pgmux.waitForLog(/slow query: [\d.]+ ms \(wait [\d.]+ ms, run [\d.]+ ms\) on primary \S+, fingerprint [0-9a-f]{16} \(read\), user=app database=plain application_name="billing-worker" trace_id=4bf92f3577b34da6a3ce929d0e0e4702: select pg_sleep\(\?\)/);
    await c.query('SELECT 1');
    expect(pgmux.logs()).not.toMatch(/slow query: .*: select \?$/m);
  });
});

describe('a client turned away at the door', () => {
  /** Refused over max_client_conn after its SSLRequest/StartupMessage: one login error, counted once. */
  it('counts a max_client_conn refusal once, as a login error of class 53 (catches: counting it at accept and again at the refusal)', async () => {
    const [small, smallHttp] = await freePorts(2);
    const ini =
      '[databases]\n' +
      `plain = host=${cluster.primary.host} port=${cluster.primary.port} dbname=app\n` +
      '[pgbouncer]\n' +
      `listen_addr = 127.0.0.1\nlisten_port = ${small}\nunix_socket_dir =\n` +
      'auth_type = trust\nauth_file = userlist.txt\npool_mode = transaction\nmax_client_conn = 1\n' +
      `http_listen_port = ${smallHttp}\n`;
    const mux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
    let first: Client | undefined;
    try {
      // The launcher's own check that the port accepts may still hold the one place for a moment.
      await until('the one client place to be free', async () => {
        const c = new Client({ host: '127.0.0.1', port: small, user: 'app', database: 'plain' });
        c.on('error', () => undefined);
        first = await c.connect().then(
          () => c,
          () => undefined,
        );
        return first !== undefined;
      });
      const before = (await scrape(smallHttp)).families;
      const second = new Client({ host: '127.0.0.1', port: small, user: 'app', database: 'plain' });
      second.on('error', () => undefined);
      await expect(second.connect()).rejects.toThrow(/no more connections allowed/);
      const after = (await scrape(smallHttp)).families;
      expect(delta(before, after, 'pgmux_client_errors_total', { database: '', source: 'pgmux', sqlstate_class: '53' })).toBe(1);
    } finally {
      await first?.end().catch(() => undefined);
      await mux.stop();
    }
  });
});

describe('examples/', () => {
  /** A dashboard or alert on a name pgmux does not serve shows nothing and never fires. */
  it('uses only metrics pgmux serves in the Grafana dashboard and the alert rules', async () => {
    const { families } = await scrape(http);
    const served = new Set(families.flatMap((f) => f.samples.map((s) => s.name)));
    for (const file of ['examples/grafana/pgmux-dashboard.json', 'examples/prometheus/pgmux-alerts.yml']) {
      const text = readFileSync(join(repoRoot(), file), 'utf8');
      const used = new Set(text.match(/\b(?:pgmux|pgbouncer|nodejs|process)_[a-z0-9_]+/g) ?? []);
      expect(used.size).toBeGreaterThan(5);
      for (const name of used) expect([file, name, served.has(name)]).toEqual([file, name, true]);
    }
  });
});

describe('/healthz and /readyz', () => {
  it('answers live and ready while every database has its primary', async () => {
    const live = await fetch(`http://127.0.0.1:${http}/healthz`);
    expect([live.status, await live.text()]).toEqual([200, 'ok\n']);
    const ready = await fetch(`http://127.0.0.1:${http}/readyz`);
    expect([ready.status, await ready.text()]).toEqual([200, 'ready\n']);
  });
});
