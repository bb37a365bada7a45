// Failover drill with pgJDBC batches: jdbc/BatchDrill.java runs executeBatch of ROWS inserts
// (each sleeping 2 ms, so a batch is in flight most of the time) batch after batch through pgmux,
// alternately in autocommit (one implicit transaction: pgJDBC's one Sync) and in an explicit
// transaction. The primary stops (fast) and the standby is promoted PROMOTE_AFTER_MS later.
// Every batch must be whole or absent on the new primary: an acknowledged batch exactly once with
// all its rows, a failed one absent or (a commit whose answer was lost) whole, never in part,
// never twice; and the driver's errors are clear (a SQLSTATE and a message). Then the server of
// a transaction that has run its batch and not yet committed goes away (a restart in place of the
// new primary): its COMMIT must fail, never succeed on another server with the batch gone.

import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster, PgNode } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { until } from '../routing/support';
import { hostRow, hostRows, startPair, startTwoHosts } from './two-host-pgmux';

jest.setTimeout(180000);

const JDBC_JAR = '/usr/share/java/postgresql.jar';
const ROWS = 50;
const PROMOTE_AFTER_MS = 500;

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
let dir: string;

/** BatchDrill's lines so far, parsed. */
interface Outcome {
  batch: number;
  ok: boolean;
  /** ok: the update counts summed; err: SQLSTATE and message. */
  detail: string;
  at: number;
}

beforeAll(async () => {
  dir = makeTempDir('pgmux-jdbc-batch-');
  execFileSync('javac', ['-d', dir, join(__dirname, 'jdbc', 'BatchDrill.java')], { stdio: 'pipe' });
  const pair = await startPair('CREATE TABLE jb (batch int NOT NULL, seq int NOT NULL, auto bool NOT NULL); GRANT ALL ON jb TO app');
  ({ cluster, primary, standby } = pair);
  // pgJDBC sends extra_float_digits at startup: PgBouncer users list it here too.
  pgmux = await startTwoHosts(pair, 'failover_timeout = 20\nquery_wait_timeout = 60\nignore_startup_parameters = extra_float_digits\n');
}, 120000);

afterAll(async () => {
  await pgmux?.stop();
  await cluster?.stop();
  if (dir !== undefined) removeTempDir(dir);
});

it(`pgJDBC executeBatch of ${ROWS} inserts through a fast stop and promotion: every batch whole once or absent, errors clear`, async () => {
  await until('the primary found', async () => hostRow(await hostRows(pgmux, cluster.password), primary).state === 'primary');
  const stopFile = join(dir, 'stop');
  const java = startDrill({ STOP: stopFile });
  const outcomes = java.outcomes;
  const exited = java.exited;
  try {
    await until('10 batches before the stop', async () => outcomes.filter((o) => o.ok).length >= 10, 60000);
    const stoppingAt = Date.now();
    await cluster.stopNode(primary, 'fast');
    await new Promise((r) => setTimeout(r, Math.max(0, stoppingAt + PROMOTE_AFTER_MS - Date.now())));
    const promotingAt = Date.now();
    await cluster.promote(standby);
    await until('10 batches acknowledged after the promotion', async () => outcomes.filter((o) => o.ok && o.at > promotingAt).length >= 10, 60000);
    writeFileSync(stopFile, '');
    expect(await exited).toBe(0);

    const stored = new Map<number, number>();
    for (const row of (await cluster.query(standby, 'SELECT batch, count(*)::int AS n, count(DISTINCT seq)::int AS d FROM jb GROUP BY batch')).rows) {
      // A row twice in one batch would be a batch sent twice (in part).
      expect({ batch: row.batch, n: row.n }).toEqual({ batch: row.batch, n: row.d });
      stored.set(Number(row.batch), Number(row.n));
    }
    const acked = outcomes.filter((o) => o.ok);
    const failed = outcomes.filter((o) => !o.ok);
    const around = outcomes.filter((o) => o.at >= stoppingAt && (o.ok ? o.at <= promotingAt + 5000 : true));
    process.stdout.write(
      `jdbc batch: ${outcomes.length} batches of ${ROWS}: ${acked.length} acknowledged, ${failed.length} failed (${failed.map((o) => `#${o.batch} ${o.detail}`).join('; ') || 'none'}); ` +
        `stored on the new primary: ${stored.size} batches, ${[...stored.values()].reduce((a, b) => a + b, 0)} rows; ` +
        `promotion began ${promotingAt - stoppingAt} ms after the stop; batches finished from the stop to 5 s after the promotion: ${around.map((o) => `#${o.batch} ${o.ok ? 'ok' : 'err'} +${o.at - stoppingAt} ms`).join(', ')}\n`,
    );
    // Acknowledged: all its rows, once (the update counts say ROWS).
    for (const o of acked) {
      expect({ batch: o.batch, stored: stored.get(o.batch) }).toEqual({ batch: o.batch, stored: ROWS });
      expect(o.detail).toBe(String(ROWS));
    }
    // Failed: none of it, or all of it (a commit whose answer was lost); never in part. And a clear error.
    for (const o of failed) {
      expect([0, ROWS]).toContain(stored.get(o.batch) ?? 0);
      expect(o.detail).toMatch(/^[0-9A-Z]{5} \S/);
    }
    // Nothing stored that the driver never ran.
    const ran = new Set(outcomes.map((o) => o.batch));
    expect([...stored.keys()].filter((b) => !ran.has(b))).toEqual([]);
  } finally {
    java.end();
  }
});

it('fails the COMMIT of a batch whose server went away after executeBatch (a restart in place): the batch is not there, and the driver says so', async () => {
  const go = join(dir, 'go');
  const java = startDrill({ STOP: join(dir, 'stop'), GO: go, BATCH: '1000' });
  try {
    await until('the batch executed, its transaction open', async () => java.executed.includes(1000), 60000);
    await cluster.restartNode(standby, 'fast');
    writeFileSync(go, '');
    expect(await java.exited).toBe(0);
    process.stdout.write(`jdbc commit after restart: ${JSON.stringify(java.outcomes)}\n`);
    expect(java.outcomes).toHaveLength(1);
    expect(java.outcomes[0]).toMatchObject({ batch: 1000, ok: false });
    expect(java.outcomes[0]!.detail).toMatch(/^[0-9A-Z]{5} \S/);
    expect((await cluster.query(standby, 'SELECT count(*)::int AS n FROM jb WHERE batch = 1000')).rows[0]?.n).toBe(0);
  } finally {
    java.end();
  }
});

/** BatchDrill running through pgmux with `env` added: its outcomes and "executed" lines as they come. */
function startDrill(env: Record<string, string>): { outcomes: Outcome[]; executed: number[]; exited: Promise<number | null>; end(): void } {
  const java = spawn('java', ['-cp', `${dir}:${JDBC_JAR}`, 'BatchDrill'], {
    env: { ...process.env, PGMUX_PORT: String(pgmux.port), PGMUX_USER: 'app', PGMUX_PASSWORD: cluster.password, ROWS: String(ROWS), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const outcomes: Outcome[] = [];
  const executed: number[] = [];
  let stderr = '';
  let pending = '';
  java.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^(ok|err) (\d+) (.*)$/.exec(line);
      if (m !== null) outcomes.push({ ok: m[1] === 'ok', batch: Number(m[2]), detail: m[3]!, at: Date.now() });
      const e = /^executed (\d+)$/.exec(line);
      if (e !== null) executed.push(Number(e[1]));
    }
  });
  java.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => java.on('exit', (code) => resolve(code)));
  return {
    outcomes,
    executed,
    exited,
    end() {
      if (java.exitCode === null) java.kill('SIGKILL');
      if (stderr !== '') process.stdout.write(`BatchDrill stderr: ${stderr}\n`);
    },
  };
}
