// Owns the workers benchmark (issue 18): pgbench select-only through PgBouncer 1.18, pgmux with
// workers = 1 and pgmux with workers = 2 (node:cluster's default round-robin hand-off), and in
// the standalone run also workers = 2 with NODE_CLUSTER_SCHED_POLICY=none (the kernel hands
// connections to whichever worker accepts first), at 100 and 1000 clients, in rotating order
// within each round. Reports tps, the ratio to PgBouncer's in the same round, and the pooler's
// CPU per transaction: every process of it (the main process and its workers) from /proc; and
// from those, what one host of 8 or 16 cores could reach with pgmux against one PgBouncer.
//
// Run inside `npm run bench` (ids workers-100, workers-1000: bench/run.ts) or standalone:
// `node dist/bench/workers.js [--quick] [--sched-none]`. Prints markdown for bench/RESULTS.md.
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
export const WORKER_POOLERS = ['pgbouncer', 'pgmux-w1', 'pgmux-w2', 'pgmux-w2-none'] as const;
export type WorkersPooler = (typeof WORKER_POOLERS)[number];
/** Host sizes the estimate is made for. */
const CORES = [8, 16];

interface Sample {
  tps: number;
  /** CPU µs per transaction of every process of the pooler, user + system. */
  cpuUs: number;
}

export interface WorkersOptions {
  clients: readonly number[];
  names: readonly WorkersPooler[];
  seconds: number;
  rounds: number;
  poolSize: number;
}

export interface WorkersResult {
  options: WorkersOptions;
  /** By client count, by pooler: one sample per round. */
  samples: Map<number, Partial<Record<WorkersPooler, Sample[]>>>;
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

/** Starts the poolers in front of `cluster`'s primary (pgbench-initialized database app), measures, stops them. */
export async function runWorkersBench(cluster: Cluster, o: WorkersOptions, log: (text: string) => void = progress): Promise<WorkersResult> {
  const password = cluster.password;
  const ports = await freePorts(o.names.length);
  const files = { 'userlist.txt': benchUserlist(USER, password) };
  const ini = (port: number, workers: number): string =>
    benchIni({ port, serverPort: cluster.primary.port, poolSize: o.poolSize, maxClientConn: Math.max(...o.clients) + 200 }) + (workers > 1 ? `workers = ${workers}\n` : '');
  const procs: Partial<Record<WorkersPooler, Pooler>> = {};
  try {
    for (const [i, name] of o.names.entries()) {
      procs[name] =
        name === 'pgbouncer'
          ? await startBouncer(ini(ports[i], 1), files)
          : await startMuxWorkers(ini(ports[i], name === 'pgmux-w1' ? 1 : 2), files, name === 'pgmux-w1' ? null : name === 'pgmux-w2' ? 'rr' : 'none');
    }
    const target = (name: WorkersPooler): Target => ({ port: (procs[name] as Pooler).port, user: USER, password, db: 'app' });
    for (const name of o.names) await runPgbench(target(name), ['-S', '-c', '100', '-j', String(THREADS)], 1);
    const samples = new Map<number, Partial<Record<WorkersPooler, Sample[]>>>();
    for (const clients of o.clients) samples.set(clients, Object.fromEntries(o.names.map((n) => [n, [] as Sample[]])));
    for (let i = 0; i < o.rounds; i++) {
      const order = [...o.names.slice(i % o.names.length), ...o.names.slice(0, i % o.names.length)];
      for (const clients of o.clients) {
        const r = samples.get(clients) as Record<WorkersPooler, Sample[]>;
        for (const name of order) r[name].push(await measure(procs[name] as Pooler, target(name), clients, o.seconds));
        log(`workers round ${i + 1}/${o.rounds}, ${clients} clients: ` + o.names.map((n) => `${n} ${r[n][i].tps.toFixed(0)} tps ${r[n][i].cpuUs.toFixed(1)} µs/txn`).join('; '));
      }
    }
    return { options: o, samples };
  } finally {
    for (const p of Object.values(procs)) await p.stop().catch(() => undefined);
  }
}

/**
 * The tables, and the estimate for 8 and 16 cores: PgBouncer is one process on one core, so it
 * tops out near 1e6 / (its µs per transaction); pgmux with one worker per core near cores × 1e6 /
 * (µs per transaction of workers = 2, every process counted, so the main process and whatever a
 * second worker costs are in it).
 */
export function workersMarkdown(res: WorkersResult): string {
  const o = res.options;
  const out: string[] = [];
  out.push(
    `pgbench -S -M simple -j ${THREADS}, ${o.rounds} rounds of ${o.seconds} s (${o.seconds * 3} s at 1000 clients, logins included), order rotating per round; ` +
      `transaction mode, default_pool_size ${o.poolSize} (split between the workers), md5 client auth. CPU: utime+stime of every process of the pooler (main process and workers) over the run, per transaction pgbench completed.`,
  );
  const median = (clients: number, name: WorkersPooler): number => spread((res.samples.get(clients)?.[name] ?? []).map((s) => s.cpuUs)).median;
  for (const clients of o.clients) {
    const r = res.samples.get(clients) as Record<WorkersPooler, Sample[]>;
    out.push('', `**${clients} clients**`, '');
    out.push("| pooler | tps (median, min–max) | tps / PgBouncer's, same round (median, min–max) | pooler CPU µs/txn (median, min–max) |");
    out.push('|---|---:|---:|---:|');
    for (const name of o.names) {
      const tps = spread(r[name].map((s) => s.tps));
      const ratio = spread(r[name].map((s, i) => s.tps / r.pgbouncer[i].tps));
      const cpu = spread(r[name].map((s) => s.cpuUs));
      out.push(`| ${name} | ${tps.median.toFixed(0)} (${tps.min.toFixed(0)}–${tps.max.toFixed(0)}) | ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${cpu.median.toFixed(1)} (${cpu.min.toFixed(1)}–${cpu.max.toFixed(1)}) |`);
    }
  }
  if (o.names.includes('pgbouncer') && o.names.includes('pgmux-w2')) {
    out.push('', '**Estimate for one host of 8 or 16 cores** (pooler CPU alone; from the medians above)', '');
    out.push('| clients | cores | PgBouncer (one process: one core) | pgmux, workers = cores | pgmux / PgBouncer |');
    out.push('|---:|---:|---:|---:|---:|');
    for (const clients of o.clients) {
      const bouncer = 1e6 / median(clients, 'pgbouncer');
      const perWorker = 1e6 / median(clients, 'pgmux-w2');
      for (const cores of CORES) out.push(`| ${clients} | ${cores} | ${bouncer.toFixed(0)} tps | ${(cores * perWorker).toFixed(0)} tps | ${((cores * perWorker) / bouncer).toFixed(1)} |`);
    }
    out.push(
      '',
      'What limits this estimate: it is the pooler alone, each core saturated by it, and the µs per transaction measured here held as cores are added. ' +
        'In practice PostgreSQL, the clients and the kernel\'s network stack need cores of their own (on one host with the database, the pooler gets a share, not all); ' +
        'the CPU per transaction was measured on 2 cores shared with pgbench and PostgreSQL, where cache and scheduler contention inflate it, and on a host with more cores per socket, memory and NUMA effects change it either way; ' +
        'each worker keeps its own share of the pools (default_pool_size / workers), so a database that allows few server connections serves fewer clients per worker; ' +
        'at 1000 clients each round includes its 1000 md5 logins (pgbench -T counts them), which a pool of long-lived clients pays once, so the CPU per transaction there is an upper bound; ' +
        'round-robin hand-off goes through the main process at connect time only (a storm of logins is bounded by that one process); ' +
        "and PgBouncer's own ceiling is one core per process: several PgBouncer processes with so_reuseport would scale too, which this does not compare.",
    );
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, seconds: { type: 'string' }, rounds: { type: 'string' }, 'sched-none': { type: 'boolean', default: false } } });
  const quick = values.quick === true;
  const options: WorkersOptions = {
    clients: [100, 1000],
    names: values['sched-none'] === true ? WORKER_POOLERS : WORKER_POOLERS.filter((n) => n !== 'pgmux-w2-none'),
    seconds: Number(values.seconds ?? (quick ? 4 : 8)),
    rounds: Number(values.rounds ?? (quick ? 3 : 5)),
    poolSize: 20,
  };
  const loadBefore = loadAverage();
  const machine = describeMachine();
  let cluster: Cluster | undefined;
  process.once('SIGINT', () => void cluster?.stop().then(() => process.exit(130)));
  try {
    progress('starting PostgreSQL (scale 10)');
    cluster = await startCluster({ settings: { max_connections: '300', shared_buffers: '256MB', synchronous_commit: 'off' } });
    await initialize({ port: cluster.primary.port, user: USER, password: cluster.password, db: 'app' }, 10);
    const res = await runWorkersBench(cluster, options);
    process.stdout.write(`Run of ${machine.date}: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.postgres}, commit ${machine.commit}; load average before ${loadBefore}, after ${loadAverage()}.\n`);
    process.stdout.write(workersMarkdown(res) + '\n');
  } finally {
    await cluster?.stop().catch(() => undefined);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
