// Owns the read/write splitting benchmark (`node dist/bench/routed.js [--quick]`, issue 6):
// pgbench select-only through one pgmux at two databases on the same primary, `routed` (with
// replicas=, so its reads go to the streaming replica) and `plain` (no replicas=), in
// alternating rounds, reported as per-round ratios routed / plain; prints markdown for
// bench/RESULTS.md. SHOW REPLICAS' reads_routed before and after proves the reads went to the
// replica.
//
// Not a test (not part of `npm test`): numbers depend on the machine. The replica is a second
// PostgreSQL on the same machine, so the routed side does not get more CPUs, only a different
// server process; what the ratio shows is the cost of classifying and routing each statement.

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

interface Workload {
  id: string;
  label: string;
  clients: number;
  args: string[];
}

const WORKLOADS: Workload[] = [
  { id: 'select-simple-20', label: 'select-only, simple, 20 clients', clients: 20, args: ['-S', '-M', 'simple'] },
  { id: 'select-extended-20', label: 'select-only, extended, 20 clients', clients: 20, args: ['-S', '-M', 'extended'] },
];

interface Round {
  routed: number;
  plain: number;
  first: 'routed' | 'plain';
}

function ini(port: number, cluster: Cluster, poolSize: number): string {
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('the cluster has no replica');
  const server = `host=127.0.0.1 port=${cluster.primary.port} dbname=app`;
  return `[databases]
routed = ${server} replicas=127.0.0.1:${replica.port}
plain = ${server}

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
    return rows.filter((r) => r.database === 'routed').reduce((n, r) => n + Number(r.reads_routed), 0);
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
    },
  });
  const quick = values.quick === true;
  const seconds = Number(values.seconds ?? (quick ? 3 : 10));
  const rounds = Number(values.rounds ?? (quick ? 3 : 5));
  const poolSize = Number(values['pool-size']);
  const scale = Number(values.scale);
  const loadBefore = loadAverage();
  const machine = describeMachine();
  let cluster: Cluster | undefined;
  let pgmux: Pooler | undefined;
  const stop = async (): Promise<void> => {
    await pgmux?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
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
    for (const db of ['routed', 'plain']) await runPgbench(target(port, db), ['-S', '-c', String(poolSize), '-j', String(THREADS)], 2);
    const results: { w: Workload; rounds: Round[]; replicaReads: number; transactions: number }[] = [];
    for (const w of WORKLOADS) {
      const rs: Round[] = [];
      const readsBefore = await readsRouted(port, password);
      let transactions = 0;
      for (let i = 0; i < rounds; i++) {
        const order = i % 2 === 0 ? (['routed', 'plain'] as const) : (['plain', 'routed'] as const);
        const round: Partial<Round> = { first: order[0] };
        for (const db of order) {
          const r = await runPgbench(target(port, db), [...w.args, '-c', String(w.clients), '-j', String(THREADS)], seconds);
          round[db] = r.tps;
          if (db === 'routed') transactions += r.transactions;
        }
        const done = round as Round;
        progress(`${w.id} round ${i + 1}/${rounds}: routed ${done.routed.toFixed(0)} tps, plain ${done.plain.toFixed(0)} tps, ratio ${(done.routed / done.plain).toFixed(2)}`);
        rs.push(done);
      }
      const replicaReads = (await readsRouted(port, password)) - readsBefore;
      results.push({ w, rounds: rs, replicaReads, transactions });
    }
    const out: string[] = [];
    out.push(`Run of ${machine.date}: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.postgres}, commit ${machine.commit}; load average before ${loadBefore}, after ${loadAverage()}.`);
    out.push(`${rounds} rounds of ${seconds} s per database, order alternating (round 1: routed first); pgbench -j ${THREADS}, scale ${scale}, default_pool_size ${poolSize}, transaction mode.`);
    out.push('');
    out.push('| workload | routed tps (median) | plain tps (median) | routed / plain (median, min–max) | reads routed to the replica / routed transactions |');
    out.push('|---|---:|---:|---|---:|');
    for (const { w, rounds: rs, replicaReads, transactions } of results) {
      const ratio = spread(rs.map((r) => r.routed / r.plain));
      const routed = spread(rs.map((r) => r.routed));
      const plain = spread(rs.map((r) => r.plain));
      out.push(
        `| ${w.label} | ${routed.median.toFixed(0)} | ${plain.median.toFixed(0)} | ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${replicaReads} / ${transactions} |`,
      );
    }
    out.push('');
    out.push('Every round (tps): ' + results.map(({ w, rounds: rs }) => `${w.id}: ${rs.map((r) => `${r.routed.toFixed(0)}/${r.plain.toFixed(0)}`).join(', ')}`).join('; ') + '.');
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
