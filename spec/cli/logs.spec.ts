// The log as PgBouncer writes it: line shape, the logfile, and the log_connections,
// log_disconnections and log_pooler_errors switches (each also changed by SIGHUP, since they
// are reloadable). The logfile is written synchronously before pgmux answers or closes the
// client, so once a client call returns, its lines are in the file (or never will be).

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { appClient, clusterIni, LOG_LINE, until, userlist } from './helpers';

/** A login that pgmux itself refuses; resolves to the error's SQLSTATE. */
async function refusedLogin(port: number, database: string, password: string): Promise<string | undefined> {
  const client = new Client({ host: '127.0.0.1', port, user: 'app', password, database });
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('logging', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());

  /** Rewrites the config with `extra` settings, sends SIGHUP and waits until it is applied. */
  async function reload(mux: PgmuxProcess, extra: string[]): Promise<void> {
    const before = (mux.logs().match(/config reloaded/g) ?? []).length;
    writeFileSync(join(mux.dir, 'pgmux.ini'), clusterIni(cluster, mux.port, ['logfile = pgmux.log', ...extra]));
    process.kill(mux.pid, 'SIGHUP');
    await until(() => (mux.logs().match(/config reloaded/g) ?? []).length > before, 'the reload');
  }

  /** Connects as app, runs a query, disconnects; returns the new logfile text it caused. */
  async function oneSession(mux: PgmuxProcess): Promise<string> {
    const file = join(mux.dir, 'pgmux.log');
    const start = readFileSync(file, 'utf8').length;
    const client = await appClient(cluster, mux.port);
    await client.query('SELECT 1');
    await client.end();
    return readFileSync(file, 'utf8').slice(start);
  }

  /**
   * Catches: a line shape operators' log parsers would not read (local time, no
   * milliseconds, a missing pid or level), a logfile that differs from stderr, or a logfile
   * that is not appended to (an earlier run's lines lost).
   */
  it('logfile and stderr get the same PgBouncer-shaped lines, appended', async () => {
    const port = await freePort();
    const mux = await startPgmux(clusterIni(cluster, port, ['logfile = pgmux.log']), {
      ...userlist(cluster),
      'pgmux.log': 'a line from an earlier run\n',
    });
    let logfile: string;
    try {
      await oneSession(mux);
      process.kill(mux.pid, 'SIGINT');
      expect(await mux.waitForExit()).toBe(0);
      logfile = readFileSync(join(mux.dir, 'pgmux.log'), 'utf8');
      // 'exit' can come before the last of stderr has been read from the pipe.
      const last = logfile.trim().split('\n').pop() ?? '';
      await until(() => mux.logs().includes(last), 'the last log line on stderr');
    } finally {
      await mux.stop();
    }
    const stderrLines = mux.logs().trim().split('\n');
    const [first, ...fileLines] = logfile.trim().split('\n');
    expect(first).toBe('a line from an earlier run');
    expect(fileLines).toEqual(stderrLines);
    for (const line of fileLines) {
      const m = LOG_LINE.exec(line);
      expect(m).not.toBeNull();
      expect(m?.[1]).toBe(String(mux.pid));
      const at = Date.parse(`${line.slice(0, 23).replace(' ', 'T')}Z`);
      expect(Math.abs(Date.now() - at)).toBeLessThan(60000);
    }
    expect(fileLines.join('\n')).toMatch(/ LOG C-\d+: app\/app@127\.0\.0\.1:\d+ login attempt: db=app user=app tls=no\n/);
    expect(fileLines.join('\n')).toMatch(/ LOG C-\d+: app\/app@127\.0\.0\.1:\d+ closing because: client close request \(age=\d+s\)\n/);
  });

  /** Catches: SIGHUP not reopening the logfile, so after logrotate every line goes to the rotated file. */
  it('SIGHUP reopens the logfile, so logrotate can move it away', async () => {
    const mux = await startPgmux(clusterIni(cluster, await freePort(), ['logfile = pgmux.log']), userlist(cluster));
    const file = join(mux.dir, 'pgmux.log');
    try {
      renameSync(file, `${file}.1`);
      await reload(mux, []);
      expect(readFileSync(`${file}.1`, 'utf8')).toMatch(/ LOG got SIGHUP, re-reading config\n$/);
      expect(readFileSync(file, 'utf8')).toMatch(/^\S+ \S+ UTC \[\d+\] LOG config reloaded\n$/);
      expect(await oneSession(mux)).toContain('login attempt: db=app user=app tls=no');
      expect(readFileSync(`${file}.1`, 'utf8')).not.toContain('login attempt');
    } finally {
      await mux.stop();
    }
  });

  /**
   * Catches: no stats_period summary line, a line not in PgBouncer 1.18's shape, lines at the
   * wrong interval, traffic not counted, or log_stats = 0 (after a reload) not silencing them.
   * The counters are lib/metrics (spec/admin/parity.spec.ts compares their values with
   * PgBouncer's); this checks the log side of the setting.
   */
  it('stats_period writes a stats line per period while log_stats = 1, none after log_stats = 0', async () => {
    const mux = await startPgmux(clusterIni(cluster, await freePort(), ['logfile = pgmux.log', 'stats_period = 1', 'admin_users = app']), userlist(cluster));
    const STATS = / LOG stats: (\d+) xacts\/s, (\d+) queries\/s, in (\d+) B\/s, out (\d+) B\/s, xact (\d+) us, query (\d+) us, wait (\d+) us$/;
    const statsLines = (): string[] => mux.logs().split('\n').filter((l) => / LOG stats: /.test(l));
    try {
      const client = await appClient(cluster, mux.port);
      for (let i = 0; i < 20; i++) await client.query('SELECT 1');
      await client.end();
      await until(() => statsLines().length >= 3, 'three stats lines', 10000);
      const lines = statsLines();
      for (const l of lines) expect(l).toMatch(STATS);
      expect(lines.some((l) => Number(STATS.exec(l)?.[2]) > 0)).toBe(true);
      const times = lines.map((l) => Date.parse(`${l.slice(0, 23).replace(' ', 'T')}Z`));
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThan(800);
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeLessThan(2500);
      expect(readFileSync(join(mux.dir, 'pgmux.log'), 'utf8')).toContain(lines[0]);

      await reload(mux, ['stats_period = 1', 'log_stats = 0', 'admin_users = app']);
      const count = statsLines().length;
      // Absence has no event of its own, so watch the period pass twice in SHOW STATS_AVERAGES
      // (recomputed every stats_period whatever log_stats says): traffic after the reload makes
      // the app row's average non-zero at the next period, and a quiet period brings it to 0.
      const admin = new Client({ host: '127.0.0.1', port: mux.port, user: 'app', password: cluster.password, database: 'pgbouncer' });
      await admin.connect();
      try {
        const avgQueries = async (): Promise<number> => {
          const r = await admin.query('SHOW STATS_AVERAGES');
          return Number((r.rows as { database: string; query_count: string }[]).find((row) => row.database === 'app')?.query_count ?? 0);
        };
        const traffic = await appClient(cluster, mux.port);
        for (let i = 0; i < 20; i++) await traffic.query('SELECT 1');
        await traffic.end();
        await until(async () => (await avgQueries()) > 0, 'a stats period that saw the queries', 10000);
        await until(async () => (await avgQueries()) === 0, 'a quiet stats period after it', 10000);
      } finally {
        await admin.end();
      }
      expect(statsLines().length).toBe(count);
    } finally {
      await mux.stop();
    }
  });

  /**
   * Catches: log_connections or log_disconnections ignored, tied to each other, or not
   * reloadable.
   */
  it('log_connections and log_disconnections add and remove their lines, each on its own, on reload', async () => {
    const port = await freePort();
    const mux = await startPgmux(clusterIni(cluster, port, ['logfile = pgmux.log', 'log_connections = 0', 'log_disconnections = 0']), userlist(cluster));
    const login = /login attempt: db=app user=app tls=no/;
    const closing = /closing because: client close request/;
    try {
      let text = await oneSession(mux);
      expect(text).not.toMatch(login);
      expect(text).not.toMatch(closing);

      await reload(mux, ['log_connections = 1', 'log_disconnections = 0']);
      text = await oneSession(mux);
      expect(text).toMatch(login);
      expect(text).not.toMatch(closing);

      await reload(mux, ['log_connections = 0', 'log_disconnections = 1']);
      text = await oneSession(mux);
      expect(text).not.toMatch(login);
      expect(text).toMatch(closing);

      await reload(mux, ['log_connections = 1', 'log_disconnections = 1']);
      text = await oneSession(mux);
      expect(text).toMatch(login);
      expect(text).toMatch(closing);
    } finally {
      await mux.stop();
    }
  });

  /**
   * Catches: refusals (unknown database, wrong password, max_client_conn) not logged as
   * PgBouncer's "pooler error" WARNING lines, or logged although log_pooler_errors = 0.
   */
  it('log_pooler_errors logs each refusal as a WARNING, and nothing when off', async () => {
    const port = await freePort();
    const settings = (on: number): string[] => ['logfile = pgmux.log', 'max_client_conn = 2', `log_pooler_errors = ${on}`];
    const mux = await startPgmux(clusterIni(cluster, port, settings(1)), userlist(cluster));
    const file = join(mux.dir, 'pgmux.log');
    const refusals = async (): Promise<string> => {
      const start = readFileSync(file, 'utf8').length;
      expect(await refusedLogin(port, 'nosuchdb', cluster.password)).toBe('3D000');
      expect(await refusedLogin(port, 'app', 'wrong password')).toBe('28P01');
      // Two, not one: the launcher's port probe may still count as a client for a moment.
      const holders = [await appClient(cluster, port), await appClient(cluster, port)];
      try {
        expect(await refusedLogin(port, 'app', cluster.password)).toBe('53300');
      } finally {
        await Promise.all(holders.map((h) => h.end()));
      }
      return readFileSync(file, 'utf8').slice(start);
    };
    try {
      const on = await refusals();
      expect(on).toMatch(/ WARNING C-\d+: nosuchdb\/app@127\.0\.0\.1:\d+ pooler error: no such database: nosuchdb\n/);
      expect(on).toMatch(/ WARNING C-\d+: app\/app@127\.0\.0\.1:\d+ pooler error: password authentication failed/);
      // Refused after its StartupMessage (so psql can read it), before it is logged as a login attempt.
      expect(on).toMatch(/ WARNING C-\d+: app\/app@127\.0\.0\.1:\d+ pooler error: no more connections allowed \(max_client_conn\)\n/);
      expect(on.match(/login attempt: db=app user=app/g)).toHaveLength(3);

      await reload(mux, settings(0));
      const off = await refusals();
      expect(off).not.toContain('pooler error');
      expect(off).toContain('login attempt: db=nosuchdb user=app');
    } finally {
      await mux.stop();
    }
  });
});
