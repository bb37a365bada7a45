// Black-box spec of auth_user + auth_query (issue 7): users missing from auth_file are looked up
// on the server as auth_user with PgBouncer 1.18's default auth_query (pg_authid), md5 and SCRAM
// secrets alike (SCRAM salts of any length), briefly cached, failures reported without leaking
// whether a user exists. PgBouncer 1.18 has no auth_dbname (checked against the binary): the
// query runs in the client's database, as it does there.

import { randomBytes } from 'node:crypto';
import { escapeLiteral } from 'pg';
import { formatScramSecret, scramSecretFromPassword } from '../../lib/auth/secret';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { userlistLine } from '../client/support/setup';
import { firstAnswer, pollUntil, show, whoAmI, type Target } from './support';
import { AUTH_QUERY_TTL_MS } from '../../lib/auth/auth-query';

let cluster: Cluster;
let mux: PgmuxProcess;
const at = (): Target => ({ port: mux.port });

/** Server connections pgmux opened as auth_user so far (the cluster logs every authorized connection). */
function authUserConnections(): number {
  return cluster.logs(cluster.primary).split('\n').filter((l) => /connection authorized: user=postgres database=app/.test(l)).length;
}

/** Roles only the server knows; each has the cluster password unless said otherwise. */
async function createRoles(): Promise<void> {
  const pw = cluster.password;
  const scram = (saltBytes: number, iterations: number): string =>
    escapeLiteral(formatScramSecret(scramSecretFromPassword(pw, randomBytes(saltBytes), iterations)));
  for (const sql of [
    // PostgreSQL stores a password that is already a SCRAM secret verbatim: these keep their salts.
    `CREATE ROLE q_salt10 LOGIN PASSWORD ${scram(10, 4096)} IN ROLE app`,
    `CREATE ROLE q_salt32 LOGIN PASSWORD ${scram(32, 10000)} IN ROLE app`,
    `CREATE ROLE q_change LOGIN PASSWORD ${escapeLiteral(pw)} IN ROLE app`,
    `CREATE ROLE q_burst LOGIN PASSWORD ${escapeLiteral(pw)} IN ROLE app`,
    `CREATE ROLE q_expired LOGIN PASSWORD ${escapeLiteral(pw)} VALID UNTIL '2000-01-01' IN ROLE app`,
  ]) {
    await cluster.query(cluster.primary, sql);
  }
}

beforeAll(async () => {
  cluster = await startCluster({ settings: { log_connections: 'on' } });
  await createRoles();
  const port = await freePort();
  const server = `host=127.0.0.1 port=${cluster.primary.port} dbname=app`;
  // app (SCRAM on the server), app_md5 (md5 on the server) and the q_* roles are not in
  // auth_file: they are found by auth_query. app_plain is, with a wrong secret, to show that
  // auth_file comes first. badauth's password is wrong: the "broken" database's lookups fail.
  const userlist =
    userlistLine('postgres', cluster.password) +
    userlistLine('admin', 'admin-pw') +
    userlistLine('app_plain', 'not-the-password') +
    userlistLine('badauth', 'wrong');
  mux = await startPgmux(
    `[databases]
app = ${server}
broken = ${server} auth_user=badauth

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = md5
auth_file = userlist.txt
auth_user = postgres
admin_users = admin
pool_mode = transaction
`,
    { 'userlist.txt': userlist },
  );
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
});

describe('secrets found by auth_query', () => {
  it('logs an md5 user in with an md5 challenge, and pgmux logs in to the server with the md5 hash it found (catches: md5 secrets from pg_authid unusable)', async () => {
    await expect(firstAnswer(at(), 'app_md5', 'app')).resolves.toBe('R5');
    await expect(whoAmI(at(), 'app_md5', cluster.password)).resolves.toBe('app_md5');
    await expect(whoAmI(at(), 'app_md5', 'wrong')).rejects.toMatchObject({ code: '28P01', message: 'password authentication failed for user "app_md5"' });
  });

  it('logs a SCRAM user in with SCRAM, the server login reusing the proof keys (catches: SCRAM verifiers from pg_authid unusable)', async () => {
    await expect(firstAnswer(at(), 'app', 'app')).resolves.toBe('R10');
    await expect(whoAmI(at(), 'app', cluster.password)).resolves.toBe('app');
    await expect(whoAmI(at(), 'app', 'wrong')).rejects.toMatchObject({ code: '28P01' });
  });

  it.each(['q_salt10', 'q_salt32'])('logs in %s, whose SCRAM salt is not 16 bytes (catches: the salt length assumed, a known failure in another pooler)', async (user) => {
    await expect(whoAmI(at(), user, cluster.password)).resolves.toBe(user);
    await expect(whoAmI(at(), user, 'wrong')).rejects.toMatchObject({ code: '28P01' });
  });

  it('prefers auth_file: app_plain, listed there with another secret, is refused with its server password (catches: auth_query overriding auth_file)', async () => {
    await expect(whoAmI(at(), 'app_plain', cluster.password)).rejects.toMatchObject({ code: '28P01' });
    await expect(whoAmI(at(), 'app_plain', 'not-the-password')).rejects.toMatchObject({ message: expect.stringMatching(/password authentication failed for user "app_plain"/) });
  });
});

describe('users auth_query does not find', () => {
  it('refuses an unknown user exactly like a wrong password, never "no such user" (catches: user names probeable through auth_query)', async () => {
    const ghost = await whoAmI(at(), 'ghost', cluster.password).catch((e: unknown) => e);
    const wrong = await whoAmI(at(), 'app_md5', 'wrong').catch((e: unknown) => e);
    expect(ghost).toMatchObject({ code: '28P01', message: 'password authentication failed for user "ghost"', severity: 'FATAL' });
    expect(wrong).toMatchObject({ code: '28P01', severity: 'FATAL' });
    await expect(firstAnswer(at(), 'ghost', 'app')).resolves.toBe('R5');
  });

  it('refuses a role past its VALID UNTIL even with the right password (catches: the NULL secret of the default auth_query accepted)', async () => {
    await expect(whoAmI(at(), 'q_expired', cluster.password)).rejects.toMatchObject({ code: '28P01' });
  });

  it('opens no pool for an unknown user (catches: made-up user names piling up pools and memory)', async () => {
    await whoAmI(at(), 'ghost_pool', 'x').catch(() => undefined);
    const users = (await show(mux.port, 'POOLS')).map((p) => p.user);
    expect(users).toContain('app_md5');
    expect(users).not.toContain('ghost_pool');
  });

  it('tells the client the lookup failed (57P03) when auth_user cannot log in, and logs why (catches: a broken auth_user hanging logins or passing as a wrong password)', async () => {
    await expect(whoAmI(at(), 'app', cluster.password, 'broken')).rejects.toMatchObject({
      code: '57P03',
      message: 'could not look up the user: auth_query failed',
    });
    await mux.waitForLog(/auth_query: auth_user "badauth" login failed: /);
  });
});

describe('the cache', () => {
  it('answers a burst of 30 logins of one user, and of one unknown user, with at most a lookup or two each (catches: one server connection per login)', async () => {
    const before = authUserConnections();
    const logins = Array.from({ length: 30 }, () => whoAmI(at(), 'q_burst', cluster.password));
    await expect(Promise.all(logins)).resolves.toEqual(Array(30).fill('q_burst'));
    const ghosts = Array.from({ length: 30 }, () => whoAmI(at(), 'ghost_burst', 'x').catch((e: { code?: string }) => e.code));
    await expect(Promise.all(ghosts)).resolves.toEqual(Array(30).fill('28P01'));
    // The server logs a connection when it is authorized; pgmux may have finished before that line.
    await pollUntil(() => authUserConnections() >= before + 2, 'the lookups to show in the server log');
    expect(authUserConnections() - before).toBeLessThanOrEqual(4);
  });

  it(`sees a password change within a few seconds (AUTH_QUERY_TTL_MS = ${AUTH_QUERY_TTL_MS}), not at once and not never (catches: secrets cached forever, or not at all)`, async () => {
    await expect(whoAmI(at(), 'q_change', cluster.password)).resolves.toBe('q_change');
    const next = `${cluster.password}-rotated`;
    await cluster.query(cluster.primary, `ALTER ROLE q_change PASSWORD ${escapeLiteral(next)}`);
    const changedAt = Date.now();
    // Still the cached secret right after the change.
    await expect(whoAmI(at(), 'q_change', next)).rejects.toMatchObject({ code: '28P01' });
    expect(Date.now() - changedAt).toBeLessThan(AUTH_QUERY_TTL_MS);
    await pollUntil(
      () => whoAmI(at(), 'q_change', next).then(() => true, () => false),
      'the new password to be accepted',
      AUTH_QUERY_TTL_MS * 3,
    );
    await expect(whoAmI(at(), 'q_change', cluster.password)).rejects.toMatchObject({ code: '28P01' });
  });
});
