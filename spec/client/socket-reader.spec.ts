// Black-box spec of reading client sockets below the stream (issue 17, lib/client/client-socket):
// every plain client's reads land in one shared buffer, so whatever a client keeps past its read
// (requests queued while it waits for a server, a big request relayed in pieces) must be its own
// copy. With pg clients through a one-server pool, each waiting client's statement must come back
// as its own answer, not another client's bytes read into the shared buffer after it.

import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { pgClient } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { pollUntil, serverConn, startMux } from './support/setup';

let cluster: Cluster;
let mux: PgmuxProcess;
let admin: Client | null = null;

beforeAll(async () => {
  cluster = await startCluster();
  // One server: every client but the one in a transaction waits with its request queued.
  mux = await startMux(cluster, { databases: [`single = ${serverConn(cluster, 'dbname=app pool_size=1')}`], settings: { query_wait_timeout: 30, admin_users: 'postgres' } });
});

afterAll(async () => {
  await admin?.end().catch(() => undefined);
  await mux?.stop();
  await cluster?.stop();
});

const connect = (db = 'single'): Promise<Client> => pgClient(mux.port, 'app', cluster.password, db);

/** cl_waiting of the pool `single` in SHOW POOLS. */
async function waiting(): Promise<number> {
  admin ??= await pgClient(mux.port, 'postgres', cluster.password, 'pgbouncer');
  const r = await admin.query('SHOW POOLS');
  const row = r.rows.find((p: { database: string }) => p.database === 'single') as { cl_waiting: string } | undefined;
  return Number(row?.cl_waiting ?? 0);
}

describe('client reads into a shared buffer', () => {
  it('requests queued while waiting for a server each get their own answer (catches: a queued chunk kept as a view of the shared read buffer, overwritten by the next client read)', async () => {
    const holder = await connect();
    const clients: Client[] = [];
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1');
      for (let i = 0; i < 12; i++) clients.push(await connect());
      // Distinct texts of distinct lengths, each sent while the one server is held.
      const texts = clients.map((_, i) => `client-${i}-`.padEnd(40 + i * 97, String.fromCharCode(97 + i)));
      const answers = clients.map((c, i) => c.query(`SELECT '${texts[i]}' AS t, ${i} AS i`));
      await pollUntil(async () => (await waiting()) === clients.length, 'every client queued');
      await holder.query('COMMIT');
      const rows = (await Promise.all(answers)).map((r) => r.rows[0] as { t: string; i: number });
      rows.forEach((row, i) => expect(row).toEqual({ t: texts[i], i }));
    } finally {
      await holder.end().catch(() => undefined);
      for (const c of clients) await c.end().catch(() => undefined);
    }
  });

  it('a 3 MB statement from a linked client while others keep sending arrives whole (catches: forwarded runs or a partial frame pointing into a reused buffer)', async () => {
    const big = await connect('app');
    const others = await Promise.all([0, 1, 2, 3].map(() => connect('app')));
    try {
      const text = Array.from({ length: 3 * 1024 * 16 }, (_, i) => `row ${i} `.padEnd(64, 'x')).join('');
      const want = createHash('md5').update(text).digest('hex');
      const busy = others.map(async (c, k) => {
        for (let n = 0; n < 40; n++) expect((await c.query(`SELECT ${k * 1000 + n} AS n`)).rows[0]).toEqual({ n: k * 1000 + n });
      });
      const r = await big.query(`SELECT md5('${text}') AS h, length('${text}') AS n`);
      await Promise.all(busy);
      expect(r.rows[0]).toEqual({ h: want, n: text.length });
    } finally {
      await big.end().catch(() => undefined);
      for (const c of others) await c.end().catch(() => undefined);
    }
  });
});
