// Spec of the npm package: `npm pack` gives a tarball with the compiled code, bin, README,
// license and examples and nothing of the specs, benches or sources; `npm install -g` of it
// into a fresh prefix works without TypeScript; the installed pgmux prints its version, runs
// an example config in front of a real primary and replica, and its systemd unit verifies.

import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { Child, run } from '../support/child';
import { startCluster, type Cluster } from '../support/cluster';
import { pgClient } from '../support/clients';
import { repoRoot } from '../support/pgmux';
import { freePort, waitForPort } from '../support/ports';

const ROOT = repoRoot();
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** npm's own output is noise here; its cache (warm after `npm ci`) makes the install quick. */
const NPM_QUIET = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
/** node and the system's programs, but not the checkout's node_modules/.bin: no TypeScript. */
const PLAIN_PATH = `${dirname(process.execPath)}:/usr/bin:/bin`;

jest.setTimeout(240000);

describe('the npm package', () => {
  let dir: string;
  let tarball: string;
  let files: string[];
  let prefix: string;
  let installed: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgmux-pack-'));
    // prepack empties dist/lib and prepare rebuilds it, so no stale output of a deleted source ships.
    const packed = await run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], { cwd: ROOT, env: process.env });
    if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}${packed.stdout}`);
    tarball = join(dir, packed.stdout.trim().split('\n').pop() ?? '');
    const listing = await run('tar', ['tzf', tarball]);
    files = listing.stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    prefix = join(dir, 'prefix');
    const install = await run('npm', ['install', '--global', '--prefix', prefix, ...NPM_QUIET, tarball], {
      cwd: dir,
      env: { ...process.env, PATH: PLAIN_PATH },
    });
    if (install.code !== 0) throw new Error(`npm install -g failed:\n${install.stderr}${install.stdout}`);
    installed = join(prefix, 'lib', 'node_modules', 'pgmux');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`is named pgmux-${VERSION}.tgz`, () => {
    expect(basename(tarball)).toBe(`pgmux-${VERSION}.tgz`);
  });

  it('holds the compiled code, bin, README, ARCHITECTURE.md, license and examples', () => {
    for (const f of ['package.json', 'bin/pgmux', 'dist/lib/cli.js', 'dist/lib/pgmux.js', 'README.md', 'ARCHITECTURE.md', 'LICENSE']) {
      expect(files).toContain(f);
    }
    const examples = readdirSync(join(ROOT, 'examples'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(ROOT, join(e.path, e.name)));
    expect(files.filter((f) => f.startsWith('examples/')).sort()).toEqual(examples.sort());
  });

  it('holds no specs, benches, demo, tools, TypeScript sources or source maps', () => {
    const unwanted = files.filter((f) => /^(spec|bench|demo|tools|lib|\.ci)\/|^dist\/(?!lib\/)|\.ts$|\.map$/.test(f));
    expect(unwanted).toEqual([]);
    // Every compiled module of lib/ is there (a missing one would fail at require time).
    const compiled = files.filter((f) => f.startsWith('dist/lib/') && f.endsWith('.js'));
    expect(compiled.length).toBeGreaterThan(80);
  });

  it('installs without TypeScript and prints its version', async () => {
    const modules = join(installed, 'node_modules');
    expect(existsSync(join(modules, 'typescript'))).toBe(false);
    expect(existsSync(join(modules, 'commander'))).toBe(true);
    const r = await run(join(prefix, 'bin', 'pgmux'), ['--version'], { env: { PATH: PLAIN_PATH } });
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  describe('started with an example config', () => {
    let cluster: Cluster;
    let pgmux: Child | undefined;
    let port: number;

    beforeAll(async () => {
      // examples/demo.ini as shipped, pointed at this cluster and a free port; its auth_file
      // (examples/userlist.txt) resolves against the installed package, pgmux's working directory.
      cluster = await startCluster({ replica: true, password: 'pgmux-demo' });
      port = await freePort();
      const shipped = readFileSync(join(installed, 'examples', 'demo.ini'), 'utf8');
      const ini = shipped
        .replace(/port=15432,15433/g, `port=${cluster.primary.port},${cluster.replica?.port}`)
        .replace(/^listen_port = 6432$/m, `listen_port = ${port}`)
        .replace(/^listen_addr = .*$/m, 'listen_addr = 127.0.0.1\nunix_socket_dir =');
      expect(ini).not.toBe(shipped);
      writeFileSync(join(dir, 'pgmux.ini'), ini);
      pgmux = await Child.start(join(prefix, 'bin', 'pgmux'), [join(dir, 'pgmux.ini')], {
        label: 'installed pgmux',
        cwd: installed,
        env: { PATH: PLAIN_PATH },
        emergencySignal: 'SIGKILL',
      });
      await waitForPort(port, pgmux);
    });
    afterAll(async () => {
      await pgmux?.stop([{ signal: 'SIGTERM', waitMs: 5000 }, { signal: 'SIGKILL', waitMs: 5000 }]);
      await cluster?.stop();
    });

    it('sends a read to the replica and a write to the primary', async () => {
      const client = await pgClient(port, 'app', 'pgmux-demo');
      try {
        const where = "inet_server_port() AS port, current_setting('in_hot_standby') AS standby";
        const read = await client.query(`SELECT ${where}`);
        expect(read.rows[0]).toEqual({ port: cluster.replica?.port, standby: 'on' });
        const write = await client.query(`CREATE TABLE t AS SELECT ${where}`);
        expect(write.command).toBe('SELECT');
        const primary = await cluster.query(cluster.primary, 'SELECT port, standby FROM t', 'app');
        expect(primary.rows[0]).toEqual({ port: cluster.primary.port, standby: 'off' });
      } finally {
        await client.end();
      }
    });
  });

  it('carries a systemd unit that systemd-analyze verify accepts without a warning', async () => {
    const unit = join(dir, 'pgmux.service');
    copyFileSync(join(installed, 'examples', 'pgmux.service'), unit);
    // The unit names where npm puts pgmux on a real system; here it is the temp prefix.
    const text = readFileSync(unit, 'utf8');
    const pointed = text.replace(/^ExecStart=\S+/m, `ExecStart=${join(prefix, 'bin', 'pgmux')}`);
    expect(pointed).not.toBe(text);
    writeFileSync(unit, pointed);
    const r = await run('systemd-analyze', ['verify', unit]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  });
});
