// Black-box spec of "no password or secret in any log line at any verbosity" (issue 7, Hardening):
// pgmux runs at -vv (NOISE), every path that touches a secret is exercised (right and wrong
// passwords under md5, SCRAM, cleartext and trust; auth_query lookups of md5 and SCRAM users;
// a database line's password= for the server login, right and wrong; a failing auth_user; the
// admin console; RELOAD), then the whole log is searched for every password and every form of
// every secret used: plain text, md5 hash (with and without its prefix), SCRAM salt and keys.

import { randomBytes } from 'node:crypto';
import { escapeLiteral } from 'pg';
import { md5Secret } from '../../lib/auth/md5';
import { formatScramSecret, parseSecret, scramSecretFromPassword, type Secret } from '../../lib/auth/secret';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { userlistLine } from '../client/support/setup';
import { firstAnswer, pollUntil, show, whoAmI } from './support';

let cluster: Cluster;
let mux: PgmuxProcess;
/** Every password and secret text the run uses; none may appear in the log. */
const secrets = new Set<string>();

const token = (label: string): string => `${label}-${randomBytes(9).toString('base64url')}`;

/** The searchable forms of a secret: its text, and for hashes and verifiers their parts. */
function forms(secret: Secret | string): string[] {
  const s = typeof secret === 'string' ? parseSecret(secret) : secret;
  switch (s.kind) {
    case 'plain':
      return [s.password];
    case 'md5':
      return [s.hash, s.hash.slice(3)];
    case 'scram':
      return [formatScramSecret(s), s.salt.toString('base64'), s.storedKey.toString('base64'), s.serverKey.toString('base64')];
  }
}

function remember(...values: (Secret | string)[]): void {
  for (const v of values) for (const f of forms(v)) secrets.add(f);
}

const pw = {
  scramUser: token('scram-user-pw'),
  forcedWrong: token('forced-wrong-pw'),
  badAuth: token('badauth-pw'),
  admin: token('admin-pw'),
  wrongTyped: token('typo-pw'),
};

beforeAll(async () => {
  cluster = await startCluster();
  const c = cluster.password;
  const fileScram = scramSecretFromPassword(pw.scramUser);
  await cluster.query(cluster.primary, `CREATE ROLE file_scram LOGIN PASSWORD ${escapeLiteral(formatScramSecret(fileScram))} IN ROLE app`);
  // The SCRAM verifier auth_query will find for app, straight from pg_authid.
  const stored = await cluster.query(cluster.primary, "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'");
  remember(c, md5Secret('app_md5', c), String(stored.rows[0]!.rolpassword), fileScram, ...Object.values(pw));

  const server = `host=127.0.0.1 port=${cluster.primary.port} dbname=app`;
  const port = await freePort();
  mux = await startPgmux(
    `[databases]
app = ${server}
forced = ${server} user=app_plain password=${c}
forcedbad = ${server} user=app_plain password=${pw.forcedWrong}
broken = ${server} auth_user=badauth

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = hba
auth_hba_file = hba.conf
auth_file = userlist.txt
auth_user = postgres
admin_users = admin
pool_mode = transaction
log_connections = 1
log_disconnections = 1
log_pooler_errors = 1
`,
    {
      'hba.conf': [
        'host pgbouncer admin 127.0.0.1/32 md5',
        'host forced,forcedbad all 127.0.0.1/32 trust',
        'host all app_md5 127.0.0.1/32 md5',
        'host all app_plain 127.0.0.1/32 password',
        'host all all 127.0.0.1/32 scram-sha-256',
      ].join('\n'),
      // app and app_md5 are missing on purpose: auth_query finds them.
      'userlist.txt':
        userlistLine('postgres', c) +
        userlistLine('app_plain', c) +
        userlistLine('file_scram', formatScramSecret(fileScram)) +
        userlistLine('badauth', pw.badAuth) +
        userlistLine('admin', pw.admin),
    },
    { args: ['-v', '-v'] },
  );
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
});

/** Login outcome as text, for the record; what matters here is what reached the log. */
const attempt = (user: string, password: string | undefined, db = 'app'): Promise<string> =>
  whoAmI({ port: mux.port }, user, password, db).then(
    (u) => `ok ${u}`,
    (e: { code?: string }) => `refused ${e.code}`,
  );

describe('the -vv log', () => {
  it('holds no password, hash, salt or key, whatever logged in or failed (catches: a secret printed by an auth, auth_query, server login or reload log line)', async () => {
    const c = cluster.password;
    const outcomes = [
      await attempt('app', c), // SCRAM, secret from auth_query
      await attempt('app', pw.wrongTyped),
      await attempt('app_md5', c), // md5, secret from auth_query
      await attempt('app_md5', pw.wrongTyped),
      await attempt('app_plain', c), // cleartext; the server asks pgmux for cleartext too
      await attempt('app_plain', pw.wrongTyped),
      await attempt('file_scram', pw.scramUser), // SCRAM verifier in auth_file: keys reused for the server
      await attempt('file_scram', pw.wrongTyped),
      await attempt('nobody', pw.wrongTyped),
      await attempt('app_plain', undefined, 'forced'), // trust; server login with the line's password=
      await attempt('app_plain', undefined, 'forcedbad'), // the line's wrong password refused by the server
      await attempt('app', c, 'broken'), // auth_user badauth cannot log in
    ];
    expect(outcomes).toEqual([
      'ok app',
      'refused 28P01',
      'ok app_md5',
      'refused 28P01',
      'ok app_plain',
      'refused 28P01',
      'ok file_scram',
      'refused 28P01',
      'refused 28P01',
      'ok app_plain',
      'refused 28P01',
      'refused 57P03',
    ]);
    await expect(firstAnswer({ port: mux.port }, 'admin', 'pgbouncer')).resolves.toBe('R5');
    const users = await show(mux.port, 'USERS', 'admin', pw.admin);
    expect(users.length).toBeGreaterThan(0);
    await show(mux.port, 'DATABASES', 'admin', pw.admin);
    process.kill(mux.pid, 'SIGHUP');
    await mux.waitForLog(/config reloaded/);
    // The run was at NOISE: debug lines of the login path are there.
    await pollUntil(() => /DEBUG .*hba: hba\.conf:\d+ matched/.test(mux.logs()), 'a DEBUG hba line in the log');

    const log = mux.logs();
    const found = [...secrets].filter((s) => log.includes(s));
    expect(found).toEqual([]);
    expect(secrets.size).toBeGreaterThanOrEqual(12);
  });
});
