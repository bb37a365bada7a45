// Black-box spec of TLS between clients and pgmux (issue 7, "Client side TLS", "auth_type =
// cert"): psql with sslmode=require and verify-full against the spec's own CA, node-postgres
// over TLS and over PostgreSQL 17 direct TLS, the refusals (plain client under require, bytes
// smuggled behind SSLRequest, direct TLS without ALPN), client_tls_protocols, RELOAD of the
// certificate, and certificate login.

import * as net from 'node:net';
import * as tls from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { psql, type RunResult } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { startMux } from '../client/support/setup';
import { RawClient, errorFields, msg, type Frame } from '../support/wire';
import { makePki, type Pki } from './support/pki';

let cluster: Cluster;
let pki: Pki;
/** require: TLS on TCP (plus a unix socket, which stays plain); md5 passwords; postgres is an admin. */
let req: PgmuxProcess;
/** auth_type = cert with client_tls_sslmode = verify-full. */
let cert: PgmuxProcess;
/** require, with its own ini rewritten by the RELOAD tests. */
let rot: PgmuxProcess;

function tlsSettings(extra: Record<string, string> = {}): Record<string, string> {
  return { client_tls_sslmode: 'require', client_tls_key_file: pki.key('server'), client_tls_cert_file: pki.cert('server'), ...extra };
}

beforeAll(async () => {
  [cluster, pki] = await Promise.all([startCluster(), makePki()]);
  [req, cert, rot] = await Promise.all([
    startMux(cluster, { settings: tlsSettings({ unix_socket_dir: pki.dir, admin_users: 'postgres' }) }),
    startMux(cluster, { settings: tlsSettings({ auth_type: 'cert', client_tls_sslmode: 'verify-full', client_tls_ca_file: pki.cert('ca') }) }),
    startMux(cluster, { settings: tlsSettings({ admin_users: 'postgres' }) }),
  ]);
});

afterAll(async () => {
  await Promise.all([req, cert, rot].map((m) => m?.stop()));
  await cluster?.stop();
  pki?.remove();
});

/** psql -c `sql` through `m` with these libpq connection keywords; the password via PGPASSWORD. */
function viaPsql(m: PgmuxProcess, conninfo: Record<string, string>, sql: string, password: string | null = cluster.password): Promise<RunResult> {
  const keywords = { host: '127.0.0.1', port: String(m.port), user: 'app', dbname: 'app', ...conninfo };
  const dsn = Object.entries(keywords)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return psql(['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', dsn, '-c', sql], password === null ? {} : { PGPASSWORD: password });
}

/** The TLS socket under a connected node-postgres client, or null when it talks plain text. */
function tlsOf(client: Client): tls.TLSSocket | null {
  const stream: unknown = Reflect.get(Reflect.get(client, 'connection') as object, 'stream');
  return stream instanceof tls.TLSSocket ? stream : null;
}

/** TLS to pgmux by hand: SSLRequest, 'S', handshake with `options`. Rejects on a failed handshake. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, '127.0.0.1', () => raw.write(msg.sslRequest()));
    raw.once('error', reject);
    raw.once('data', (answer) => {
      if (answer.toString() !== 'S') {
        reject(new Error(`SSLRequest answered ${JSON.stringify(answer.toString())}`));
        return;
      }
      const secure = tls.connect({ socket: raw, rejectUnauthorized: false, ...options }, () => resolve(secure));
      secure.once('error', reject);
    });
  });
}

/** Every byte `socket` delivers until it closes, split into frames. */
function framesUntilClose(socket: tls.TLSSocket): Promise<Frame[]> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      const all = Buffer.concat(chunks);
      const frames: Frame[] = [];
      for (let i = 0; i + 5 <= all.length; ) {
        const len = all.readInt32BE(i + 1);
        frames.push({ type: String.fromCharCode(all[i]!), body: all.subarray(i + 5, i + 1 + len), bytes: all.subarray(i, i + 1 + len) });
        i += 1 + len;
      }
      resolve(frames);
    });
  });
}

describe('client_tls_sslmode = require', () => {
  /** Bug caught: SSLRequest still answered 'N', or the socket not really switched to TLS. */
  it('gives psql sslmode=require a TLS session and logs it on the login line', async () => {
    const r = await viaPsql(req, { sslmode: 'require' }, '\\conninfo');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/SSL connection \(protocol: TLSv1\.[23], cipher: \S+/);
    await req.waitForLog(/login attempt: db=app user=app tls=TLSv1\.[23]\/\S+/);
  });

  /** Bug caught: pgmux presenting another certificate than client_tls_cert_file, or one psql cannot verify by name. */
  it('passes psql sslmode=verify-full against the spec CA, and fails it against another CA', async () => {
    const ok = await viaPsql(req, { sslmode: 'verify-full', sslrootcert: pki.cert('ca'), host: 'localhost', hostaddr: '127.0.0.1' }, 'SELECT 40 + 2');
    expect([ok.stderr, ok.stdout]).toEqual(['', '42\n']);
    const bad = await viaPsql(req, { sslmode: 'verify-full', sslrootcert: pki.cert('other-ca'), host: 'localhost', hostaddr: '127.0.0.1' }, 'SELECT 1');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/certificate verify failed/);
  });

  /**
   * Bug caught: the forwarding path reading or writing the raw socket after the upgrade (a
   * megabyte result and a transaction must come back intact over TLS, in both directions).
   */
  it('serves node-postgres over TLS, verified, with big results and transactions', async () => {
    const client = new Client({ host: '127.0.0.1', port: req.port, user: 'app', password: cluster.password, database: 'app', ssl: { ca: pki.pem('ca'), servername: 'localhost' } });
    await client.connect();
    try {
      expect(tlsOf(client)?.authorized).toBe(true);
      const big = 'x'.repeat(1 << 20);
      const r = await client.query<{ n: number; s: string }>('SELECT length($1::text) AS n, $1::text AS s', [big]);
      expect(r.rows[0]!.n).toBe(1 << 20);
      expect(r.rows[0]!.s === big).toBe(true);
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE t_tls (v int)');
      await client.query('INSERT INTO t_tls SELECT generate_series(1, 1000)');
      const sum = await client.query<{ s: string }>('SELECT sum(v)::text AS s FROM t_tls');
      await client.query('ROLLBACK');
      expect(sum.rows[0]!.s).toBe('500500');
    } finally {
      await client.end();
    }
  });

  /** Bug caught: a TLS client's row in SHOW CLIENTS without its tls column (PgBouncer prints the session). */
  it('shows the TLS session in SHOW CLIENTS', async () => {
    const client = new Client({ host: '127.0.0.1', port: req.port, user: 'app', password: cluster.password, database: 'app', ssl: { rejectUnauthorized: false } });
    await client.connect();
    try {
      const r = await viaPsql(req, { sslmode: 'require', user: 'postgres', dbname: 'pgbouncer' }, 'SHOW CLIENTS');
      expect(r.stderr).toBe('');
      const appRows = r.stdout.split('\n').filter((line) => line.startsWith('C|app|app|'));
      expect(appRows.length).toBeGreaterThan(0);
      for (const row of appRows) expect(row).toMatch(/\|TLSv1\.[23]\/[A-Z0-9_-]+\|/);
    } finally {
      await client.end();
    }
  });

  /** Bug caught: require not enforced, so a plain client logs in (PgBouncer: FATAL "SSL required"). */
  it('refuses a plain-text client with FATAL "SSL required"', async () => {
    const r = await viaPsql(req, { sslmode: 'disable' }, 'SELECT 1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/FATAL: {2}SSL required/);
    const client = new Client({ host: '127.0.0.1', port: req.port, user: 'app', password: cluster.password, database: 'app' });
    await expect(client.connect()).rejects.toMatchObject({ message: 'SSL required', code: '28000' });
  });

  /** Bug caught: require applied to the unix socket, where PgBouncer never offers TLS and lets plain clients in. */
  it('lets a unix-socket client in without TLS, as PgBouncer does', async () => {
    const r = await viaPsql(req, { host: pki.dir, sslmode: 'prefer' }, 'SELECT 7');
    expect([r.stderr, r.stdout]).toEqual(['', '7\n']);
  });

  /**
   * Bug caught: CVE-2021-23214 class. Bytes sent behind the SSLRequest, before any handshake,
   * would be read as if they came over TLS. They must be refused, in plain text, before 'S'.
   */
  it('refuses bytes that follow an SSLRequest in the same packet with 08P01', async () => {
    const conn = await RawClient.open(req.port);
    conn.send(Buffer.concat([msg.sslRequest(), msg.startup({ user: 'app', database: 'app' })]));
    const { fields } = await conn.refusal({ sole: true });
    expect(fields).toMatchObject({ S: 'FATAL', C: '08P01', M: 'received unencrypted data after SSL request' });
  });

  /** Bug caught: a PostgreSQL 17 client using sslnegotiation=direct (ClientHello first, no SSLRequest) being refused as a bad startup packet. */
  it('accepts PostgreSQL 17 direct TLS (ALPN "postgresql") from node-postgres', async () => {
    const client = new Client({
      host: '127.0.0.1', port: req.port, user: 'app', password: cluster.password, database: 'app',
      ssl: { ca: pki.pem('ca'), servername: 'localhost' }, sslnegotiation: 'direct',
    });
    await client.connect();
    try {
      expect(tlsOf(client)?.alpnProtocol).toBe('postgresql');
      expect((await client.query<{ v: number }>('SELECT 5 AS v')).rows[0]!.v).toBe(5);
    } finally {
      await client.end();
    }
  });

  /** Bug caught: direct TLS accepted without ALPN, which PostgreSQL 17 refuses (cross-protocol attacks). */
  it('refuses direct TLS without ALPN with PostgreSQL 17\'s error', async () => {
    const secure = tls.connect({ host: '127.0.0.1', port: req.port, rejectUnauthorized: false });
    const frames = await framesUntilClose(secure);
    expect(frames.map((f) => f.type)).toEqual(['E']);
    expect(errorFields(frames[0]!.body)).toMatchObject({
      C: '08P01',
      M: 'received direct SSL connection request without ALPN protocol negotiation extension',
    });
  });
});

describe('client_tls_protocols and RELOAD', () => {
  function rewriteIni(change: (ini: string) => string): void {
    const file = join(rot.dir, 'pgmux.ini');
    writeFileSync(file, change(readFileSync(file, 'utf8')));
  }

  async function reload(): Promise<RunResult> {
    return viaPsql(rot, { sslmode: 'require', user: 'postgres', dbname: 'pgbouncer' }, 'RELOAD');
  }

  /** Bug caught: client_tls_protocols ignored, or TLS settings read only at start. */
  it('applies client_tls_protocols on RELOAD: a TLS 1.2-only client is refused under tlsv1.3', async () => {
    const tls12 = await handshake(rot.port, { maxVersion: 'TLSv1.2' });
    expect(tls12.getProtocol()).toBe('TLSv1.2');
    tls12.destroy();
    rewriteIni((ini) => `${ini}client_tls_protocols = tlsv1.3\n`);
    expect((await reload()).stderr).toBe('');
    await expect(handshake(rot.port, { maxVersion: 'TLSv1.2' })).rejects.toThrow(/protocol version|alert/i);
    const tls13 = await handshake(rot.port, {});
    expect(tls13.getProtocol()).toBe('TLSv1.3');
    tls13.destroy();
  });

  /** Bug caught: a RELOAD with a broken TLS file taking TLS down (or pgmux with it) instead of keeping the old setup. */
  it('keeps the previous TLS setup when the new files cannot be loaded, and says so', async () => {
    rewriteIni((ini) => ini.replace(/^client_tls_cert_file = .*$/m, `client_tls_cert_file = ${pki.dir}/missing.crt`));
    const r = await reload();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/TLS settings could not be applied, still using old configuration: invalid client_tls_cert_file: .*missing\.crt: ENOENT/);
    const ok = await viaPsql(rot, { sslmode: 'verify-full', sslrootcert: pki.cert('ca'), host: 'localhost', hostaddr: '127.0.0.1' }, 'SELECT 1');
    expect([ok.stderr, ok.stdout]).toEqual(['', '1\n']);
  });

  /** Bug caught: certificates cached for the life of the process, so rotating them needs a restart. */
  it('serves a rotated certificate to new connections after RELOAD', async () => {
    rewriteIni((ini) =>
      ini
        .replace(/^client_tls_cert_file = .*$/m, `client_tls_cert_file = ${pki.cert('server-other')}`)
        .replace(/^client_tls_key_file = .*$/m, `client_tls_key_file = ${pki.key('server-other')}`),
    );
    expect((await reload()).stderr).toBe('');
    const verify = (ca: 'ca' | 'other-ca') =>
      viaPsql(rot, { sslmode: 'verify-full', sslrootcert: pki.cert(ca), host: 'localhost', hostaddr: '127.0.0.1' }, 'SELECT 1');
    expect((await verify('other-ca')).stdout).toBe('1\n');
    expect((await verify('ca')).stderr).toMatch(/certificate verify failed/);
  });
});

describe('auth_type = cert', () => {
  const asApp = (certName: 'client-app' | 'client-mallory' | 'client-other'): Record<string, string> => ({
    sslmode: 'verify-full', sslrootcert: pki.cert('ca'), host: 'localhost', hostaddr: '127.0.0.1',
    sslcert: pki.cert(certName), sslkey: pki.key(certName),
  });

  /** Bug caught: cert auth asking for a password, or not logging in the user the certificate names. */
  it('logs in the user named by the client certificate\'s CN, without a password', async () => {
    const r = await viaPsql(cert, asApp('client-app'), 'SELECT current_user', null);
    expect([r.stderr, r.stdout]).toEqual(['', 'app\n']);
    const client = new Client({
      host: '127.0.0.1', port: cert.port, user: 'app', database: 'app',
      ssl: { ca: pki.pem('ca'), servername: 'localhost', cert: readFileSync(pki.cert('client-app')), key: readFileSync(pki.key('client-app')) },
    });
    await client.connect();
    try {
      expect((await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u).toBe('app');
    } finally {
      await client.end();
    }
  });

  /** Bug caught: any valid certificate logging in as any user (the CN not compared with the user name). */
  it('refuses a valid certificate whose CN is another user', async () => {
    const r = await viaPsql(cert, asApp('client-mallory'), 'SELECT 1', null);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/FATAL: {2}certificate authentication failed/);
    await cert.waitForLog(/certificate authentication failed: TLS certificate name mismatch: CN "mallory", user "app"/);
  });

  /**
   * Bug caught: a certificate from an untrusted CA, or none at all, getting through under
   * verify-full (node leaves checking the chain of a hand-made TLSSocket to its owner).
   */
  it('refuses a certificate of another CA, and fails the handshake without a certificate', async () => {
    const other = await viaPsql(cert, asApp('client-other'), 'SELECT 1', null);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/FATAL: {2}client certificate rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    const none = await viaPsql(cert, { sslmode: 'verify-full', sslrootcert: pki.cert('ca'), host: 'localhost', hostaddr: '127.0.0.1' }, 'SELECT 1', null);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/certificate required|SSL error/i);
    await cert.waitForLog(/TLS handshake error: .*(peer did not return a certificate|certificate required)/i);
  });
});
