// Owns the "Node floor" benchmark (`node dist/bench/floor.js [--quick]`): how much of pgmux's
// CPU per transaction is Node.js itself. pgbench select-only (simple protocol) runs through
// PgBouncer 1.18, through bench/node-relay (a bare Node TCP relay: 'data' events and write(),
// nothing parsed, nothing pooled) and through pgmux, in rotating order, first at a fixed rate
// (`pgbench -R`, so every process does the same work and CPU per transaction compares
// directly) and then unthrottled (tps). Prints markdown for bench/RESULTS.md.
//
// Not a test: numbers depend on the machine.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { Child } from '../spec/support/child';
import { repoRoot } from '../spec/support/pgmux';
import { freePorts, waitForPort } from '../spec/support/ports';
import { describeMachine, loadAverage } from './machine';
import { initialize, runPgbench, type Target } from './pgbench';
import { benchIni, benchUserlist, startBouncer, startMux, type Pooler } from './poolers';
import { cpuTimes } from './procstat';
import { spread } from './stats';

const USER = 'app';
const THREADS = 2;
const NAMES = ['pgbouncer', 'node-relay', 'pgmux'] as const;
type Name = (typeof NAMES)[number];

interface Sample {
  tps: number;
  /** CPU µs per transaction, user + system, and user alone. */
  cpuUs: number;
  userUs: number;
}

const progress = (text: string): void => void process.stderr.write(`[bench floor ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

async function startRelay(port: number, serverPort: number): Promise<Pooler> {
  const child = await Child.start(process.execPath, [join(repoRoot(), 'dist', 'bench', 'node-relay.js'), String(port), String(serverPort)], {
    label: `node-relay :${port}`,
    env: process.env,
    emergencySignal: 'SIGKILL',
  });
  await waitForPort(port, child);
  return {
    name: 'pgmux',
    port,
    pid: child.pid,
    logs: () => child.logs(),
    stop: async () => void (await child.stop([{ signal: 'SIGKILL', waitMs: 5000 }])),
  };
}

/** One pgbench run through `p`, with the process's CPU per transaction. */
async function measure(p: Pooler, t: Target, clients: number, seconds: number, rate: number | null): Promise<Sample> {
  const before = cpuTimes(p.pid);
  const args = ['-S', '-M', 'simple', '-c', String(clients), '-j', String(THREADS)];
  if (rate !== null) args.push('-R', String(rate));
  const r = await runPgbench(t, args, seconds);
  const after = cpuTimes(p.pid);
  const per = (s: number): number => (s * 1e6) / r.transactions;
  return { tps: r.tps, cpuUs: per(after.user + after.sys - before.user - before.sys), userUs: per(after.user - before.user) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      rate: { type: 'string', default: '8000' },
      clients: { type: 'string', default: '10' },
    },
  });
  const quick = values.quick === true;
  const seconds = Number(values.seconds ?? (quick ? 3 : 8));
  const rounds = Number(values.rounds ?? (quick ? 3 : 5));
  const rate = Number(values.rate);
  const clients = Number(values.clients);
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
    const [bouncerPort, relayPort, muxPort] = await freePorts(3);
    const files = { 'userlist.txt': benchUserlist(USER, password) };
    const ini = (port: number): string => benchIni({ port, serverPort: cluster!.primary.port, poolSize: 20, maxClientConn: 200 });
    const procs: Record<Name, Pooler> = {
      pgbouncer: await startBouncer(ini(bouncerPort), files),
      'node-relay': await startRelay(relayPort, cluster.primary.port),
      pgmux: await startMux(ini(muxPort), files),
    };
    running.push(...Object.values(procs));
    const target = (name: Name): Target => ({ port: procs[name].port, user: USER, password, db: 'app' });
    for (const name of NAMES) await runPgbench(target(name), ['-S', '-c', String(clients), '-j', String(THREADS)], 1);

    const fixed: Record<Name, Sample[]> = { pgbouncer: [], 'node-relay': [], pgmux: [] };
    const open: Record<Name, Sample[]> = { pgbouncer: [], 'node-relay': [], pgmux: [] };
    for (let i = 0; i < rounds; i++) {
      const order = [...NAMES.slice(i % 3), ...NAMES.slice(0, i % 3)];
      for (const name of order) fixed[name].push(await measure(procs[name], target(name), clients, seconds, rate));
      for (const name of order) open[name].push(await measure(procs[name], target(name), clients, seconds, null));
      progress(`round ${i + 1}/${rounds}: ` + NAMES.map((n) => `${n} ${fixed[n][i].cpuUs.toFixed(1)} µs/txn at ${rate}/s, ${open[n][i].tps.toFixed(0)} tps`).join('; '));
    }

    const out: string[] = [];
    out.push(`Run of ${machine.date}: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.postgres}, commit ${machine.commit}; load average before ${loadBefore}, after ${loadAverage()}.`);
    out.push(`pgbench -S -M simple -c ${clients} -j ${THREADS}, ${rounds} rounds of ${seconds} s, order rotating; fixed rate -R ${rate}, then unthrottled. PgBouncer and pgmux: transaction mode, pool_size 20, md5 client auth; node-relay: one server connection per client, PostgreSQL's own login.`);
    out.push('');
    out.push(`| process | CPU µs/txn at ${rate} tps (median, min–max) | of it user | tps unthrottled (median) | tps / PgBouncer's (median) |`);
    out.push('|---|---:|---:|---:|---:|');
    for (const name of NAMES) {
      const cpu = spread(fixed[name].map((s) => s.cpuUs));
      const user = spread(fixed[name].map((s) => s.userUs));
      const tps = spread(open[name].map((s) => s.tps));
      const ratio = spread(open[name].map((s, i) => s.tps / open.pgbouncer[i].tps));
      out.push(`| ${name} | ${cpu.median.toFixed(1)} (${cpu.min.toFixed(1)}–${cpu.max.toFixed(1)}) | ${user.median.toFixed(1)} | ${tps.median.toFixed(0)} | ${ratio.median.toFixed(2)} |`);
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
