// Black-box spec of a slow HTTP client (slowloris) on pgmux's HTTP port: a request whose header
// bytes arrive one at a time is cut off with 408 once headersTimeout (10 s) has passed, not up
// to 30 s later, and meanwhile /healthz and a PostgreSQL client are served.

import { connect, type Socket } from 'node:net';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { startMux } from '../client/support/setup';

let cluster: Cluster;
let mux: PgmuxProcess;
let httpPort: number;

beforeAll(async () => {
  cluster = await startCluster();
  httpPort = await freePort();
  mux = await startMux(cluster, { settings: { http_listen_addr: '127.0.0.1', http_listen_port: httpPort } });
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
});

it('cuts off a client dripping header bytes with 408 within about headersTimeout (catches: node checking it only every 30 s)', async () => {
  const socket: Socket = connect(httpPort, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const started = Date.now();
  const request = Buffer.from(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ${'b'.repeat(400)}\r\n\r\n`);
  let sent = 0;
  const drip = setInterval(() => {
    if (sent < request.length && !socket.destroyed) socket.write(request.subarray(sent, ++sent));
  }, 250);
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  socket.on('error', () => undefined);
  try {
    // Meanwhile others are served.
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    expect(health.status).toBe(200);
    const pg = new Client({ host: '127.0.0.1', port: mux.port, user: 'app', password: cluster.password, database: 'app' });
    await pg.connect();
    expect((await pg.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pg.end();

    const closedAt = await new Promise<number>((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error(`still open after 20 s; read ${JSON.stringify(answer)}`)), 20_000);
      socket.once('close', () => {
        clearTimeout(limit);
        resolve(Date.now());
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAt - started).toBeLessThan(13_000);
  } finally {
    clearInterval(drip);
    socket.destroy();
  }
});
