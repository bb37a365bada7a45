// Black-box spec of auth_type = hba (issue 7): real clients through pgmux with an auth_hba_file,
// allowed and refused by source address (127.0.0.1, 127.0.0.2, ::1, a Unix socket), user and
// database, each method's challenge; the same file under PgBouncer 1.18 choosing the same way;
// RELOAD re-reading the rules; a broken file refused.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { userlistLine } from '../client/support/setup';
import { firstAnswer, pgConnect, pollUntil, show, whoAmI, type Target } from './support';

let cluster: Cluster;
let mux: PgmuxProcess;
let bouncer: PgBouncerProcess;

/**
 * The rules under test, first match wins. The hostssl line comes first: it must never match a
 * plain connection (if it did, everyone would get trust). 127.0.0.2 is refused; ::1 only lets
 * app in; @dbs.txt lists app and otherdb; sameuser lets a user into the database of its name.
 */
const HBA = `# hba rules of hba-login.spec.ts
hostssl   all        all        127.0.0.0/8      trust
local     all        app                         trust
local     all        all                         md5
host      all        app        ::1/128          scram-sha-256
host      all        all        ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff  reject
host      all        all        127.0.0.2/32     reject
host      pgbouncer  admin      127.0.0.1/32     md5
host      app        app_md5    127.0.0.1/32     md5
host      app        app_plain  127.0.0.1 255.255.255.255  password
host      @dbs.txt   app        127.0.0.0/8      scram-sha-256
host      sameuser   all        127.0.0.1/32     md5
host      all        certuser   127.0.0.1/32     cert
`;

function files(c: Cluster): Record<string, string> {
  const pw = c.password;
  return {
    'hba.conf': HBA,
    'dbs.txt': 'app\notherdb\n',
    'userlist.txt':
      userlistLine('app', pw) +
      userlistLine('app_md5', pw) +
      userlistLine('app_plain', pw) +
      userlistLine('certuser', pw) +
      userlistLine('admin', 'admin-pw'),
  };
}

function ini(port: number, c: Cluster, unixDir: string): string {
  const server = `host=127.0.0.1 port=${c.primary.port} dbname=app`;
  return `[databases]
app = ${server}
otherdb = ${server}
app_md5 = ${server}

[pgbouncer]
listen_addr = 127.0.0.1, ::1
listen_port = ${port}
unix_socket_dir = ${unixDir}
auth_type = hba
auth_hba_file = hba.conf
auth_file = userlist.txt
admin_users = admin
pool_mode = transaction
`;
}

beforeAll(async () => {
  cluster = await startCluster();
  const [muxPort, bouncerPort] = [await freePort(), await freePort()];
  // The Unix socket lives in pgmux's own working directory ("." there).
  [mux, bouncer] = await Promise.all([
    startPgmux(ini(muxPort, cluster, '.'), files(cluster)),
    startPgBouncer(ini(bouncerPort, cluster, ''), files(cluster)),
  ]);
});

afterAll(async () => {
  await Promise.all([mux?.stop(), bouncer?.stop()]);
  await cluster?.stop();
});

const from = (localAddress: string): Target => ({ port: mux.port, localAddress });
const v6 = (): Target => ({ port: mux.port, host: '::1' });
const unix = (): Target => ({ port: mux.port, path: join(mux.dir, `.s.PGSQL.${mux.port}`) });

/** [source, user, database, the first answer]: R5 md5, R3 cleartext, R10 SCRAM, E: a refusal. */
const MATRIX: [string, string, string, string][] = [
  ['127.0.0.1', 'app_md5', 'app', 'R5'],
  ['127.0.0.1', 'app_plain', 'app', 'R3'],
  ['127.0.0.1', 'app', 'app', 'R10'],
  ['127.0.0.1', 'app', 'otherdb', 'R10'],
  ['127.0.0.1', 'app_md5', 'app_md5', 'R5'],
  ['127.0.0.1', 'app_md5', 'otherdb', 'E:login rejected'],
  ['127.0.0.1', 'nobody', 'app', 'E:login rejected'],
  ['127.0.0.1', 'certuser', 'app', 'E:certificate authentication failed'],
  ['127.0.0.1', 'admin', 'pgbouncer', 'R5'],
  ['127.0.0.2', 'app', 'app', 'E:login rejected'],
  ['127.0.0.2', 'admin', 'pgbouncer', 'E:login rejected'],
  ['127.0.0.3', 'app', 'app', 'R10'],
  ['127.0.0.3', 'app_md5', 'app', 'E:login rejected'],
  ['::1', 'app', 'app', 'R10'],
  ['::1', 'app_md5', 'app', 'E:login rejected'],
];

const target = (port: number, source: string): Target => (source === '::1' ? { port, host: '::1' } : { port, localAddress: source });

describe('which method the rules choose', () => {
  it.each(MATRIX)('from %s, user %s to %s: %s (catches: wrong rule or method chosen)', async (source, user, db, expected) => {
    await expect(firstAnswer(target(mux.port, source), user, db)).resolves.toBe(expected);
  });

  it('is what PgBouncer 1.18 chooses with the same file, for every case above (catches: rules meaning something else than under PgBouncer)', async () => {
    const seen: string[] = [];
    for (const [source, user, db] of MATRIX) seen.push(`${source} ${user}@${db}: ${await firstAnswer(target(bouncer.port, source), user, db)}`);
    expect(seen).toEqual(MATRIX.map(([source, user, db, expected]) => `${source} ${user}@${db}: ${expected}`));
  });
});

describe('logging in through the rules', () => {
  it('lets app_md5 in with md5 from 127.0.0.1 and refuses a wrong password with 28P01 (catches: the rule deciding the method but not the check)', async () => {
    await expect(whoAmI(from('127.0.0.1'), 'app_md5', cluster.password)).resolves.toBe('app_md5');
    await expect(whoAmI(from('127.0.0.1'), 'app_md5', 'wrong')).rejects.toMatchObject({ code: '28P01' });
  });

  it('lets app_plain in with a cleartext password and app in with SCRAM over IPv6 (catches: password or scram-sha-256 rules not mapped to their exchange)', async () => {
    await expect(whoAmI(from('127.0.0.1'), 'app_plain', cluster.password)).resolves.toBe('app_plain');
    await expect(whoAmI(v6(), 'app', cluster.password)).resolves.toBe('app');
    await expect(whoAmI(v6(), 'app', 'wrong')).rejects.toMatchObject({ code: '28P01' });
  });

  it('refuses a source address whose rule says reject with 28000 "login rejected", even with the right password (catches: reject ignored)', async () => {
    await expect(whoAmI(from('127.0.0.2'), 'app', cluster.password)).rejects.toMatchObject({ code: '28000', message: 'login rejected' });
  });

  it('applies local rules to the Unix socket: app by trust, app_md5 by md5 (catches: Unix clients matched against host rules)', async () => {
    await expect(whoAmI(unix(), 'app', undefined)).resolves.toBe('app');
    await expect(whoAmI(unix(), 'app_md5', cluster.password)).resolves.toBe('app_md5');
    await expect(whoAmI(unix(), 'app_md5', 'wrong')).rejects.toMatchObject({ code: '28P01' });
  });

  it('guards the admin console too: admin in by md5 from 127.0.0.1, refused from 127.0.0.2 (catches: the console bypassing hba)', async () => {
    await expect(show(mux.port, 'VERSION')).resolves.toHaveLength(1);
    const c = await pgConnect(from('127.0.0.2'), 'admin', 'admin-pw', 'pgbouncer').catch((e: Error) => e);
    expect(c).toMatchObject({ message: 'login rejected' });
  });

  it('does not open a pool for a user the rules refuse (catches: refused logins piling up pools)', async () => {
    const pools = await show(mux.port, 'POOLS');
    expect(pools.map((p) => p.user)).not.toContain('nobody');
  });
});

describe('RELOAD', () => {
  it('re-reads the rules: 127.0.0.2 let in after the file changes; a broken file keeps the running rules (catches: rules parsed once at start only, or a bad file opening or locking everything)', async () => {
    const hbaPath = join(mux.dir, 'hba.conf');
    writeFileSync(hbaPath, HBA.replace('127.0.0.2/32     reject', '127.0.0.2/32     md5'));
    process.kill(mux.pid, 'SIGHUP');
    await pollUntil(async () => (await firstAnswer(from('127.0.0.2'), 'app', 'app')) === 'R5', '127.0.0.2 to get md5 after RELOAD');
    await expect(whoAmI(from('127.0.0.2'), 'app', cluster.password)).resolves.toBe('app');

    writeFileSync(hbaPath, `${HBA}host all all 127.0.0.1/32 kerberos\n`);
    process.kill(mux.pid, 'SIGHUP');
    await mux.waitForLog(/reload failed, keeping the running config: hba\.conf:14: unsupported method "kerberos"/);
    await expect(firstAnswer(from('127.0.0.2'), 'app', 'app')).resolves.toBe('R5');
  });
});

describe('start-up', () => {
  it('refuses to start with a broken hba file, naming file:line and why (catches: a typo silently dropping a reject rule)', async () => {
    const port = await freePort();
    const broken = { ...files(cluster), 'hba.conf': 'host all all 127.0.0.1/32 md5\nhost all +admins 127.0.0.1/32 trust\n' };
    await expect(startPgmux(ini(port, cluster, ''), broken)).rejects.toThrow(/hba\.conf:2: group membership \(\+admins\) is not supported/);
  });

  it('refuses to start with auth_type = hba and no auth_hba_file (catches: everyone rejected without a word)', async () => {
    const port = await freePort();
    const text = ini(port, cluster, '').replace('auth_hba_file = hba.conf\n', '');
    await expect(startPgmux(text, files(cluster))).rejects.toThrow(/auth_type = hba needs auth_hba_file/);
  });
});
