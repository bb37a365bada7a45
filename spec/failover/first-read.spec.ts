// The first reads after start (issue 11, item 5): pgmux probes every host before it listens, so a
// read sent the moment the port accepts already goes to the caught-up replica. Before, the
// replica counted as unknown until its first poll answered and the read ran on the primary in
// about one start in three. Started many times, each read sent as soon as the port opens.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux } from '../support/pgmux';
import { freePort } from '../support/ports';

jest.setTimeout(120000);

const STARTS = 8;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
});

afterAll(async () => {
  await cluster?.stop();
});

it(`sends the first read after each of ${STARTS} starts to the replica`, async () => {
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('no replica');
  const where: string[] = [];
  for (let i = 0; i < STARTS; i++) {
    const port = await freePort();
    const ini =
      '[databases]\n' +
      `app = host=127.0.0.1 port=${cluster.primary.port} dbname=app replicas=127.0.0.1:${replica.port}\n` +
      '[pgbouncer]\n' +
      `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
      'auth_type = scram-sha-256\nauth_file = userlist.txt\npool_mode = transaction\n';
    const pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
    try {
      const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'app' });
      await c.connect();
      const r = await c.query("SELECT current_setting('in_hot_standby') AS hs, inet_server_port() AS p");
      where.push(`${r.rows[0].hs}:${r.rows[0].p}`);
      await c.end();
    } finally {
      await pgmux.stop();
    }
  }
  expect(where).toEqual(Array.from({ length: STARTS }, () => `on:${replica.port}`));
});
