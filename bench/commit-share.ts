// Owns what read_your_writes across workers costs a commit (`node dist/bench/commit-share.js
// [--commits N] [--rounds N]`, issue 18): one client commits single-row UPDATEs one after the
// other through pgmux with workers = 2, in a database with read_your_writes = user (each commit's
// ReadyForQuery waits for the other worker to record it, lib/workers/commit-share) and in one with
// read_your_writes = connection (no note), and through pgmux with workers = 1 (user scope), in
// rotating order per round. Reports the median commit latency of each and the difference.
//
// Not a test: numbers depend on the machine and its load.

import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { startCluster, type Cluster, type PgNode } from '../spec/support/cluster';
import { startPgmux, type PgmuxProcess } from '../spec/support/pgmux';
import { freePorts } from '../spec/support/ports';
import { spread } from './stats';

type Case = 'w2-user' | 'w2-connection' | 'w1-user';
const CASES: Case[] = ['w2-user', 'w2-connection', 'w1-user'];

function ini(cluster: Cluster, port: number, workers: number): string {
  const line = `host=127.0.0.1 port=${cluster.primary.port} dbname=app replicas=127.0.0.1:${(cluster.replica as PgNode).port}`;
  return [
    '[databases]',
    `rw_user = ${line} read_your_writes=user`,
    `rw_connection = ${line} read_your_writes=connection`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = md5',
    'auth_file = userlist.txt',
    'pool_mode = transaction',
    `workers = ${workers}`,
    '',
  ].join('\n');
}

/** Median µs per commit of `commits` UPDATEs, one at a time. */
async function commitLatency(c: Client, commits: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < commits; i++) {
    const start = process.hrtime.bigint();
    await c.query('UPDATE mark SET v = v + 1 WHERE id = 1');
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return spread(times).median;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { commits: { type: 'string', default: '500' }, rounds: { type: 'string', default: '5' } } });
  const commits = Number(values.commits);
  const rounds = Number(values.rounds);
  const cluster = await startCluster({ replica: true });
  const muxes: PgmuxProcess[] = [];
  const clients: Client[] = [];
  try {
    await cluster.query(cluster.primary, 'CREATE TABLE mark (id int PRIMARY KEY, v int NOT NULL); INSERT INTO mark VALUES (1, 0); GRANT ALL ON mark TO app');
    const [p2, p1] = await freePorts(2);
    const files = { 'userlist.txt': `"app" "${cluster.password}"\n` };
    muxes.push(await startPgmux(ini(cluster, p2, 2), files), await startPgmux(ini(cluster, p1, 1), files));
    const connect = async (port: number, database: string): Promise<Client> => {
      const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database });
      await c.connect();
      clients.push(c);
      return c;
    };
    const by: Record<Case, Client> = {
      'w2-user': await connect(p2, 'rw_user'),
      'w2-connection': await connect(p2, 'rw_connection'),
      'w1-user': await connect(p1, 'rw_user'),
    };
    for (const c of CASES) await commitLatency(by[c], 50);
    const results: Record<Case, number[]> = { 'w2-user': [], 'w2-connection': [], 'w1-user': [] };
    for (let r = 0; r < rounds; r++) {
      const order = CASES.map((_, k) => CASES[(r + k) % CASES.length]);
      for (const c of order) results[c].push(await commitLatency(by[c], commits));
      process.stderr.write(`round ${r + 1}/${rounds}: ${CASES.map((c) => `${c} ${results[c][r].toFixed(0)} µs`).join(', ')}\n`);
    }
    const med = (c: Case): number => spread(results[c]).median;
    const diffs = results['w2-user'].map((u, i) => u - results['w2-connection'][i]);
    process.stdout.write(
      `Median commit latency (one client, ${commits} single-row UPDATEs per round, ${rounds} rounds, median of round medians): ` +
        `workers = 2 with read_your_writes = user ${med('w2-user').toFixed(0)} µs, = connection ${med('w2-connection').toFixed(0)} µs, ` +
        `workers = 1 with user ${med('w1-user').toFixed(0)} µs; the note to the other worker adds ${spread(diffs).median.toFixed(0)} µs ` +
        `(${spread(diffs).min.toFixed(0)}–${spread(diffs).max.toFixed(0)}) per commit in a shared scope.\n`,
    );
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    for (const m of muxes) await m.stop().catch(() => undefined);
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
