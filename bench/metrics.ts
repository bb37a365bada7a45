// Owns the metrics overhead benchmark (`node dist/bench/metrics.js [--quick] [--clients 10] [--concurrent [--swap]] [--rate N]`, issue 13): one
// PostgreSQL, two pgmux processes with the same config but for the HTTP listener, `on` (metrics,
// histograms, fingerprints, scraped every second during its runs) and `off`; pgbench select-only
// at 10 and 100 clients through each in alternating rounds (or, --concurrent, through both at
// once: on a machine others share, the only way both sides see the same load; --swap also has
// the two processes trade sides every round), reported as per-round ratios on /
// off, with how busy the shared machine was. Before that, a micro-measurement of what one
// request's observation costs in-process (no sockets).
//
// Not a test (not part of `npm test`): numbers depend on the machine. The target is ratio >= 0.98.

import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { freePorts } from '../spec/support/ports';
import { describeMachine, loadAverage } from './machine';
import { initialize, runPgbench, type Target } from './pgbench';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPgmux, type PgmuxProcess } from '../spec/support/pgmux';
import { benchUserlist, type Pooler } from './poolers';
import { cpuTimes } from './procstat';
import { otherLoadMeter } from './other-load';
import { costOfScrapes, scraper } from './scrape';
import { fitAtZero, medianInterval, spread, t95 } from './stats';
import { PoolStats } from '../lib/metrics/counters';
import { Histogram, PoolMetrics } from '../lib/metrics/histogram';
import { QueryObserver, RequestTags, type Destination, type TaggedClient } from '../lib/metrics/observer';
import { query as queryFrame } from '../lib/protocol/frontend';
import { Exposition } from '../lib/metrics/exposition';
import { ConsoleRows, pgbouncerFamilies } from '../lib/metrics/families-pgbouncer';
import { requestFamilies, type PoolView } from '../lib/metrics/families-pgmux';
import { ProcessSampler, processFamilies } from '../lib/metrics/families-process';
import type { DatabaseRow, DbStatsRow, PoolRow } from '../lib/admin/views';

const USER = 'app';
const THREADS = 2;
const TARGET = 0.98;

type Side = 'on' | 'off';

interface Run {
  tps: number;
  /** pgmux CPU per transaction, µs. */
  cpuUs: number;
  /** Its user time alone (JS, V8, libuv), µs per transaction. */
  userUs: number;
  otherLoad: number;
}

interface Round {
  on: Run;
  off: Run;
  first: Side;
}

const WORKLOADS = [
  { id: 'select-simple-10', label: 'select-only, simple, 10 clients', clients: 10, args: ['-S', '-M', 'simple'] },
  { id: 'select-simple-100', label: 'select-only, simple, 100 clients', clients: 100, args: ['-S', '-M', 'simple'] },
];

function ini(port: number, serverPort: number, poolSize: number, http: number | null): string {
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
${http === null ? '' : `http_listen_port = ${http}\n`}`;
}

const progress = (text: string): void => void process.stderr.write(`[bench metrics ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

/**
 * ns of this process's CPU (user + system) per call of `fn`, best of a few runs: on a shared
 * machine CPU time leaves out the time other processes held the core, which wall time counts.
 */
function nsPer(n: number, fn: (i: number) => void): number {
  let best = Infinity;
  for (let run = 0; run < 7; run++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn(i);
    const t = process.cpuUsage(t0);
    best = Math.min(best, ((t.user + t.system) * 1000) / n);
  }
  return best;
}

/** What the in-process measurements observe through: metrics on, 20 fingerprints, one pool. */
function observed(): { observer: QueryObserver; tags: RequestTags; where: Destination; client: TaggedClient } {
  const observer = new QueryObserver();
  observer.configure(true, 0, 20);
  const tags = new RequestTags(observer);
  const stats = new PoolStats();
  stats.metrics = new PoolMetrics();
  const where: Destination = { stats, replicaAddress: null, target: { backend: () => null } };
  const client: TaggedClient = { user: 'app', database: 'app', params: new Map(), logPrefix: () => 'C-1' };
  return { observer, tags, where, client };
}

/** In-process cost of what the forwarding path does per request with metrics on. */
function micro(): string[] {
  const { tags, where, client } = observed();
  // pgbench -S -M simple: a new literal every time, so every text is new and only the fingerprint repeats.
  const frames = Array.from({ length: 4096 }, (_, i) => queryFrame(`SELECT abalance FROM pgbench_accounts WHERE aid = ${100000 + i * 37};`));
  const h = new Histogram();
  const n = 1_000_000;
  const observe = nsPer(n, (i) => h.observe(100 + (i & 1023)));
  const lookup = nsPer(n, (i) => {
    const f = frames[i & 4095];
    tags.query(f, 0, f.length);
  });
  const request = nsPer(n, (i) => {
    const f = frames[i & 4095];
    tags.query(f, 0, f.length);
    tags.ended(client, where, 300 + (i & 255), 0, 300 + (i & 255));
  });
  const scrape = scrapeMicro();
  return [
    `In-process CPU time, best of 7 runs of ${n.toLocaleString('en')} (\`node dist/bench/metrics.js --micro\`):`,
    '',
    '| what | ns per call |',
    '|---|---:|',
    `| one histogram observation (\`Histogram.observe\`) | ${observe.toFixed(0)} |`,
    `| fingerprint of pgbench's SELECT from the frame's bytes (scan + table lookup) | ${lookup.toFixed(0)} |`,
    `| a whole request: fingerprint, then at its end pool query + transaction histograms, counters by kind, fingerprint histogram | ${request.toFixed(0)} |`,
    '',
    `One exposition like the benchmark's (${(scrape.bytes / 1024).toFixed(0)} KiB: one pool, ${scrape.fingerprints} fingerprints, the exporter's and node's families), ` +
      `rendered in process (no HTTP), wall time, median of ${scrape.runs}: ${scrape.coldUs.toFixed(0)} µs after evicting the CPU caches, ${scrape.hotUs.toFixed(0)} µs back to back.`,
    '',
  ];
}

/**
 * An exposition of the benchmark's shape (one pool with histograms, the top fingerprints, the
 * exporter's families over console rows, node's), rendered cold and hot: wall time in this
 * otherwise idle process, medians of many runs so that preemption by other processes drops out.
 */
function scrapeMicro(): { bytes: number; fingerprints: number; runs: number; coldUs: number; hotUs: number } {
  const { observer, tags, where, client } = observed();
  const texts = Array.from({ length: 20 }, (_, k) => `SELECT c${k} FROM t${k} WHERE id = `);
  for (let i = 0; i < 200_000; i++) {
    const f = queryFrame(`${texts[i % texts.length]}${i};`);
    tags.query(f, 0, f.length);
    tags.ended(client, where, 100 + (i % 5000), i % 7, 100 + (i % 5000));
  }
  observer.fingerprints.rerank();
  observer.stop();
  const stats = where.stats;
  const pool: PoolView = { db: { name: 'app' }, user: 'app', replicaAddress: null, stats };
  const snapshot = stats.snapshot();
  const poolRow = { database: 'app', user: 'app', clActive: 20, clWaiting: 80, svActive: 20, svIdle: 0, svUsed: 0, svTested: 0, svLogin: 0, maxwaitUs: 1500, poolMode: 'transaction' } as PoolRow;
  const dbRow = { name: 'app', host: '127.0.0.1', port: 5432, database: 'app', forceUser: null, poolSize: 20, minPoolSize: 0, reservePool: 0, poolMode: null, maxConnections: 0, currentConnections: 20, paused: false, disabled: false } as DatabaseRow;
  const rows = new ConsoleRows({
    version: 'PgBouncer 1.18.0 (pgmux)',
    pools: () => [poolRow],
    databases: () => [dbRow, { ...dbRow, name: 'pgbouncer', host: null, poolSize: 2, currentConnections: 0 }],
    lists: () => ['databases', 'users', 'pools', 'free_clients', 'used_clients', 'login_clients', 'free_servers', 'used_servers', 'dns_names', 'dns_zones', 'dns_queries'].map((name, i) => ({ name, value: i })),
    stats: () => [{ database: 'app', total: snapshot, avg: snapshot } as unknown as DbStatsRow],
    clientCounts: () => [
      { database: 'app', user: 'app', applicationName: 'pgbench', state: 'active', count: 20 },
      { database: 'app', user: 'app', applicationName: 'pgbench', state: 'waiting', count: 80 },
    ],
    maxClientConn: 300,
    maxUserConnections: 0,
  });
  const sampler = new ProcessSampler();
  sampler.start();
  const exposition = new Exposition(
    [
      ...pgbouncerFamilies(rows),
      ...requestFamilies({ pools: () => [pool], fingerprints: observer.fingerprints, loginErrors: new Map(), prepared: () => ({ hits: 0, misses: 0, evictions: 0, reprepares: 0, reruns: 0, statements: 0 }) }),
      ...processFamilies(sampler),
    ],
    () => {
      rows.startScrape();
      sampler.startScrape();
    },
  );
  const runs = 400;
  const whole: number[] = [];
  for (let i = 0; i < runs; i++) {
    evictCaches();
    const t0 = performance.now();
    exposition.render(false);
    whole.push((performance.now() - t0) * 1000);
  }
  const hot: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    exposition.render(false);
    hot.push((performance.now() - t0) * 1000);
  }
  sampler.stop();
  const bytes = exposition.render(false).body.length;
  return { bytes, fingerprints: observer.fingerprints.top().length, runs, coldUs: spread(whole).median, hotUs: spread(hot).median };
}

/**
 * Under load a scrape finds its code and data out of the CPU caches: the relays ran for a second
 * since the last one. Reading a buffer larger than the caches between renders does the same here.
 */
const THRASH = Buffer.alloc(32 * 1024 * 1024, 1);
let thrashSum = 0;
function evictCaches(): void {
  for (let i = 0; i < THRASH.length; i += 64) thrashSum += THRASH[i];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      micro: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      'pool-size': { type: 'string', default: '20' },
      scale: { type: 'string', default: '10' },
      'max-other-load': { type: 'string', default: '25' },
      /** pgbench -R: the same throughput on both sides, so CPU per transaction compares like with like. */
      rate: { type: 'string' },
      /** Scrape the metrics-on pgmux every second (default) or not. */
      'no-scrape': { type: 'boolean', default: false },
      /**
       * Milliseconds between scrapes (1000 by default). Shorter multiplies whatever a scrape costs
       * the rounds (CPU, a blocked event loop, garbage), to see it above the noise and divide it back.
       */
      'scrape-every': { type: 'string', default: '1000' },
      /** A control run: both sides with metrics off, to see the bias of the setup itself. */
      control: { type: 'boolean', default: false },
      /** Write a V8 CPU profile of each pgmux into this directory (node --cpu-prof), summarised at the end. */
      'cpu-prof': { type: 'string' },
      /** Only the workloads with this many clients (10 or 100); both by default. */
      clients: { type: 'string' },
      /**
       * Both sides at once in each round (a pgbench each, started together) instead of one after
       * the other: what other processes on a shared machine do then falls on both alike.
       */
      concurrent: { type: 'boolean', default: false },
      /**
       * With --concurrent: the two processes trade sides every round (RELOAD turns the HTTP
       * listener on in one and off in the other), so that a difference between the processes
       * themselves (start order, ports, where the scheduler puts them) falls on both sides alike.
       * A process whose metrics were just switched on is not in its steady state (new histograms,
       * tags made at each client's next request, code optimized while they were off: in the runs
       * of 8 December the first seconds after a trade were the costliest), so after each trade
       * both sides run --settle seconds of the round's workload, scraped, unmeasured.
       */
      swap: { type: 'boolean', default: false },
      /** With --swap: seconds of unmeasured load after each trade (0: measure at once, as before 8 December 02:45). */
      settle: { type: 'string', default: '3' },
    },
  });
  const out: string[] = micro();
  if (values.micro === true) {
    process.stdout.write(out.join('\n') + '\n');
    return;
  }
  const quick = values.quick === true;
  const seconds = Number(values.seconds ?? (quick ? 3 : 10));
  const rounds = Number(values.rounds ?? (quick ? 3 : 6));
  const poolSize = Number(values['pool-size']);
  const scale = Number(values.scale);
  const maxOther = Number(values['max-other-load']) / 100;
  const rate = values.rate === undefined ? [] : ['-R', values.rate];
  const scrapeOn = values['no-scrape'] !== true && values.control !== true;
  const swap = values.swap === true;
  const scrapeEvery = Number(values['scrape-every']);
  const settle = Number(values.settle);
  const concurrent = values.concurrent === true || swap;
  const loadBefore = loadAverage();
  const machine = describeMachine();
  let cluster: Cluster | undefined;
  const muxes: Partial<Record<Side, Pooler>> = {};
  /** The processes behind the sides (they trade places with --swap), and each one's config. */
  const procs: Partial<Record<Side, PgmuxProcess>> = {};
  const inis = new Map<PgmuxProcess, (http: number | null) => string>();
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
    const [onPort, offPort, http] = await freePorts(3);
    const files = { 'userlist.txt': benchUserlist(USER, password) };
    const profDir = values['cpu-prof'];
    const profArgs = (side: Side): string[] => (profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=pgmux-${side}.cpuprofile`]);
    const serverPort = cluster.primary.port;
    const start = async (side: Side, port: number, withHttp: boolean): Promise<void> => {
      const p = await startPgmux(ini(port, serverPort, poolSize, withHttp ? http : null), files, { nodeArgs: profArgs(side), stopWaitMs: 15000 });
      procs[side] = p;
      inis.set(p, (h) => ini(port, serverPort, poolSize, h));
      muxes[side] = { name: 'pgmux', port: p.port, pid: p.pid, logs: () => p.logs(), stop: async () => void (await p.stop('SIGTERM')) };
    };
    await start('on', onPort, values.control !== true);
    await start('off', offPort, false);
    const pids = [(muxes.on as Pooler).pid, (muxes.off as Pooler).pid];
    /** --swap: the side `on`'s process turns its listener off, the other's on, and they trade names. */
    const trade = async (): Promise<void> => {
      const [a, b] = [procs.on as PgmuxProcess, procs.off as PgmuxProcess];
      if (values.control !== true) {
        await reconfigure(a, (inis.get(a) as (h: number | null) => string)(null));
        await until(async () => !(await answers(http)));
        await reconfigure(b, (inis.get(b) as (h: number | null) => string)(http));
        await until(() => answers(http));
      }
      [procs.on, procs.off] = [b, a];
      [muxes.on, muxes.off] = [muxes.off, muxes.on];
    };
    // Warm-up, scraped like the rounds: the first scrapes compile the exposition code and
    // re-optimize the stream code the HTTP sockets share, once per process; that is not the
    // steady-state cost the rounds measure.
    for (const turn of swap ? [0, 1] : [0]) {
      if (turn === 1) await trade();
      for (const side of ['on', 'off'] as const) {
        const p = muxes[side] as Pooler;
        const scrape = side === 'on' && scrapeOn ? scraper(http, scrapeEvery) : null;
        await runPgbench(target(p.port), ['-S', '-c', String(poolSize), '-j', String(THREADS)], 2);
        await scrape?.stop();
      }
    }
    const results: { w: (typeof WORKLOADS)[number]; rounds: Round[]; redone: number; scrapes: number; bytes: number }[] = [];
    const workloads = values.clients === undefined ? WORKLOADS : WORKLOADS.filter((w) => w.clients === Number(values.clients));
    if (workloads.length === 0) throw new Error(`--clients: no workload with ${values.clients} clients (${WORKLOADS.map((w) => w.clients).join(', ')})`);
    for (const w of workloads) {
      const rs: Round[] = [];
      let redone = 0;
      let scrapes = 0;
      let bytes = 0;
      while (rs.length < rounds) {
        const order: Side[] = rs.length % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
        const round: Partial<Round> = { first: order[0] };
        if (swap) {
          await trade();
          if (settle > 0) {
            const scrape = scrapeOn ? scraper(http, scrapeEvery) : null;
            await Promise.all((['on', 'off'] as const).map((side) => runPgbench(target((muxes[side] as Pooler).port), [...w.args, ...rate, '-c', String(w.clients), '-j', String(THREADS)], settle)));
            await scrape?.stop();
          }
        }
        if (concurrent) {
          // One meter for both: the load that is not ours is the same for the two sides.
          const other = otherLoadMeter(pids, cluster.primary.pid);
          const cpu0 = { on: cpuTimes((muxes.on as Pooler).pid), off: cpuTimes((muxes.off as Pooler).pid) };
          const scrape = scrapeOn ? scraper(http, scrapeEvery) : null;
          const runs = await Promise.all(order.map((side) => runPgbench(target((muxes[side] as Pooler).port), [...w.args, ...rate, '-c', String(w.clients), '-j', String(THREADS)], seconds)));
          const load = other();
          order.forEach((side, i) => {
            const r = runs[i];
            const cpu1 = cpuTimes((muxes[side] as Pooler).pid);
            round[side] = {
              tps: r.tps,
              cpuUs: ((cpu1.user + cpu1.sys - cpu0[side].user - cpu0[side].sys) / r.transactions) * 1e6,
              userUs: ((cpu1.user - cpu0[side].user) / r.transactions) * 1e6,
              otherLoad: load,
            };
          });
          const scraped = await scrape?.stop();
          if (scraped !== undefined) {
            scrapes += scraped.scrapes;
            bytes = scraped.bytes;
          }
        }
        for (const side of concurrent ? [] : order) {
          const p = muxes[side] as Pooler;
          const other = otherLoadMeter(pids, cluster.primary.pid);
          const cpu0 = cpuTimes(p.pid);
          const scrape = side === 'on' && scrapeOn ? scraper(http, scrapeEvery) : null;
          const r = await runPgbench(target(p.port), [...w.args, ...rate, '-c', String(w.clients), '-j', String(THREADS)], seconds);
          const cpu1 = cpuTimes(p.pid);
          round[side] = {
            tps: r.tps,
            cpuUs: ((cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) / r.transactions) * 1e6,
            userUs: ((cpu1.user - cpu0.user) / r.transactions) * 1e6,
            otherLoad: other(),
          };
          const scraped = await scrape?.stop();
          if (scraped !== undefined) {
            scrapes += scraped.scrapes;
            bytes = scraped.bytes;
          }
        }
        const done = round as Round;
        const busy = Math.max(done.on.otherLoad, done.off.otherLoad) > maxOther;
        const again = busy && redone < rounds;
        progress(
          `${w.id} round ${rs.length + 1}/${rounds}: on ${done.on.tps.toFixed(0)} tps, off ${done.off.tps.toFixed(0)} tps, ratio ${(done.on.tps / done.off.tps).toFixed(3)}, ` +
            `CPU ${done.on.cpuUs.toFixed(1)}/${done.off.cpuUs.toFixed(1)} µs/txn, ` +
            `other load ${(100 * done.on.otherLoad).toFixed(0)}%/${(100 * done.off.otherLoad).toFixed(0)}%${again ? ' (too busy: again)' : ''}`,
        );
        if (again) redone++;
        else rs.push(done);
      }
      results.push({ w, rounds: rs, redone, scrapes, bytes });
    }
    const scrapeCost = scrapeOn ? await costOfScrapes((muxes.on as Pooler).pid, http) : null;
    out.push(
      `Run of ${machine.date}: ${machine.nproc} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.postgres}, commit ${machine.commit}; load average before ${loadBefore}, after ${loadAverage()}.`,
      `${values.control === true ? 'CONTROL RUN: both sides have metrics off. ' : ''}${rounds} rounds of ${seconds} s per side, ${concurrent ? 'both sides at once (a pgbench each, started together)' : 'order alternating (round 1: on first)'}${swap ? `, the two processes trading sides every round (RELOAD${settle > 0 ? `, then ${settle} s of the workload on both, unmeasured` : ''})` : ''}; pgbench -j ${THREADS}${rate.length > 0 ? ` -R ${values.rate}` : ''}, scale ${scale}, default_pool_size ${poolSize}, transaction mode; ` +
        `${scrapeOn ? `/metrics of the on side scraped ${scrapeEvery === 1000 ? 'every second' : `every ${scrapeEvery} ms`} during its runs` : 'no scrapes'}. ` +
        `A round in which other processes used more than ${values['max-other-load']}% of the machine was done again (at most ${rounds} times per workload).`,
      '',
      `| workload | on tps (median) | off tps (median) | on / off (median, min–max) | interval of the median | target | pgmux CPU µs/txn on / off (median; user alone) | CPU on / off (median, min–max) | other load (max of rounds) | rounds redone | scrapes (size) |`,
      '|---|---:|---:|---|---|---:|---|---|---:|---:|---:|',
    );
    for (const { w, rounds: rs, redone, scrapes, bytes } of results) {
      const ratio = spread(rs.map((r) => r.on.tps / r.off.tps));
      // Read the verdict against this: with a round-to-round spread of ±15 % a median of a few rounds moves by several per cent.
      const interval = medianInterval(rs.map((r) => r.on.tps / r.off.tps));
      const on = spread(rs.map((r) => r.on.tps));
      const off = spread(rs.map((r) => r.off.tps));
      const cpuOn = spread(rs.map((r) => r.on.cpuUs));
      const cpuOff = spread(rs.map((r) => r.off.cpuUs));
      const cpuRatio = spread(rs.map((r) => r.on.cpuUs / r.off.cpuUs));
      const userOn = spread(rs.map((r) => r.on.userUs));
      const userOff = spread(rs.map((r) => r.off.userUs));
      const other = Math.max(...rs.flatMap((r) => [r.on.otherLoad, r.off.otherLoad]));
      out.push(
        `| ${w.label} | ${on.median.toFixed(0)} | ${off.median.toFixed(0)} | ${ratio.median.toFixed(3)} (${ratio.min.toFixed(3)}–${ratio.max.toFixed(3)}) | ${interval.low.toFixed(3)}–${interval.high.toFixed(3)} (${(100 * interval.confidence).toFixed(0)} %) | ≥ ${TARGET} ${ratio.median >= TARGET ? 'met' : 'MISSED'} | ` +
          `${cpuOn.median.toFixed(1)} / ${cpuOff.median.toFixed(1)} (${userOn.median.toFixed(1)} / ${userOff.median.toFixed(1)}) | ` +
          `${cpuRatio.median.toFixed(3)} (${cpuRatio.min.toFixed(3)}–${cpuRatio.max.toFixed(3)}) | ${(100 * other).toFixed(0)}% | ${redone} | ${scrapes} (${(bytes / 1024).toFixed(0)} KiB) |`,
      );
    }
    if (!concurrent) {
      // Sequential rounds: the two sides of a round met different foreign load. On 8 December that
      // difference explained most of the spread of the ratios (R² 0.9 in one run), so the ratio is
      // also read where the difference is zero: the intercept of log(on/off) against it.
      out.push('');
      for (const { w, rounds: rs } of results) {
        const fit = fitAtZero(
          rs.map((r) => 100 * (r.on.otherLoad - r.off.otherLoad)),
          rs.map((r) => Math.log(r.on.tps / r.off.tps)),
        );
        if (fit === null) continue;
        out.push(
          `${w.label}: on / off at equal foreign load (least squares of log(on/off) on the rounds' other-load difference): ${Math.exp(fit.a).toFixed(3)} ` +
            `(±${(100 * t95(fit.df) * fit.se).toFixed(1)} % at 95 %), ${(100 * fit.b).toFixed(2)} % per point of difference, R² ${fit.r2.toFixed(2)}.`,
        );
      }
    }
    if (scrapeCost !== null) {
      const tps = Math.min(...results.map((r) => spread(r.rounds.map((x) => x.on.tps)).median));
      out.push(
        '',
        `One scrape (GET /metrics, ${(scrapeCost.bytes / 1024).toFixed(0)} KiB, measured after the rounds on the idle metrics-on pgmux: its CPU over ${scrapeCost.n} back-to-back scrapes): ` +
          `${scrapeCost.msPerScrape.toFixed(2)} ms of CPU; at one scrape a second and ${tps.toFixed(0)} tps that is ${((scrapeCost.msPerScrape * 1000) / tps).toFixed(2)} µs per transaction.`,
      );
    }
    out.push('');
    out.push(
      'Every round (on/off tps, and pgmux CPU µs per transaction): ' +
        results.map(({ w, rounds: rs }) => `${w.id}: ${rs.map((r) => `${r.on.tps.toFixed(0)}/${r.off.tps.toFixed(0)} (${r.on.cpuUs.toFixed(0)}/${r.off.cpuUs.toFixed(0)} µs)`).join(', ')}`).join('; ') +
        '.',
    );
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await stop();
  }
}

/** Writes `text` as `p`'s config and has it reloaded (SIGHUP); resolves once it says so. */
async function reconfigure(p: PgmuxProcess, text: string): Promise<void> {
  const reloads = (): number => (p.logs().match(/config reloaded/g) ?? []).length;
  const before = reloads();
  writeFileSync(join(p.dir, 'pgmux.ini'), text);
  process.kill(p.pid, 'SIGHUP');
  await until(() => reloads() > before);
}

/** Whether GET /metrics on `http` answers 200. */
async function answers(http: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${http}/metrics`);
    await res.text();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Polls `cond` every 20 ms for up to 10 s. */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a reload');
    await new Promise((r) => setTimeout(r, 20));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
