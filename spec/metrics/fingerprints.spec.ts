// Specs for per-fingerprint metrics end to end (issue 13): with metrics_fingerprints = K, the
// fingerprint histograms on /metrics stay at K + 1 series whatever the traffic, statements that
// differ only in their literals are one fingerprint, and a fingerprint that comes to carry the
// most time takes a place in the top K from one that carries less.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePorts } from '../support/ports';
import { samples, scrape, type MetricFamily } from '../support/prometheus';
import { until } from '../routing/support';

const K = 3;
let cluster: Cluster;
let pgmux: PgmuxProcess;
let http: number;
let client: Client;

const FAMILY = 'pgmux_query_fingerprint_duration_seconds';

/** fingerprint label -> its _count. */
function counts(families: MetricFamily[]): Map<string, number> {
  return new Map(samples(families, `${FAMILY}_count`).map((s) => [s.labels.fingerprint, s.value]));
}

/** The fingerprint whose normalized text is `query` (from pgmux_query_fingerprint_info), or undefined. */
function idOf(families: MetricFamily[], query: string): string | undefined {
  return samples(families, 'pgmux_query_fingerprint_info', { query })[0]?.labels.fingerprint;
}

beforeAll(async () => {
  cluster = await startCluster();
  const [port, httpPort] = await freePorts(2);
  http = httpPort;
  const ini =
    `[databases]\nplain = host=${cluster.primary.host} port=${cluster.primary.port} dbname=app\n` +
    `[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\npool_mode = transaction\n' +
    `http_listen_port = ${http}\nmetrics_fingerprints = ${K}\n`;
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
  client = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'plain' });
  await client.connect();
}, 60000);

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

describe('fingerprint histograms', () => {
  let sent = 0;
  const query = async (sql: string): Promise<void> => {
    await client.query(sql);
    sent++;
  };

  /** Unbounded label values would be a time series per statement text: the classic cardinality bomb. */
  it('keeps K + 1 series, every request counted in exactly one of them', async () => {
    // Four literals, one statement: the first fingerprint seen takes a place.
    for (let i = 0; i < 4; i++) await query(`SELECT pg_sleep(0.03), 'order-${i}'`);
    // Eight statements differing in more than literals (the column alias): two places left.
    for (let j = 0; j < 8; j++) await query(`SELECT ${j} AS c${j}`);
    const { families } = await scrape(http);
    const byId = counts(families);
    expect(byId.size).toBe(K + 1);
    expect(byId.has('other')).toBe(true);
    const heavy = idOf(families, 'select pg_sleep(?), ?');
    expect(heavy).toBeDefined();
    expect(byId.get(heavy as string)).toBe(4);
    // Two of the eight have places, six are folded into "other".
    expect(byId.get('other')).toBe(6);
    expect([...byId.values()].reduce((a, b) => a + b, 0)).toBe(sent);
    const byKind = samples(families, 'pgmux_queries_total', { database: 'plain' }).reduce((n, s) => n + s.value, 0);
    expect(byKind).toBe(sent);
    expect(samples(families, 'pgmux_query_fingerprint_info')).toHaveLength(K);
  });

  /** "Top K by total time": a statement that became the heaviest is shown, in place of the lightest. */
  it('gives a place to a fingerprint that now carries more time than one holding a place', async () => {
    const before = counts((await scrape(http)).families);
    for (let i = 0; i < 6; i++) await query(`SELECT pg_sleep(0.05) AS late`);
    const now = counts((await scrape(http)).families);
    // No place was free: its calls so far went to "other".
    expect((now.get('other') ?? 0) - (before.get('other') ?? 0)).toBe(6);
    let families: MetricFamily[] = [];
    await until('the heavy newcomer to get its own series (rerank every 5 s)', async () => {
      families = (await scrape(http)).families;
      return idOf(families, 'select pg_sleep(?) as late') !== undefined;
    }, 20000);
    const after = counts(families);
    expect(after.size).toBe(K + 1);
    // The heavy statement of the first spec keeps its place; a light one gave its place up.
    expect(idOf(families, 'select pg_sleep(?), ?')).toBeDefined();
  });
});
