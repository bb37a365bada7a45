import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { consoleRows } from '../support/console';
import { until } from '../routing/support';

jest.setTimeout(240000);
let cluster: Cluster; let pgmux: PgmuxProcess; let primary: PgNode; let standby: PgNode;
const WORKERS = Number(process.env.DRILL_WORKERS ?? 4);
const MODE = process.env.DRILL_MODE ?? 'transaction';
async function srow(): Promise<Record<string, unknown>> { return (await consoleRows(pgmux.port, 'app', cluster.password, 'SHOW HOSTS')).find((r) => Number(r.port) === standby.port) as Record<string, unknown>; }
beforeAll(async () => {
  cluster = await startCluster({ replica: true, synchronous: true }); primary = cluster.primary; standby = cluster.replica as PgNode;
  await cluster.query(primary, 'CREATE TABLE wd (client int, seq int); CREATE TABLE cp (v text); GRANT ALL ON wd, cp TO app'); await cluster.waitForReplay();
  const port = await freePort();
  pgmux = await startPgmux('[databases]\n' + `app = host=127.0.0.1,127.0.0.1 port=${primary.port},${standby.port} dbname=app\n` + '[pgbouncer]\n' + `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` + `auth_type = scram-sha-256\nauth_file = userlist.txt\nadmin_users = app\npool_mode = ${MODE}\ndefault_pool_size = 40\nfailover_timeout = 30\nquery_wait_timeout = 120\nworkers = ${WORKERS}\n`, { 'userlist.txt': `"app" "${cluster.password}"\n` });
  await until('up', async () => (await srow()).state === 'up');
}, 120000);
afterAll(async () => { await pgmux?.stop(); await cluster?.stop(); });
it('drill', async () => {
  const N = 12; let stop = false; let eventAt = 0; let promotedAt = 0;
  const errors: Record<string, number> = {}; const acked: string[] = []; const unknown: string[] = []; let lastAck = 0; let firstAfterPromote = 0; let maxGap = 0;
  const loops = Array.from({ length: N }, async (_, i) => {
    const c = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: cluster.password, database: 'app' });
    c.on('error', () => undefined); await c.connect();
    let seq = 0;
    while (!stop) {
      seq++;
      const t0 = Date.now();
      try {
        await c.query(i % 2 === 0 ? 'INSERT INTO wd VALUES ($1, $2)' : `INSERT INTO wd VALUES (${i}, ${seq})`, i % 2 === 0 ? [i, seq] : undefined);
        const now = Date.now(); acked.push(`${i}:${seq}`);
        if (lastAck > 0) maxGap = Math.max(maxGap, now - lastAck); lastAck = now;
        if (promotedAt > 0 && firstAfterPromote === 0) firstAfterPromote = now - promotedAt;
      } catch (e) {
        const err = e as Error & { code?: string };
        const k = `${err.code ?? 'noerr'} ${err.message.slice(0, 80)} (${t0 >= eventAt && eventAt > 0 ? 'after' : 'before'} event)`;
        errors[k] = (errors[k] ?? 0) + 1; unknown.push(`${i}:${seq}`);
        if (!/terminat|shut/i.test(err.message) && (c as unknown as { _ending: boolean })._ending) break;
        await c.query('SELECT 1').catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    await c.end().catch(() => undefined);
  });
  // a long statement and a COPY through psql at the event
  const longQ = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: cluster.password, database: 'app' }); longQ.on('error', () => undefined); await longQ.connect();
  const longRes = longQ.query('INSERT INTO cp SELECT pg_sleep(20)::text').then(() => 'ok', (e) => `${e.code} ${e.message}`).then((x) => ({ x, at: Date.now() }));
  const psql = spawn('psql', ['-h', '127.0.0.1', '-p', String(pgmux.port), '-U', 'app', '-d', 'app', '-v', 'ON_ERROR_STOP=1', '-c', 'COPY cp FROM STDIN'], { env: { ...process.env, PGPASSWORD: cluster.password } });
  let psqlOut = ''; psql.stdout.on('data', (d) => (psqlOut += d)); psql.stderr.on('data', (d) => (psqlOut += d));
  const feeder = setInterval(() => { if (!psql.stdin.destroyed) psql.stdin.write('row\n', () => undefined); }, 20);
  psql.stdin.on('error', () => undefined);
  const psqlDone = new Promise<{ code: number | null; at: number }>((r) => psql.on('exit', (code) => r({ code, at: Date.now() })));
  const listener = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: cluster.password, database: 'app' }); let listenErr = ''; listener.on('error', (e) => (listenErr = e.message)); await listener.connect(); await listener.query('LISTEN drill');
  await new Promise((r) => setTimeout(r, 2000));
  eventAt = Date.now();
  await cluster.stopNode(primary, 'fast');
  const stoppedAt = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  await cluster.promote(standby); promotedAt = Date.now();
  await new Promise((r) => setTimeout(r, 4000));
  stop = true; clearInterval(feeder); psql.stdin.end();
  await Promise.all(loops);
  const lr = await longRes; const pd = await Promise.race([psqlDone, new Promise<{ code: string; at: number }>((r) => setTimeout(() => r({ code: 'HANG', at: 0 }), 5000))]);
  let listenAfter = 'n/a';
  try { await listener.query('NOTIFY drill'); listenAfter = 'notify ok'; } catch (e) { listenAfter = (e as Error).message; }
  const rows = (await cluster.query(standby, "SELECT client || ':' || seq AS k, count(*)::int AS n FROM wd GROUP BY 1")).rows as { k: string; n: number }[];
  const present = new Map(rows.map((r) => [r.k, r.n]));
  const lost = acked.filter((k) => !present.has(k)); const dup = rows.filter((r) => r.n > 1);
  console.log(JSON.stringify({ workers: WORKERS, mode: MODE, acked: acked.length, errors, lost: lost.length, dup: dup.length, unknownOutcome: unknown.length, maxGapMs: maxGap, firstAckAfterPromoteMs: firstAfterPromote, stopTookMs: stoppedAt - eventAt, longStatement: { ...lr, afterEventMs: lr.at - eventAt }, psqlCopy: { code: pd.code, afterEventMs: pd.at ? pd.at - eventAt : null, out: psqlOut.slice(0, 300) }, listenErr, listenAfter }, null, 1));
  await listener.end().catch(() => undefined); await longQ.end().catch(() => undefined);
  expect(lost.length).toBe(0); expect(dup.length).toBe(0);
});
