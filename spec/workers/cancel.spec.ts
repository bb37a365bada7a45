// Black-box spec of `workers = N` (issue 18) against real PostgreSQL: the workers serve one
// port, and a CancelRequest reaches the running query whichever worker the cancel's own TCP
// connection lands on (node:cluster hands connections round-robin, so a spec cannot choose;
// it repeats until both paths, same worker and another worker, were taken, and asserts every
// cancel worked).

import type { Client } from 'pg';
import { absorbLeftoverCancel, appClient, allWorkersUp, freePort, keyOf, sendCancel, startCluster, startPgmux, userlist, waitFor, workerOf, workersIni, type Cluster, type PgmuxProcess } from './helpers';

/** Resolves once a backend runs a statement containing `marker`, or `ended()` says it is over already. */
async function running(cluster: Cluster, marker: string, ended: () => boolean): Promise<void> {
  await waitFor(`a backend running ${marker}`, async () => {
    if (ended()) return true;
    const r = await cluster.query(cluster.primary, `SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${marker}%' AND pid <> pg_backend_pid()`);
    return r.rows.length > 0;
  });
}

/** Cancels passed on to another worker, from the workers' debug log. */
const passedOn = (mux: PgmuxProcess): number => mux.logs().match(/cancel request for worker \d+'s client: passed on/g)?.length ?? 0;
/** Cancels sent to a server, by whichever worker holds the client. */
const forwarded = (mux: PgmuxProcess): number => mux.logs().match(/forwarded cancel request/g)?.length ?? 0;

describe.each([2, 4])('workers = %i', (workers) => {
  let cluster: Cluster;
  let mux: PgmuxProcess;

  beforeAll(async () => {
    cluster = await startCluster();
    const port = await freePort();
    mux = await startPgmux(workersIni(cluster, port, workers, ['verbose = 1']), userlist(cluster));
    await allWorkersUp(mux, workers);
  });
  afterAll(async () => {
    await mux?.stop();
    await cluster?.stop();
  });

  /**
   * Catches: the workers not sharing the port; keys not saying which worker issued them (every
   * worker's index would not show up); one worker serving everything.
   */
  it('serves on one port from every worker, each client keyed by its worker', async () => {
    const clients: Client[] = [];
    try {
      for (let i = 0; i < workers * 3; i++) clients.push(await appClient(cluster, mux.port));
      for (const c of clients) expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect(new Set(clients.map(workerOf))).toEqual(new Set(Array.from({ length: workers }, (_, i) => i)));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  /**
   * Catches: a cancel that lands on a worker other than the client's being dropped (the
   * pg_sleep would run its 30 s); a forwarded cancel reaching the wrong server.
   */
  it('a cancel on its own connection stops pg_sleep whichever worker receives it, every time', async () => {
    const client = await appClient(cluster, mux.port);
    const before = passedOn(mux);
    const forwardedBefore = forwarded(mux);
    let same = 0;
    let sent = 0;
    let leftovers = 0;
    try {
      for (let round = 0; round < 4 * workers; round++) {
        const marker = `cancel_${workers}_${round}_${leftovers}`;
        const started = Date.now();
        let ended = false;
        const sleeping = client.query(`SELECT pg_sleep(30) /* ${marker} */`).then(
          () => null,
          (e: Error & { code?: string }) => e,
        );
        void sleeping.then(() => (ended = true));
        await running(cluster, marker, () => ended);
        if (ended) {
          // Cancelled before pgmux was sent a cancel for it: the second of PostgreSQL's two
          // signals for the last round's cancel, landing late on the server this statement got
          // (absorbLeftoverCancel may have run on another server of the pool). Not pgmux's: every
          // cancel it forwards is counted below. The round runs again, a few times at most.
          expect(await sleeping).toMatchObject({ code: '57014' });
          expect(++leftovers).toBeLessThan(4);
          round--;
          continue;
        }
        const beforeRound = passedOn(mux);
        await sendCancel(mux.port, keyOf(client).pid, keyOf(client).secret);
        sent++;
        expect(await sleeping).toMatchObject({ code: '57014' });
        expect(Date.now() - started).toBeLessThan(10000);
        // The holding worker logs after the receiving one passed it on (one pipe keeps their
        // order); one log line per cancel sent, so a cancel forwarded twice never matches.
        await waitFor('the cancel logged', () => forwarded(mux) === forwardedBefore + sent);
        if (passedOn(mux) === beforeRound) same++;
        await absorbLeftoverCancel(client);
      }
      // Both paths were taken: some cancels arrived on the client's worker, some on another.
      expect(passedOn(mux) - before).toBeGreaterThan(0);
      expect(same).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
  });
});
