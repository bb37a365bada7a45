// Spec of tools/test-prerequisites.sh, which `npm test` runs first: with everything present it
// says so and lets the tests run; with something missing, as a user who is not root, it stops at
// once with the one command that installs it (on a system without apt-get, with the package
// names). Installing as root is what CI does (.ci/run is README's `npm ci && npm test`).

import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../support/child';
import { runAsPostgres } from '../support/osuser';
import { repoRoot } from '../support/pgmux';

const SOURCE = join(repoRoot(), 'tools', 'test-prerequisites.sh');

/** Not root (as root the script would install): the servers' user, or ourselves when not root. */
const notRoot = runAsPostgres();

describe('tools/test-prerequisites.sh', () => {
  /** Readable by the user it runs as, wherever the checkout is (a clone under /root is not). */
  let dir: string;
  let SCRIPT: string;
  let bin: string;

  /**
   * A PATH of only the programs the script looks up there, less `without`: the absolute paths
   * it checks (Debian's server tree, /usr/bin/python3, the JDBC jar) stay as installed.
   */
  function pathWithout(...without: string[]): string {
    rmSync(bin, { recursive: true, force: true });
    mkdirSync(bin, { mode: 0o755 });
    for (const p of ['id', 'psql', 'openssl', 'java', 'javac', 'apt-get', 'git', 'systemd-analyze', 'ss', 'strace'].filter((p) => !without.includes(p))) {
      symlinkSync(`/usr/bin/${p}`, join(bin, p));
    }
    return bin;
  }

  beforeAll(() => {
    // dir/tools/ holds the script and dir/bin/pgmux stands for the checkout's, which the script
    // (as root) checks the servers' user can read.
    dir = mkdtempSync(join(tmpdir(), 'pgmux-prereq-'));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'tools'), { mode: 0o755 });
    SCRIPT = join(dir, 'tools', 'test-prerequisites.sh');
    copyFileSync(SOURCE, SCRIPT);
    mkdirSync(join(dir, 'bin'), { mode: 0o755 });
    writeFileSync(join(dir, 'bin', 'pgmux'), '', { mode: 0o644 });
    bin = join(dir, 'path');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lets the tests run when everything is installed', async () => {
    const r = await run('/bin/bash', [SCRIPT], { env: { PATH: process.env.PATH }, ...notRoot });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^test prerequisites: all present \(postgresql postgresql-client pgbouncer .*openssl git systemd procps iproute2 strace chromium python3-prometheus-client\)\n$/);
  });

  it('stops with the one apt-get command when something is missing and it is not root', async () => {
    const r = await run('/bin/bash', [SCRIPT], { env: { PATH: pathWithout('javac') }, ...notRoot });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'test prerequisites missing:\n' +
        '  default-jdk-headless: java and javac for the pgJDBC specs\n' +
        'Install them with:\n' +
        '  sudo apt-get install -y --no-install-recommends default-jdk-headless\n',
    );
  });

  it('names every missing package in that one command', async () => {
    const r = await run('/bin/bash', [SCRIPT], { env: { PATH: pathWithout('psql', 'openssl') }, ...notRoot });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('  sudo apt-get install -y --no-install-recommends postgresql-client openssl\n');
  });

  it('names the Debian packages where there is no apt-get', async () => {
    const r = await run('/bin/bash', [SCRIPT], { env: { PATH: pathWithout('javac', 'apt-get') }, ...notRoot });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/default-jdk-headless: java and javac .*\nThis is not a Debian-based system: install the equivalents of these Debian packages/);
  });

  it('as root, stops with the chmod that lets the servers\' user reach a checkout it cannot', async () => {
    const asRoot = process.getuid?.() === 0;
    chmodSync(dir, 0o700);
    try {
      // Run as ourselves: as root the specs run servers as `postgres`; otherwise as us, and then
      // there is nothing to check.
      const r = await run('/bin/bash', [SCRIPT], { env: { PATH: process.env.PATH } });
      if (asRoot) {
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(
          `The specs run pgmux, PgBouncer and PostgreSQL as the OS user postgres, which cannot reach ${dir}.\n` +
            'Clone the repository where postgres can read it (under /srv or /opt, say), or let it through:\n' +
            `  chmod o+x ${dir}\n`,
        );
      } else {
        expect(r).toMatchObject({ code: 0, stderr: '' });
      }
    } finally {
      chmodSync(dir, 0o755);
    }
  });
});
