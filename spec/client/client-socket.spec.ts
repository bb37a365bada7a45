// Black-box spec of a client's connection held below net.Socket (issue 17, lib/client/client-socket):
// the half-close, reset and backpressure paths that net.Socket used to handle for pgmux. Through a
// one-server pool, so a server handed back dirty (or never handed back) is what the next client
// meets. Large-result backpressure itself is spec/client/backpressure.spec.ts; TLS is spec/tls.

import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { pgClient } from '../support/clients';
import { consoleRows } from '../support/console';
import type { PgmuxProcess } from '../support/pgmux';
import { isAlive } from '../support/procs';
import { pollUntil, serverConn, startMux } from './support/setup';
import { RawClient, msg } from '../support/wire';

let cluster: Cluster;
let mux: PgmuxProcess;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'CREATE TABLE written (n int)', 'app');
  mux = await startMux(cluster, { databases: [`single = ${serverConn(cluster, 'dbname=app pool_size=1')}`], settings: { query_wait_timeout: 20, admin_users: 'postgres' } });
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
});

const admin = (command: string): Promise<Record<string, unknown>[]> => consoleRows(mux.port, 'postgres', cluster.password, command);
const login = (): Promise<RawClient> => RawClient.login(mux.port, 'app', cluster.password, 'single');

/** Clients of database `single` pgmux still holds (SHOW CLIENTS). */
async function clientsOfSingle(): Promise<number> {
  return (await admin('SHOW CLIENTS')).filter((r) => r.database === 'single').length;
}

/** The one server of `single` answers a new client, outside any transaction the last client left. */
async function expectCleanServer(): Promise<void> {
  const next: Client = await pgClient(mux.port, 'app', cluster.password, 'single');
  try {
    const r = await next.query("SELECT (SELECT count(*)::int FROM written) AS n, now() = statement_timestamp() AS fresh");
    expect(r.rows).toEqual([{ n: 0, fresh: true }]);
  } finally {
    await next.end();
  }
}

describe('a client connection below net.Socket', () => {
  it('closes when an idle client sends FIN without Terminate (catches: the FIN not read, the client held forever)', async () => {
    const conn = await login();
    expect(await clientsOfSingle()).toBe(1);
    conn.socket.end();
    await conn.waitClosed(5000);
    await pollUntil(async () => (await clientsOfSingle()) === 0, 'pgmux to let the client go');
  });

  it('still answers a request sent just before FIN, then closes (catches: our FIN sent before what was written, or the close never following both FINs)', async () => {
    const conn = await login();
    conn.send(msg.query('SELECT 42 AS answer'));
    conn.socket.end();
    // The client left at a message boundary: pgmux closes it (as PgBouncer does); whatever it
    // wrote before closing arrives whole and in order before the close.
    const { frames } = await conn.untilClosed(5000);
    for (const f of frames) expect(['T', 'D', 'C', 'Z', 'E']).toContain(f.type);
    await pollUntil(async () => (await clientsOfSingle()) === 0, 'pgmux to let the client go');
    await expectCleanServer();
  });

  it('lets an idle client go when it resets the connection (catches: a read error ignored, a dead client held until pgmux writes to it)', async () => {
    const conn = await login();
    expect(await clientsOfSingle()).toBe(1);
    conn.socket.resetAndDestroy();
    await pollUntil(async () => (await clientsOfSingle()) === 0, 'pgmux to see the reset');
    expect(isAlive(mux.pid)).toBe(true);
  });

  it('survives a reset in the middle of a transaction and hands the server back clean (catches: a crash on ECONNRESET, or the next client meeting the dead one\'s transaction)', async () => {
    const conn = await login();
    await conn.roundTrip(msg.query('BEGIN'));
    await conn.roundTrip(msg.query('INSERT INTO written VALUES (1)'));
    conn.send(msg.query('SELECT pg_sleep(0.3)'));
    conn.socket.resetAndDestroy();
    await pollUntil(async () => (await clientsOfSingle()) === 0, 'pgmux to see the reset');
    await expectCleanServer();
    expect(isAlive(mux.pid)).toBe(true);
  });

  it('survives a reset while a result it could not write is pending, and hands the server back clean (catches: a failed pending write crashing pgmux or leaving the server linked and paused)', async () => {
    const conn = await login();
    const port = conn.socket.localPort;
    await conn.roundTrip(msg.query('BEGIN'));
    await conn.roundTrip(msg.query('INSERT INTO written VALUES (2)'));
    // The client stops reading; ~100 MB of result fills both kernel buffers and pgmux's pending write.
    conn.socket.pause();
    conn.send(msg.query("SELECT repeat('x', 1000) FROM generate_series(1, 100000)"));
    await pollUntil(async () => (await admin('SHOW ACTIVE_SOCKETS')).some((r) => r.type === 'C' && Number(r.port) === port), 'pgmux to have bytes it cannot write to the client', 20000);
    conn.socket.resetAndDestroy();
    await pollUntil(async () => (await clientsOfSingle()) === 0, 'pgmux to see the reset');
    await expectCleanServer();
    expect(isAlive(mux.pid)).toBe(true);
    expect(mux.logs()).not.toMatch(/uncaught|unhandled|TypeError|RangeError/i);
  });
});
