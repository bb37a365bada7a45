// Black-box spec of what each admin console command does, observed from clients and from
// PostgreSQL (pg_stat_activity): PAUSE, RESUME, KILL, RECONNECT, WAIT_CLOSE, RELOAD, SET,
// DISABLE/ENABLE, KILL_CLIENT, SUSPEND, SHUTDOWN, who may run them, and the unix-socket admin
// login. Each test has its own role, so the backends it counts are its own. The texts and tags
// themselves are compared with PgBouncer 1.18 in parity.spec.ts.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { psql } from '../support/clients';
import { run as runProcess } from '../support/child';
import { findPgBin } from '../support/pgbin';
import { makeTempDir, removeTempDir, runAsPostgres } from '../support/osuser';
import { createRoles, elapse, Observer, outcome, runPgmux, track, waitFor, waitUntilDelivered, type Running } from '../pool/support';
import { RawConsole, type Reply } from './support';

jest.setTimeout(30000);

const ROLES = ['k_pause', 'k_kill', 'k_recon', 'k_reload', 'k_disable', 'k_rights', 'k_killc', 'k_susp', 'k_shut'];

let cluster: Cluster;
let obs: Observer;
let run: Running | undefined;
const consoles: RawConsole[] = [];

beforeAll(async () => {
  // log_connections: a login pgmux should not have made shows in the server log.
  cluster = await startCluster({ settings: { log_connections: 'on' } });
  await createRoles(cluster, ROLES);
  obs = await Observer.open(cluster);
});

afterEach(async () => {
  for (const c of consoles.splice(0)) c.close();
  await run?.stop();
  run = undefined;
});

afterAll(async () => {
  await obs?.close();
  await cluster?.stop();
});

/** pgmux in front of the cluster with `role` as the app user, admin and stats as console users. */
async function start(role: string, settings: Record<string, string | number> = {}): Promise<Running> {
  run = await runPgmux(cluster, {
    roles: [role, 'admin', 'stats'],
    settings: { admin_users: 'admin', stats_users: 'stats', ...settings },
  });
  return run;
}

async function open(user = 'admin'): Promise<RawConsole> {
  const c = await RawConsole.open((run as Running).port, user, '');
  consoles.push(c);
  return c;
}

/** One row of a SHOW view, picked by a column value. */
async function row(con: RawConsole, view: string, key: string, value: string): Promise<Record<string, string | null>> {
  const found = RawConsole.objects(await con.query(`SHOW ${view}`)).find((r) => r[key] === value);
  if (found === undefined) throw new Error(`no ${view} row with ${key} = ${value}`);
  return found;
}

const tag = (r: Reply) => r.tag ?? `error: ${r.error?.message}`;

/** The next asynchronous error (a FATAL sent while idle) on a node-postgres client. */
function nextError(c: Client): Promise<Error & { code?: string }> {
  return new Promise((resolve) => c.once('error', resolve));
}

async function pid(c: Client): Promise<number> {
  return (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

describe('PAUSE and RESUME', () => {
  /** Would catch a PAUSE that answers before running transactions end, keeps servers, or lets queries through. */
  it('PAUSE db waits for the running transaction, closes the servers, and holds new queries until RESUME', async () => {
    await start('k_pause');
    const a = await run!.connect('k_pause');
    const b = await run!.connect('k_pause');
    await a.query('BEGIN');
    await a.query('SELECT 1');
    const admin = await open();
    const watch = await open();
    const pause = track(admin.query('PAUSE app'));
    const held = track(b.query('SELECT 2 AS v'));
    await waitFor('b to queue', async () => (await row(watch, 'POOLS', 'database', 'app')).cl_waiting === '1');
    expect(pause.settled()).toBe(false);
    expect(await obs.pids('k_pause')).toHaveLength(1);

    await a.query('COMMIT');
    expect(tag(await pause.promise)).toBe('PAUSE');
    await waitFor('the paused database to have no backends', async () => (await obs.pids('k_pause')).length === 0);
    expect((await row(watch, 'DATABASES', 'name', 'app')).paused).toBe('1');
    // The queued query still waits: no server may be opened for it while paused.
    expect((await row(watch, 'CLIENTS', 'state', 'waiting')).user).toBe('k_pause');
    expect(held.settled()).toBe(false);
    expect(await obs.pids('k_pause')).toHaveLength(0);

    expect(tag(await admin.query('RESUME app'))).toBe('RESUME');
    expect((await held.promise).rows[0].v).toBe(2);
    expect((await row(watch, 'DATABASES', 'name', 'app')).paused).toBe('0');
  });

  /**
   * Would catch a global PAUSE that forgets pools, a janitor that refills min_pool_size while
   * paused (PAUSE would never finish), or a RESUME that leaves pools paused.
   */
  it('PAUSE without a database holds every pool, even with min_pool_size; RESUME releases them', async () => {
    await start('k_pause', { min_pool_size: 1 });
    const a = await run!.connect('k_pause');
    await a.query('SELECT 1');
    const admin = await open();
    expect(tag(await admin.query('PAUSE'))).toBe('PAUSE');
    expect((await row(admin, 'STATE', 'key', 'paused')).value).toBe('yes');
    // Several janitor sweeps (100 ms each) later, PostgreSQL has seen no new login from pgmux.
    const logins = () => cluster.logs(cluster.primary).split('\n').filter((l) => l.includes('connection authorized: user=k_pause')).length;
    const seen = logins();
    await elapse(400);
    expect(logins()).toBe(seen);
    expect(await obs.pids('k_pause')).toHaveLength(0);
    const held = track(a.query('SELECT 3 AS v'));
    await waitFor('the query to queue', async () => (await row(admin, 'POOLS', 'database', 'app')).cl_waiting === '1');
    expect(await obs.pids('k_pause')).toHaveLength(0);
    expect(tag(await admin.query('RESUME'))).toBe('RESUME');
    expect((await held.promise).rows[0].v).toBe(3);
  });
});

describe('KILL', () => {
  /** Would catch a KILL that leaves clients or servers behind, or lets new queries run before RESUME. */
  it('KILL db drops its clients ("database removed") and servers; new queries wait for RESUME', async () => {
    await start('k_kill');
    const a = await run!.connect('k_kill');
    const b = await run!.connect('k_kill');
    await a.query('BEGIN');
    await b.query('SELECT 1');
    expect(await obs.pids('k_kill')).toHaveLength(2);
    const admin = await open();
    const aGone = nextError(a);
    const bGone = nextError(b);
    expect(tag(await admin.query('KILL app'))).toBe('KILL');
    for (const err of [await aGone, await bGone]) expect({ message: err.message, code: err.code }).toEqual({ message: 'database removed', code: '57P01' });
    await waitFor('the killed database to have no backends', async () => (await obs.pids('k_kill')).length === 0);
    expect((await row(admin, 'DATABASES', 'name', 'app')).paused).toBe('1');

    const c = await run!.connect('k_kill');
    const held = track(c.query('SELECT 4 AS v'));
    await waitFor('the new query to queue', async () => (await row(admin, 'POOLS', 'database', 'app')).cl_waiting === '1');
    expect(await obs.pids('k_kill')).toHaveLength(0);
    expect(tag(await admin.query('RESUME app'))).toBe('RESUME');
    expect((await held.promise).rows[0].v).toBe(4);
  });
});

describe('RECONNECT and WAIT_CLOSE', () => {
  /** Would catch RECONNECT breaking a running transaction, or reusing a server it should retire. */
  it('RECONNECT closes idle servers now and busy ones when released; WAIT_CLOSE answers once they are gone', async () => {
    await start('k_recon');
    const a = await run!.connect('k_recon');
    const b = await run!.connect('k_recon');
    await a.query('BEGIN');
    const busy = await pid(a);
    const idle = await pid(b);
    const admin = await open();
    const watch = await open();
    expect(tag(await admin.query('RECONNECT app'))).toBe('RECONNECT');
    await waitFor('the idle server to go', async () => !(await obs.pids('k_recon')).includes(idle));
    expect(await obs.pids('k_recon')).toEqual([busy]);
    expect((await row(watch, 'SERVERS', 'remote_pid', String(busy))).close_needed).toBe('1');

    const wait = track(admin.query('WAIT_CLOSE app'));
    // The transaction goes on on its server meanwhile.
    expect(await pid(a)).toBe(busy);
    expect(wait.settled()).toBe(false);
    await a.query('COMMIT');
    expect(tag(await wait.promise)).toBe('WAIT_CLOSE');
    await waitFor('the busy server to go after its release', async () => !(await obs.pids('k_recon')).includes(busy));
    const fresh = await pid(a);
    expect([busy, idle]).not.toContain(fresh);
  });
});

describe('RELOAD and SET', () => {
  /** Would catch new pool sizes applying only to new pools (running pools keep the old limit). */
  it('a busy pool opens as many servers as SET and then RELOAD allow', async () => {
    await start('k_reload', { default_pool_size: 1 });
    const clients = [await run!.connect('k_reload'), await run!.connect('k_reload'), await run!.connect('k_reload')];
    const begins = clients.map((c) => track(c.query('BEGIN')));
    const admin = await open();
    const queued = async (n: string) => (await row(admin, 'POOLS', 'database', 'app')).cl_waiting === n;
    await waitFor('two clients to queue behind one server', () => queued('2'));
    expect(await obs.pids('k_reload')).toHaveLength(1);

    expect(tag(await admin.query('SET default_pool_size = 2'))).toBe('SET default_pool_size=2');
    await waitFor('a second server for a queued client', () => queued('1'));
    expect(await obs.pids('k_reload')).toHaveLength(2);

    const ini = join(run!.pgmux.dir, 'pgmux.ini');
    writeFileSync(ini, readFileSync(ini, 'utf8').replace('default_pool_size = 1', 'default_pool_size = 3'));
    expect(tag(await admin.query('RELOAD'))).toBe('RELOAD');
    await Promise.all(begins.map((b) => b.promise));
    expect(await obs.pids('k_reload')).toHaveLength(3);
    expect((await row(admin, 'CONFIG', 'key', 'default_pool_size')).value).toBe('3');
    for (const c of clients) await c.query('COMMIT');
  });

  /** Would catch SET quietly accepting what cannot take effect. */
  it('SET refuses unknown keys, bad values and settings that need a restart, naming why', async () => {
    await start('k_reload');
    const admin = await open();
    const r = await admin.query('SET listen_port = 7000');
    expect(r.error).toMatchObject({ message: 'SET failed', detail: expect.stringContaining('restart') });
    expect((await admin.query('SET default_pool_size = many')).error?.message).toBe('SET failed');
    expect((await admin.query('SET nosuch = 1')).error?.message).toBe('SET failed');
    expect((await row(admin, 'CONFIG', 'key', 'listen_port')).value).toBe(String(run!.port));
  });
});

describe('DISABLE and ENABLE', () => {
  /** Would catch DISABLE cutting off clients already in, or not refusing new ones. */
  it('DISABLE refuses new logins to the database and leaves connected clients alone; ENABLE lets them in', async () => {
    await start('k_disable');
    const a = await run!.connect('k_disable');
    const admin = await open();
    expect(tag(await admin.query('DISABLE app'))).toBe('DISABLE');
    const refused = await outcome(run!.connect('k_disable'));
    expect(refused.ok ? 'connected' : { message: refused.error.message, code: refused.error.code }).toEqual({ message: 'database "app" is disabled', code: '55000' });
    expect((await a.query('SELECT 5 AS v')).rows[0].v).toBe(5);
    expect((await row(admin, 'DATABASES', 'name', 'app')).disabled).toBe('1');
    expect(tag(await admin.query('ENABLE app'))).toBe('ENABLE');
    const b = await run!.connect('k_disable');
    expect((await b.query('SELECT 6 AS v')).rows[0].v).toBe(6);
  });
});

describe('who may use the console', () => {
  /** Would catch stats_users steering pools, or strangers getting in at all. */
  it('stats_users may SHOW but not PAUSE or SHOW FDS; other users are refused at login', async () => {
    await start('k_rights');
    const a = await run!.connect('k_rights');
    const stats = await open('stats');
    expect(RawConsole.objects(await stats.query('SHOW POOLS')).map((r) => r.database)).toEqual(['app', 'pgbouncer']);
    expect((await stats.query('PAUSE')).error?.message).toBe('admin access needed');
    expect((await stats.query('SHOW FDS')).error?.message).toBe('admin access needed');
    expect((await stats.query('KILL app')).error?.message).toBe('admin access needed');
    expect((await row(stats, 'STATE', 'key', 'active')).value).toBe('yes');
    expect((await a.query('SELECT 7 AS v')).rows[0].v).toBe(7);
    const stranger = await outcome(RawConsole.open(run!.port, 'k_rights', ''));
    expect(stranger.ok ? 'logged in' : stranger.error.message).toBe('not allowed');
    const admin = await open('admin');
    expect((await admin.query('SHOW FDS')).error).toBeNull();
  });

  /** Would catch the own-user rule letting in anyone on the socket, or not working at all. */
  it('a unix-socket login as pgbouncer by the OS user running pgmux is an admin; another OS user is not', async () => {
    const dir = makeTempDir('pgmux-admin-sock-');
    try {
      await start('k_rights', { unix_socket_dir: dir });
      const port = String(run!.port);
      const asUs = await psql(['-X', '-w', '-At', '-h', dir, '-p', port, '-U', 'pgbouncer', '-d', 'pgbouncer', '-c', 'SHOW VERSION', '-c', 'PAUSE', '-c', 'RESUME']);
      expect({ code: asUs.code, out: asUs.stdout.trim() }).toEqual({ code: 0, out: expect.stringMatching(/^PgBouncer 1\.18\.0 \(pgmux .*\)\nPAUSE\nRESUME$/) });
      const { uid, gid } = runAsPostgres();
      const args = ['-X', '-w', '-At', '-h', dir, '-p', port, '-U', 'pgbouncer', '-d', 'pgbouncer', '-c', 'SHOW VERSION'];
      const other = await runProcess(findPgBin('psql'), args, { uid, gid, cwd: dir, env: { PATH: process.env.PATH, PSQLRC: '/dev/null' } });
      expect(other.code).not.toBe(0);
      expect(other.stderr).toMatch(/authentication failed/);
      // Over TCP the same user name gets no such favour.
      const tcp = await outcome(RawConsole.open(run!.port, 'pgbouncer', ''));
      expect(tcp.ok).toBe(false);
    } finally {
      await run?.stop();
      run = undefined;
      removeTempDir(dir);
    }
  });
});

describe('KILL_CLIENT (a pgmux addition)', () => {
  /** Would catch killing the wrong client, or more than one. */
  it('drops exactly the client whose id SHOW CLIENTS shows in ptr', async () => {
    await start('k_killc');
    const victim = await run!.connect('k_killc', { application_name: 'victim' });
    const bystander = await run!.connect('k_killc', { application_name: 'bystander' });
    const admin = await open();
    const { ptr } = await row(admin, 'CLIENTS', 'application_name', 'victim');
    const gone = nextError(victim);
    expect(tag(await admin.query(`KILL_CLIENT ${ptr}`))).toBe('KILL_CLIENT');
    const err = await gone;
    expect({ message: err.message, code: err.code }).toEqual({ message: 'admin forced disconnect', code: '57P01' });
    expect((await bystander.query('SELECT 8 AS v')).rows[0].v).toBe(8);
    expect((await admin.query(`KILL_CLIENT ${ptr}`)).error?.message).toBe('client not found');
    expect((await admin.query('KILL_CLIENT x1')).error?.message).toBe('invalid client pointer supplied');
  });
});

describe('SUSPEND', () => {
  /** Would catch SUSPEND that keeps reading clients, or a RESUME (or vanished admin) that leaves them frozen. */
  it('stops reading clients until RESUME, and resumes by itself when its admin leaves', async () => {
    await start('k_susp');
    const a = await run!.connect('k_susp');
    await a.query('SELECT 1');
    const admin = await open();
    const watch = await open();
    expect(tag(await admin.query('SUSPEND'))).toBe('SUSPEND');
    expect((await row(watch, 'STATE', 'key', 'suspended')).value).toBe('yes');
    const queries = async () => (await row(watch, 'STATS_TOTALS', 'database', 'app')).query_count;
    const before = await queries();
    const held = track(a.query('SELECT 9 AS v'));
    // The bytes have reached pgmux (its sockets are not read while suspended: they wait in its
    // kernel), and a console round trip later it has not acted on them: a request is counted the
    // moment pgmux reads it.
    await waitUntilDelivered(run!.port, a);
    expect(await queries()).toBe(before);
    expect(held.settled()).toBe(false);
    expect(tag(await admin.query('RESUME'))).toBe('RESUME');
    expect((await held.promise).rows[0].v).toBe(9);

    expect(tag(await admin.query('SUSPEND'))).toBe('SUSPEND');
    const held2 = track(a.query('SELECT 10 AS v'));
    await waitUntilDelivered(run!.port, a);
    admin.close();
    watch.close();
    expect((await held2.promise).rows[0].v).toBe(10);
  });
});

describe('SHUTDOWN', () => {
  /** Would catch SHUTDOWN being ignored or leaving the process running. */
  it('ends the process; clients are told why', async () => {
    await start('k_shut');
    const a = await run!.connect('k_shut');
    await a.query('SELECT 1');
    const told = nextError(a);
    const admin = await open();
    void admin.query('SHUTDOWN').catch(() => undefined);
    expect(await run!.pgmux.waitForExit()).toBe(0);
    expect((await told).message).toBe('terminating connection due to administrator command');
  });
});
