// Spec of spec/support/pgbouncer.ts, pgmux.ts and clients.ts: real PgBouncer in front of a real
// cluster; the pgmux launcher's start/stop/failure paths.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../support/cluster';
import { pgbench, pgClient, psql } from '../support/clients';
import { iniListenPort } from '../support/ini';
import { startPgBouncer } from '../support/pgbouncer';
import { startPgmux } from '../support/pgmux';
import { freePort } from '../support/ports';
import { isAlive } from '../support/procs';

function bouncerIni(port: number, serverPort: number): string {
  return `[databases]
app = host=127.0.0.1 port=${serverPort} dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = userlist.txt
pool_mode = transaction
admin_users = postgres
`;
}

describe('startPgBouncer', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());

  it('runs PgBouncer in front of the cluster, then stops it by PID and removes its dir', async () => {
    const port = await freePort();
    const userlist = `"app" "${cluster.password}"\n"postgres" "${cluster.password}"\n`;
    const bouncer = await startPgBouncer(bouncerIni(port, cluster.primary.port), { 'userlist.txt': userlist });
    try {
      expect(bouncer.port).toBe(port);
      const client = await pgClient(port, 'app', cluster.password);
      try {
        const r = await client.query('SELECT 1 AS one');
        expect(r.rows).toEqual([{ one: 1 }]);
      } finally {
        await client.end();
      }
      const show = await psql(
        ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'pgbouncer', '-AtX', '-c', 'SHOW VERSION'],
        { PGPASSWORD: cluster.password },
      );
      expect(show).toMatchObject({ code: 0, stdout: 'PgBouncer 1.18.0\n' });
      const env = { PGPASSWORD: cluster.password };
      const init = await pgbench(['-h', '127.0.0.1', '-p', String(cluster.primary.port), '-U', 'app', '-i', '-I', 'dtg', '-s', '1', 'app'], env);
      expect(init).toMatchObject({ code: 0 });
      const bench = await pgbench(['-h', '127.0.0.1', '-p', String(port), '-U', 'app', '-n', '-S', '-t', '5', '-c', '2', 'app'], env);
      expect(bench).toMatchObject({ code: 0 });
      expect(bench.stdout).toMatch(/number of transactions actually processed: 10\/10/);
      await bouncer.waitForLog(/process up: PgBouncer 1\.18/);
      expect(bouncer.logs()).toContain(`listening on 127.0.0.1:${port}`);
    } finally {
      await bouncer.stop();
    }
    expect(isAlive(bouncer.pid)).toBe(false);
    expect(existsSync(bouncer.dir)).toBe(false);
    await bouncer.stop(); // harmless twice
  });

  it('rejects with PgBouncer output when it cannot start', async () => {
    const port = await freePort();
    const ini = `[databases]\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = no-such-type\n`;
    await expect(startPgBouncer(ini)).rejects.toThrow(/pgbouncer :\d+ \(pid \d+\) exited with code \d+[\s\S]*auth_type/);
  });
});

describe('startPgmux', () => {
  let scripts: string;
  beforeAll(() => {
    scripts = mkdtempSync(join(tmpdir(), 'pgmux-selftest-'));
    // Stand-ins for bin/pgmux that exercise the launcher without depending on pgmux itself.
    writeFileSync(join(scripts, 'fails.js'), "console.error('bad config: no [databases] in ' + process.cwd()); process.exit(3);\n");
    writeFileSync(
      join(scripts, 'listens.js'),
      `const fs = require('fs'), net = require('net');
const ini = fs.readFileSync(process.argv[process.argv.length - 1], 'utf8');
const port = Number(/listen_port\\s*=\\s*(\\d+)/.exec(ini)[1]);
net.createServer((c) => c.destroy()).listen(port, '127.0.0.1', () => console.log('fake listening on ' + port + ' with ' + process.argv.slice(2, -1).join(' ')));
process.on('SIGTERM', () => { console.log('fake got SIGTERM in ' + process.cwd()); process.exit(0); });
`,
    );
  });
  afterAll(() => rmSync(scripts, { recursive: true, force: true }));

  it('rejects with the exit code and output when pgmux exits early, leaving no dir', async () => {
    const ini = `[pgbouncer]\nlisten_port = ${await freePort()}\n`;
    const err = await startPgmux(ini, {}, { script: join(scripts, 'fails.js') }).then(
      () => new Error('startPgmux should have failed'),
      (e: Error) => e,
    );
    expect(err.message).toMatch(/pgmux :\d+ \(pid \d+\) exited with code 3[\s\S]*bad config: no \[databases\] in \//);
    // The stand-in printed its working directory, which is the launcher's temp dir.
    const dir = /in (\/\S+)/.exec(err.message)?.[1] ?? '';
    expect(dir).toContain('pgmux-run-');
    expect(existsSync(dir)).toBe(false);
  });

  it('rejects clearly when the real bin/pgmux exits early', async () => {
    const ini = `[pgbouncer]\nlisten_port = ${await freePort()}\n`;
    await expect(startPgmux(ini, {}, { args: ['--no-such-option-for-pgmux'] })).rejects.toThrow(/pgmux :\d+ \(pid \d+\) exited with code [1-9]/);
  });

  it('waits for the port, passes args, runs in its dir, and stop() returns the exit code', async () => {
    const port = await freePort();
    const mux = await startPgmux(`[pgbouncer]\nlisten_port = ${port}\n`, { 'userlist.txt': '"a" "b"\n' }, {
      script: join(scripts, 'listens.js'),
      args: ['--verbose'],
    });
    let code: number | null;
    try {
      expect(mux.port).toBe(port);
      expect(existsSync(join(mux.dir, 'userlist.txt'))).toBe(true);
      // The port accepting connections says nothing about whether we have read its stdout yet.
      await mux.waitForLog(new RegExp(`fake listening on ${port} with --verbose`));
    } finally {
      code = await mux.stop();
    }
    expect(code).toBe(0);
    expect(mux.logs()).toContain(`fake got SIGTERM in ${mux.dir}`);
    expect(isAlive(mux.pid)).toBe(false);
    expect(existsSync(mux.dir)).toBe(false);
    await expect(mux.waitForExit()).resolves.toBe(0);
  });

  it('reports a port already in use before starting anything', async () => {
    const port = await freePort();
    const first = await startPgmux(`[pgbouncer]\nlisten_port = ${port}\n`, {}, { script: join(scripts, 'listens.js') });
    try {
      await expect(startPgmux(`[pgbouncer]\nlisten_port = ${port}\n`)).rejects.toThrow(`port 127.0.0.1:${port} is already in use`);
    } finally {
      await first.stop();
    }
  });
});

describe('iniListenPort', () => {
  it('reads listen_port from [pgbouncer] only, defaulting to 6432', () => {
    expect(iniListenPort('[databases]\nlisten_port = 1\n')).toBe(6432);
    expect(iniListenPort('[databases]\nx = y\n\n[PgBouncer]\n; listen_port = 2\n  Listen_Port = 7000 \n')).toBe(7000);
  });
});
