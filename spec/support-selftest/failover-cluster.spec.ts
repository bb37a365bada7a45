// Spec of what spec/support/cluster.ts gives the failover drill: synchronous replication on
// the primary only, promote(), restartNode(), logTime().

import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { pgClient } from '../support/clients';
import { waitFor } from '../support/wait';

describe('startCluster({ replica: true, synchronous: true })', () => {
  let cluster: Cluster;
  let replica: PgNode;

  beforeAll(async () => {
    cluster = await startCluster({ replica: true, synchronous: true });
    replica = cluster.replica as PgNode;
  });
  afterAll(() => cluster?.stop());

  it('makes the replica the primary’s synchronous standby, and only the primary waits', async () => {
    const p = await cluster.query(cluster.primary, "SELECT application_name, sync_state FROM pg_stat_replication");
    expect(p.rows).toEqual([{ application_name: 'replica', sync_state: 'sync' }]);
    const names = await cluster.query(replica, 'SHOW synchronous_standby_names');
    expect(names.rows[0].synchronous_standby_names).toBe('');
  });

  it('acknowledges a commit only once the standby has it: with the standby stopped, a commit waits', async () => {
    await cluster.query(cluster.primary, 'CREATE TABLE t (id int)', 'app');
    await cluster.stopNode(replica, 'fast');
    const client = await pgClient(cluster.primary.port, 'app', cluster.password);
    try {
      let committed = false;
      const insert = client.query('INSERT INTO t VALUES (1)').then(() => (committed = true));
      // The backend shows the wait in pg_stat_activity: an event, not a timing guess.
      await waitForSyncRepWait(cluster);
      expect(committed).toBe(false);
      await cluster.startNode(replica);
      await insert;
      expect(committed).toBe(true);
    } finally {
      await client.end();
    }
    await cluster.awaitStreaming(replica);
  });

  it('promote() leaves a primary that commits without waiting, and says so in its log', async () => {
    const since = Date.now();
    await cluster.stopNode(cluster.primary, 'immediate');
    await cluster.promote(replica);
    expect(replica.role).toBe('primary');
    const r = await cluster.query(replica, 'SELECT pg_is_in_recovery() AS r, count(*)::int AS n FROM t', 'app');
    expect(r.rows[0]).toEqual({ r: false, n: 1 });
    // No standby is left: a commit that waited would hang this insert.
    await cluster.query(replica, 'INSERT INTO t VALUES (2)', 'app');
    const ready = cluster.logTime(replica, /database system is ready to accept connections/, since);
    expect(ready).toBeGreaterThanOrEqual(since - 1);
    expect(ready).toBeLessThanOrEqual(Date.now());
    expect(cluster.logTime(replica, /database system is ready to accept connections/, Date.now() + 1000)).toBeUndefined();
  });
});

describe('restartNode()', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());

  it('stops the primary and starts it in place, keeping its data', async () => {
    await cluster.query(cluster.primary, 'CREATE TABLE t AS SELECT 1 AS id', 'app');
    const oldPid = cluster.primary.pid;
    await cluster.restartNode(cluster.primary, 'immediate');
    expect(cluster.primary.pid).not.toBe(oldPid);
    const r = await cluster.query(cluster.primary, 'SELECT count(*)::int AS n FROM t', 'app');
    expect(r.rows[0].n).toBe(1);
    expect(cluster.logs(cluster.primary)).toMatch(/received immediate shutdown request[\s\S]*ready to accept connections/);
  });
});

/** Resolves once a backend on the primary waits for its synchronous standby. */
async function waitForSyncRepWait(cluster: Cluster): Promise<void> {
  await waitFor('a commit waiting for the synchronous standby (wait_event SyncRep)', async () => {
    const r = await cluster.query(cluster.primary, "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'", 'postgres', 'postgres');
    return (r.rowCount ?? 0) > 0;
  });
}
