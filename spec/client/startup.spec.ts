// Black-box spec of a client's startup through pgmux (issue 3, "Startup"): real drivers and
// psql over TCP and the unix socket, protocol 3.2 negotiation, SSLRequest/GSSENCRequest
// answered 'N', startup-parameter policy, and the welcome being pgmux's own.

import { join } from 'node:path';
import { Client } from 'pg';
import postgres from 'postgres';
import { startCluster, type Cluster } from '../support/cluster';
import { psql } from '../support/clients';
import { makeTempDir, removeTempDir } from '../support/osuser';
import type { PgmuxProcess } from '../support/pgmux';
import { startMux } from './support/setup';
import { RawClient, errorFields, msg, negotiateProtocolVersion } from '../support/wire';

let cluster: Cluster;
/** md5 auth, unix socket in `socketDir`, default ignore_startup_parameters (none). */
let mux: PgmuxProcess;
/** The same, with ignore_startup_parameters = extra_float_digits,options. */
let muxIgnoring: PgmuxProcess;
let socketDir: string;

beforeAll(async () => {
  cluster = await startCluster();
  socketDir = makeTempDir('pgmux-sock-');
  [mux, muxIgnoring] = await Promise.all([
    startMux(cluster, { settings: { unix_socket_dir: socketDir } }),
    startMux(cluster, { settings: { ignore_startup_parameters: 'extra_float_digits,options' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([mux?.stop(), muxIgnoring?.stop()]);
  if (socketDir) removeTempDir(socketDir);
  await cluster?.stop();
});

const pw = (): { PGPASSWORD: string } => ({ PGPASSWORD: cluster.password });

/** A pg Client that records every ParameterStatus of its welcome. */
async function pgWithParams(port: number, applicationName: string): Promise<{ client: Client; params: Map<string, string> }> {
  const client = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'app', application_name: applicationName });
  const params = new Map<string, string>();
  client.connection.on('parameterStatus', (m: { parameterName: string; parameterValue: string }) => {
    params.set(m.parameterName, m.parameterValue);
  });
  await client.connect();
  return { client, params };
}

describe('StartupMessage 3.0 from real clients', () => {
  it('node-postgres logs in and queries (catches: startup, md5 login or the welcome broken for the commonest driver)', async () => {
    const { client } = await pgWithParams(mux.port, 'spec-pg');
    try {
      const r = await client.query('SELECT current_user AS u, current_database() AS d');
      expect(r.rows).toEqual([{ u: 'app', d: 'app' }]);
    } finally {
      await client.end();
    }
  });

  it('postgres.js logs in and queries (catches: a driver that pipelines its first query behind the startup packet failing)', async () => {
    const sql = postgres({ host: '127.0.0.1', port: mux.port, user: 'app', pass: cluster.password, database: 'app', max: 1, onnotice: () => undefined });
    try {
      const rows = await sql`SELECT 40 + 2 AS answer`;
      expect(rows[0]).toEqual({ answer: 42 });
      expect(sql.parameters.server_version).toMatch(/^15/);
      expect(sql.parameters.application_name).toBe('postgres.js');
    } finally {
      await sql.end();
    }
  });

  it('psql logs in over TCP (catches: libpq login, incl. its SSL/GSS probing, failing)', async () => {
    const r = await psql(['-h', '127.0.0.1', '-p', String(mux.port), '-U', 'app', '-d', 'app', '-AtX', '-c', "SELECT 'tcp:' || current_user"], pw());
    expect(r).toMatchObject({ code: 0, stdout: 'tcp:app\n' });
  });

  it('psql logs in over the unix socket unix_socket_dir/.s.PGSQL.<port> (catches: no unix listener, or a wrong socket name)', async () => {
    const r = await psql(['-h', socketDir, '-p', String(mux.port), '-U', 'app', '-d', 'app', '-AtX', '-c', "SELECT 'unix:' || current_user"], pw());
    expect(r).toMatchObject({ code: 0, stdout: 'unix:app\n' });
  });

  it('a raw client over the unix socket gets the same login (catches: unix clients treated differently, e.g. a remote address crash)', async () => {
    const conn = await RawClient.open({ path: join(socketDir, `.s.PGSQL.${mux.port}`) });
    try {
      const w = await conn.login(msg.startup({ user: 'app', database: 'app' }), 'app', cluster.password);
      expect(w.params.get('server_version')).toMatch(/^15/);
    } finally {
      conn.destroy();
    }
  });
});

describe('protocol 3.2 (a newer minor version)', () => {
  it('is answered with NegotiateProtocolVersion (3.0 and the unknown _pq_ options) and the login then works (catches: newer libpq refused)', async () => {
    const conn = await RawClient.open(mux.port);
    try {
      conn.send(msg.startup({ user: 'app', database: 'app', '_pq_.spec_option': 'on' }, 2));
      const first = await conn.next();
      expect(first.type).toBe('v');
      expect(negotiateProtocolVersion(first.body)).toEqual({ major: 3, minor: 0, unrecognized: ['_pq_.spec_option'] });
      // The rest of the login as in 3.0 (startup already sent, so an empty buffer).
      const w = await conn.login(Buffer.alloc(0), 'app', cluster.password);
      expect(w.frames[0]!.type).toBe('R');
      conn.send(msg.query('SELECT 7'));
      const frames = await conn.until('Z');
      expect(frames.map((f) => f.type)).toEqual(['T', 'D', 'C', 'Z']);
      conn.send(msg.terminate());
    } finally {
      conn.destroy();
    }
  });
});

describe('SSLRequest and GSSENCRequest', () => {
  it("SSLRequest gets 'N' and the login continues in plain text on the same socket (catches: hang or close on SSLRequest)", async () => {
    const conn = await RawClient.open(mux.port);
    try {
      conn.send(msg.sslRequest());
      expect(await conn.readByte()).toBe('N');
      await conn.login(msg.startup({ user: 'app', database: 'app' }), 'app', cluster.password);
    } finally {
      conn.destroy();
    }
  });

  it("GSSENCRequest then SSLRequest each get 'N' and the login continues (catches: libpq's gssencmode=prefer probe breaking login)", async () => {
    const conn = await RawClient.open(mux.port);
    try {
      conn.send(msg.gssencRequest());
      expect(await conn.readByte()).toBe('N');
      conn.send(msg.sslRequest());
      expect(await conn.readByte()).toBe('N');
      await conn.login(msg.startup({ user: 'app', database: 'app' }), 'app', cluster.password);
    } finally {
      conn.destroy();
    }
  });

  it('refuses bytes that follow a GSSENCRequest in the same packet with 08P01, as PostgreSQL and PgBouncer (catches: injected plain text accepted as the login)', async () => {
    const conn = await RawClient.open(mux.port);
    try {
      conn.send(Buffer.concat([msg.gssencRequest(), msg.startup({ user: 'app', database: 'app' })]));
      const { fields } = await conn.refusal({ sole: true });
      expect(fields).toMatchObject({ S: 'FATAL', C: '08P01', M: 'received unencrypted data after GSSAPI encryption request' });
    } finally {
      conn.destroy();
    }
  });

  it('psql with sslmode=prefer logs in (catches: prefer treated as a failure)', async () => {
    const r = await psql(['-h', '127.0.0.1', '-p', String(mux.port), '-U', 'app', '-d', 'app', '-AtX', '-c', 'SELECT 1'], { ...pw(), PGSSLMODE: 'prefer' });
    expect(r).toMatchObject({ code: 0, stdout: '1\n' });
  });

  it('psql with sslmode=require fails with a clear message (catches: a silently unencrypted session when TLS was demanded)', async () => {
    const r = await psql(['-h', '127.0.0.1', '-p', String(mux.port), '-U', 'app', '-d', 'app', '-AtX', '-c', 'SELECT 1'], { ...pw(), PGSSLMODE: 'require' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/server does not support SSL, but SSL was required/);
  });
});

describe('startup parameters', () => {
  it('one that is a PostgreSQL setting is applied as the session\'s, as PostgreSQL applies it (catches: refused as PgBouncer 1.18 does, silently dropped, or forwarded unread)', async () => {
    const conn = await RawClient.open(mux.port);
    try {
      await conn.login(msg.startup({ user: 'app', database: 'app', extra_float_digits: '2' }), 'app', cluster.password);
      conn.send(msg.query('SHOW extra_float_digits'));
      const frames = await conn.until('Z');
      const row = frames.find((f) => f.type === 'D');
      expect(row?.body.toString('utf8', 6)).toBe('2');
    } finally {
      conn.destroy();
    }
  });

  it('node-postgres with an `options` that is not only -c switches is refused by default (catches: options passed to a shared server unread)', async () => {
    const client = new Client({ host: '127.0.0.1', port: mux.port, user: 'app', password: cluster.password, database: 'app', options: '-e -c geqo=off' });
    await expect(client.connect()).rejects.toMatchObject({ code: '08P01', message: 'unsupported startup parameter: options' });
    await client.end().catch(() => undefined);
  });

  it('ignore_startup_parameters = extra_float_digits,options lets both through, and such an options is not applied (catches: the setting ignored)', async () => {
    const conn = await RawClient.open(muxIgnoring.port);
    try {
      await conn.login(msg.startup({ user: 'app', database: 'app', extra_float_digits: '2', options: '-e -c geqo=off' }), 'app', cluster.password);
      conn.send(msg.query('SHOW geqo'));
      const frames = await conn.until('Z');
      const row = frames.find((f) => f.type === 'D');
      expect(row?.body.toString('utf8', 6)).toBe('on');
      // Ignored, not applied: extra_float_digits stays at PostgreSQL's default.
      conn.send(msg.query('SHOW extra_float_digits'));
      const digits = (await conn.until('Z')).find((f) => f.type === 'D');
      expect(digits?.body.toString('utf8', 6)).toBe('1');
    } finally {
      conn.destroy();
    }
    const client = new Client({ host: '127.0.0.1', port: muxIgnoring.port, user: 'app', password: cluster.password, database: 'app', options: '-e -c geqo=off' });
    await client.connect();
    try {
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });
});

describe("the welcome is pgmux's own", () => {
  it("carries server_version and the client's own application_name, not the first client's (catches: replaying the pool's cached welcome verbatim)", async () => {
    const first = await pgWithParams(mux.port, 'spec-first');
    const second = await pgWithParams(mux.port, 'spec-second');
    try {
      expect(first.params.get('server_version')).toMatch(/^15/);
      expect(second.params.get('server_version')).toBe(first.params.get('server_version'));
      for (const name of ['client_encoding', 'DateStyle', 'TimeZone', 'integer_datetimes', 'standard_conforming_strings']) {
        expect(second.params.has(name)).toBe(true);
      }
      expect(first.params.get('application_name')).toBe('spec-first');
      expect(second.params.get('application_name')).toBe('spec-second');
      // And the server really runs with the client's name when the client uses it.
      const r = await second.client.query('SHOW application_name');
      expect(r.rows).toEqual([{ application_name: 'spec-second' }]);
    } finally {
      await first.client.end();
      await second.client.end();
    }
  });

  it("hands out pgmux's own BackendKeyData, not the server backend's (catches: server keys leaking, which would let cancels hit reused servers)", async () => {
    const conn = await RawClient.open(mux.port);
    try {
      const w = await conn.login(msg.startup({ user: 'app', database: 'app', application_name: 'spec-raw' }), 'app', cluster.password);
      const types = w.frames.map((f) => f.type);
      // AuthenticationOk, then ParameterStatus..., then BackendKeyData, then ReadyForQuery 'I'.
      expect(types.slice(-2)).toEqual(['K', 'Z']);
      expect(w.frames[w.frames.length - 1]!.body.toString('latin1')).toBe('I');
      expect(w.params.get('application_name')).toBe('spec-raw');
      conn.send(msg.query('SELECT pg_backend_pid()'));
      const frames = await conn.until('Z');
      const row = frames.find((f) => f.type === 'D');
      const backendPid = Number(row?.body.toString('utf8', 6));
      expect(backendPid).toBeGreaterThan(0);
      expect(w.pid).not.toBe(backendPid);
      const err = frames.find((f) => f.type === 'E');
      expect(err && errorFields(err.body)).toBeUndefined();
    } finally {
      conn.destroy();
    }
  });
});
