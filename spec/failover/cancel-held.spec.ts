// A CancelRequest for a request held while the primary is gone: the user (psql's Ctrl-C, a
// driver's statement timeout) gets PostgreSQL's 57014 at once, the session goes on, and the
// request never runs (before, the cancel was dropped for want of a server, and the write ran on
// the new primary after the promotion, long after the user gave up on it). A held client that
// disconnects leaves nothing behind in SHOW CLIENTS / SHOW POOLS. With workers = 2 the cancel may
// reach another worker than the client's, and SHOW HOSTS counts the requests every worker holds.

import { connect as netConnect } from 'node:net';
import { Client } from 'pg';
import type { Cluster, PgNode } from '../support/cluster';
import { startPair, startTwoHosts } from './two-host-pgmux';
import type { PgmuxProcess } from '../support/pgmux';
import { AppClients } from './single-host-pgmux';
import { consoleRows } from '../support/console';
import { until } from '../routing/support';

jest.setTimeout(120000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
const clients = new AppClients(() => cluster);

function connect(): Promise<Client> {
  return clients.connect(pgmux.port);
}

function admin(sql: string): Promise<Record<string, unknown>[]> {
  return consoleRows(pgmux.port, 'app', cluster.password, sql);
}

async function standbyRow(): Promise<Record<string, unknown>> {
  const row = (await admin('SHOW HOSTS')).find((r) => r.database === 'app' && Number(r.port) === standby.port);
  if (row === undefined) throw new Error('no SHOW HOSTS row for the standby');
  return row;
}

/** A CancelRequest with the key pgmux gave `c`, as libpq's PQcancel sends it; resolves when pgmux closes it. */
function cancel(c: Client): Promise<void> {
  const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  return new Promise((resolve, reject) => {
    const s = netConnect(pgmux.port, '127.0.0.1', () => s.end(packet));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

/** The error a query ends with and how long after `since` it came (ms); null error if it succeeded. */
async function outcome(q: Promise<unknown>, since: () => number): Promise<{ code: string | null; message: string; ms: number }> {
  try {
    await q;
    return { code: null, message: '', ms: Date.now() - since() };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { code: err.code ?? null, message: err.message, ms: Date.now() - since() };
  }
}

describe.each([1, 2])('a cancel for a request held during a failover (workers = %i)', (workers) => {
  beforeAll(async () => {
    const pair = await startPair('CREATE TABLE ch (who text NOT NULL); GRANT ALL ON ch TO app');
    ({ cluster, primary, standby } = pair);
    pgmux = await startTwoHosts(pair, `failover_timeout = 60\nquery_wait_timeout = 120\n${workers > 1 ? `workers = ${workers}\n` : ''}`);
    await until('both hosts probed', async () => (await standbyRow()).state === 'up');
  }, 120000);

  afterAll(async () => {
    await clients.endAll();
    await pgmux?.stop();
    await cluster?.stop();
  });

  /** The worker serving `c` (SHOW CLIENTS lists every worker's clients with a `worker` column); 0 with one process. */
  async function workerOf(c: Client): Promise<number> {
    const port = (c as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort;
    const row = (await admin('SHOW CLIENTS')).find((r) => Number(r.port) === port);
    return row === undefined || row.worker === undefined ? 0 : Number(row.worker);
  }

  it('answers 57014 at once, the session goes on, and the request never runs; a held client that leaves is forgotten', async () => {
    const simple = await connect();
    const extended = await connect();
    let leaving = await connect();
    // With workers: the held clients on both workers, so that SHOW HOSTS must count both workers' holds.
    for (let i = 0; workers > 1 && (await workerOf(leaving)) === (await workerOf(simple)); i++) {
      if (i === 20) throw new Error('20 connections all went to one worker');
      leaving = await connect();
    }
    const baseClients = (await admin('SHOW CLIENTS')).length;

    await cluster.stopNode(primary, 'fast');
    await until('pgmux to hold', async () => (await standbyRow()).primary_state === 'searching');
    const held = [
      simple.query("INSERT INTO ch (who) VALUES ('simple')"),
      extended.query('INSERT INTO ch (who) VALUES ($1)', ['extended']),
    ];
    const gone = leaving.query("INSERT INTO ch (who) VALUES ('leaving')").catch(() => undefined);
    await until('three requests held', async () => Number((await standbyRow()).held) === 3);

    let cancelledAt = 0;
    const outcomes = held.map((q) => outcome(q, () => cancelledAt));
    cancelledAt = Date.now();
    await Promise.all([cancel(simple), cancel(extended)]);
    const [s, e] = await Promise.all(outcomes);
    expect(s).toMatchObject({ code: '57014', message: 'canceling statement due to user request' });
    expect(e).toMatchObject({ code: '57014', message: 'canceling statement due to user request' });
    // Promptly: the primary is still gone (failover_timeout is 60 s).
    expect(s.ms).toBeLessThan(2000);
    expect(e.ms).toBeLessThan(2000);
    expect((await standbyRow()).primary_state).toBe('searching');

    // The sessions go on: reads are served by the standby meanwhile.
    expect((await simple.query('SELECT count(*)::int AS n FROM ch')).rows[0].n).toBe(0);
    expect((await extended.query('SELECT count(*)::int AS n FROM ch WHERE who = $1', ['extended'])).rows[0].n).toBe(0);

    // A held client that disconnects: its request is dropped and it is gone from the console.
    (leaving as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await gone;
    await until('the held client to be forgotten', async () => Number((await standbyRow()).held) === 0 && (await admin('SHOW CLIENTS')).length === baseClients - 1);
    const pool = (await admin('SHOW POOLS')).find((r) => r.database === 'app' && r.user === 'app');
    expect(pool).toMatchObject({ cl_waiting: 0 });

    // The promotion: the cancelled writes did not run there; the sessions write again.
    await cluster.promote(standby);
    await until('the promoted standby to take writes', async () => (await standbyRow()).state === 'primary', 60000);
    expect((await simple.query("INSERT INTO ch (who) VALUES ('after') RETURNING inet_server_port() AS p")).rows[0].p).toBe(standby.port);
    const rows = (await cluster.query(standby, 'SELECT who FROM ch ORDER BY who')).rows.map((r) => r.who);
    expect(rows).toEqual(['after']);
    expect(pgmux.logs()).toMatch(/cancel request for a request still waiting for a server: answered 57014/);
  });
});
