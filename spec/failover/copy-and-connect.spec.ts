// Failover drills users hit that the scenario drill does not run: `pgbench -C` (a new connection
// for every transaction, as PHP and serverless clients do) and `COPY ... FROM STDIN` (psql's bulk
// load) through a switchover: the primary stops (fast), the standby is promoted a second later.
// pgbench's logins go on through the gap (pgmux's own welcome), its transactions wait and none is
// lost or doubled: the rows on the new primary are exactly the transactions pgbench counted. A
// COPY sent while there is no primary waits, and loads its rows once on the new primary. A COPY
// whose rows are streaming when its primary freezes (SIGSTOP) and a standby is promoted fails with
// 08006 instead of hanging, and one cut by a fast shutdown fails with the server's error; neither
// is sent again (rows already went to the old primary) and neither loads a row on the new primary.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { findPgBin, type Cluster, type PgNode } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { pgbench, psql } from '../support/clients';
import { until } from '../routing/support';
import { hostRow, hostRows, startPair, startTwoHosts } from './two-host-pgmux';
import { Freezer } from './freeze';

jest.setTimeout(120000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
let dir: string | undefined;
const freezer = new Freezer();

/** psql running `COPY cp (who) FROM STDIN` through pgmux with its stdin left open: rows go in as the spec writes them. */
function streamingCopy(): { write(lines: string): void; end(): void; done: Promise<{ code: number | null; stderr: string }> } {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, PSQLRC: '/dev/null', PGPASSWORD: cluster.password };
  const bin = existsSync('/usr/bin/psql') ? '/usr/bin/psql' : findPgBin('psql');
  const proc = spawn(bin, [...through(), '-v', 'ON_ERROR_STOP=1', '-c', 'COPY cp (who) FROM STDIN'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdin.on('error', () => undefined);
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => proc.once('exit', (code) => resolve({ code, stderr })));
  return { write: (lines) => proc.stdin.write(lines), end: () => proc.stdin.end('\\.\n'), done };
}

/** Resolves once `node` runs a COPY into cp (its CopyInResponse has gone out). */
function copyRunning(node: PgNode): Promise<void> {
  return until('the COPY to run', async () => {
    const r = await cluster.query(node, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY cp%' AND state = 'active'");
    return r.rows[0]?.n === 1;
  });
}

async function count(node: PgNode, who: string): Promise<number> {
  const r = await cluster.query(node, `SELECT count(*)::int AS n FROM cp WHERE who = '${who}'`);
  return Number(r.rows[0]?.n);
}

const through = (): string[] => ['-h', '127.0.0.1', '-p', String(pgmux.port), '-U', 'app', 'app'];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgmux-copy-connect-'));
  writeFileSync(join(dir, 'bench.sql'), "INSERT INTO cp VALUES ('bench');\n");
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe.each([1, 2])('workers = %i: a switchover under pgbench -C and COPY FROM STDIN', (workers) => {
  beforeAll(async () => {
    const pair = await startPair('CREATE TABLE cp (who text NOT NULL); GRANT ALL ON cp TO app');
    cluster = pair.cluster;
    primary = pair.primary;
    standby = pair.standby;
    pgmux = await startTwoHosts(pair, `workers = ${workers}\nfailover_timeout = 20\nmax_client_conn = 200\n`);
    await until('the primary to be found', async () => hostRow(await hostRows(pgmux, cluster.password), primary).role === 'primary');
  }, 120000);

  afterEach(() => freezer.thaw());

  afterAll(async () => {
    freezer.thaw();
    await pgmux?.stop();
    await cluster?.stop();
  });

  it('loses no pgbench -C transaction, doubles none, and loads a COPY sent during the gap once on the new primary', async () => {
    const env = { PGPASSWORD: cluster.password };
    const bench = pgbench(['-n', '-C', '-c', '4', '-j', '1', '-T', '8', '-f', join(dir as string, 'bench.sql'), ...through()], env);
    await until('pgbench to commit', async () => (await count(primary, 'bench')) > 20);
    await cluster.stopNode(primary, 'fast');
    // Sent while there is no primary: held, then run on the promoted standby.
    const copy = psql([...through(), '-v', 'ON_ERROR_STOP=1', '-c', 'COPY cp (who) FROM STDIN'], env, 'copy\ncopy\ncopy\n\\.\n');
    await delay(1000);
    await cluster.promote(standby);

    const c = await copy;
    expect({ code: c.code, stdout: c.stdout.trim(), stderr: c.stderr }).toEqual({ code: 0, stdout: 'COPY 3', stderr: '' });
    expect(await count(standby, 'copy')).toBe(3);

    const b = await bench;
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(b.stdout)?.[1]);
    const failed = /number of failed transactions: (\d+)/.exec(b.stdout)?.[1];
    expect({ code: b.code, aborted: b.stderr.match(/.*aborted.*/g) ?? [], failed: failed ?? '0' }).toEqual({ code: 0, aborted: [], failed: '0' });
    // Every transaction pgbench counted is on the new primary, once (the stop is clean: the standby has all WAL).
    expect(await count(standby, 'bench')).toBe(processed);
  });

  it('fails a COPY whose primary froze mid-stream with 08006 once the other host is promoted, and loads none of it there', async () => {
    // The old primary rejoins as a standby of the new one: the next promotion goes back to it.
    await cluster.startAsStandby(primary, standby);
    await until('the old primary to be seen as a standby', async () => hostRow(await hostRows(pgmux, cluster.password), primary).role === 'standby');
    const copy = streamingCopy();
    copy.write('frozen-copy\nfrozen-copy\n');
    await copyRunning(standby);
    freezer.freeze(standby.pid);
    copy.write('frozen-copy\n');
    copy.end();
    await cluster.promote(primary);
    const r = await copy.done;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/server conn crashed\?/);
    expect(r.stderr).toMatch(/primary moved to 127\.0\.0\.1:\d+ while this transaction ran on/);
    expect(await count(primary, 'frozen-copy')).toBe(0);
    freezer.thaw();
  });

  it('fails a COPY cut by a fast shutdown with the server\'s error, and does not send it again', async () => {
    const copy = streamingCopy();
    copy.write('cut-copy\ncut-copy\n');
    await copyRunning(primary);
    await cluster.stopNode(primary, 'fast');
    copy.write('cut-copy\n');
    copy.end();
    const r = await copy.done;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/terminating connection due to administrator command|server conn crashed/);
    await cluster.startNode(primary);
    expect(await count(primary, 'cut-copy')).toBe(0);
  });
});

