// A failover that loses writes, as an asynchronous standby's promotion does: the standby stops
// receiving WAL (here it is down), the primary writes on, dies at once, the standby is promoted
// behind the old primary's last position, and the old primary is rebuilt from it with
// pg_basebackup as its standby. The new timeline's positions are below what pgmux saw on the old
// one: read_your_writes must not wait for a position that no host will reach (every read after a
// write paying read_your_writes_timeout and going to the primary), and the rebuilt standby must
// not look hours behind and lose its reads until the new primary writes past the old position.

import { appendFileSync, chmodSync, chownSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Cluster, PgNode } from '../support/cluster';
import { startPair, startTwoHosts } from './two-host-pgmux';
import type { PgmuxProcess } from '../support/pgmux';
import { AppClients } from './single-host-pgmux';
import { consoleRows } from '../support/console';
import { run } from '../support/child';
import { findPgBin } from '../support/pgbin';
import { runAsPostgres, serverEnv } from '../support/osuser';
import { until } from '../routing/support';

jest.setTimeout(180000);

/** Long enough that a read which waits it out is told apart from one that did not wait. */
const RYW_TIMEOUT_S = 3;

let cluster: Cluster;
let pgmux: PgmuxProcess;
let oldPrimary: PgNode;
let standby: PgNode;
const clients = new AppClients(() => cluster);

function connect(): Promise<Client> {
  return clients.connect(pgmux.port);
}

async function hostRow(node: PgNode): Promise<Record<string, unknown>> {
  const rows = await consoleRows(pgmux.port, 'app', cluster.password, 'SHOW HOSTS');
  const row = rows.find((r) => r.database === 'app' && Number(r.port) === node.port);
  if (row === undefined) throw new Error(`no SHOW HOSTS row for port ${node.port}`);
  return row;
}

/** Where a statement ran. */
const WHERE = `inet_server_port() AS p`;

/** A write then a read of it on one connection: the port the read ran on and how long it took. */
async function writeThenRead(c: Client, tag: string): Promise<{ port: number; ms: number; seen: number }> {
  await c.query(`INSERT INTO lossy (v) VALUES ('${tag}')`);
  const t0 = Date.now();
  const r = await c.query(`SELECT count(*)::int AS n, ${WHERE} FROM lossy WHERE v = '${tag}'`);
  return { port: r.rows[0].p, ms: Date.now() - t0, seen: r.rows[0].n };
}

/** Rebuilds `node` as a standby of `upstream` (pg_basebackup -R into a new data dir), as an operator does after a failover. */
async function rebuildAsStandby(node: PgNode, upstream: PgNode): Promise<void> {
  const dir = mkdtempSync(join(cluster.dir, 'rebuilt-'));
  const as = runAsPostgres();
  if (as.uid !== undefined && as.gid !== undefined) chownSync(dir, as.uid, as.gid);
  chmodSync(dir, 0o700);
  const r = await run(
    findPgBin('pg_basebackup'),
    ['-D', dir, '-h', cluster.dir, '-p', String(upstream.port), '-U', 'postgres', '-R', '-X', 'stream', '-c', 'fast', '--no-sync'],
    { cwd: cluster.dir, env: serverEnv(cluster.dir), ...as },
  );
  if (r.code !== 0) throw new Error(`pg_basebackup failed: ${r.stderr}${r.stdout}`);
  appendFileSync(join(dir, 'postgresql.conf'), `\nport = ${node.port}\ncluster_name = 'rebuilt'\n`);
  node.dataDir = dir;
  await cluster.startNode(node);
  await cluster.awaitStreaming(node, upstream);
}

beforeAll(async () => {
  const pair = await startPair('CREATE TABLE lossy (v text NOT NULL); GRANT ALL ON lossy TO app');
  ({ cluster, primary: oldPrimary, standby } = pair);
  pgmux = await startTwoHosts(pair, `failover_timeout = 60\nquery_wait_timeout = 120\nread_your_writes_timeout = ${RYW_TIMEOUT_S}\n`);
  await until('both hosts probed', async () => (await hostRow(oldPrimary)).role === 'primary' && (await hostRow(standby)).state === 'up');
}, 120000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  await cluster?.stop();
});

describe('a failover onto a standby that was behind (writes lost)', () => {
  it('reads after writes go to the rebuilt standby without waiting for the old timeline, and the standby keeps its reads', async () => {
    // A client whose write pgmux remembers on the old timeline.
    const before = await connect();
    expect((await writeThenRead(before, 'before')).seen).toBe(1);

    // The standby stops receiving: everything the primary writes from now on is lost with it.
    await cluster.stopNode(standby, 'fast');
    await before.query("INSERT INTO lossy (v) SELECT 'lost' FROM generate_series(1, 1000)");
    // A standby far behind (a bulk load it had not replayed): 64 MB of WAL it never gets, more
    // than the segment switch of the rebuild's base backup (16 MB) makes up.
    for (let i = 0; i < 4; i++) await cluster.query(oldPrimary, "INSERT INTO lossy (v) VALUES ('lost'); SELECT pg_switch_wal()");
    const lostLsn = (await cluster.query(oldPrimary, 'SELECT pg_current_wal_lsn()::text AS l')).rows[0].l as string;
    // pgmux has probed the primary at (or past) that position.
    const wroteAt = Date.now();
    await until('a probe of the primary after the lost writes', async () => {
      const row = await hostRow(oldPrimary);
      return row.last_probe_ms !== null && Date.now() - Number(row.last_probe_ms) > wroteAt + 100;
    });

    await cluster.stopNode(oldPrimary, 'immediate');
    await cluster.startNode(standby);
    await cluster.promote(standby);
    const newLsn = (await cluster.query(standby, 'SELECT pg_current_wal_lsn()::text AS l')).rows[0].l as string;
    const behind = (await cluster.query(standby, `SELECT pg_wal_lsn_diff('${lostLsn}', '${newLsn}')::bigint AS d`)).rows[0].d;
    expect(Number(behind)).toBeGreaterThan(32 * 1024 * 1024);
    await until('the promoted standby to take writes', async () => (await hostRow(standby)).state === 'primary', 60000).catch((e: Error) => {
      throw new Error(`${e.message}\n${pgmux.logs()}`);
    });

    await rebuildAsStandby(oldPrimary, standby);
    await until('the rebuilt standby to be probed', async () => (await hostRow(oldPrimary)).role === 'standby', 60000);
    // It is in rotation: not judged by the old timeline's positions.
    await until('the rebuilt standby to take reads', async () => (await hostRow(oldPrimary)).state === 'up');
    // SHOW HOSTS does not show the timeline it wrote on as the old primary (the probe user cannot
    // see a standby's received_tli: unknown, or the new one).
    expect([null, 2]).toContain((await hostRow(oldPrimary)).timeline);

    // A new client's write then read: the read goes to the standby once it has replayed the
    // write, well within read_your_writes_timeout, not after it on the primary.
    const after = await connect();
    const reads: { port: number; ms: number; seen: number }[] = [];
    for (let i = 0; i < 5; i++) reads.push(await writeThenRead(after, `after-${i}`));
    // The client that wrote on the old timeline: its read does not wait for the lost position either.
    reads.push(await writeThenRead(before, 'before-again'));
    const t0 = Date.now();
    const plain = await before.query(`SELECT count(*)::int AS n, ${WHERE} FROM lossy WHERE v = 'before'`);
    const plainRead = { port: plain.rows[0].p as number, ms: Date.now() - t0 };
    for (const r of reads) {
      expect(r.seen).toBe(1);
      expect(r.ms).toBeLessThan(RYW_TIMEOUT_S * 1000 - 500);
    }
    expect(reads.filter((r) => r.port === oldPrimary.port).length).toBeGreaterThanOrEqual(4);
    expect(plainRead.ms).toBeLessThan(RYW_TIMEOUT_S * 1000 - 500);
    expect(await hostRow(oldPrimary)).toMatchObject({ role: 'standby', state: 'up' });
  });
});
