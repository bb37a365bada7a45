// Owns the workers benchmark (`node dist/bench/workers.js [--quick]`, issue 18): pgbench
// select-only through PgBouncer 1.18, pgmux with workers = 1, pgmux with workers = 2 (node:cluster's
// default round-robin hand-off) and workers = 2 with NODE_CLUSTER_SCHED_POLICY=none (the kernel
// hands connections to whichever worker accepts first), at 100 and 1000 clients, in rotating
// order within each round. Reports tps, the ratio to PgBouncer's in the same round, and the
// pooler's CPU per transaction: every process of it (the main process and its workers) from
// /proc. Prints markdown for bench/RESULTS.md.
//
// Not a test: numbers depend on the machine. On 2 shared cores pgbench and PostgreSQL take
// CPU from the poolers, so the CPU per transaction is the number to extrapolate from.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { startPgmux } from '../spec/support/pgmux';
import { freePorts } from '../spec/support/ports';
import { describeMachine, loadAverage } from './machine';
import { initialize, runPgbench, type Target } from './pgbench';
import { benchIni, benchUserlist, startBouncer, type Pooler } from './poolers';
import { cpuOf } from './procstat';
import { spread } from './stats';

const USER = 'app';
const THREADS = 2;
const NAMES = ['pgbouncer', 'pgmux-w1', 'pgmux-w2', 'pgmux-w2-none'] as const;
type Name = (typeof NAMES)[number];
const CLIENTS = [100, 1000] as const;

interface Sample {
  tps: number;
  /** CPU µs per transaction of every process of the pooler, user + system. */
  cpuUs: number;
}

const progress = (text: string): void => void process.stderr.write(`[bench workers ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

/** `pid` and its children (the workers of a pgmux with workers > 1). */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    /* gone */
  }
  return [pid, ...children];
}

async function startMuxWorkers(ini: string, files: Record<string, string>, sched: 'rr' | 'none' | null): Promise<Pooler> {
  const before = process.env.NODE_CLUSTER_SCHED_POLICY;
  if (sched !== null) process.env.NODE_CLUSTER_SCHED_POLICY = sched;
  try {
    const p = await startPgmux(ini, files, { stopWaitMs: 15000 });
    return { name: 'pgmux', port: p.port, pid: p.pid, logs: () => p.logs(), stop: async () => void (await p.stop('SIGTERM')) };
  } finally {
    if (before === undefined) delete process.env.NODE_CLUSTER_SCHED_POLICY;
    else process.env.NODE_CLUSTER_SCHED_POLICY = before;
  }
}

async function measure(p: Pooler, t: Target, clients: number, seconds: number): Promise<Sample> {
  const pids = processTree(p.pid);
  const before = cpuOf(pids);
  // pgbench's -T includes its logins: 1000 md5 logins on 2 busy cores take seconds of their own.
  const r = await runPgbench(t, ['-S', '-M', 'simple', '-c', String(clients), '-j', String(THREADS)], clients >= 1000 ? seconds * 3 : seconds);
  const after = cpuOf(pids);
  return { tps: r.tps, cpuUs: ((after - before) * 1e6) / r.transactions };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, seconds: { type: 'string' }, rounds: { type: 'string' } } });
  const quick = values.quick === true;
  const seconds = Number(values.seconds ?? (quick ? 4 : 8));
  const rounds = Number(values.rounds ?? (quick ? 3 : 5));
  const loadBefore = loadAverage();
  const machine = describeMachine();
  let cluster: Cluster | undefined;
  const running: Pooler[] = [];
  const stop = async (): Promise<void> => {
    for (const p of running) await p.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    progress('starting PostgreSQL (scale 10)');
    cluster = await startCluster({ settings: { max_connections: '300', shared_buffers: '256MB', synchronous_commit: 'off' } });
    const password = cluster.password;
    await initialize({ port: cluster.primary.port, user: USER, password, db: 'app' }, 10);
    const ports = await freePorts(4);
    const files = { 'userlist.txt': benchUserlist(USER, password) };
    const ini = (port: number, workers: number): string =>
      benchIni({ port, serverPort: cluster!.primary.port, poolSize: 20, maxClientConn: 1200 }) + `workers = ${workers}\n`;
    const procs: Record<Name, Pooler> = {
      pgbouncer: await startBouncer(ini(ports[0], 1).replace('workers = 1\n', ''), files),
      'pgmux-w1': await startMuxWorkers(ini(ports[1], 1), files, null),
      'pgmux-w2': await startMuxWorkers(ini(ports[2], 2), files, 'rr'),
      'pgmux-w2-none': await startMuxWorkers(ini(ports[3], 2), files, 'none'),
    };
    running.push(...Object.values(procs));
    const target = (name: Name): Target => ({ port: procs[name].port, user: USER, password, db: 'app' });
    for (const name of NAMES) await runPgbench(target(name), ['-S', '-c', '100', '-j', String(THREADS)], 1);

    const results = new Map<number, Record<Name, Sample[]>>();
    for (const clients of CLIENTS) results.set(clients, { pgbouncer: [], 'pgmux-w1': [], 'pgmux-w2': [], 'pgmux-w2-none': [] });
    for (let i = 0; i < rounds; i++) {
      const order = [...NAMES.slice(i % NAMES.length), ...NAMES.slice(0, i % NAMES.length)];
      for (const clients of CLIENTS) {
        const r = results.get(clients)!;
        for (const name of order) r[name].push(await measure(procs[name], target(name), clients, seconds));
        progress(`round ${i + 1}/${rounds}, ${clients} clients: ` + NAMES.map((n) => `${n} ${r[n][i].tps.toFixed(0)} tps ${r[n][i].cpuUs.toFixed(1)} µs/txn`).join('; '));
      }
    }

    const out: string[] = [];
    out.push(`Run of ${machine.date}: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.postgres}, commit ${machine.commit}; load average before ${loadBefore}, after ${loadAverage()}.`);
    out.push(`pgbench -S -M simple -j ${THREADS}, ${rounds} rounds of ${seconds} s (${seconds * 3} s at 1000 clients, logins included), order rotating per round; transaction mode, default_pool_size 20 (split 10 + 10 with 2 workers), md5 client auth. CPU: utime+stime of every process of the pooler (main process and workers) over the run, per transaction pgbench completed.`);
    for (const clients of CLIENTS) {
      const r = results.get(clients)!;
      out.push('');
      out.push(`**${clients} clients**`);
      out.push('');
      out.push('| pooler | tps (median, min–max) | tps / PgBouncer\'s, same round (median, min–max) | pooler CPU µs/txn (median, min–max) |');
      out.push('|---|---:|---:|---:|');
      for (const name of NAMES) {
        const tps = spread(r[name].map((s) => s.tps));
        const ratio = spread(r[name].map((s, i) => s.tps / r.pgbouncer[i].tps));
        const cpu = spread(r[name].map((s) => s.cpuUs));
        out.push(`| ${name} | ${tps.median.toFixed(0)} (${tps.min.toFixed(0)}–${tps.max.toFixed(0)}) | ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${cpu.median.toFixed(1)} (${cpu.min.toFixed(1)}–${cpu.max.toFixed(1)}) |`);
      }
    }
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
