// Owns the session-pins overhead benchmark (`node dist/bench/pins.js --before <dir>/bin/pgmux
// [--quick]`, issue 14): one PostgreSQL, two pgmux processes with the same config (a database
// that is not routed, transaction mode): `after`, this checkout's bin/pgmux, and `before`, the
// bin/pgmux of a build without pin detection (e.g. `git archive <commit> | tar -x -C DIR`, then
// tsc there). pgbench select-only at 10 and 100 clients through each in alternating rounds,
// reported as per-round ratios after / before (tps and pgmux CPU per transaction). Before that,
// what the byte check every forwarded Query pays costs in-process.
//
// Not a test (not part of `npm test`): numbers depend on the machine. The target is ratio >= 0.98.

import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { freePorts } from '../spec/support/ports';
import { startPgmux } from '../spec/support/pgmux';
import { describeMachine, loadAverage } from './machine';
import { initialize, runPgbench, type Target } from './pgbench';
import { benchUserlist } from './poolers';
import { cpuTimes } from './procstat';
import { spread } from './stats';
import { mayPin } from '../lib/session/pins';
import { query as queryFrame } from '../lib/protocol/frontend';

const USER = 'app';
const THREADS = 2;
const TARGET = 0.98;

type Side = 'after' | 'before';

interface Run {
  tps: number;
  /** pgmux CPU per transaction, µs. */
  cpuUs: number;
}

const WORKLOADS = [
  { id: 'select-simple-10', clients: 10, args: ['-S', '-M', 'simple'] },
  { id: 'select-simple-100', clients: 100, args: ['-S', '-M', 'simple'] },
];

function ini(port: number, serverPort: number, poolSize: number): string {
  return `[databases]
app = host=127.0.0.1 port=${serverPort} dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = md5
auth_file = userlist.txt
pool_mode = transaction
default_pool_size = ${poolSize}
max_client_conn = 300
log_connections = 0
log_disconnections = 0
`;
}

const progress = (text: string): void => void process.stderr.write(`[bench pins ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

/** ns per mayPin of pgbench's SELECT, best of 5 runs. */
function micro(): string {
  const frames = Array.from({ length: 4096 }, (_, i) => queryFrame(`SELECT abalance FROM pgbench_accounts WHERE aid = ${100000 + i * 37};`));
  const n = 1_000_000;
  let best = Infinity;
  let hits = 0;
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const f = frames[i & 4095];
      if (mayPin(f, 5, f.length - 1)) hits++;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return `In-process: the byte check (mayPin) on pgbench's SELECT costs ${best.toFixed(0)} ns per Query (best of 5 runs of ${n.toLocaleString('en')}; ${hits} passed it).`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      before: { type: 'string' },
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      'pool-size': { type: 'string', default: '20' },
      scale: { type: 'string', default: '10' },
      /** pgbench -R: the same throughput on both sides, so CPU per transaction compares like with like on a busy machine. */
      rate: { type: 'string' },
      /** A control run: both sides run --before, to see the bias of the setup itself. */
      control: { type: 'boolean', default: false },
    },
  });
  const out = [micro(), ''];
  if (values.before === undefined) {
    process.stdout.write(out.join('\n') + '\nGive --before <path of the other bin/pgmux> for the pgbench comparison.\n');
    return;
  }
  const quick = values.quick === true;
  const seconds = Number(values.seconds ?? (quick ? 3 : 10));
  const rounds = Number(values.rounds ?? (quick ? 3 : 6));
  const poolSize = Number(values['pool-size']);
  const scale = Number(values.scale);
  const rate = values.rate === undefined ? [] : ['-R', values.rate];
  const loadBefore = loadAverage();
  const machine = describeMachine();
  let cluster: Cluster | undefined;
  const muxes: Partial<Record<Side, { port: number; pid: number; stop: () => Promise<unknown> }>> = {};
  const stop = async (): Promise<void> => {
    for (const p of Object.values(muxes)) await p?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    progress(`starting PostgreSQL (scale ${scale})`);
    cluster = await startCluster({ settings: { max_connections: '300', shared_buffers: '256MB', synchronous_commit: 'off' } });
    const password = cluster.password;
    const target = (port: number): Target => ({ port, user: USER, password, db: 'app' });
    await initialize(target(cluster.primary.port), scale);
    const [afterPort, beforePort] = await freePorts(2);
    const files = { 'userlist.txt': benchUserlist(USER, password) };
    const start = async (port: number, script?: string): Promise<{ port: number; pid: number; stop: () => Promise<unknown> }> => {
      const p = await startPgmux(ini(port, cluster!.primary.port, poolSize), files, { script, stopWaitMs: 15000 });
      return { port: p.port, pid: p.pid, stop: () => p.stop('SIGTERM') };
    };
    muxes.after = await start(afterPort, values.control === true ? values.before : undefined);
    muxes.before = await start(beforePort, values.before);
    for (const p of [muxes.after, muxes.before]) await runPgbench(target(p.port), ['-S', '-c', String(poolSize), '-j', String(THREADS)], 2);
    out.push(
      `Run of ${machine.date}: ${machine.nproc} CPUs, node ${machine.node}, ${machine.postgres}, commit ${machine.commit}; load average before ${loadBefore}.`,
      `${values.control === true ? 'CONTROL RUN: both sides run --before. ' : ''}${rounds} rounds of ${seconds} s per side, order alternating (round 1: after first); pgbench -j ${THREADS}${rate.length > 0 ? ` -R ${values.rate}` : ''}, scale ${scale}, default_pool_size ${poolSize}, transaction mode, database not routed.`,
      '',
      '| workload | after / before tps (median, min–max) | target | CPU µs/txn after / before (median) | CPU ratio before / after (median) |',
      '|---|---|---:|---|---:|',
    );
    for (const w of WORKLOADS) {
      const rs: Record<Side, Run>[] = [];
      while (rs.length < rounds) {
        const order: Side[] = rs.length % 2 === 0 ? ['after', 'before'] : ['before', 'after'];
        const round: Partial<Record<Side, Run>> = {};
        for (const side of order) {
          const p = muxes[side]!;
          const cpu0 = cpuTimes(p.pid);
          const r = await runPgbench(target(p.port), [...w.args, ...rate, '-c', String(w.clients), '-j', String(THREADS)], seconds);
          const cpu1 = cpuTimes(p.pid);
          round[side] = { tps: r.tps, cpuUs: ((cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) / r.transactions) * 1e6 };
        }
        const done = round as Record<Side, Run>;
        progress(`${w.id} round ${rs.length + 1}/${rounds}: after ${done.after.tps.toFixed(0)} tps, before ${done.before.tps.toFixed(0)} tps, ratio ${(done.after.tps / done.before.tps).toFixed(3)}, CPU ${done.after.cpuUs.toFixed(1)}/${done.before.cpuUs.toFixed(1)} µs/txn`);
        rs.push(done);
      }
      const ratio = spread(rs.map((r) => r.after.tps / r.before.tps));
      const cpuAfter = spread(rs.map((r) => r.after.cpuUs));
      const cpuBefore = spread(rs.map((r) => r.before.cpuUs));
      const cpuRatio = spread(rs.map((r) => r.before.cpuUs / r.after.cpuUs));
      out.push(
        `| ${w.id} | ${ratio.median.toFixed(3)} (${ratio.min.toFixed(3)}–${ratio.max.toFixed(3)}) | ${TARGET} | ${cpuAfter.median.toFixed(1)} / ${cpuBefore.median.toFixed(1)} | ${cpuRatio.median.toFixed(3)} |`,
      );
    }
    out.push(`\nLoad average after: ${loadAverage()}.`);
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
