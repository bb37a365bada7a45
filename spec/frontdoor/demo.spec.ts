// Spec of `npm run demo`'s command line, run in this checkout (built) with the system PostgreSQL:
// --help, an unknown option, --no-tour, a port already taken, and Ctrl-C cleanup. The full run
// with the tour on a bare machine is quickstart.spec.ts.

import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { demoConfig } from '../../demo/config';
import { Child, run } from '../support/child';
import { psql } from '../support/clients';
import { repoRoot } from '../support/pgmux';
import { assertPortFree } from '../support/ports';
import { isAlive, processTree, processesMentioning } from '../support/procs';
import { waitFor } from '../support/wait';

const ROOT = repoRoot();
const DEMO = join(ROOT, 'dist', 'demo', 'demo.js');
const config = demoConfig(ROOT);

/** Our environment without jest's variables: JEST_WORKER_ID makes the launchers unref their children. */
function demoEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('JEST') && k !== 'NODE_ENV') env[k] = v;
  return env;
}

describe('npm run demo', () => {
  it('--help prints its usage and exits 0', async () => {
    const r = await run(process.execPath, [DEMO, '--help'], { cwd: ROOT, env: demoEnv() });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run demo \[-- --no-tour\]/);
    expect(r.stdout).toContain('PGMUX_POSTGRES=system|bundled|<bin dir>');
  });

  it('refuses an unknown option with its usage and exit code 2, starting nothing', async () => {
    const r = await run(process.execPath, [DEMO, '--tour-please'], { cwd: ROOT, env: demoEnv() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^demo: unknown option --tour-please\nusage:/);
    expect(r.stdout).toBe('');
  });

  it('stops at once, naming the port, when one it needs is taken', async () => {
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(config.replicaPort, '127.0.0.1', resolve));
    try {
      const r = await run(process.execPath, [DEMO, '--no-tour'], { cwd: ROOT, env: demoEnv() });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`demo: port 127.0.0.1:${config.replicaPort} is already in use; find the owner with: ss -ltnp 'sport = :${config.replicaPort}'\n`);
      expect(r.stdout).not.toContain('Starting');
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  describe('--no-tour', () => {
    let demo: Child | undefined;

    beforeAll(async () => {
      demo = await Child.start(process.execPath, [DEMO, '--no-tour'], { label: 'demo', cwd: ROOT, env: demoEnv(), emergencySignal: 'SIGINT' });
      await demo.waitForLog(/Press Ctrl-C to stop/, 60000);
    });
    afterAll(async () => {
      await demo?.stop([{ signal: 'SIGINT', waitMs: 20000 }, { signal: 'SIGKILL', waitMs: 5000 }]);
    });

    it('prints how to connect and skips the tour', () => {
      const out = demo?.logs() ?? '';
      expect(out).toContain(`pgmux is listening on 127.0.0.1:${config.port} (config: examples/demo.ini), in front of`);
      expect(out).toMatch(new RegExp(`primary +127.0.0.1:${config.primaryPort}\\n +replica +127.0.0.1:${config.replicaPort} +streaming from the primary\\n`));
      const user = process.getuid?.() === 0 ? ', running as OS user postgres' : '';
      expect(out).toMatch(new RegExp(`^  PostgreSQL 15\\.\\d+ .*from /usr/lib/postgresql/15/bin${user}$`, 'm'));
      expect(out).toContain(`connect with psql:   psql "postgres://app:${config.password}@127.0.0.1:${config.port}/app"`);
      expect(out).toContain(`admin console:       psql "postgres://postgres:${config.password}@127.0.0.1:${config.port}/pgbouncer" -c "SHOW POOLS"`);
      expect(out).not.toContain('A short tour');
      expect(out).toContain(`pgmux is still running: primary :${config.primaryPort}, replica :${config.replicaPort}. Press Ctrl-C to stop.`);
    });

    it('answers the printed psql command from the replica, and the admin console', async () => {
      const url = `postgres://app:${config.password}@127.0.0.1:${config.port}/app`;
      const r = await psql([url, '-AtXc', "SELECT inet_server_port(), current_setting('in_hot_standby'), count(*) FROM accounts"]);
      expect(r).toMatchObject({ code: 0, stdout: `${config.replicaPort}|on|3\n` });
      const admin = await psql([`postgres://postgres:${config.password}@127.0.0.1:${config.port}/pgbouncer`, '-AtXc', 'SHOW VERSION']);
      expect(admin.stdout).toMatch(/^PgBouncer 1\.18\.0 \(pgmux /);
    });

    it('stops on SIGINT, leaving no process, listening port or data dir', async () => {
      const running = demo as Child;
      const dataDir = /\(data in (\S+), removed on exit/.exec(running.logs())?.[1] ?? '';
      const pids = processTree(running.pid);
      expect(pids.length).toBeGreaterThan(6);
      running.signal('SIGINT');
      expect(await running.exited).toEqual({ code: 0, signal: null });
      await running.closed;
      expect(running.logs()).toMatch(/Stopping pgmux and PostgreSQL \.\.\.\n[\s\S]*Stopped; temp dirs removed\.\n/);
      await waitFor('the demo\'s processes to exit', () => pids.every((p) => !isAlive(p)), 10000);
      expect(processesMentioning(dataDir)).toEqual([]);
      for (const port of [config.port, config.primaryPort, config.replicaPort]) await assertPortFree(port);
    });
  });
});
