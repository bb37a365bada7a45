// Owns the read/write splitting benchmark (`node dist/bench/routed.js [--quick]`, issues 6 and
// 19): pgbench select-only through one pgmux, each workload two sides in alternating rounds,
// reported as per-round ratios; prints markdown for bench/RESULTS.md. routed vs plain: a database
// with replicas= (its reads go to the streaming replica) against one without. keyed vs
// unkeyed: the same reads on a read_your_writes = key database, with and without an
// application key in a sqlcommenter tag (a different key per account). SHOW REPLICAS'
// reads_routed before and after proves the reads went to the replica.
//
// Not a test (not part of `npm test`): numbers depend on the machine. The replica is a second
// PostgreSQL on the same machine, so the routed side does not get more CPUs, only a different
// server process; what the ratio shows is the cost of classifying and routing each statement.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { freePorts } from '../spec/support/ports';
import { describeMachine, loadAverage } from './machine';
import { initialize, runPgbench, type Target } from './pgbench';
import { benchUserlist, startMux, type Pooler } from './poolers';
import { spread } from './stats';

const USER = 'app';
const THREADS = 2;

/** One side of a workload: the database and pgbench's arguments (script files are in `dir`). */
interface Side {
  name: string;
  db: string;
  args: (dir: string) => string[];
}

interface Workload {
  id: string;
  label: string;
  clients: number;
  sides: [Side, Side];
}

/** pgbench's select-only transaction, with an application key per account when `keyed`. */
const SELECT_SCRIPT = (keyed: boolean): string =>
  `\\set aid random(1, 100000 * :scale)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid${keyed ? " /*controller='account',pgmux_key='acct-:aid'*/" : ''};\n`;

const WORKLOADS: Workload[] = [
  {
    id: 'select-simple-20',
    label: 'select-only, simple, 20 clients',
    clients: 20,
    sides: [
      { name: 'routed', db: 'routed', args: () => ['-S', '-M', 'simple'] },
      { name: 'plain', db: 'plain', args: () => ['-S', '-M', 'simple'] },
    ],
  },
  {
    id: 'select-extended-20',
    label: 'select-only, extended, 20 clients',
    clients: 20,
    sides: [
      { name: 'routed', db: 'routed', args: () => ['-S', '-M', 'extended'] },
      { name: 'plain', db: 'plain', args: () => ['-S', '-M', 'extended'] },
    ],
  },
  {
    id: 'keyed-simple-20',
    label: 'select-only with a key per account (read_your_writes = key), simple, 20 clients',
    clients: 20,
    sides: [
      { name: 'keyed', db: 'keyed', args: (dir) => ['-f', join(dir, 'keyed.sql'), '-M', 'simple'] },
      { name: 'unkeyed', db: 'keyed', args: (dir) => ['-f', join(dir, 'unkeyed.sql'), '-M', 'simple'] },
    ],
  },
];

interface Round {
  a: number;
  b: number;
  first: 'a' | 'b';
}

function ini(port: number, cluster: Cluster, poolSize: number): string {
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('the cluster has no replica');
  const server = `host=127.0.0.1 port=${cluster.primary.port} dbname=app`;
  return `[databases]
routed = ${server} replicas=127.0.0.1:${replica.port}
plain = ${server}
keyed = ${server} replicas=127.0.0.1:${replica.port} read_your_writes=key

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = md5
auth_file = userlist.txt
admin_users = ${USER}
pool_mode = transaction
default_pool_size = ${poolSize}
max_client_conn = 200
log_connections = 0
log_disconnections = 0
`;
}

async function readsRouted(port: number, password: string): Promise<number> {
  const c = new Client({ host: '127.0.0.1', port, user: USER, password, database: 'pgbouncer' });
  await c.connect();
  try {
    const rows = (await c.query('SHOW REPLICAS')).rows as { database: string; reads_routed: string }[];
    return rows.filter((r) => r.database === 'routed' || r.database === 'keyed').reduce((n, r) => n + Number(r.reads_routed), 0);
  } finally {
    await c.end();
  }
}

const progress = (text: string): void => void process.stderr.write(`[bench routed ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      'pool-size': { type: 'string', default: '20' },
      scale: { type: 'string', default: '10' },
      only: { type: 'string' },
    },
  });
  const only = values.only === undefined ? null : new Set(values.only.split(','));
  const workloads = WORKLOADS.filter((w) => only === null || only.has(w.id));
  const quick = values.quick === true;
  const seconds = Number(values.seconds ?? (quick ? 3 : 10));
  const rounds = Number(values.rounds ?? (quick ? 3 : 5));
  const poolSize = Number(values['pool-size']);
  const scale = Number(values.scale);
  const loadBefore = loadAverage();
  const machine = describeMachine();
  let cluster: Cluster | undefined;
  let pgmux: Pooler | undefined;
  const scripts = mkdtempSync(join(tmpdir(), 'pgmux-bench-routed-'));
  writeFileSync(join(scripts, 'keyed.sql'), SELECT_SCRIPT(true));
  writeFileSync(join(scripts, 'unkeyed.sql'), SELECT_SCRIPT(false));
  const stop = async (): Promise<void> => {
    await pgmux?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    rmSync(scripts, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    progress(`starting PostgreSQL primary + replica (scale ${scale})`);
    cluster = await startCluster({ replica: true, settings: { max_connections: '300', shared_buffers: '256MB', synchronous_commit: 'off' } });
    const password = cluster.password;
    const target = (port: number, db: string): Target => ({ port, user: USER, password, db });
    await initialize(target(cluster.primary.port, 'app'), scale);
    await cluster.waitForReplay(120000);
    const [port] = await freePorts(1);
    pgmux = await startMux(ini(port, cluster, poolSize), { 'userlist.txt': benchUserlist(USER, password) });
    // Fill both pools (and start the lag tracker, whose replica must be up before reads go there).
    for (const db of ['routed', 'plain', 'keyed']) await runPgbench(target(port, db), ['-S', '-c', String(poolSize), '-j', String(THREADS)], 2);
    const results: { w: Workload; rounds: Round[]; replicaReads: number; transactions: number }[] = [];
    for (const w of workloads) {
      const rs: Round[] = [];
      const readsBefore = await readsRouted(port, password);
      let transactions = 0;
      const [a, b] = w.sides;
      for (let i = 0; i < rounds; i++) {
        const order = i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const);
        const round: Partial<Round> = { first: order[0] };
        for (const which of order) {
          const side = which === 'a' ? a : b;
          const r = await runPgbench(target(port, side.db), [...side.args(scripts), '-c', String(w.clients), '-j', String(THREADS)], seconds);
          round[which] = r.tps;
          if (which === 'a') transactions += r.transactions;
        }
        const done = round as Round;
        progress(`${w.id} round ${i + 1}/${rounds}: ${a.name} ${done.a.toFixed(0)} tps, ${b.name} ${done.b.toFixed(0)} tps, ratio ${(done.a / done.b).toFixed(2)}`);
        rs.push(done);
      }
      const replicaReads = (await readsRouted(port, password)) - readsBefore;
      results.push({ w, rounds: rs, replicaReads, transactions });
    }
    const out: string[] = [];
    out.push(`Run of ${machine.date}: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.postgres}, commit ${machine.commit}; load average before ${loadBefore}, after ${loadAverage()}.`);
    out.push(`${rounds} rounds of ${seconds} s per side, order alternating (round 1: first side first); pgbench -j ${THREADS}, scale ${scale}, default_pool_size ${poolSize}, transaction mode.`);
    out.push('');
    out.push('| workload | first side tps (median) | second side tps (median) | first / second (median, min–max) | reads routed to a replica / first-side transactions |');
    out.push('|---|---:|---:|---|---:|');
    for (const { w, rounds: rs, replicaReads, transactions } of results) {
      const ratio = spread(rs.map((r) => r.a / r.b));
      const a = spread(rs.map((r) => r.a));
      const b = spread(rs.map((r) => r.b));
      out.push(
        `| ${w.label} | ${w.sides[0].name} ${a.median.toFixed(0)} | ${w.sides[1].name} ${b.median.toFixed(0)} | ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${replicaReads} / ${transactions} |`,
      );
    }
    out.push('');
    out.push('Every round (tps): ' + results.map(({ w, rounds: rs }) => `${w.id}: ${rs.map((r) => `${r.a.toFixed(0)}/${r.b.toFixed(0)}`).join(', ')}`).join('; ') + '.');
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
