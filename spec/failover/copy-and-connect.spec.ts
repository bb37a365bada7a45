// Failover drills users hit that the scenario drill does not run: `pgbench -C` (a new connection
// for every transaction, as PHP and serverless clients do) and `COPY ... FROM STDIN` (psql's bulk
// load) through a switchover: the primary stops (fast), the standby is promoted a second later.
// pgbench's logins go on through the gap (pgmux's own welcome), its transactions wait and none is
// lost or doubled: the rows on the new primary are exactly the transactions pgbench counted. A
// COPY sent while there is no primary waits, and loads its rows once on the new primary.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster, PgNode } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { pgbench, psql } from '../support/clients';
import { until } from '../routing/support';
import { hostRow, hostRows, startPair, startTwoHosts } from './two-host-pgmux';

jest.setTimeout(120000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
let dir: string;

async function count(node: PgNode, who: string): Promise<number> {
  const r = await cluster.query(node, `SELECT count(*)::int AS n FROM cp WHERE who = '${who}'`);
  return Number(r.rows[0]?.n);
}

const through = (): string[] => ['-h', '127.0.0.1', '-p', String(pgmux.port), '-U', 'app', 'app'];

beforeAll(async () => {
  const pair = await startPair('CREATE TABLE cp (who text NOT NULL); GRANT ALL ON cp TO app');
  cluster = pair.cluster;
  primary = pair.primary;
  standby = pair.standby;
  pgmux = await startTwoHosts(pair, 'failover_timeout = 20\nmax_client_conn = 200\n');
  await until('the primary to be found', async () => hostRow(await hostRows(pgmux, cluster.password), primary).role === 'primary');
  dir = mkdtempSync(join(tmpdir(), 'pgmux-copy-connect-'));
  writeFileSync(join(dir, 'bench.sql'), "INSERT INTO cp VALUES ('bench');\n");
}, 120000);

afterAll(async () => {
  await pgmux?.stop();
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('a switchover under pgbench -C and COPY FROM STDIN', () => {
  it('loses no pgbench -C transaction, doubles none, and loads a COPY sent during the gap once on the new primary', async () => {
    const env = { PGPASSWORD: cluster.password };
    const bench = pgbench(['-n', '-C', '-c', '4', '-j', '1', '-T', '8', '-f', join(dir, 'bench.sql'), ...through()], env);
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
});
