// read_your_writes = user, database and key with `workers = 2` and `4` (issue 18): a write committed
// by a client on worker 0 is seen by a read of the same scope from a client on the last worker that starts as
// soon as the writer has its commit's answer, while the replica replays nothing
// (pg_wal_replay_pause()): the read waits (read_your_writes_timeout) and goes to the primary, as it
// would on the writer's own worker. Without the commit made known to every worker before its
// ReadyForQuery, the reader's worker sends the read to the paused replica, which returns the old row. And a
// stopped worker (SIGSTOP) holds such a commit about a second, not forever.

import type { Client } from 'pg';
import type { PgNode } from '../support/cluster';
import { allWorkersUp, appClient, freePort, startCluster, startPgmux, userlist, workerOf, workerPids, workersIni, type Cluster, type PgmuxProcess } from './helpers';

jest.setTimeout(120000);

const SCOPES = ['user', 'database', 'key'] as const;
type Scope = (typeof SCOPES)[number];

describe.each([2, 4])('workers = %i', (workers) => {
  const last = workers - 1;
  let cluster: Cluster;
  let mux: PgmuxProcess;
  let port: number;
  const opened: Client[] = [];

  /** The statement with the application's consistency key for scope `key` (a sqlcommenter tag). */
  const tagged = (scope: Scope, sql: string): string => (scope === 'key' ? `/* pgmux_key='end-user-7' */ ${sql}` : sql);

  beforeAll(async () => {
    cluster = await startCluster({ replica: true });
    await cluster.query(cluster.primary, 'CREATE TABLE profile (id int PRIMARY KEY, v int NOT NULL); INSERT INTO profile VALUES (1, 0); GRANT ALL ON profile TO app');
    await cluster.waitForReplay();
    const replica = cluster.replica as { port: number };
    const databases = SCOPES.map(
      (scope) =>
        `rw_${scope} = host=127.0.0.1 port=${cluster.primary.port} dbname=app replicas=127.0.0.1:${replica.port} read_your_writes=${scope} read_your_writes_timeout=1`,
    );
    port = await freePort();
    // max_replica_lag = 0: the paused replica stays in rotation however far behind it falls.
    mux = await startPgmux(workersIni(cluster, port, workers, ['max_replica_lag = 0', 'replica_lag_poll_interval = 0.05'], databases), userlist(cluster));
    await allWorkersUp(mux, workers);
  });

  afterAll(async () => {
    await Promise.all(opened.map((c) => c.end().catch(() => undefined)));
    await mux?.stop();
    await cluster?.stop();
  });

  /** One client on worker 0 and one on the last worker (round-robin hands connections out in turn). */
  async function clientsOnBothWorkers(database: string): Promise<[Client, Client]> {
    const on = new Map<number, Client>();
    for (let i = 0; i < 2 * workers && !(on.has(0) && on.has(last)); i++) {
      const c = await appClient(cluster, port, database);
      opened.push(c);
      if (!on.has(workerOf(c))) on.set(workerOf(c), c);
    }
    const a = on.get(0);
    const b = on.get(last);
    if (a === undefined || b === undefined) throw new Error(`clients landed on workers ${[...on.keys()].join(', ')} only`);
    return [a, b];
  }

  describe.each(SCOPES)('read_your_writes = %s across workers', (scope) => {
    let writer: Client;
    let reader: Client;

    beforeAll(async () => {
      [writer, reader] = await clientsOnBothWorkers(`rw_${scope}`);
    });

    afterEach(async () => {
      await cluster.query(cluster.replica as PgNode, 'SELECT pg_wal_replay_resume()');
    });

    /**
     * Catches: each worker keeping its own map of writes, so a read on worker 1 right after a
     * write on worker 0 goes to a replica that has not replayed it.
     */
    it(`a read on worker ${last} right after a commit on worker 0 sees the write`, async () => {
      expect([workerOf(writer), workerOf(reader)]).toEqual([0, last]);
      // The reader's reads do go to the replica while nothing holds them back.
      await cluster.waitForReplay();
      const replica = (cluster.replica as PgNode).port;
      const before = await reader.query(tagged(scope, 'SELECT v, inet_server_port() AS port FROM profile WHERE id = 1'));
      expect(before.rows[0].port).toBe(replica);

      await cluster.query(cluster.replica as PgNode, 'SELECT pg_wal_replay_pause()');
      for (let round = 1; round <= 3; round++) {
        await writer.query(tagged(scope, `UPDATE profile SET v = ${round} WHERE id = 1`));
        const read = await reader.query(tagged(scope, 'SELECT v, inet_server_port() AS port FROM profile WHERE id = 1'));
        // read_your_writes_timeout (1 s) ran out waiting for the paused replica: the primary answered.
        expect(read.rows[0]).toEqual({ v: round, port: cluster.primary.port });
      }
    });
  });

  /**
   * Catches: a commit waiting for a worker that never answers (stopped, wedged), which would hang
   * every writer of a shared scope.
   */
  it('a stopped worker holds a commit in a shared scope about a second, not forever', async () => {
    const [writer] = await clientsOnBothWorkers('rw_user');
    const stopped = workerPids(mux).get(last) as number;
    process.kill(stopped, 'SIGSTOP');
    try {
      const start = Date.now();
      await writer.query('UPDATE profile SET v = 100 WHERE id = 1');
      const took = Date.now() - start;
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(5000);
      expect(mux.logs()).toMatch(new RegExp(`a commit was answered without worker ${last}: no answer within 1000 ms`));
    } finally {
      process.kill(stopped, 'SIGCONT');
    }
  });
});
