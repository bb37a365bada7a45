// Black-box spec of the relayed protocol flows beyond plain queries (issue 3, "COPY in/out,
// NoticeResponse, NotificationResponse"): COPY FROM STDIN and TO STDOUT with psql and postgres.js,
// a 50 MB COPY out in transaction mode, RAISE NOTICE, and LISTEN/NOTIFY in session mode.

import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Notification } from 'pg';
import postgres from 'postgres';
import { startCluster, type Cluster } from '../support/cluster';
import { pgClient, psql } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { serverConn, startMux } from './support/setup';

let cluster: Cluster;
let mux: PgmuxProcess;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'CREATE TABLE copy_in (n int PRIMARY KEY, t text)', 'app');
  mux = await startMux(cluster, {
    databases: [
      // One server: a COPY that did not give it back would leave the next client waiting.
      `single = ${serverConn(cluster, 'dbname=app pool_size=1')}`,
      `sess = ${serverConn(cluster, 'dbname=app pool_mode=session')}`,
    ],
    settings: { query_wait_timeout: 5 },
  });
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
});

const env = (): NodeJS.ProcessEnv => ({ PGPASSWORD: cluster.password });
const psqlArgs = (db: string, sql: string): string[] => ['-h', '127.0.0.1', '-p', String(mux.port), '-U', 'app', '-d', db, '-AtX', '-v', 'ON_ERROR_STOP=1', '-c', sql];

function postgresJs(db: string): postgres.Sql {
  return postgres({ host: '127.0.0.1', port: mux.port, user: 'app', pass: cluster.password, database: db, max: 1, onnotice: () => undefined });
}

describe('COPY through pgmux in transaction mode', () => {
  it('psql COPY FROM STDIN loads rows, and a failing COPY leaves the pool usable (catches: CopyData/CopyDone not relayed, server stuck in COPY)', async () => {
    const load = await psql(psqlArgs('single', 'COPY copy_in (n, t) FROM STDIN'), env(), '1\tone\n2\ttwo\n3\tthree\n\\.\n');
    expect(load).toMatchObject({ code: 0, stdout: 'COPY 3\n' });
    const bad = await psql(psqlArgs('single', 'COPY copy_in (n, t) FROM STDIN'), env(), 'not-a-number\tx\n\\.\n');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/invalid input syntax for type integer: "not-a-number"/);
    const check = await psql(psqlArgs('single', 'SELECT string_agg(t, \',\' ORDER BY n) FROM copy_in WHERE n <= 3'), env());
    expect(check).toMatchObject({ code: 0, stdout: 'one,two,three\n' });
  });

  it('psql COPY TO STDOUT returns the rows (catches: CopyOutResponse/CopyData dropped or reordered)', async () => {
    const r = await psql(psqlArgs('single', 'COPY (SELECT n, t FROM copy_in WHERE n <= 3 ORDER BY n) TO STDOUT'), env());
    expect(r).toMatchObject({ code: 0, stdout: '1\tone\n2\ttwo\n3\tthree\n' });
  });

  it("postgres.js .writable() streams 100,000 rows (~10 MB) in (catches: large COPY IN losing or corrupting data)", async () => {
    const sql = postgresJs('single');
    try {
      const rows = 100000;
      const first = 1000; // above the rows psql loaded
      const last = first + rows - 1;
      function* lines(): Generator<string> {
        // Batches of 1,000 lines per write, as a program streaming a file would.
        for (let i = first; i <= last; i += 1000) {
          let batch = '';
          for (let n = i; n < i + 1000; n++) batch += `${n}\t${'y'.repeat(90)}\n`;
          yield batch;
        }
      }
      const stream = await sql`COPY copy_in (n, t) FROM STDIN`.writable();
      await pipeline(Readable.from(lines()), stream);
      const r = await sql<{ c: number; s: string; l: number }[]>`SELECT count(*)::int AS c, sum(n)::text AS s, sum(length(t))::int AS l FROM copy_in WHERE n >= ${first}`;
      expect(r[0]).toEqual({ c: rows, s: String(((first + last) * rows) / 2), l: rows * 90 });
    } finally {
      await sql.end();
    }
  });

  it('postgres.js .readable() gets a 50 MB COPY TO STDOUT whole and in order, then the server serves the next client (catches: big COPY OUT truncated, or its server never released)', async () => {
    const sql = postgresJs('single');
    const rows = 100000;
    const width = 500;
    let bytes = 0;
    let count = 0;
    let sum = 0;
    let inOrder = true;
    let carry = '';
    try {
      // COPY takes no bind parameters: the numbers go into the text.
      const stream = await sql.unsafe(`COPY (SELECT g, repeat('x', ${width}) FROM generate_series(1, ${rows}) g) TO STDOUT`).readable();
      await pipeline(
        stream,
        new Writable({
          write(chunk: Buffer, _enc, done) {
            bytes += chunk.length;
            const lines = (carry + chunk.toString('latin1')).split('\n');
            carry = lines.pop() as string;
            for (const line of lines) {
              const tab = line.indexOf('\t');
              const g = Number(line.slice(0, tab));
              if (g !== count + 1 || line.length - tab - 1 !== width) inOrder = false;
              count++;
              sum += g;
            }
            done();
          },
        }),
      );
      let expectedBytes = 0;
      for (let g = 1; g <= rows; g++) expectedBytes += String(g).length + 1 + width + 1;
      expect({ count, sum, inOrder, carry, bytes }).toEqual({ count: rows, sum: (rows * (rows + 1)) / 2, inOrder: true, carry: '', bytes: expectedBytes });
      expect(bytes).toBeGreaterThan(50e6);
    } finally {
      await sql.end();
    }
    // pool_size=1: this only gets a server if the COPY's server went back to the pool.
    const other = await pgClient(mux.port, 'app', cluster.password, 'single');
    try {
      expect((await other.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await other.end();
    }
  });
});

describe('asynchronous server messages', () => {
  it('RAISE NOTICE in a DO block reaches node-postgres as a NoticeResponse (catches: notices swallowed)', async () => {
    const client = await pgClient(mux.port, 'app', cluster.password);
    try {
      const notices: [string | undefined, string | undefined][] = [];
      client.on('notice', (n) => notices.push([n.severity, n.message]));
      await client.query("DO $$ BEGIN RAISE NOTICE 'spec notice %', 42; END $$");
      expect(notices).toEqual([['NOTICE', 'spec notice 42']]);
    } finally {
      await client.end();
    }
  });

  it('LISTEN in session mode receives a NOTIFY sent by another client, while idle (catches: NotificationResponse dropped between queries)', async () => {
    const listener = await pgClient(mux.port, 'app', cluster.password, 'sess');
    const notifier = await pgClient(mux.port, 'app', cluster.password);
    try {
      await listener.query('LISTEN spec_channel');
      const got = new Promise<Notification>((resolve) => listener.once('notification', resolve));
      await notifier.query("NOTIFY spec_channel, 'hello through pgmux'");
      const n = await got;
      expect({ channel: n.channel, payload: n.payload }).toEqual({ channel: 'spec_channel', payload: 'hello through pgmux' });
    } finally {
      await listener.end();
      await notifier.end();
    }
  });
});
