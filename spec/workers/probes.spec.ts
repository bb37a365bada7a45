// One health and lag probe per host for the whole pgmux with `workers = N` (issue 18): PostgreSQL
// sees one pgmux probe session on the primary and one on the replica, not one per worker, and
// every worker's SHOW HOSTS and SHOW REPLICAS still follow the hosts (worker 0 probes and the
// others hear its answers through the main process).

import { Client } from 'pg';
import { PROBE_SQL } from '../../lib/failover/backend';
import { MONITOR_APPLICATION_NAME } from '../../lib/routing/monitor';
import type { PgNode } from '../support/cluster';
import { allWorkersUp, appClient, freePort, startCluster, startPgmux, userlist, waitFor, workerOf, workersIni, type Cluster, type PgmuxProcess } from './helpers';

jest.setTimeout(120000);

/** 'X/Y' as a number of bytes (exact for the WAL a spec writes). */
const lsnBytes = (text: string): number => {
  const [hi, lo] = text.split('/');
  return parseInt(hi, 16) * 2 ** 32 + parseInt(lo, 16);
};

describe.each([2, 4])('workers = %i', (workers) => {
  let cluster: Cluster;
  let mux: PgmuxProcess;
  let port: number;
  /** One console connection on each worker, by worker index. */
  const consoles = new Map<number, Client>();
  const extra: Client[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ replica: true });
    port = await freePort();
    const replica = cluster.replica as PgNode;
    const db = `routed = host=127.0.0.1 port=${cluster.primary.port} dbname=app replicas=127.0.0.1:${replica.port}`;
    mux = await startPgmux(workersIni(cluster, port, workers, ['replica_lag_poll_interval = 0.1'], [db]), userlist(cluster));
    await allWorkersUp(mux, workers);
    for (let i = 0; i < workers * 4 && consoles.size < workers; i++) {
      const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'pgbouncer' });
      await c.connect();
      if (consoles.has(workerOf(c))) extra.push(c);
      else consoles.set(workerOf(c), c);
    }
    expect([...consoles.keys()].sort()).toEqual([...Array(workers).keys()]);
    // A client of the routed database on every worker: its replica set (SHOW REPLICAS) is made at login.
    const routed = new Set<number>();
    for (let i = 0; i < workers * 4 && routed.size < workers; i++) {
      const c = await appClient(cluster, port, 'routed');
      extra.push(c);
      routed.add(workerOf(c));
    }
    expect(routed.size).toBe(workers);
  });

  afterAll(async () => {
    await Promise.all([...consoles.values(), ...extra].map((c) => c.end().catch(() => undefined)));
    await mux?.stop();
    await cluster?.stop();
  });

  /** Sessions that run the health probe (the volatility lookup's short connections share the application_name, not the query). */
  const probeSessions = async (node: PgNode): Promise<number> => {
    const r = await cluster.query(
      node,
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = '${MONITOR_APPLICATION_NAME}' AND query = '${PROBE_SQL.replace(/'/g, "''")}'`,
    );
    return (r.rows[0] as { n: number }).n;
  };

  /** Catches: every worker running its own probes (N sessions per host, N times the polls). */
  it('PostgreSQL sees one probe session per host, not one per worker', async () => {
    // Every worker knows both hosts (it has heard probes) before the sessions are counted.
    for (const [worker, c] of consoles) {
      await waitFor(`worker ${worker} hearing both hosts`, async () => {
        const hosts = (await c.query('SHOW HOSTS')).rows.filter((r) => r.database === 'routed');
        return hosts.length === 2 && hosts.every((h) => h.role !== 'unknown');
      });
    }
    expect(await probeSessions(cluster.primary)).toBe(1);
    expect(await probeSessions(cluster.replica as PgNode)).toBe(1);
  });

  /** Catches: workers other than the probing one keeping the state of their start (no answers reach them). */
  it("every worker's SHOW REPLICAS follows the replica's replay", async () => {
    await cluster.query(cluster.primary, 'CREATE TABLE IF NOT EXISTS probe_mark (v int); INSERT INTO probe_mark VALUES (1)');
    const written = lsnBytes((await cluster.query(cluster.primary, 'SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn as string);
    for (const [worker, c] of consoles) {
      await waitFor(`worker ${worker}'s SHOW REPLICAS at the write`, async () => {
        const row = (await c.query('SHOW REPLICAS')).rows.find((r) => r.database === 'routed' && Number(r.port) === (cluster.replica as PgNode).port);
        return row !== undefined && row.state === 'up' && typeof row.replay_lsn === 'string' && lsnBytes(row.replay_lsn) >= written;
      });
    }
    expect(await probeSessions(cluster.primary)).toBe(1);
    expect(await probeSessions(cluster.replica as PgNode)).toBe(1);
  });
});
