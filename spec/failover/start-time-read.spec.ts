// The start-time read of a run of the postmaster (lib/server/postmaster-start) rides on the run's
// first pooled connection. When pgmux closes that connection before the answer comes (query_timeout,
// RECONNECT, server_lifetime), the run must not stay "learning" forever: its next login reads it.
// Without the start time, a restart in place faster than the probe cannot be told from an
// operator's pg_terminate_backend, and a statement it cut is refused instead of sent again.
//
// The witness is a TCP tap in front of PostgreSQL that counts the start-time queries pgmux sends
// and holds every answer on the connection that sent the first one.

import * as net from 'node:net';
import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { AppClients, startSingleHost } from './single-host-pgmux';
import { until } from '../routing/support';
import { MONITOR_APPLICATION_NAME } from '../../lib/routing/monitor';

jest.setTimeout(60000);

const MARK = Buffer.from('pg_postmaster_start_time');
const PROBE_NAME = Buffer.from(MONITOR_APPLICATION_NAME);

interface Tap {
  port: number;
  /** Start-time queries seen, one per connection that sent one. */
  reads: number;
  server: net.Server;
  sockets: net.Socket[];
}

function startTap(target: number): Promise<Tap> {
  return new Promise((resolve) => {
    const tap: Tap = { port: 0, reads: 0, server: net.createServer(), sockets: [] };
    let held = false;
    tap.server.on('connection', (socket) => {
      const upstream = net.connect({ host: '127.0.0.1', port: target });
      tap.sockets.push(socket, upstream);
      let holding = false;
      // The health probe asks the start time too (a single host is probed until it first
      // answers): its connection, known by its application_name, is passed through uncounted.
      let probe = false;
      socket.on('data', (chunk: Buffer) => {
        if (chunk.includes(PROBE_NAME)) probe = true;
        if (!probe && chunk.includes(MARK)) {
          tap.reads++;
          if (!held) held = holding = true;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!holding) socket.write(chunk);
      });
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
    });
    tap.server.listen(0, '127.0.0.1', () => {
      tap.port = (tap.server.address() as net.AddressInfo).port;
      resolve(tap);
    });
  });
}

let cluster: Cluster;
let tap: Tap;
let pgmux: PgmuxProcess;
const clients = new AppClients(() => cluster);
const connect = () => clients.connect(pgmux.port);

beforeAll(async () => {
  cluster = await startCluster();
  tap = await startTap(cluster.primary.port);
  pgmux = await startSingleHost(cluster, 'default_pool_size = 3\nquery_timeout = 1\n', tap.port);
}, 60000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  tap?.server.close();
  for (const s of tap?.sockets ?? []) s.destroy();
  await cluster?.stop();
});

describe('the start-time read', () => {
  it('is read again by the run\'s next login when pgmux closed the connection reading it', async () => {
    // A's request goes to the run's first server, behind the start-time read; the tap holds both answers.
    const a = await connect();
    const stuck = a.query('SELECT 1').then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    await until('the start-time read to be sent', async () => tap.reads === 1);
    // B's transaction opens a second server of the same run, which stays open past what follows.
    const b = await connect();
    await b.query('BEGIN');
    // query_timeout closes A's server (pgmux closes it: the run goes on with B's).
    expect((await stuck)?.code).toBe('57014');
    // C needs a third server: a login of the same run, which must read the start time again.
    const c = await connect();
    expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    expect(tap.reads).toBe(2);
    await b.query('COMMIT');
  });
});
