// Black-box spec: a client that sends half a message and then FIN while it waits for a server
// (its pool's only server is busy) gets FATAL 08P01 "truncated message", as one that is linked
// does (spec/client/bad-input), not a silent close. Under load bad-input's case could meet this
// path too: a client not linked at once when its FIN came got no answer.

import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { pgClient } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { frame } from '../support/bytes';
import { RawClient, msg } from '../support/wire';
import { serverConn, startMux } from './support/setup';

let cluster: Cluster;
let mux: PgmuxProcess;
/** Holds the pool's only server in an open transaction for the whole file. */
let holder: Client;

beforeAll(async () => {
  cluster = await startCluster();
  mux = await startMux(cluster, { databases: [`single = ${serverConn(cluster, 'dbname=app pool_size=1')}`] });
  holder = await pgClient(mux.port, 'app', cluster.password, 'single');
  await holder.query('BEGIN');
  await holder.query('SELECT 1');
});

afterAll(async () => {
  await holder?.end().catch(() => undefined);
  await mux?.stop();
  await cluster?.stop();
});

it('a Query cut short by FIN while the client waits for a server gets FATAL 08P01', async () => {
  const conn = await RawClient.open(mux.port);
  try {
    await conn.login(msg.startup({ user: 'app', database: 'single' }), 'app', cluster.password);
    conn.send(frame('Q', Buffer.from('SELECT 1\0')).subarray(0, 9));
    conn.socket.end();
    const { fields } = await conn.refusal({ sole: true });
    expect(fields).toMatchObject({ S: 'FATAL', C: '08P01' });
    expect(fields.M).toBe('truncated message: the client closed the connection in the middle of a message');
  } finally {
    conn.destroy();
  }
  // The holder's transaction goes on.
  expect((await holder.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
});
