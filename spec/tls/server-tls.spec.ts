// Black-box spec of TLS between pgmux and its servers (issue 7, "Server side TLS"): a cluster
// started with ssl = on and the spec CA's certificate, pgmux in every server_tls_sslmode,
// pg_stat_ssl on the server as the witness, a client certificate (server_tls_cert_file) for
// PostgreSQL's own cert method, and a scripted fake server for the answers PostgreSQL won't give.

import * as net from 'node:net';
import { Client } from 'pg';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../support/cluster';
import { psql } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { pollUntil, serverConn, startMux } from '../client/support/setup';
import { makePki, type Pki } from './support/pki';

let cluster: Cluster;
let pki: Pki;
let mux: Record<'plain' | 'prefer' | 'require' | 'full' | 'ca' | 'otherCa', PgmuxProcess>;

/** A server that answers SSLRequest with `answer`, then records what pgmux sends and refuses it. */
interface FakeServer {
  port: number;
  answer: Buffer;
  /** Bytes received on each connection, in accept order (pooled logins and pgmux's health probe). */
  received: Buffer[];
  server: net.Server;
}
let fake: FakeServer;

function startFake(): Promise<FakeServer> {
  return new Promise((resolve) => {
    const state: FakeServer = { port: 0, answer: Buffer.from('N'), received: [], server: net.createServer() };
    state.server.on('connection', (socket) => {
      const i = state.received.push(Buffer.alloc(0)) - 1;
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        const first = state.received[i]!.length === 0;
        state.received[i] = Buffer.concat([state.received[i]!, chunk]);
        if (first) socket.write(state.answer);
        // A StartupMessage after the SSLRequest: refuse it in a way the client can recognise.
        else socket.end(fatal('fake server saw a plain-text startup packet'));
      });
    });
    state.server.listen(0, '127.0.0.1', () => {
      state.port = (state.server.address() as net.AddressInfo).port;
      resolve(state);
    });
  });
}

function fatal(message: string): Buffer {
  const body = Buffer.from(`SFATAL\0C08P01\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

beforeAll(async () => {
  pki = await makePki();
  [cluster, fake] = await Promise.all([
    startCluster({ settings: { ssl: 'on', ssl_cert_file: pki.cert('server'), ssl_key_file: pki.key('server'), ssl_ca_file: pki.cert('ca') } }),
    startFake(),
  ]);
  // mallory logs in to PostgreSQL only by a client certificate whose CN is mallory.
  await cluster.query(cluster.primary, 'CREATE ROLE mallory LOGIN IN ROLE app');
  const hba = join(cluster.primary.dataDir, 'pg_hba.conf');
  writeFileSync(hba, `hostssl all mallory 127.0.0.1/32 cert\n${readFileSync(hba, 'utf8')}`);
  await cluster.query(cluster.primary, 'SELECT pg_reload_conf()');
  await pollUntil(async () => (await directCn('mallory').catch(() => null)) !== null, 'PostgreSQL to take the cert hba line');

  const databases = [
    `certdb = ${serverConn(cluster, 'dbname=app user=mallory')}`,
    // Not used before the certificate swap: a pool with no idle servers, so a new login is made.
    `fresh = ${serverConn(cluster)}`,
  ];
  const tlsTo = (settings: Record<string, string>) => startMux(cluster, { databases, settings: { admin_users: 'postgres', ...settings } });
  const [plain, prefer, require, full, ca, otherCa] = await Promise.all([
    tlsTo({}),
    tlsTo({ server_tls_sslmode: 'prefer' }),
    tlsTo({ server_tls_sslmode: 'require' }),
    tlsTo({
      server_tls_sslmode: 'verify-full', server_tls_ca_file: pki.cert('ca'),
      server_tls_cert_file: pki.cert('client-mallory'), server_tls_key_file: pki.key('client-mallory'),
    }),
    tlsTo({ server_tls_sslmode: 'verify-ca', server_tls_ca_file: pki.cert('ca') }),
    tlsTo({ server_tls_sslmode: 'verify-full', server_tls_ca_file: pki.cert('other-ca') }),
  ]);
  mux = { plain, prefer, require, full, ca, otherCa };
});

afterAll(async () => {
  await Promise.all(Object.values(mux ?? {}).map((m) => m.stop()));
  await cluster?.stop();
  await new Promise((resolve) => (fake ? fake.server.close(resolve) : resolve(undefined)));
  pki?.remove();
});

/**
 * Connects straight to PostgreSQL over TLS as `user` (with that user's client certificate for
 * mallory) and returns the CN of the certificate PostgreSQL presented.
 */
async function directCn(user: string): Promise<string> {
  const certName = user === 'mallory' ? 'client-mallory' : null;
  const client = new Client({
    host: '127.0.0.1', port: cluster.primary.port, user, password: cluster.password, database: 'app',
    ssl: { rejectUnauthorized: false, ...(certName === null ? {} : { cert: readFileSync(pki.cert(certName)), key: readFileSync(pki.key(certName)) }) },
  });
  await client.connect();
  try {
    const stream = Reflect.get(Reflect.get(client, 'connection') as object, 'stream') as import('node:tls').TLSSocket;
    return String(stream.getPeerCertificate().subject.CN);
  } finally {
    await client.end();
  }
}

/** Through `m` as app: is this server connection TLS (pg_stat_ssl), and who is it logged in as. */
async function serverSide(m: PgmuxProcess, database = 'app'): Promise<{ ssl: boolean; user: string }> {
  const client = new Client({ host: '127.0.0.1', port: m.port, user: 'app', password: cluster.password, database });
  await client.connect();
  try {
    const r = await client.query<{ ssl: boolean; u: string }>('SELECT ssl, current_user AS u FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return { ssl: r.rows[0]!.ssl, user: r.rows[0]!.u };
  } finally {
    await client.end();
  }
}

/** The error a client gets logging in through `m` to `database`. */
async function loginError(m: PgmuxProcess, database: string): Promise<{ message: string; code?: string }> {
  const client = new Client({ host: '127.0.0.1', port: m.port, user: 'app', password: cluster.password, database });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    return { message: (err as Error).message, code: (err as { code?: string }).code };
  } finally {
    await client.end().catch(() => undefined);
  }
  throw new Error(`login to ${database} through pgmux succeeded`);
}

describe('server_tls_sslmode', () => {
  /** Bug caught: TLS to servers on when nobody asked (and the witness below meaning nothing). */
  it('disable (the default) talks plain text: pg_stat_ssl says ssl = false', async () => {
    expect(await serverSide(mux.plain)).toEqual({ ssl: false, user: 'app' });
  });

  /** Bug caught: server_tls_* ignored, SSLRequest never sent, or the TLS socket not used after the upgrade. */
  it('verify-full with the spec CA runs the session over TLS: pg_stat_ssl says ssl = true', async () => {
    expect(await serverSide(mux.full)).toEqual({ ssl: true, user: 'app' });
    const again = await serverSide(mux.full);
    expect(again.ssl).toBe(true);
  });

  /** Bug caught: SHOW SERVERS without the TLS session of a server connection. */
  it('shows the server TLS session, key exchange included, in SHOW SERVERS', async () => {
    const r = await psql(['-X', '-At', '-h', '127.0.0.1', '-p', String(mux.full.port), '-U', 'postgres', '-d', 'pgbouncer', '-c', 'SHOW SERVERS'], { PGPASSWORD: cluster.password });
    expect(r.stderr).toBe('');
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('S|app|app|'));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toMatch(/\|TLSv1\.3\/TLS_[A-Z0-9_]+\/ECDH=\w+\|/);
  });

  /** Bug caught: require or prefer left in plain text against a server that offers TLS. */
  it('require and prefer use TLS when the server offers it', async () => {
    expect((await serverSide(mux.require)).ssl).toBe(true);
    expect((await serverSide(mux.prefer)).ssl).toBe(true);
  });

  /** Bug caught: server_tls_cert_file/key_file not presented, so PostgreSQL's cert method cannot log pgmux in. */
  it('presents server_tls_cert_file, so PostgreSQL\'s hba cert method logs pgmux in as its CN', async () => {
    expect(await serverSide(mux.full, 'certdb')).toEqual({ ssl: true, user: 'mallory' });
    // Without a client certificate (require has none) PostgreSQL refuses the same login.
    const err = await loginError(mux.require, 'certdb');
    expect(err.message).toMatch(/connection requires a valid client certificate|certificate authentication failed/);
  });

  /** Bug caught: verify-full trusting any certificate; a failed handshake leaving clients waiting for client_login_timeout. */
  it('verify-full against another CA refuses the server, and the waiting client hears why at once', async () => {
    const since = Date.now();
    const err = await loginError(mux.otherCa, 'app');
    expect(err).toMatchObject({ code: '08006' });
    expect(err.message).toMatch(/^server TLS handshake failed: (unable to verify the first certificate|self[- ]signed certificate)/);
    expect(Date.now() - since).toBeLessThan(5000);
  });
});

describe('server answers PostgreSQL will not give (a scripted server)', () => {
  // Each case starts its own pgmux after setting the answer: pgmux probes a single host from its
  // start until it answers, so the first contact (the probe's or a pool's) must already see it,
  // and a probe refused three times opens the host's breaker, whose reason later clients get.
  let scripted: PgmuxProcess | undefined;
  const scriptedMux = async (answer: Buffer, settings: Record<string, string>): Promise<PgmuxProcess> => {
    fake.answer = answer;
    fake.received = [];
    scripted = await startMux(cluster, { databases: [`fake = host=127.0.0.1 port=${fake.port} dbname=fake`], settings: { admin_users: 'postgres', ...settings } });
    return scripted;
  };
  afterEach(async () => {
    await scripted?.stop();
    scripted = undefined;
  });

  /** Bug caught: prefer giving up, or sending the startup packet inside a TLS session nobody agreed to. */
  it("prefer goes on in plain text after 'N'", async () => {
    const m = await scriptedMux(Buffer.from('N'), { server_tls_sslmode: 'prefer' });
    const err = await loginError(m, 'fake');
    expect(err.message).toBe('fake server saw a plain-text startup packet');
    // Every connection: SSLRequest (8 bytes), then a protocol 3.0 StartupMessage; the pool's is for
    // user app. (A probe connection just accepted may have sent nothing yet.)
    const sent = fake.received.filter((r) => r.length >= 16);
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) expect([r.readInt32BE(4), r.readInt32BE(12)]).toEqual([80877103, 196608]);
    expect(sent.some((r) => r.subarray(16).toString('latin1').includes('user\0app\0'))).toBe(true);
  });

  /** Bug caught: require falling back to plain text (a downgrade anyone on the path could force). */
  it("require refuses a server that answers 'N', and sends it no startup packet", async () => {
    const m = await scriptedMux(Buffer.from('N'), { server_tls_sslmode: 'require' });
    const err = await loginError(m, 'fake');
    expect(err).toMatchObject({ code: '08006', message: 'server refused SSL (server_tls_sslmode = require)' });
    // Each connection got the SSLRequest and nothing after it (one just accepted may have nothing yet).
    expect(fake.received.some((r) => r.length === 8)).toBe(true);
    expect(fake.received.filter((r) => r.length > 8)).toEqual([]);
  });

  /** Bug caught: CVE-2021-23222 class: bytes behind 'S' taken as if they came over TLS. */
  it("refuses bytes sent behind the 'S'", async () => {
    const m = await scriptedMux(Buffer.concat([Buffer.from('S'), fatal('injected')]), { server_tls_sslmode: 'verify-ca', server_tls_ca_file: pki.cert('ca') });
    const err = await loginError(m, 'fake');
    expect(err).toMatchObject({ code: '08006', message: 'received unencrypted data after SSL response' });
  });
});

describe('verify-ca against verify-full', () => {
  /**
   * Bug caught: verify-full not checking the host name (or verify-ca checking it). PostgreSQL is
   * switched to a certificate from the same CA that names db.pgmux.invalid, not 127.0.0.1.
   */
  it('after PostgreSQL switches to a certificate for another name, verify-ca connects and verify-full refuses', async () => {
    await cluster.query(cluster.primary, `ALTER SYSTEM SET ssl_cert_file = '${pki.cert('server-wrongname')}'`);
    await cluster.query(cluster.primary, `ALTER SYSTEM SET ssl_key_file = '${pki.key('server-wrongname')}'`);
    await cluster.query(cluster.primary, 'SELECT pg_reload_conf()');
    await pollUntil(async () => (await directCn('app')) === 'db.pgmux.invalid', 'PostgreSQL to present the new certificate');
    expect(await serverSide(mux.ca, 'fresh')).toEqual({ ssl: true, user: 'app' });
    const err = await loginError(mux.full, 'fresh');
    expect(err).toMatchObject({ code: '08006' });
    expect(err.message).toMatch(/^server TLS handshake failed: Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list/);
  });
});
