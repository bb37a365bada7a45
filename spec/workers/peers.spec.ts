// Black-box spec of [peers] and peer_id (PgBouncer 1.19 semantics, issue 18): two pgmux behind
// one load balancer; a CancelRequest that reaches the other instance is forwarded to the one
// that issued the key, and stops the running query. With workers = 1 and 2 on each instance.

import type { Client } from 'pg';
import { absorbLeftoverCancel, appClient, freePort, keyOf, sendCancel, startCluster, startPgmux, userlist, waitFor, workersIni, type Cluster, type PgmuxProcess } from './helpers';

async function running(cluster: Cluster, marker: string): Promise<void> {
  await waitFor(`a backend running ${marker}`, async () => {
    const r = await cluster.query(cluster.primary, `SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${marker}%' AND pid <> pg_backend_pid()`);
    return r.rows.length > 0;
  });
}

/** The peer_id in a key's pid (bytes 1 and 2, low byte first: PgBouncer's layout). */
const peerOf = (pid: number): number => ((pid >>> 16) & 0xff) | (((pid >>> 8) & 0xff) << 8);

describe.each([1, 2])('two pgmux with workers = %i', (workers) => {
  let cluster: Cluster;
  const mux: PgmuxProcess[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    const ports = [await freePort(), await freePort()];
    const peers = ['[peers]', `1 = host=127.0.0.1 port=${ports[0]}`, `2 = host=127.0.0.1 port=${ports[1]}`];
    for (const [i, port] of ports.entries()) {
      const ini = workersIni(cluster, port, workers, [`peer_id = ${i + 1}`, 'verbose = 1']) + peers.join('\n') + '\n';
      mux.push(await startPgmux(ini, userlist(cluster)));
    }
  });
  afterAll(async () => {
    for (const m of mux) await m.stop();
    await cluster?.stop();
  });

  /**
   * Catches: keys without the peer_id; a cancel for another instance's key looked up locally
   * and dropped (the pg_sleep would run its 30 s).
   */
  it("a cancel sent to the other pgmux stops the query on the issuing one, either way round", async () => {
    for (const [from, to] of [
      [0, 1],
      [1, 0],
    ]) {
      const client: Client = await appClient(cluster, mux[from].port);
      try {
        expect(peerOf(keyOf(client).pid)).toBe(from + 1);
        for (let round = 0; round < 2 * workers; round++) {
          const marker = `peer_${workers}_${from}_${round}`;
          const started = Date.now();
          const sleeping = client.query(`SELECT pg_sleep(30) /* ${marker} */`);
          await running(cluster, marker);
          await sendCancel(mux[to].port, keyOf(client).pid, keyOf(client).secret);
          await expect(sleeping).rejects.toMatchObject({ code: '57014' });
          expect(Date.now() - started).toBeLessThan(10000);
          await absorbLeftoverCancel(client);
        }
        expect(mux[to].logs()).toContain(`cancel request forwarded to peer ${from + 1}`);
      } finally {
        await client.end();
      }
    }
  });

  /** Catches: a key naming an unknown peer taking an instance down or looping; it is dropped and logged. */
  it('a cancel for a peer not in [peers] is dropped with a log line', async () => {
    const pid = (0x11 << 24) | (7 << 16) | (0 << 8) | 0x01;
    await sendCancel(mux[0].port, pid, 0x12345603);
    await waitFor('the drop logged', () => /cancel request for peer 7 dropped: no such peer in \[peers\]/.test(mux[0].logs()));
    const client = await appClient(cluster, mux[0].port);
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await client.end();
  });
});
