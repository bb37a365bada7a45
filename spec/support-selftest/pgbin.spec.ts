// Spec of tools/pgbin.ts and tools/pg-bundle.ts: which PostgreSQL programs are used (the system's,
// or the npm package's, as PGMUX_POSTGRES says), and the npm package's server made runnable where
// npm left it without its library links or out of reach of the servers' OS user.

import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../support/child';
import { waitFor } from '../support/wait';
import { startCluster, type Cluster } from '../support/cluster';
import { runAsPostgres } from '../support/osuser';
import { bundleProblem, runnableServer } from '../../tools/pg-bundle';
import { BUNDLE_PACKAGE, bundlePackageDir, findPgBin, pgServer, type PgInstallation } from '../support/pgbin';

/** Runs `body` with PGMUX_POSTGRES set to `value` (unset for undefined), then restores it. */
function withChoice<T>(value: string | undefined, body: () => T): T {
  const saved = process.env.PGMUX_POSTGRES;
  if (value === undefined) delete process.env.PGMUX_POSTGRES;
  else process.env.PGMUX_POSTGRES = value;
  try {
    return body();
  } finally {
    if (saved === undefined) delete process.env.PGMUX_POSTGRES;
    else process.env.PGMUX_POSTGRES = saved;
  }
}

describe('pgServer() and PGMUX_POSTGRES', () => {
  it('uses the system PostgreSQL by default when there is one', () => {
    const inst = withChoice(undefined, pgServer);
    expect(inst).toMatchObject({ origin: 'system', binDir: expect.stringMatching(/^\/usr\/lib\/postgresql\/\d+\/bin$/) });
    expect(inst.has('pg_basebackup')).toBe(true);
  });

  it('uses the npm package with PGMUX_POSTGRES=bundled: initdb, pg_ctl and postgres, no pg_basebackup', () => {
    const inst = withChoice('bundled', pgServer);
    expect(inst.origin).toBe('npm');
    expect(inst.binDir).toBe(join(bundlePackageDir() ?? '?', 'native', 'bin'));
    expect(['initdb', 'pg_ctl', 'postgres', 'pg_basebackup'].map((p) => inst.has(p))).toEqual([true, true, true, false]);
  });

  it('pins PostgreSQL 15 in the npm package', () => {
    const inst = withChoice('bundled', pgServer);
    expect(execFileSync(inst.path('postgres'), ['--version'], { encoding: 'utf8' })).toMatch(/^postgres \(PostgreSQL\) 15\.\d+\n$/);
  });

  it('takes a directory, and refuses one without initdb and postgres, naming it', () => {
    const system = withChoice(undefined, pgServer).binDir;
    expect(withChoice(system, pgServer)).toMatchObject({ origin: 'PGMUX_POSTGRES', binDir: system });
    expect(() => withChoice('/nonexistent/bin', pgServer)).toThrow('PGMUX_POSTGRES=/nonexistent/bin: that directory has no executable initdb and postgres');
  });

  it('refuses a value it does not know, listing the ones it does', () => {
    expect(() => withChoice('newest', pgServer)).toThrow('PGMUX_POSTGRES="newest": use auto, system, bundled, or the absolute path');
  });

  it('finds client programs only where PGMUX_POSTGRES says', () => {
    expect(withChoice(undefined, () => findPgBin('psql'))).toMatch(/\/psql$/);
    expect(() => withChoice('bundled', () => findPgBin('psql'))).toThrow('apt-get install -y postgresql');
    expect(withChoice('bundled', () => findPgBin('initdb'))).toBe(join(bundlePackageDir() ?? '?', 'native', 'bin', 'initdb'));
  });
});

describe('runnableServer()', () => {
  let dir: string;
  let copy: PgInstallation;

  // A copy of the npm package as npm would leave it with install scripts skipped (no library
  // links) in a 0700 dir, as a checkout under /root is.
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgmux-bundle-'));
    const root = bundlePackageDir() as string;
    execFileSync('cp', ['-a', '--no-dereference', root, join(dir, 'pkg')]);
    execFileSync('find', [join(dir, 'pkg', 'native', 'lib'), '-maxdepth', '1', '-type', 'l', '-delete']);
    const binDir = join(dir, 'pkg', 'native', 'bin');
    copy = { binDir, origin: 'npm', packageDir: join(dir, 'pkg'), has: () => true, path: (p) => join(binDir, p) };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says what is wrong with the package where it lies', () => {
    expect(bundleProblem(copy, {})).toBe('its library links are missing (npm skipped its postinstall script)');
    expect(bundleProblem(withChoice('bundled', pgServer), {})).toBeUndefined();
  });

  it('runs the server from a mirror with the links made, reachable by the servers\' user', async () => {
    const before = await run(copy.path('postgres'), ['--version']);
    expect(before.stderr).toMatch(/error while loading shared libraries: libicu\w+\.so\.60/);
    const scratch = join(mkdtempSync(join(tmpdir(), 'pgmux-bundle-scratch-')), 'postgres');
    try {
      const ready = runnableServer(copy, runAsPostgres(), scratch);
      expect(ready.binDir).toBe(join(scratch, 'native', 'bin'));
      expect(lstatSync(join(scratch, 'native', 'lib', 'libicuuc.so.60')).isSymbolicLink()).toBe(true);
      // As the servers' OS user when we are root: the mirror's parent is ours, mode 0700 too.
      execFileSync('chmod', ['0755', join(scratch, '..')]);
      const after = await run(ready.path('postgres'), ['--version'], runAsPostgres());
      expect(after).toMatchObject({ code: 0, stdout: expect.stringMatching(/^postgres \(PostgreSQL\) 15\./) });
      expect(bundleProblem(ready, runAsPostgres())).toBeUndefined();
    } finally {
      rmSync(join(scratch, '..'), { recursive: true, force: true });
    }
  });

  it('leaves a package that can run where it is alone', () => {
    const inst = withChoice('bundled', pgServer);
    const scratch = join(dir, 'unused');
    expect(runnableServer(inst, {}, scratch)).toBe(inst);
    expect(existsSync(scratch)).toBe(false);
  });
});

describe(`startCluster() with ${BUNDLE_PACKAGE}`, () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await withChoice('bundled', () => startCluster({ replica: true }));
  });
  afterAll(() => cluster?.stop());

  it('copies the stopped primary into a replica that streams', async () => {
    expect(cluster.server.origin).toBe('npm');
    const replica = cluster.replica as NonNullable<Cluster['replica']>;
    // No pg_basebackup: the primary was stopped for the copy and started again.
    expect(cluster.logs(cluster.primary)).toMatch(/received fast shutdown request[\s\S]*database system is ready to accept connections/);
    await cluster.query(cluster.primary, "CREATE TABLE t AS SELECT 'copied' AS v", 'app');
    await cluster.waitForReplay();
    expect((await cluster.query(replica, 'SELECT v, pg_is_in_recovery() AS r FROM t', 'app')).rows).toEqual([{ v: 'copied', r: true }]);
  });

  it('restarts the old primary as a standby of the promoted replica (startAsStandby)', async () => {
    const replica = cluster.replica as NonNullable<Cluster['replica']>;
    const old = cluster.primary;
    await cluster.stopNode(old);
    await cluster.query(replica, 'SELECT pg_promote(true, 60)', 'postgres', 'postgres');
    await cluster.query(replica, "INSERT INTO t VALUES ('after the promotion')", 'app');
    await cluster.startAsStandby(old, replica);
    expect(old.role).toBe('replica');
    // Streaming, but the insert may not be replayed yet: there is no event for that, so poll.
    const values = async (): Promise<string[]> => (await cluster.query(old, 'SELECT v FROM t ORDER BY v', 'app')).rows.map((r) => String(r.v));
    await waitFor('the old primary to replay the promoted one\'s insert', async () => (await values()).length === 2);
    expect(await values()).toEqual(['after the promotion', 'copied']);
  });
});
