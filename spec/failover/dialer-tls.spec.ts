// Every connection pgmux opens to PostgreSQL comes from one dialer, so server_tls_sslmode covers
// them all (issue 11, item 8): pooled servers, health probes, auth_query lookups and forwarded
// cancels. The witness is a transparent TCP tap in front of a TLS-enabled PostgreSQL that reads
// the first packet of every connection: with server_tls_sslmode = verify-full each must be an
// SSLRequest, never a plain StartupMessage or CancelRequest.

import * as net from 'node:net';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { until } from '../routing/support';
import { makePki, type Pki } from '../tls/support/pki';

jest.setTimeout(60000);

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const STARTUP_V3 = 196608;

/** A TCP proxy to `target` recording each connection's first packet code (bytes 4..8). */
interface Tap {
  port: number;
  firstCodes: number[];
  server: net.Server;
}

function startTap(target: number): Promise<Tap> {
  return new Promise((resolve) => {
    const tap: Tap = { port: 0, firstCodes: [], server: net.createServer() };
    tap.server.on('connection', (socket) => {
      const upstream = net.connect({ host: '127.0.0.1', port: target });
      let head = Buffer.alloc(0);
      let recorded = false;
      socket.on('data', (chunk: Buffer) => {
        if (!recorded) {
          head = Buffer.concat([head, chunk]);
          if (head.length >= 8) {
            recorded = true;
            tap.firstCodes.push(head.readInt32BE(4));
          }
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.on('end', () => upstream.end());
      upstream.on('end', () => socket.end());
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    tap.server.listen(0, '127.0.0.1', () => {
      tap.port = (tap.server.address() as net.AddressInfo).port;
      resolve(tap);
    });
  });
}

let cluster: Cluster;
let pki: Pki;
let tap: Tap;
let replicaTap: Tap;
let pgmux: PgmuxProcess;

beforeAll(async () => {
  pki = await makePki();
  cluster = await startCluster({ settings: { ssl: 'on', ssl_cert_file: pki.cert('server'), ssl_key_file: pki.key('server'), ssl_ca_file: pki.cert('ca') } });
  tap = await startTap(cluster.primary.port);
  // A second address for the same server, listed as a replica: the database then has two hosts,
  // and both are probed (the "replica" is found to be a primary and takes no reads).
  replicaTap = await startTap(cluster.primary.port);
  const port = await freePort();
  const ini =
    '[databases]\n' +
    `app = host=127.0.0.1 port=${tap.port} dbname=app replicas=127.0.0.1:${replicaTap.port}\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = md5\nauth_file = userlist.txt\nadmin_users = app\nauth_user = postgres\n' +
    'pool_mode = transaction\ndefault_pool_size = 2\nreplica_lag_poll_interval = 0.05\n' +
    `server_tls_sslmode = verify-full\nserver_tls_ca_file = ${pki.cert('ca')}\n`;
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n"postgres" "${cluster.password}"\n` });
}, 60000);

afterAll(async () => {
  await pgmux?.stop();
  for (const t of [tap, replicaTap]) t?.server.close();
  await cluster?.stop();
  pki?.remove();
});

async function connect(user: string): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port: pgmux.port, user, password: cluster.password, database: 'app' });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

describe('server_tls_sslmode = verify-full', () => {
  it('opens every connection with an SSLRequest: pooled servers, probes, auth_query and cancels', async () => {
    // Probes of both hosts.
    await until('both hosts probed', async () => tap.firstCodes.length > 0 && replicaTap.firstCodes.length > 0);
    // A pooled server, and an auth_query lookup for a user auth_file lacks.
    const app = await connect('app');
    expect((await app.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([{ ssl: true }]);
    // app_md5 is not in auth_file: its login makes pgmux look its md5 secret up with auth_query.
    const lookedUp = await connect('app_md5');
    expect((await lookedUp.query('SELECT current_user AS u')).rows).toEqual([{ u: 'app_md5' }]);
    // A cancel forwarded to the server running the query.
    // Both addresses reach the same server, which answers both as a primary: either may be the
    // one pgmux took (the other is fenced), so count connections through both.
    const seen = () => tap.firstCodes.length + replicaTap.firstCodes.length;
    const before = seen();
    const sleeping = app.query('SELECT pg_sleep(30)').then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    await until('the sleep to run', async () => {
      const r = await cluster.query(cluster.primary, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'");
      return r.rows[0]?.n === 1;
    });
    const keys = app as unknown as { processID: number; secretKey: number };
    await sendCancel(pgmux.port, keys.processID, keys.secretKey);
    expect((await sleeping)?.code).toBe('57014');
    expect(seen()).toBeGreaterThan(before);

    const all = [...tap.firstCodes, ...replicaTap.firstCodes];
    expect(all.filter((c) => c === STARTUP_V3 || c === CANCEL_REQUEST)).toEqual([]);
    expect(all.every((c) => c === SSL_REQUEST)).toBe(true);
    // Pooled server, auth_query, the probes and the cancel: at least four connections.
    expect(all.length).toBeGreaterThanOrEqual(4);
    await app.end();
    await lookedUp.end();
  });
});

/** A CancelRequest to pgmux with the key it handed out. */
function sendCancel(port: number, pid: number, secret: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      const b = Buffer.alloc(16);
      b.writeInt32BE(16, 0);
      b.writeInt32BE(CANCEL_REQUEST, 4);
      b.writeInt32BE(pid, 8);
      b.writeInt32BE(secret, 12);
      s.end(b);
    });
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}
