// Owns the session-settings overhead benchmark (`node dist/bench/settings.js [--quick]`, issue
// 14): one PostgreSQL, one pgmux in transaction mode; pgbench select-only through it in
// alternating rounds, once with every client carrying a non-default search_path and
// statement_timeout (PGOPTIONS='-c search_path=public,pg_catalog -c statement_timeout=30s', which
// lib/session/settings replays on whichever server a client lands on) and once without,
// reported as per-round ratios with / without and pgmux's CPU per transaction.
//
// Not a test (not part of `npm test`): numbers depend on the machine. The target is ratio >= 0.95.

import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { freePorts } from '../spec/support/ports';
import { describeMachine, loadAverage } from './machine';
import { initialize, runPgbench, type Target } from './pgbench';
import { benchUserlist, startMux, type Pooler } from './poolers';
import { cpuTimes } from './procstat';
import { otherLoadMeter } from './other-load';
import { spread } from './stats';
import { SessionSettings, SettingValues, replayFor } from '../lib/session/settings';
import { FrontendCode } from '../lib/protocol/codes';
import { Scan, StatementText } from '../lib/session/statement-scan';
import { query as queryFrame } from '../lib/protocol/frontend';

const USER = 'app';
const THREADS = 2;
const TARGET = 0.95;
const OPTIONS = '-c search_path=public,pg_catalog -c statement_timeout=30s';

type Side = 'with' | 'without';

interface Run {
  tps: number;
  /** pgmux CPU per transaction, µs. */
  cpuUs: number;
  otherLoad: number;
}

type Round = Record<Side, Run>;

const WORKLOADS = [
  { id: 'select-simple-10', label: 'select-only, simple, 10 clients', clients: 10, args: ['-S', '-M', 'simple'] },
  { id: 'select-simple-100', label: 'select-only, simple, 100 clients', clients: 100, args: ['-S', '-M', 'simple'] },
  { id: 'select-extended-100', label: 'select-only, extended, 100 clients', clients: 100, args: ['-S', '-M', 'extended'] },
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

const progress = (text: string): void => void process.stderr.write(`[bench settings ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

/** ns per call of `fn`, best of a few runs (the machine is shared). */
function nsPer(n: number, fn: (i: number) => void): number {
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return best;
}

/** In-process cost of what lib/session/settings adds to a transaction that sets nothing. */
function micro(): string[] {
  // pgbench -S -M simple: a new literal every time, so no cache helps; the scan must be cheap.
  const frames = Array.from({ length: 4096 }, (_, i) => queryFrame(`SELECT abalance FROM pgbench_accounts WHERE aid = ${100000 + i * 37};`));
  const options = new Map([
    ['search_path', 'public,pg_catalog'],
    ['statement_timeout', '30s'],
  ]);
  // Two clients with the same options: equal values, different objects (the usual steady state).
  const a = new SessionSettings(SettingValues.of(new Map(options)), () => false);
  const b = SettingValues.of(new Map(options));
  const n = 1_000_000;
  let sink = 0;
  const text = new StatementText();
  const observe = nsPer(n, (i) => {
    const f = frames[i & 4095];
    text.read(FrontendCode.Query, f, 0, f.length, Scan.MaySet);
    a.observe(f, text);
  });
  const replay = nsPer(n, () => {
    if (replayFor(a.values, b) !== null) sink++;
    if (a.needsReadBack) sink++;
  });
  if (sink !== 0) throw new Error('the steady state replayed something');
  return [
    `In-process, best of 5 runs of ${n.toLocaleString('en')} (\`node dist/bench/settings.js --micro\`):`,
    '',
    '| what | ns per call |',
    '|---|---:|',
    `| the SET scan of pgbench's SELECT frame (first keyword, after ';', set_config) | ${observe.toFixed(0)} |`,
    `| at link and release: compare the client's values with the server's (equal, other objects), read-back needed? | ${replay.toFixed(0)} |`,
    '',
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      'pool-size': { type: 'string', default: '20' },
      scale: { type: 'string', default: '10' },
      'max-other-load': { type: 'string', default: '25' },
      micro: { type: 'boolean', default: false },
    },
  });
  const head = micro();
  if (values.micro === true) {
    process.stdout.write(head.join('\n') + '\n');
    return;
  }
  const quick = values.quick === true;
  const seconds = Number(values.seconds ?? (quick ? 3 : 10));
  const rounds = Number(values.rounds ?? (quick ? 3 : 6));
  const poolSize = Number(values['pool-size']);
  const scale = Number(values.scale);
  const maxOther = Number(values['max-other-load']) / 100;
  const loadBefore = loadAverage();
  const machine = describeMachine();
  let cluster: Cluster | undefined;
  let mux: Pooler | undefined;
  const stop = async (): Promise<void> => {
    await mux?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    progress(`starting PostgreSQL (scale ${scale})`);
    cluster = await startCluster({ settings: { max_connections: '300', shared_buffers: '256MB', synchronous_commit: 'off' } });
    const password = cluster.password;
    const target = (port: number): Target => ({ port, user: USER, password, db: 'app' });
    await initialize(target(cluster.primary.port), scale);
    const [port] = await freePorts(1);
    mux = await startMux(ini(port, cluster.primary.port, poolSize), { 'userlist.txt': benchUserlist(USER, password) });
    const env = (side: Side): Record<string, string> => (side === 'with' ? { PGOPTIONS: OPTIONS } : {});
    // Fill the pool, and prove the options arrive: a with-client must see them on its server.
    await runPgbench(target(port), ['-S', '-c', String(poolSize), '-j', String(THREADS)], 2);
    const probe = new Client({ host: '127.0.0.1', port, user: USER, password, database: 'app', options: OPTIONS });
    await probe.connect();
    const seen = (await probe.query<{ sp: string; st: string }>("SELECT current_setting('search_path') AS sp, current_setting('statement_timeout') AS st")).rows[0];
    await probe.end();
    if (seen?.sp !== 'public,pg_catalog' || seen.st !== '30s') throw new Error(`the options did not arrive: ${JSON.stringify(seen)}`);
    const results: { w: (typeof WORKLOADS)[number]; rounds: Round[]; redone: number }[] = [];
    for (const w of WORKLOADS) {
      const rs: Round[] = [];
      let redone = 0;
      while (rs.length < rounds) {
        const order: Side[] = rs.length % 2 === 0 ? ['with', 'without'] : ['without', 'with'];
        const round: Partial<Round> = {};
        for (const side of order) {
          const p = mux;
          const other = otherLoadMeter([p.pid], cluster.primary.pid);
          const cpu0 = cpuTimes(p.pid);
          const r = await runPgbench(target(p.port), [...w.args, '-c', String(w.clients), '-j', String(THREADS)], seconds, false, false, env(side));
          const cpu1 = cpuTimes(p.pid);
          round[side] = { tps: r.tps, cpuUs: ((cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) / r.transactions) * 1e6, otherLoad: other() };
        }
        const done = round as Round;
        const busy = Math.max(done.with.otherLoad, done.without.otherLoad) > maxOther;
        const again = busy && redone < rounds;
        progress(
          `${w.id} round ${rs.length + 1}/${rounds}: with ${done.with.tps.toFixed(0)} tps, without ${done.without.tps.toFixed(0)} tps, ratio ${(done.with.tps / done.without.tps).toFixed(3)}, ` +
            `CPU ${done.with.cpuUs.toFixed(1)}/${done.without.cpuUs.toFixed(1)} µs/txn, ` +
            `other load ${(100 * done.with.otherLoad).toFixed(0)}%/${(100 * done.without.otherLoad).toFixed(0)}%${again ? ' (too busy: again)' : ''}`,
        );
        if (again) redone++;
        else rs.push(done);
      }
      results.push({ w, rounds: rs, redone });
    }
    const out: string[] = [
      ...head,
      `Run of ${machine.date}: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.postgres}, commit ${machine.commit}; load average before ${loadBefore}, after ${loadAverage()}.`,
      `${rounds} rounds of ${seconds} s per side through one pgmux, order alternating (round 1: with first); pgbench -j ${THREADS}, scale ${scale}, default_pool_size ${poolSize}, transaction mode; ` +
        `"with": PGOPTIONS='${OPTIONS}' for every pgbench connection. ` +
        `A round in which other processes used more than ${values['max-other-load']}% of the machine was done again (at most ${rounds} times per workload).`,
      '',
      '| workload | with tps (median) | without tps (median) | with / without (median, min–max) | target | pgmux CPU µs/txn with / without (median) | other load (max of rounds) | rounds redone |',
      '|---|---:|---:|---|---:|---|---:|---:|',
    ];
    for (const { w, rounds: rs, redone } of results) {
      const ratio = spread(rs.map((r) => r.with.tps / r.without.tps));
      const on = spread(rs.map((r) => r.with.tps));
      const off = spread(rs.map((r) => r.without.tps));
      const cpuOn = spread(rs.map((r) => r.with.cpuUs));
      const cpuOff = spread(rs.map((r) => r.without.cpuUs));
      const other = Math.max(...rs.flatMap((r) => [r.with.otherLoad, r.without.otherLoad]));
      out.push(
        `| ${w.label} | ${on.median.toFixed(0)} | ${off.median.toFixed(0)} | ${ratio.median.toFixed(3)} (${ratio.min.toFixed(3)}–${ratio.max.toFixed(3)}) | ≥ ${TARGET} ${ratio.median >= TARGET ? 'met' : 'MISSED'} | ` +
          `${cpuOn.median.toFixed(1)} / ${cpuOff.median.toFixed(1)} | ${(100 * other).toFixed(0)}% | ${redone} |`,
      );
    }
    out.push('');
    out.push(
      'Every round (with/without tps, and pgmux CPU µs per transaction): ' +
        results.map(({ w, rounds: rs }) => `${w.id}: ${rs.map((r) => `${r.with.tps.toFixed(0)}/${r.without.tps.toFixed(0)} (${r.with.cpuUs.toFixed(0)}/${r.without.cpuUs.toFixed(0)} µs)`).join(', ')}`).join('; ') +
        '.',
    );
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
