// Owns the benchmark run (`npm run bench [-- --quick]`): one throwaway PostgreSQL, pgmux and
// PgBouncer 1.18 in front of it with the same ini, pgbench through each in alternating rounds,
// pgmux with workers = 1 and 2 next to PgBouncer (./workers), then idle-client memory and a CPU
// profile of pgmux; prints the markdown for bench/RESULTS.md.
//
// Not a test: numbers depend on the machine. On a 2-core box pgbench, PostgreSQL and the pooler
// share the CPUs, so absolute tps is low and ratios are what to read.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { freePorts } from '../spec/support/ports';
import { idleHeapGrowth } from './heap';
import { closeAll, openIdleClients } from './idle';
import { measureFloor } from './idle-floor';
import { describeMachine, loadAverage, openFilesLimit } from './machine';
import { runPgbench, initialize, type Target } from './pgbench';
import { benchIni, benchUserlist, startBouncer, startMux, type Pooler, type PoolerName } from './poolers';
import { cpuTimes, rssBytes } from './procstat';
import { otherLoadMeter } from './other-load';
import { perfAvailable, perfMarkdown, recordPerf, removePerfMap } from './perf';
import { summarize, summaryMarkdown } from './profile';
import { runWorkersBench, workersMarkdown } from './workers';
import { percentile } from './stats';
import {
  directMissed,
  markdown,
  miss,
  type DirectName,
  type DirectRound,
  type DirectRun,
  type DirectWorkload,
  type IdleResult,
  type LatencyRound,
  type Results,
  type Round,
  type Workload,
} from './results';

const USER = 'app';
const DB = 'app';
const THREADS = 2;
/** Longest wait for a quiet second before a measured run. */
const QUIET_WAIT_MS = 60000;

const WORKLOADS: Workload[] = [
  ...[10, 100, 1000].flatMap((clients): Workload[] =>
    (['simple', 'extended'] as const).map((mode) => ({
      id: `select-${mode}-${clients}`,
      label: `select-only, ${mode}, ${clients} clients`,
      clients,
      args: ['-S', '-M', mode],
      // Issue 17: tps at least 0.9x PgBouncer's (1.0x at 1000 clients), CPU per transaction at most 1.3x.
      target: clients >= 1000 ? 1.0 : 0.9,
      cpuTarget: 1.3,
    })),
  ),
  { id: 'tpcb-50', label: 'tpcb-like, simple, 50 clients', clients: 50, args: ['-M', 'simple'], target: 0.9, cpuTarget: 1.3 },
  { id: 'connect-20', label: 'select-only, reconnect per transaction (-C), 20 clients', clients: 20, args: ['-S', '-M', 'simple', '-C'], target: 0.9, cpuTarget: 1.6 },
];

/**
 * Prepared statements (issue 4, issue 11): pgmux with -M prepared against pgmux with -M extended
 * in the same rounds, with the same -j as every other workload (never -j = -c: pgmux answers
 * the Parse of a known statement itself, so pgbench's own threads no longer deadlock on a pool
 * smaller than their clients). PgBouncer 1.18 runs -M extended (its -M prepared clients abort)
 * and PostgreSQL runs -M prepared directly, both as references.
 */
const DIRECT_WORKLOADS: DirectWorkload[] = [
  { id: 'prepared-select-50', label: 'select-only, prepared vs extended, 50 clients', clients: 50, args: ['-S', '-M', 'prepared'], compareArgs: ['-S', '-M', 'extended'], target: 1.1, cpuTarget: null },
  { id: 'prepared-tpcb-50', label: 'tpcb-like, prepared vs extended, 50 clients', clients: 50, args: ['-M', 'prepared'], compareArgs: ['-M', 'extended'], target: 1.1, cpuTarget: null },
];

/** The workers benchmark (./workers): workers = 1 and 2 next to PgBouncer, by client count. */
const WORKERS_IDS = ['workers-100', 'workers-1000'];

const HELP = `npm run bench -- [options]   (node dist/bench/run.js [options])
  --quick              3 s rounds, 3 rounds (default 10 s, 5 rounds)
  --seconds N          length of one measurement round
  --rounds N           rounds per workload and pooler
  --only LIST          comma list of: ${[...WORKLOADS, ...DIRECT_WORKLOADS].map((w) => w.id).join(', ')}, ${WORKERS_IDS.join(', ')}, latency, idle
  --idle LIST          idle client counts (default 1000,10000)
  --pool-size N        pool_size of both poolers (default 20)
  --scale N            pgbench scale (default 10)
  --profile WHAT       missed (default: workloads that missed their target, else select-simple-100),
                       none, all, or a comma list of workload ids
  --max-other-load P   redo a round when other processes used more than P% of the machine
                       during it (default 25; at most --rounds redos per workload)
  --out FILE           also write the markdown there
`;

interface Options {
  quick: boolean;
  seconds: number;
  rounds: number;
  only: Set<string> | null;
  idle: number[];
  poolSize: number;
  scale: number;
  profile: string;
  /** 0..1 */
  maxOtherLoad: number;
  out: string | null;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      idle: { type: 'string', default: '1000,10000' },
      'pool-size': { type: 'string', default: '20' },
      scale: { type: 'string', default: '10' },
      profile: { type: 'string', default: 'missed' },
      'max-other-load': { type: 'string', default: '25' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick === true;
  const count = (name: string, v: string | undefined, dflt: number): number => {
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number, not ${v}`);
    return n;
  };
  const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : null;
  const known = new Set([...WORKLOADS.map((w) => w.id), ...DIRECT_WORKLOADS.map((w) => w.id), ...WORKERS_IDS, 'latency', 'idle']);
  for (const o of only ?? []) if (!known.has(o)) throw new Error(`--only: unknown ${o}; known: ${[...known].join(', ')}`);
  return {
    quick,
    seconds: count('seconds', values.seconds, quick ? 3 : 10),
    rounds: count('rounds', values.rounds, quick ? 3 : 5),
    only,
    idle: values.idle.split(',').filter((s) => s !== '').map((v) => count('idle', v, 0)),
    poolSize: count('pool-size', values['pool-size'], 20),
    scale: count('scale', values.scale, 10),
    profile: values.profile,
    maxOtherLoad: Number(values['max-other-load']) / 100,
    out: values.out ?? null,
  };
}

const progress = (text: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

/**
 * 10,000 idle clients need that many descriptors in this process and in the pooler, which
 * inherits our limit. If the soft limit is too low, re-run ourselves under `bash -c 'ulimit -n'`
 * (root may raise the hard limit too). Returns the exit code when it re-ran, else null.
 */
function ensureOpenFiles(need: number): number | null {
  if (openFilesLimit() >= need) return null;
  if (process.env.PGMUX_BENCH_ULIMIT === String(need)) {
    throw new Error(`open files limit is ${openFilesLimit()}, need ${need}: run \`ulimit -n ${need}\` as root first`);
  }
  progress(`open files limit ${openFilesLimit()} < ${need}: re-running under ulimit -n ${need}`);
  const script = `ulimit -n ${need} && exec "$0" "$@"`;
  // Ctrl-C reaches the child too (same process group); it cleans up, we wait for it.
  process.on('SIGINT', () => undefined);
  const r = spawnSync('bash', ['-c', script, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, PGMUX_BENCH_ULIMIT: String(need) },
  });
  return r.status ?? 1;
}

class Bench {
  private readonly stoppers: (() => Promise<void>)[] = [];
  private cluster!: Cluster;
  private iniFor!: (port: number) => string;
  private files!: Record<string, string>;
  private target!: (port: number) => Target;

  constructor(private readonly o: Options) {}

  private wants(id: string): boolean {
    return this.o.only === null || this.o.only.has(id);
  }

  /** Runs `stop` at cleanup (newest first) unless it was run already. */
  private owned<T extends { stop(): Promise<void> }>(thing: T): T {
    let done = false;
    const stop = thing.stop.bind(thing);
    thing.stop = async () => {
      if (done) return;
      done = true;
      await stop();
    };
    this.stoppers.push(() => thing.stop());
    return thing;
  }

  private cleaning: Promise<void> | null = null;

  /** Stops everything started, newest first; concurrent calls share one pass. */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      while (this.stoppers.length > 0) {
        const stop = this.stoppers.pop() as () => Promise<void>;
        await stop().catch((err: unknown) => progress(`cleanup: ${(err as Error).message}`));
      }
      this.cleaning = null;
    })();
    return this.cleaning;
  }

  async startPooler(name: PoolerName, port: number, nodeArgs: string[] = []): Promise<Pooler> {
    const ini = this.iniFor(port);
    return this.owned(name === 'pgmux' ? await startMux(ini, this.files, nodeArgs) : await startBouncer(ini, this.files));
  }

  async run(): Promise<Results> {
    const o = this.o;
    const loadBefore = loadAverage();
    const machine = describeMachine();
    progress(`starting PostgreSQL (scale ${o.scale})`);
    this.cluster = this.owned(
      await startCluster({ settings: { max_connections: '300', shared_buffers: '256MB', synchronous_commit: 'off' } }),
    );
    const password = this.cluster.password;
    this.target = (port) => ({ port, user: USER, password, db: DB });
    const maxClients = Math.max(1000, ...o.idle) + 100;
    this.iniFor = (port) => benchIni({ port, serverPort: this.cluster.primary.port, poolSize: o.poolSize, maxClientConn: maxClients });
    this.files = { 'userlist.txt': benchUserlist(USER, password) };
    await initialize(this.target(this.cluster.primary.port), o.scale);

    const results: Results = {
      machine,
      settings: { seconds: o.seconds, rounds: o.rounds, poolSize: o.poolSize, scale: o.scale, quick: o.quick, maxOtherLoad: o.maxOtherLoad },
      loadBefore,
      loadAfter: '',
      workloads: [],
      latency: [],
      direct: [],
      idle: [],
      floor: [],
      heap: null,
      workers: null,
      profiles: [],
      finishedAt: '',
    };

    const workloads = WORKLOADS.filter((w) => this.wants(w.id));
    if (workloads.length > 0 || this.wants('latency')) {
      const [muxPort, bouncerPort] = await freePorts(2);
      const poolers = { pgmux: await this.startPooler('pgmux', muxPort), pgbouncer: await this.startPooler('pgbouncer', bouncerPort) };
      // Fill both pools before anything is measured.
      for (const p of Object.values(poolers)) await runPgbench(this.target(p.port), ['-S', '-c', String(o.poolSize), '-j', String(THREADS)], 2);
      for (const w of workloads) results.workloads.push({ workload: w, ...(await this.measure(w, poolers)) });
      if (this.wants('latency')) results.latency = await this.latency(poolers);
      await poolers.pgmux.stop();
      await poolers.pgbouncer.stop();
    }
    const direct = DIRECT_WORKLOADS.filter((w) => this.wants(w.id));
    if (direct.length > 0) {
      const [muxPort, bouncerPort] = await freePorts(2);
      const poolers = { pgmux: await this.startPooler('pgmux', muxPort), pgbouncer: await this.startPooler('pgbouncer', bouncerPort) };
      // Fill both pools (and pgmux's statement caches) before anything is measured.
      const fill = ['-S', '-c', String(o.poolSize), '-j', String(THREADS)];
      await runPgbench(this.target(muxPort), [...fill, '-M', 'prepared'], 2, false, true);
      await runPgbench(this.target(bouncerPort), [...fill, '-M', 'extended'], 2, false, true);
      for (const w of direct) results.direct.push({ workload: w, threads: THREADS, rounds: await this.measureDirect(w, poolers) });
      await poolers.pgmux.stop();
      await poolers.pgbouncer.stop();
    }
    const workersClients = WORKERS_IDS.filter((id) => this.wants(id)).map((id) => Number(id.slice('workers-'.length)));
    if (workersClients.length > 0) {
      const names = ['pgbouncer', 'pgmux-w1', 'pgmux-w2'] as const;
      const res = await runWorkersBench(this.cluster, { clients: workersClients, names, seconds: o.seconds, rounds: o.rounds, poolSize: o.poolSize }, progress);
      results.workers = workersMarkdown(res);
    }
    if (this.wants('idle') && o.idle.length > 0) {
      for (const n of o.idle) for (const name of ['pgmux', 'pgbouncer'] as const) results.idle.push(await this.idle(name, n));
      for (const n of o.idle) {
        const floor = await measureFloor(n);
        progress(`bare node server with ${n} idle connections: ${((floor.idleRss - floor.baseRss) / n / 1024).toFixed(2)} KiB/connection`);
        results.floor.push(floor);
      }
      results.heap = await this.heap(Math.max(...o.idle));
    }
    for (const w of this.toProfile(results)) {
      results.profiles.push({ workload: w.label, markdown: await this.profile(w) });
    }
    results.loadAfter = loadAverage();
    results.finishedAt = new Date().toISOString();
    return results;
  }

  /**
   * Alternating rounds: pgmux first in odd rounds, PgBouncer first in even ones. A round in
   * which other processes took more than --max-other-load of the machine during either run is
   * done again (at most `rounds` extra times per workload, then kept), so that load from other
   * sessions on a shared box skews fewer ratios.
   */
  private async measure(w: Workload, poolers: Record<PoolerName, Pooler>): Promise<{ rounds: Round[]; redone: number }> {
    const rounds: Round[] = [];
    let redone = 0;
    while (rounds.length < this.o.rounds) {
      const i = rounds.length;
      const order: PoolerName[] = i % 2 === 0 ? ['pgmux', 'pgbouncer'] : ['pgbouncer', 'pgmux'];
      const round: Partial<Round> = {};
      for (const name of order) {
        const p = poolers[name];
        await this.waitForQuiet(Object.values(poolers).map((x) => x.pid));
        const before = cpuTimes(p.pid);
        const other = this.otherLoadMeter(Object.values(poolers).map((x) => x.pid));
        const r = await runPgbench(this.target(p.port), [...w.args, '-c', String(w.clients), '-j', String(THREADS)], this.o.seconds);
        const after = cpuTimes(p.pid);
        round[name] = {
          tps: r.tps,
          transactions: r.transactions,
          userSeconds: after.user - before.user,
          sysSeconds: after.sys - before.sys,
          otherLoad: other(),
        };
      }
      const done = round as Round;
      const busy = Math.max(done.pgmux.otherLoad, done.pgbouncer.otherLoad) > this.o.maxOtherLoad;
      const again = busy && redone < this.o.rounds;
      progress(
        `${w.id} round ${i + 1}/${this.o.rounds}: pgmux ${done.pgmux.tps.toFixed(0)} tps, PgBouncer ${done.pgbouncer.tps.toFixed(0)} tps, ` +
          `ratio ${(done.pgmux.tps / done.pgbouncer.tps).toFixed(2)}, other load ${(100 * done.pgmux.otherLoad).toFixed(0)}%/` +
          `${(100 * done.pgbouncer.otherLoad).toFixed(0)}%${again ? ' (too busy: again)' : ''}`,
      );
      if (again) redone++;
      else rounds.push(done);
    }
    return { rounds, redone };
  }

  /**
   * Rounds of pgmux -M prepared, pgmux -M extended, PgBouncer and PostgreSQL directly, the order
   * of the four rotating each round so that each takes each place equally often. Aborted clients
   * are counted, not fatal, so that a run that aborts is reported. Rounds are not redone under
   * other load; its share is reported per run.
   */
  private async measureDirect(w: DirectWorkload, poolers: Record<PoolerName, Pooler>): Promise<DirectRound[]> {
    const rounds: DirectRound[] = [];
    const names: DirectName[] = ['prepared', 'extended', 'pgbouncer', 'direct'];
    const port: Record<DirectName, number> = { prepared: poolers.pgmux.port, extended: poolers.pgmux.port, pgbouncer: poolers.pgbouncer.port, direct: this.cluster.primary.port };
    const pid: Record<DirectName, number | null> = { prepared: poolers.pgmux.pid, extended: poolers.pgmux.pid, pgbouncer: poolers.pgbouncer.pid, direct: null };
    const args: Record<DirectName, string[]> = { prepared: w.args, extended: w.compareArgs, pgbouncer: w.compareArgs, direct: w.args };
    const pids = [poolers.pgmux.pid, poolers.pgbouncer.pid];
    for (let i = 0; i < this.o.rounds; i++) {
      const order = names.map((_, k) => names[(i + k) % names.length]);
      const runs: Partial<Record<DirectName, DirectRun>> = {};
      for (const name of order) {
        await this.waitForQuiet(pids);
        const other = this.otherLoadMeter(pids);
        const p = pid[name];
        const before = p === null ? null : cpuTimes(p);
        const r = await runPgbench(this.target(port[name]), [...args[name], '-c', String(w.clients), '-j', String(THREADS)], this.o.seconds, false, true);
        const after = p === null ? null : cpuTimes(p);
        const cpuSeconds = before === null || after === null ? 0 : after.user - before.user + after.sys - before.sys;
        runs[name] = { tps: r.tps, aborted: r.aborted, otherLoad: other(), cpuSeconds, transactions: r.transactions };
      }
      const done = { ...(runs as Record<DirectName, DirectRun>), order };
      const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
      const us = (x: DirectRun): string => ((1e6 * x.cpuSeconds) / Math.max(1, x.transactions)).toFixed(1);
      progress(
        `${w.id} round ${i + 1}/${this.o.rounds}: pgmux prepared ${done.prepared.tps.toFixed(0)} tps (${done.prepared.aborted} aborted, ${us(done.prepared)} µs CPU/txn), ` +
          `extended ${done.extended.tps.toFixed(0)} tps (${done.extended.aborted} aborted, ${us(done.extended)} µs CPU/txn), ratio ${(done.prepared.tps / done.extended.tps).toFixed(2)}; ` +
          `PgBouncer ${done.pgbouncer.tps.toFixed(0)} tps (${done.pgbouncer.aborted} aborted), direct ${done.direct.tps.toFixed(0)} tps; ` +
          `other load ${names.map((n) => pct(done[n].otherLoad)).join('/')}`,
      );
      rounds.push(done);
    }
    return rounds;
  }

  /**
   * Waits (up to QUIET_WAIT_MS) for a second in which other processes use at most
   * --max-other-load of the machine, so a run does not start in the middle of someone else's
   * burst. Gives up silently: the round's own measurement decides whether it is redone.
   */
  private async waitForQuiet(poolerPids: number[]): Promise<void> {
    const deadline = Date.now() + QUIET_WAIT_MS;
    while (Date.now() < deadline) {
      const other = this.otherLoadMeter(poolerPids);
      await new Promise((r) => setTimeout(r, 1000));
      if (other() <= this.o.maxOtherLoad) return;
    }
  }

  /** What fraction of the machine other sessions' processes used from now until the returned function is called. */
  private otherLoadMeter(poolerPids: number[]): () => number {
    return otherLoadMeter(poolerPids, this.cluster.primary.pid);
  }

  /** Single-client select-only latency, direct and through each pooler, order rotating. */
  private async latency(poolers: Record<PoolerName, Pooler>): Promise<LatencyRound[]> {
    const ports = { direct: this.cluster.primary.port, pgmux: poolers.pgmux.port, pgbouncer: poolers.pgbouncer.port };
    const names = ['direct', 'pgmux', 'pgbouncer'] as const;
    const out: LatencyRound[] = [];
    for (let i = 0; i < this.o.rounds; i++) {
      const round: Partial<LatencyRound> = {};
      for (let k = 0; k < names.length; k++) {
        const name = names[(i + k) % names.length];
        const r = await runPgbench(this.target(ports[name]), ['-S', '-M', 'simple', '-c', '1', '-j', '1'], this.o.seconds, true);
        const lat = r.latenciesUs ?? [];
        round[name] = { p50: percentile(lat, 50), p99: percentile(lat, 99) };
      }
      const done = round as LatencyRound;
      out.push(done);
      progress(`latency round ${i + 1}: p50 direct ${done.direct.p50} µs, pgmux ${done.pgmux.p50}, PgBouncer ${done.pgbouncer.p50}`);
    }
    return out;
  }

  /**
   * A fresh pooler; one client logs in (so the pool has its server and parameters), RSS is
   * read; then `count` more idle clients, and RSS again once they have all logged in.
   */
  private async idle(name: PoolerName, count: number): Promise<IdleResult> {
    const [port] = await freePorts(1);
    const p = await this.startPooler(name, port);
    const first = await openIdleClients(this.target(port), 1);
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 2000));
    try {
      await settle();
      const baseRss = rssBytes(p.pid);
      const clients = await openIdleClients(this.target(port), count);
      try {
        await settle();
        const idleRss = rssBytes(p.pid);
        progress(`${name} with ${count} idle clients: ${((idleRss - baseRss) / count / 1024).toFixed(2)} KiB/client`);
        return { clients: count, pooler: name, baseRss, idleRss };
      } finally {
        closeAll(clients);
      }
    } finally {
      closeAll(first);
      await p.stop();
    }
  }

  /**
   * Where pgmux's memory per idle client goes: a separate pgmux (snapshots force a GC and cost
   * memory, so they must not touch the RSS figures) with heap snapshots before and after
   * `count` idle clients.
   */
  private async heap(count: number): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'pgmux-bench-heap-'));
    try {
      const [port] = await freePorts(1);
      const p = await this.startPooler('pgmux', port, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`]);
      try {
        const markdown = await idleHeapGrowth(p.pid, dir, this.target(port), count);
        progress(`heap snapshots of pgmux with ${count} idle clients taken`);
        return markdown;
      } finally {
        await p.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private toProfile(results: Results): Workload[] {
    const spec = this.o.profile;
    if (spec === 'none') return [];
    if (spec === 'all') return WORKLOADS;
    if (spec !== 'missed') return [...WORKLOADS, ...DIRECT_WORKLOADS].filter((w) => spec.split(',').includes(w.id));
    const missed = [
      ...results.workloads.filter((r) => miss(r.workload, r.rounds) !== null).map((r) => r.workload),
      ...results.direct.filter((r) => directMissed(r.workload, r.rounds)).map((r) => r.workload),
    ];
    return missed.length > 0 ? missed : WORKLOADS.filter((w) => w.id === 'select-simple-100');
  }

  /**
   * One round of `w` through a pgmux under `node --cpu-prof`, summarised; then, if `perf` works
   * here, one round each through pgmux (with --perf-basic-prof, so JIT frames have names) and
   * PgBouncer with their on-CPU time sampled in the middle of the round.
   */
  private async profile(w: Workload): Promise<string> {
    const args = [...w.args, '-c', String(w.clients), '-j', String(THREADS)];
    const dir = mkdtempSync(join(tmpdir(), 'pgmux-bench-prof-'));
    const out: string[] = [];
    try {
      const [port] = await freePorts(1);
      const p = await this.startPooler('pgmux', port, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      await runPgbench(this.target(port), args, this.o.seconds);
      await p.stop();
      const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
      if (!file) throw new Error(`pgmux wrote no .cpuprofile into ${dir}`);
      out.push('`node --cpu-prof` (V8, wall-clock samples of the JS thread):', '', summaryMarkdown(summarize(join(dir, file), 25)), '');
      if (perfAvailable()) {
        for (const name of ['pgmux', 'pgbouncer'] as const) {
          const [perfPort] = await freePorts(1);
          const pooler = await this.startPooler(name, perfPort, name === 'pgmux' ? ['--perf-basic-prof'] : []);
          try {
            const data = join(dir, `${name}.perf.data`);
            const bench = runPgbench(this.target(perfPort), args, this.o.seconds);
            // Skip pgbench's connection phase; stop well before the round ends.
            await new Promise((r) => setTimeout(r, this.o.seconds * 250));
            await recordPerf(pooler.pid, this.o.seconds * 0.6, data);
            await bench;
            out.push(`\`perf record -e cpu-clock\` of ${name === 'pgmux' ? 'pgmux' : 'PgBouncer'} (on-CPU samples):`, '', perfMarkdown(data, name === 'pgmux' ? 25 : 12), '');
          } finally {
            await pooler.stop();
            removePerfMap(pooler.pid);
          }
        }
      }
      progress(`profiled ${w.id}`);
      return out.join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** Set by SIGINT/SIGTERM: what fails afterwards fails because we are stopping. */
let interrupted = false;

async function main(): Promise<number> {
  const o = options();
  const reran = ensureOpenFiles((o.only === null || o.only.has('idle') ? Math.max(...o.idle, 1000) : 1000) + 4096);
  if (reran !== null) return reran;
  const bench = new Bench(o);
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    progress(`${sig}: stopping everything the bench started`);
    void bench.cleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const results = await bench.run();
    const text = markdown(results);
    process.stdout.write(`${text}\n`);
    if (o.out) writeFileSync(o.out, `${text}\n`);
    return 0;
  } finally {
    await bench.cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // The signal handler exits once cleanup is done.
    if (interrupted) return;
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
