// Owns the [rules] benchmark (`node dist/bench/rules.js [--quick]`, issue 15): pgbench
// select-only through pgmux processes that differ only in their [rules] section, each workload two
// sides in alternating rounds, reported as per-round ratios of tps and of pgmux's own CPU time
// per transaction (from /proc, which another process's load skews far less than tps), with the
// load average around each round (the machine is shared). Workloads:
//   - identity: 50 rules none of which can apply to the bench's client (other users, databases,
//     application names, addresses) against no rules: the cost of rules decided once per client;
//   - statement: 50 rules that look at every statement (regex, kind, fingerprint) and match none
//     of pgbench's, against no rules: the cost of matching per statement;
//   - cache: a cache_ttl rule on pgbench's select-only statement (result_cache_size on) against
//     the same pgmux without it, on pgbench's random accounts and on a hot set of 1,000; the hit
//     ratio is SHOW CACHE's over the cache side's rounds.
// `--only id,id` runs some workloads; `--rate N` runs pgbench -R N (CPU per transaction at equal
// throughput); `--cpu-prof DIR` writes a V8 CPU profile of each pgmux.
// Not a test (not part of `npm test`): numbers depend on the machine.

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
import { cpuTimes } from './procstat';
import { identityRules, statementRules } from './rules-sets';

const USER = 'app';
const THREADS = 2;

type MuxName = 'none' | 'identity' | 'statement' | 'cache-off' | 'cache' | 'timeout';

interface Side {
  mux: MuxName;
  label: string;
  args: (dir: string) => string[];
}

interface Workload {
  id: string;
  label: string;
  clients: number;
  sides: [Side, Side];
  /** SHOW CACHE of the first side's pgmux is read before and after. */
  cache?: boolean;
}

const HOT_SCRIPT = '\\set aid random(1, 1000)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n';
/** What injecting the timeout would send instead: SET LOCAL in the same Query (pgbench's \\; joins them). */
const INJECTED_SCRIPT = (scale: number): string =>
  `\\set aid random(1, ${100000 * scale})\nSET LOCAL statement_timeout = '5s'\\; SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n`;

const WORKLOADS: Workload[] = [
  {
    id: 'identity-50',
    label: 'select-only, simple, 100 clients: 50 rules for other clients vs no rules',
    clients: 100,
    sides: [
      { mux: 'identity', label: '50 rules', args: () => ['-S', '-M', 'simple'] },
      { mux: 'none', label: 'no rules', args: () => ['-S', '-M', 'simple'] },
    ],
  },
  {
    id: 'statement-50',
    label: 'select-only, simple, 100 clients: 50 statement rules matching none vs no rules',
    clients: 100,
    sides: [
      { mux: 'statement', label: '50 rules', args: () => ['-S', '-M', 'simple'] },
      { mux: 'none', label: 'no rules', args: () => ['-S', '-M', 'simple'] },
    ],
  },
  {
    id: 'statement-50-extended',
    label: 'select-only, extended, 100 clients: 50 statement rules matching none vs no rules',
    clients: 100,
    sides: [
      { mux: 'statement', label: '50 rules', args: () => ['-S', '-M', 'extended'] },
      { mux: 'none', label: 'no rules', args: () => ['-S', '-M', 'extended'] },
    ],
  },
  {
    id: 'timeout-cancel',
    label: 'select-only, simple, 100 clients: statement_timeout on every statement (pgmux cancels) vs no rules',
    clients: 100,
    sides: [
      { mux: 'timeout', label: 'timeout rule', args: () => ['-S', '-M', 'simple'] },
      { mux: 'none', label: 'no rules', args: () => ['-S', '-M', 'simple'] },
    ],
  },
  {
    id: 'timeout-inject',
    label: 'select-only, simple, 100 clients: SET LOCAL statement_timeout in the same Query (what injecting sends) vs the SELECT alone',
    clients: 100,
    sides: [
      { mux: 'none', label: 'SET LOCAL; SELECT', args: (dir) => ['-f', join(dir, 'injected.sql'), '-M', 'simple'] },
      { mux: 'none', label: 'SELECT', args: () => ['-S', '-M', 'simple'] },
    ],
  },
  {
    id: 'cache-select',
    label: "pgbench's select-only (random account of all), simple, 100 clients: cache rule vs no cache",
    clients: 100,
    cache: true,
    sides: [
      { mux: 'cache', label: 'cache', args: () => ['-S', '-M', 'simple'] },
      { mux: 'cache-off', label: 'no cache', args: () => ['-S', '-M', 'simple'] },
    ],
  },
  {
    id: 'cache-hot',
    label: 'select-only on 1,000 hot accounts, simple, 100 clients: cache rule vs no cache',
    clients: 100,
    cache: true,
    sides: [
      { mux: 'cache', label: 'cache', args: (dir) => ['-f', join(dir, 'hot.sql'), '-M', 'simple'] },
      { mux: 'cache-off', label: 'no cache', args: (dir) => ['-f', join(dir, 'hot.sql'), '-M', 'simple'] },
    ],
  },
];

function ini(port: number, cluster: Cluster, poolSize: number, rules: string, cacheSize: number): string {
  return `[databases]
app = host=127.0.0.1 port=${cluster.primary.port} dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = md5
auth_file = userlist.txt
admin_users = ${USER}
pool_mode = transaction
default_pool_size = ${poolSize}
max_client_conn = 300
log_connections = 0
log_disconnections = 0
result_cache_size = ${cacheSize}

[rules]
${rules}`;
}

async function cacheCounters(port: number, password: string): Promise<{ hits: number; misses: number }> {
  const c = new Client({ host: '127.0.0.1', port, user: USER, password, database: 'pgbouncer' });
  await c.connect();
  try {
    const rows = (await c.query('SHOW CACHE')).rows as { database: string; hits: string; misses: string }[];
    const r = rows.find((x) => x.database === 'app');
    return { hits: Number(r?.hits ?? 0), misses: Number(r?.misses ?? 0) };
  } finally {
    await c.end();
  }
}

/** How long after its start a statement past a 300 ms rule timeout fails at the client, ms per try. */
async function timeoutOvershoot(port: number, password: string): Promise<number[]> {
  const c = new Client({ host: '127.0.0.1', port, user: USER, password, database: 'app' });
  await c.connect();
  const out: number[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      const t = process.hrtime.bigint();
      const code = await c.query('SELECT pg_sleep(2)').then(
        () => 'none',
        (err: { code?: string }) => err.code ?? '?',
      );
      if (code !== '57014') throw new Error(`pg_sleep(2) under a 300 ms rule ended with ${code}`);
      out.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    await c.end();
  }
  return out;
}

interface Round {
  a: number;
  b: number;
  /** pgmux CPU (user + system) per transaction, µs, of each side. */
  cpuA: number;
  cpuB: number;
  load: string;
}

const progress = (text: string): void => void process.stderr.write(`[bench rules ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      'pool-size': { type: 'string', default: '20' },
      scale: { type: 'string', default: '1' },
      only: { type: 'string' },
      /** pgbench -R: the same throughput on both sides, so that CPU per transaction compares like with like on a busy machine. */
      rate: { type: 'string' },
      /** Write a V8 CPU profile of each pgmux into this directory (node --cpu-prof), named after its rules. */
      'cpu-prof': { type: 'string' },
    },
  });
  const only = values.only === undefined ? null : new Set(values.only.split(','));
  const rate = values.rate === undefined ? [] : ['-R', values.rate];
  const workloads = WORKLOADS.filter((w) => only === null || only.has(w.id));
  const quick = values.quick === true;
  // Short sides, many rounds: on a shared machine a burst of someone else's work then spoils one round, not the median.
  const seconds = Number(values.seconds ?? (quick ? 3 : 5));
  const rounds = Number(values.rounds ?? (quick ? 4 : 10));
  const poolSize = Number(values['pool-size']);
  const scale = Number(values.scale);
  const loadBefore = loadAverage();
  const machine = describeMachine();
  let cluster: Cluster | undefined;
  const muxes = new Map<MuxName, Pooler>();
  const scripts = mkdtempSync(join(tmpdir(), 'pgmux-bench-rules-'));
  writeFileSync(join(scripts, 'hot.sql'), HOT_SCRIPT);
  writeFileSync(join(scripts, 'injected.sql'), INJECTED_SCRIPT(scale));
  const stop = async (): Promise<void> => {
    for (const m of muxes.values()) await m.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    rmSync(scripts, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    progress(`starting PostgreSQL (scale ${scale})`);
    cluster = await startCluster({ settings: { max_connections: '300', shared_buffers: '256MB', synchronous_commit: 'off' } });
    const password = cluster.password;
    const target = (port: number): Target => ({ port, user: USER, password, db: 'app' });
    await initialize(target(cluster.primary.port), scale);
    const needed = new Set<MuxName>(workloads.flatMap((w) => w.sides.map((s) => s.mux)));
    const ports = await freePorts(needed.size);
    const configs: Record<MuxName, { rules: string; cache: number }> = {
      none: { rules: '', cache: 0 },
      identity: { rules: identityRules(), cache: 0 },
      statement: { rules: statementRules(), cache: 0 },
      'cache-off': { rules: '', cache: 67108864 },
      cache: { rules: "pgbench_select = regex='FROM pgbench_accounts WHERE aid' cache_ttl=60s\n", cache: 67108864 },
      timeout: { rules: "sleepy = regex='pg_sleep' statement_timeout=300ms\nall_reads = kind=read statement_timeout=5s\n", cache: 0 },
    };
    for (const name of needed) {
      const port = ports[muxes.size];
      const profDir = values['cpu-prof'];
      const nodeArgs = profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=pgmux-${name}.cpuprofile`];
      muxes.set(name, await startMux(ini(port, cluster, poolSize, configs[name].rules, configs[name].cache), { 'userlist.txt': benchUserlist(USER, password) }, nodeArgs));
      // Fill the pool before measuring. On a loaded machine the first server logins may take the
      // whole warm-up (pgbench then reports no transaction): that is fine, the pool fills anyway.
      await runPgbench(target(port), ['-S', '-c', String(poolSize), '-j', String(THREADS)], 4).catch(() => progress(`${name}: warm-up ran no transaction`));
    }
    const results: { w: Workload; rounds: Round[]; hitRatio: string }[] = [];
    for (const w of workloads) {
      const [a, b] = w.sides;
      const muxA = muxes.get(a.mux) as Pooler;
      const muxB = muxes.get(b.mux) as Pooler;
      const before = w.cache === true ? await cacheCounters(muxA.port, password) : null;
      const rs: Round[] = [];
      for (let i = 0; i < rounds; i++) {
        const order = i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const);
        const round: Partial<Round> = {};
        const loads: string[] = [];
        for (const which of order) {
          const side = which === 'a' ? a : b;
          const mux = which === 'a' ? muxA : muxB;
          loads.push(loadAverage().split(' ')[0]);
          const before = cpuTimes(mux.pid);
          const r = await runPgbench(target(mux.port), [...side.args(scripts), ...rate, '-c', String(w.clients), '-j', String(THREADS)], seconds);
          const after = cpuTimes(mux.pid);
          round[which] = r.tps;
          round[which === 'a' ? 'cpuA' : 'cpuB'] = ((after.user + after.sys - before.user - before.sys) * 1e6) / Math.max(1, r.transactions);
        }
        loads.push(loadAverage().split(' ')[0]);
        round.load = loads.join('/');
        const done = round as Round;
        progress(
          `${w.id} round ${i + 1}/${rounds}: ${a.label} ${done.a.toFixed(0)} tps ${done.cpuA.toFixed(1)} µs/tx, ${b.label} ${done.b.toFixed(0)} tps ${done.cpuB.toFixed(1)} µs/tx, ` +
            `tps ratio ${(done.a / done.b).toFixed(3)}, CPU ratio ${(done.cpuA / done.cpuB).toFixed(3)} (load ${done.load})`,
        );
        rs.push(done);
      }
      let hitRatio = '';
      if (before !== null) {
        const after = await cacheCounters(muxA.port, password);
        const hits = after.hits - before.hits;
        const misses = after.misses - before.misses;
        hitRatio = `${((100 * hits) / Math.max(1, hits + misses)).toFixed(1)} % (${hits} hits / ${hits + misses} lookups)`;
      }
      results.push({ w, rounds: rs, hitRatio });
    }
    const overshoot = muxes.has('timeout') ? await timeoutOvershoot((muxes.get('timeout') as Pooler).port, password) : null;
    const out: string[] = [];
    out.push(`Run of ${machine.date}: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.postgres}, commit ${machine.commit}; load average before ${loadBefore}, after ${loadAverage()}.`);
    out.push(
      `${rounds} rounds of ${seconds} s per side, order alternating (round 1: first side first); pgbench -j ${THREADS}${rate.length > 0 ? ` -R ${values.rate}` : ''}, scale ${scale}, default_pool_size ${poolSize}, transaction mode.`,
    );
    out.push('');
    out.push(
      '| workload | first side tps (median) | second side tps (median) | tps first / second (median, min–max) | pgmux CPU µs per transaction, first / second (medians) | CPU ratio (median, min–max) | cache hit ratio |',
    );
    out.push('|---|---:|---:|---|---|---|---|');
    for (const { w, rounds: rs, hitRatio } of results) {
      const ratio = spread(rs.map((r) => r.a / r.b));
      const cpuRatio = spread(rs.map((r) => r.cpuA / r.cpuB));
      const a = spread(rs.map((r) => r.a));
      const b = spread(rs.map((r) => r.b));
      const ca = spread(rs.map((r) => r.cpuA));
      const cb = spread(rs.map((r) => r.cpuB));
      out.push(
        `| ${w.label} | ${w.sides[0].label} ${a.median.toFixed(0)} | ${w.sides[1].label} ${b.median.toFixed(0)} | ${ratio.median.toFixed(3)} (${ratio.min.toFixed(3)}–${ratio.max.toFixed(3)}) | ` +
          `${ca.median.toFixed(1)} / ${cb.median.toFixed(1)} | ${cpuRatio.median.toFixed(3)} (${cpuRatio.min.toFixed(3)}–${cpuRatio.max.toFixed(3)}) | ${hitRatio} |`,
      );
    }
    out.push('');
    out.push(
      'Every round (first/second tps, 1-minute load average before each side and after): ' +
        results.map(({ w, rounds: rs }) => `${w.id}: ${rs.map((r) => `${r.a.toFixed(0)}/${r.b.toFixed(0)} [${r.load}]`).join(', ')}`).join('; ') +
        '.',
    );
    if (overshoot !== null) {
      out.push('');
      out.push(
        `statement_timeout = 300ms on SELECT pg_sleep(2), ${overshoot.length} tries: the client had 57014 after ${overshoot.map((ms) => ms.toFixed(0)).join(', ')} ms ` +
          `(median ${spread(overshoot).median.toFixed(0)} ms; the janitor checks every 100 ms).`,
      );
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
