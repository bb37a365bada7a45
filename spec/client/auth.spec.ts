// Black-box spec of client authentication and pgmux's own server login (issue 3, "Client auth"
// and "Server login"): every auth_type against an auth_file holding plain, md5 and SCRAM secrets,
// PgBouncer's SCRAM key reuse, server login errors reaching the client, client_login_timeout.

import { escapeLiteral, Client } from 'pg';
import { md5Secret } from '../../lib/auth/md5';
import { formatScramSecret, scramSecretFromPassword } from '../../lib/auth/secret';
import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { serverConn, startMux, userlistLine } from './support/setup';
import { RawClient, msg } from '../support/wire';

let cluster: Cluster;
/** One pgmux per auth_type, plus md5 with client_login_timeout = 1. */
let mux: Record<'trust' | 'any' | 'plain' | 'md5' | 'scram' | 'timeout', PgmuxProcess>;
/** app_scram's secret, in auth_file and in the cluster alike. */
let scramText: string;

/**
 * auth_file: app in plain text, app_md5 as an md5 hash, app_scram as a SCRAM secret that is also
 * the role's stored secret in the cluster (key reuse needs both to match), and app_scram_other
 * as a SCRAM secret of the right password but another salt than the cluster's.
 */
function userlist(): string {
  const pw = cluster.password;
  return (
    userlistLine('app', pw) +
    userlistLine('app_md5', md5Secret('app_md5', pw)) +
    userlistLine('app_scram', scramText) +
    userlistLine('app_scram_other', formatScramSecret(scramSecretFromPassword(pw)))
  );
}

beforeAll(async () => {
  cluster = await startCluster();
  scramText = formatScramSecret(scramSecretFromPassword(cluster.password));
  // PostgreSQL stores a password that is already a SCRAM secret verbatim.
  await cluster.query(cluster.primary, `CREATE ROLE app_scram LOGIN PASSWORD ${escapeLiteral(scramText)} IN ROLE app`);
  await cluster.query(
    cluster.primary,
    `CREATE ROLE app_scram_other LOGIN PASSWORD ${escapeLiteral(formatScramSecret(scramSecretFromPassword(cluster.password)))} IN ROLE app`,
  );
  const common = {
    userlist: userlist(),
    databases: [
      `nodb = ${serverConn(cluster, 'dbname=does_not_exist')}`,
      `badpw = ${serverConn(cluster, `dbname=app user=app password=${cluster.password}-wrong`)}`,
    ],
  };
  const [trust, any, plain, md5, scram, timeout] = await Promise.all([
    startMux(cluster, { ...common, settings: { auth_type: 'trust' } }),
    startMux(cluster, { userlist: userlist(), databases: [`forced = ${serverConn(cluster, 'dbname=app user=app')}`], settings: { auth_type: 'any' } }),
    startMux(cluster, { ...common, settings: { auth_type: 'plain' } }),
    startMux(cluster, { ...common, settings: { auth_type: 'md5' } }),
    startMux(cluster, { ...common, settings: { auth_type: 'scram-sha-256' } }),
    startMux(cluster, { ...common, settings: { auth_type: 'md5', client_login_timeout: 1 } }),
  ]);
  mux = { trust, any, plain, md5, scram, timeout };
});

afterAll(async () => {
  await Promise.all(Object.values(mux ?? {}).map((m) => m.stop()));
  await cluster?.stop();
});

/** Logs in with node-postgres, runs `SELECT current_user` and ends; resolves to the server user. */
async function whoAmI(m: PgmuxProcess, user: string, password: string | undefined, database = 'app'): Promise<string> {
  const client = new Client({ host: '127.0.0.1', port: m.port, user, password, database });
  try {
    await client.connect();
    const r = await client.query<{ u: string }>('SELECT current_user AS u');
    return r.rows[0]!.u;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * 28P01 with PostgreSQL's own text, user name included (the core issue asks for it; PgBouncer
 * 1.18 sends the bare "password authentication failed").
 */
const passwordFailed = (user: string): { code: string; message: string } => ({
  code: '28P01',
  message: `password authentication failed for user "${user}"`,
});

/** PostgreSQL's own refusal of pgmux's server login, passed on word for word. */
const serverPasswordFailed = (user: string): { code: string; message: string } => ({
  code: '28P01',
  message: `password authentication failed for user "${user}"`,
});

describe('auth_type = trust', () => {
  it('lets a user listed in auth_file in without asking a password (catches: trust demanding one)', async () => {
    await expect(whoAmI(mux.trust, 'app', undefined)).resolves.toBe('app');
    await expect(whoAmI(mux.trust, 'app_md5', 'not-the-password')).resolves.toBe('app_md5');
  });

  it("refuses a user missing from auth_file with PgBouncer's '\"trust\" authentication failed' (catches: trust letting anyone in)", async () => {
    await expect(whoAmI(mux.trust, 'nobody', undefined)).rejects.toMatchObject({ code: '28000', message: '"trust" authentication failed' });
  });
});

describe('auth_type = any', () => {
  it("ignores the user name and logs in as the database's forced user (catches: any checking users or connecting as the client's name)", async () => {
    await expect(whoAmI(mux.any, 'whoever-at-all', undefined, 'forced')).resolves.toBe('app');
  });
});

describe('auth_type = plain (cleartext password)', () => {
  it('accepts the right password checked against a plain and an md5 secret (catches: cleartext not verified against hashed secrets)', async () => {
    await expect(whoAmI(mux.plain, 'app', cluster.password)).resolves.toBe('app');
    await expect(whoAmI(mux.plain, 'app_md5', cluster.password)).resolves.toBe('app_md5');
  });

  it('refuses a wrong password and an unknown user with 28P01 (catches: wrong cleartext accepted, or user probing)', async () => {
    await expect(whoAmI(mux.plain, 'app', 'wrong')).rejects.toMatchObject(passwordFailed('app'));
    await expect(whoAmI(mux.plain, 'nobody', cluster.password)).rejects.toMatchObject(passwordFailed('nobody'));
  });
});

describe('auth_type = md5', () => {
  it('accepts the right password for plain and md5 secrets (catches: md5 salt or hash-of-hash wrong)', async () => {
    await expect(whoAmI(mux.md5, 'app', cluster.password)).resolves.toBe('app');
    await expect(whoAmI(mux.md5, 'app_md5', cluster.password)).resolves.toBe('app_md5');
  });

  it('asks a user with a SCRAM secret for SCRAM, as PgBouncer, and logs in to the server by key reuse (catches: SCRAM-only users locked out under md5)', async () => {
    await expect(whoAmI(mux.md5, 'app_scram', cluster.password)).resolves.toBe('app_scram');
  });

  it('refuses a wrong password and an unknown user with 28P01 (catches: md5 verification skipped)', async () => {
    await expect(whoAmI(mux.md5, 'app', 'wrong')).rejects.toMatchObject(passwordFailed('app'));
    await expect(whoAmI(mux.md5, 'app_md5', 'wrong')).rejects.toMatchObject(passwordFailed('app_md5'));
    await expect(whoAmI(mux.md5, 'nobody', cluster.password)).rejects.toMatchObject(passwordFailed('nobody'));
  });
});

describe('auth_type = scram-sha-256', () => {
  it('accepts the right password for a plain secret (catches: SCRAM server exchange broken)', async () => {
    await expect(whoAmI(mux.scram, 'app', cluster.password)).resolves.toBe('app');
  });

  it('refuses a wrong password, an unknown user and an md5-only user with 28P01 (catches: a bad proof accepted)', async () => {
    await expect(whoAmI(mux.scram, 'app', 'wrong')).rejects.toMatchObject(passwordFailed('app'));
    await expect(whoAmI(mux.scram, 'nobody', cluster.password)).rejects.toMatchObject(passwordFailed('nobody'));
    // An md5 hash cannot verify a SCRAM proof: the exchange runs and fails, as in PgBouncer.
    await expect(whoAmI(mux.scram, 'app_md5', cluster.password)).rejects.toMatchObject(passwordFailed('app_md5'));
  });

  it("logs in to the server with the client's SCRAM keys when auth_file has only a SCRAM secret, for a second server too (catches: key reuse missing)", async () => {
    // Two clients at once in one transaction each, so the pool needs two server logins.
    const a = new Client({ host: '127.0.0.1', port: mux.scram.port, user: 'app_scram', password: cluster.password, database: 'app' });
    const b = new Client({ host: '127.0.0.1', port: mux.scram.port, user: 'app_scram', password: cluster.password, database: 'app' });
    await a.connect();
    await b.connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      const pa = await a.query<{ pid: number; u: string }>('SELECT pg_backend_pid() AS pid, current_user AS u');
      const pb = await b.query<{ pid: number; u: string }>('SELECT pg_backend_pid() AS pid, current_user AS u');
      expect(pa.rows[0]!.u).toBe('app_scram');
      expect(pb.rows[0]!.u).toBe('app_scram');
      expect(pa.rows[0]!.pid).not.toBe(pb.rows[0]!.pid);
      await a.query('COMMIT');
      await b.query('COMMIT');
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("passes the server's refusal on when the cluster's SCRAM secret differs from auth_file's (catches: a failed server login hanging the client)", async () => {
    await expect(whoAmI(mux.scram, 'app_scram_other', cluster.password)).rejects.toMatchObject(serverPasswordFailed('app_scram_other'));
  });
});

describe('a database that does not exist', () => {
  // Found by the "hostile" round: pgmux said "no such database" right after the StartupMessage,
  // before any password, so anyone could probe which databases it serves. PgBouncer 1.18 (a fake
  // database) and PostgreSQL authenticate first and name the database only to a client that did.
  it('is named only after the password was proven: a wrong password or an unknown user gets 28P01, the right one 3D000 (catches: database names revealed before authentication)', async () => {
    for (const m of [mux.md5, mux.scram]) {
      await expect(whoAmI(m, 'app', 'wrong', 'nosuchdb')).rejects.toMatchObject(passwordFailed('app'));
      await expect(whoAmI(m, 'nobody', cluster.password, 'nosuchdb')).rejects.toMatchObject(passwordFailed('nobody'));
      await expect(whoAmI(m, 'app', cluster.password, 'nosuchdb')).rejects.toMatchObject({ code: '3D000', message: 'no such database: nosuchdb' });
    }
  });

  it('under trust, a user missing from auth_file gets "trust" authentication failed, a listed one 3D000 (catches: the database checked before the user)', async () => {
    await expect(whoAmI(mux.trust, 'nobody', undefined, 'nosuchdb')).rejects.toMatchObject({ code: '28000', message: '"trust" authentication failed' });
    await expect(whoAmI(mux.trust, 'app', undefined, 'nosuchdb')).rejects.toMatchObject({ code: '3D000', message: 'no such database: nosuchdb' });
  });
});

describe('server login errors reach the waiting client with the server message', () => {
  it('a [databases] line naming a database that does not exist gives PostgreSQL 3D000 text (catches: a generic or no error)', async () => {
    await expect(whoAmI(mux.md5, 'app', cluster.password, 'nodb')).rejects.toMatchObject({
      code: '3D000',
      message: 'database "does_not_exist" does not exist',
    });
  });

  it("a wrong password on the [databases] line gives the server's 28P01 (catches: the client blamed for pgmux's credential)", async () => {
    await expect(whoAmI(mux.md5, 'app', cluster.password, 'badpw')).rejects.toMatchObject(serverPasswordFailed('app'));
  });
});

describe('client_login_timeout', () => {
  it('closes a client that connects and sends nothing, with FATAL client_login_timeout (catches: idle sockets held forever)', async () => {
    const conn = await RawClient.open(mux.timeout.port);
    const opened = Date.now();
    const { fields, closedAt } = await conn.refusal({ sole: true, timeoutMs: 5000 });
    const closedAfterMs = closedAt - opened;
    expect(fields).toMatchObject({ S: 'FATAL', C: '08P01', M: 'client_login_timeout' });
    // 1 s, give or take the janitor's 100 ms tick and a busy machine.
    expect(closedAfterMs).toBeGreaterThanOrEqual(800);
    expect(closedAfterMs).toBeLessThan(3000);
  });

  it('closes a client that never answers the password challenge (catches: the timeout only covering the startup packet)', async () => {
    const conn = await RawClient.open(mux.timeout.port);
    const opened = Date.now();
    conn.send(msg.startup({ user: 'app', database: 'app' }));
    const challenge = await conn.next();
    expect(challenge.type).toBe('R');
    expect(challenge.body.readInt32BE(0)).toBe(5); // md5
    const { fields, closedAt } = await conn.refusal({ sole: true, timeoutMs: 5000 });
    const closedAfterMs = closedAt - opened;
    expect(fields).toMatchObject({ S: 'FATAL', C: '08P01', M: 'client_login_timeout' });
    expect(closedAfterMs).toBeGreaterThanOrEqual(800);
    expect(closedAfterMs).toBeLessThan(3000);
  });

  it('does not disturb a client that logged in in time (catches: the timeout applied after login)', async () => {
    const client = new Client({ host: '127.0.0.1', port: mux.timeout.port, user: 'app', password: cluster.password, database: 'app' });
    await client.connect();
    try {
      // Outlive the timeout, then use the session: waiting for a server-side sleep is the event.
      await client.query('SELECT pg_sleep(1.5)');
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });
});
