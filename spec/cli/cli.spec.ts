// The command line as an operator uses it: --version, --help, config errors, -d (daemon with
// pidfile), -v, -q, running as an ordinary user, and the listeners the config asks for
// (listen_addr lists and *, unix_socket_dir), against a real PostgreSQL.

import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Child } from '../support/child';
import { startCluster, type Cluster } from '../support/cluster';
import { psql } from '../support/clients';
import { makeTempDir, removeTempDir, runAsPostgres, writeFiles } from '../support/osuser';
import { startPgmux } from '../support/pgmux';
import { freePort, waitForPort } from '../support/ports';
import { isAlive } from '../support/procs';
import { trackPid, untrackPid } from '../support/reaper';
import { accepts, appClient, clusterIni, LOG_LINE, PGMUX_BIN, runPgmux, until, userlist } from './helpers';

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

describe('pgmux command line', () => {
  let cluster: Cluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await startCluster();
    dir = makeTempDir('pgmux-cli-');
  });
  afterAll(async () => {
    if (dir) removeTempDir(dir);
    await cluster?.stop();
  });

  /** Catches: a hard-coded or missing version, or --version starting the pooler. */
  it('--version and -V print the package version and exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await runPgmux([flag], dir);
      expect(r).toEqual({ code: 0, stdout: `${PACKAGE_VERSION}\n`, stderr: '' });
    }
  });

  /** Catches: an option dropped from the help text, or --help needing a config file. */
  it('--help lists the usage and every option', async () => {
    const r = await runPgmux(['--help'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: pgmux [options] <config.ini>');
    for (const option of ['-d, --daemon', '-v, --verbose', '-q, --quiet', '-V, --version', '-h, --help']) {
      expect(r.stdout).toContain(option);
    }
  });

  /** Catches: a config error that starts anyway, exits 0, or does not say file:line. */
  it('a bad config exits non-zero with file:line: and the problem on stderr', async () => {
    const cases: [string, string, RegExp][] = [
      ['unknown-key.ini', '[databases]\n[pgbouncer]\nlisten_port = 7\nbogus_setting = 1\n', /unknown-key\.ini:4: unknown setting "bogus_setting"/],
      ['bad-value.ini', '[pgbouncer]\n; a comment\nlisten_port = banana\n', /bad-value\.ini:3: listen_port = "banana" is not valid/],
      ['bad-db.ini', '[databases]\napp = host=127.0.0.1 port=notaport\n[pgbouncer]\n', /bad-db\.ini:2: port must be an integer/],
    ];
    for (const [name, text, message] of cases) {
      writeFileSync(join(dir, name), text);
      const r = await runPgmux([name], dir);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const missing = await runPgmux(['no-such-file.ini'], dir);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no-such-file.ini');
  });

  /** Catches: a logfile that cannot be opened crashing with a stack trace instead of a message. */
  it('an unwritable logfile is a one-line error, not a crash', async () => {
    writeFileSync(join(dir, 'badlog.ini'), `[pgbouncer]\nlisten_port = ${await freePort()}\nlogfile = ${dir}/no/such/dir/x.log\n`);
    const r = await runPgmux(['badlog.ini'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^pgmux: cannot open logfile .*no\/such\/dir\/x\.log: ENOENT[^\n]*\n$/);
  });

  /**
   * Catches: -d not detaching (the command would not return), no pidfile, the daemon not
   * serving, SIGTERM not stopping it or leaving the pidfile behind, -v not reaching the daemon,
   * and bundled flags (-dv) making every daemon start another one.
   */
  it('-d detaches, writes the pidfile, serves, and SIGTERM to that pid stops it and removes the pidfile', async () => {
    const port = await freePort();
    writeFiles(dir, { 'daemon.ini': clusterIni(cluster, port, ['pidfile = daemon.pid', 'logfile = daemon.log']), ...userlist(cluster) });
    const r = await runPgmux(['-dv', 'daemon.ini'], dir);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const pid = Number(readFileSync(join(dir, 'daemon.pid'), 'utf8').trim());
    trackPid(pid, 'SIGKILL');
    try {
      expect(isAlive(pid)).toBe(true);
      // Detached: its own session, so a terminal's hangup or Ctrl-C does not reach it.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      expect(Number(fields[3])).toBe(pid); // session id
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).not.toContain('-dv');
      const client = await appClient(cluster, port);
      try {
        expect((await client.query('SELECT 40 + 2 AS n')).rows).toEqual([{ n: 42 }]);
      } finally {
        await client.end();
      }
      process.kill(pid, 'SIGTERM');
      await until(() => !isAlive(pid), `daemon ${pid} to exit after SIGTERM`);
      expect(existsSync(join(dir, 'daemon.pid'))).toBe(false);
      const log = readFileSync(join(dir, 'daemon.log'), 'utf8');
      expect(log).toMatch(new RegExp(`\\[${pid}\\] DEBUG `));
      expect(log).toContain('login attempt: db=app user=app tls=no');
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      untrackPid(pid);
    }
  });

  /** Catches: -d without a pidfile starting a daemon nobody can find or stop. */
  it('-d without a pidfile refuses to start', async () => {
    writeFileSync(join(dir, 'nopid.ini'), `[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${await freePort()}\nunix_socket_dir =\n`);
    const r = await runPgmux(['-d', 'nopid.ini'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('-d needs pidfile');
  });

  /** Catches: -v not adding DEBUG lines, or DEBUG lines shown without -v. */
  it('-v adds DEBUG lines that the default level leaves out', async () => {
    const lines: Record<string, string> = {};
    for (const args of [[], ['-v']]) {
      const mux = await startPgmux(clusterIni(cluster, await freePort()), userlist(cluster), { args });
      try {
        const client = await appClient(cluster, mux.port);
        await client.query('SELECT 1');
        await client.end();
        await until(() => mux.logs().includes('closing because: client close request'), 'the disconnection line');
      } finally {
        await mux.stop();
      }
      lines[args.join(' ')] = mux.logs();
    }
    expect(lines['']).not.toContain(' DEBUG ');
    expect(lines['']).toContain(' LOG ');
    const debug = lines['-v'].split('\n').filter((l) => / DEBUG /.test(l));
    expect(debug.length).toBeGreaterThan(0);
    for (const l of debug) expect(l).toMatch(LOG_LINE);
  });

  /** Catches: -q still writing to stderr, or -q silencing the logfile too. */
  it('-q prints nothing on stdout/stderr while the logfile still gets every line', async () => {
    const mux = await startPgmux(clusterIni(cluster, await freePort(), ['logfile = quiet.log']), userlist(cluster), { args: ['-q'] });
    const logfile = join(mux.dir, 'quiet.log');
    try {
      const client = await appClient(cluster, mux.port);
      await client.query('SELECT 1');
      await client.end();
      await until(() => readFileSync(logfile, 'utf8').includes('closing because: client close request'), 'the disconnection line in the logfile');
    } finally {
      await mux.stop();
    }
    expect(mux.logs()).toBe('');
  });

  /**
   * Catches: anything that needs root (binding, the socket dir, pidfile, logfile), e.g. a chown
   * or a privileged path. Runs bin/pgmux as OS user postgres in a dir only postgres may write.
   */
  it('runs as an ordinary user (postgres): serves TCP and the Unix socket, writes and removes its files', async () => {
    const { uid, gid } = runAsPostgres();
    const own = makeTempDir('pgmux-cli-user-');
    const port = await freePort();
    let child: Child | undefined;
    try {
      writeFiles(own, {
        'pgmux.ini': clusterIni(cluster, port, [`unix_socket_dir = ${own}`, 'pidfile = pgmux.pid', 'logfile = pgmux.log']),
        ...userlist(cluster),
      });
      child = await Child.start(process.execPath, [PGMUX_BIN, 'pgmux.ini'], {
        label: `pgmux as postgres :${port}`,
        cwd: own,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: own },
        uid,
        gid,
        emergencySignal: 'SIGKILL',
      });
      await waitForPort(port, child);
      // The pidfile comes last, once every listener (TCP, then the Unix socket) is open.
      await until(() => existsSync(join(own, 'pgmux.pid')), 'the pidfile');
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      if (uid !== undefined) expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
      expect(readFileSync(join(own, 'pgmux.pid'), 'utf8')).toBe(`${child.pid}\n`);
      const viaSocket = await appClient(cluster, port, own);
      try {
        expect((await viaSocket.query('SELECT current_user AS u')).rows).toEqual([{ u: 'app' }]);
      } finally {
        await viaSocket.end();
      }
      if (uid !== undefined) expect(statSync(join(own, 'pgmux.log')).uid).toBe(uid);
      const info = await child.stop([{ signal: 'SIGTERM', waitMs: 5000 }, { signal: 'SIGKILL', waitMs: 5000 }]);
      expect(info).toEqual({ code: 0, signal: null });
      expect(existsSync(join(own, 'pgmux.pid'))).toBe(false);
      expect(existsSync(join(own, `.s.PGSQL.${port}`))).toBe(false);
    } finally {
      await child?.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
      removeTempDir(own);
    }
  });

  /**
   * Catches: unix_socket_dir ignored, psql -h <dir> refused, a stale socket file left by a
   * killed pooler blocking the start, and a live pooler's socket being stolen by a second one.
   */
  it('unix_socket_dir: psql -h <dir> works, a stale socket is replaced, a live one is refused', async () => {
    const sockets = makeTempDir('pgmux-cli-sock-');
    const port = await freePort();
    const file = join(sockets, `.s.PGSQL.${port}`);
    try {
      // A stale socket: its listener is killed, so the file stays and nobody answers on it.
      const leftover = await Child.start(
        process.execPath,
        ['-e', `require('net').createServer().listen(${JSON.stringify(file)}, () => process.kill(process.pid, 'SIGKILL'))`],
        { label: 'stale socket maker', emergencySignal: 'SIGKILL' },
      );
      await leftover.exited;
      expect(statSync(file).isSocket()).toBe(true);
      expect(await accepts({ path: file })).toBe(false);

      const mux = await startPgmux(clusterIni(cluster, port, [`unix_socket_dir = ${sockets}`]), userlist(cluster));
      try {
        // TCP listens first, the Unix socket right after.
        await until(() => accepts({ path: file }), 'the Unix socket to accept');
        const r = await psql(['-X', '-At', '-h', sockets, '-p', String(port), '-U', 'app', '-d', 'app', '-c', 'SELECT 6 * 7'], {
          PGPASSWORD: cluster.password,
        });
        expect(r).toMatchObject({ code: 0, stdout: '42\n' });
        // A second pooler on the same socket (Unix socket only, so TCP cannot fail first).
        writeFileSync(join(sockets, 'second.ini'), `[pgbouncer]\nlisten_addr =\nlisten_port = ${port}\nunix_socket_dir = ${sockets}\n`);
        const second = await runPgmux(['second.ini'], sockets);
        expect(second.code).toBe(1);
        expect(second.stderr).toContain(`unix socket ${file} is in use`);
        expect(await accepts({ path: file })).toBe(true);
      } finally {
        await mux.stop();
      }
      expect(existsSync(file)).toBe(false);
    } finally {
      removeTempDir(sockets);
    }
  });

  /** Catches: only the first listen_addr entry bound, or a list binding every address. */
  it('listen_addr = a list listens on each address and no other', async () => {
    const mux = await startPgmux(clusterIni(cluster, await freePort(), ['listen_addr = 127.0.0.1, 127.0.0.2']), userlist(cluster));
    try {
      for (const host of ['127.0.0.1', '127.0.0.2']) {
        const client = await appClient(cluster, mux.port, host);
        expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await client.end();
      }
      expect(await accepts({ host: '127.0.0.3', port: mux.port })).toBe(false);
      expect(mux.logs()).toMatch(/LOG listening on 127\.0\.0\.2:\d+/);
    } finally {
      await mux.stop();
    }
  });

  /** Catches: * taken as a host name or bound to IPv4 loopback only. */
  it('listen_addr = * listens on every address (IPv6 too where the host has it)', async () => {
    const mux = await startPgmux(clusterIni(cluster, await freePort(), ['listen_addr = *']), userlist(cluster));
    try {
      const client = await appClient(cluster, mux.port, '127.0.0.3');
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await client.end();
      if (await hasIpv6Loopback()) expect(await accepts({ host: '::1', port: mux.port })).toBe(true);
    } finally {
      await mux.stop();
    }
  });

  /** Catches: a pidfile written late, with the wrong pid, or left behind after a normal exit. */
  it('writes the pidfile once listening and removes it at exit (SIGINT with no clients)', async () => {
    const mux = await startPgmux(clusterIni(cluster, await freePort(), ['pidfile = run/pgmux.pid']), { ...userlist(cluster), 'run/.keep': '' });
    const pidfile = join(mux.dir, 'run', 'pgmux.pid');
    // Written once every listener is open, so a moment after the port accepts.
    await until(() => existsSync(pidfile), 'the pidfile');
    expect(readFileSync(pidfile, 'utf8')).toBe(`${mux.pid}\n`);
    process.kill(mux.pid, 'SIGINT');
    expect(await mux.waitForExit()).toBe(0);
    expect(existsSync(pidfile)).toBe(false);
    for (const line of mux.logs().trim().split('\n')) expect(line).toMatch(LOG_LINE);
    await mux.stop();
  });
});

/** Whether this host can bind ::1 (containers without IPv6 cannot). */
function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}
