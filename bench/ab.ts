// Owns the before/after benchmark of pgmux builds (`node dist/bench/ab.js`): several pgmux
// builds (each a bin/pgmux of its own checkout) and PgBouncer 1.18 in front of one PostgreSQL,
// the same pgbench workload through each in rotating order, and per round each one's CPU per
// transaction (utime+stime of its process / transactions) and tps, with the ratio to PgBouncer's
// in the same round. A change to the data path is judged by this, not by absolute numbers: the
// machine is shared, so only what is measured in the same round compares.
//
//   node dist/bench/ab.js --variant base=/tmp/perf-base/bin/pgmux --variant new=bin/pgmux \
//        --clients 100 --mode simple --rounds 5 --seconds 8 [--rate 6000] [--connect] [--tpcb]
//
// The same build may run as several variants that differ in their config: `--ini 'on:http_listen_port
// = {port}'` adds a line to variant on's [pgbouncer] (`{port}` is a free port), `--ini-file
// 'rules:FILE'` appends a file ([rules] ...); with `--scrape` a variant with an HTTP listener has
// its /metrics fetched every second during its runs.
//
// Not a test: numbers depend on the machine.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { startPgmux } from '../spec/support/pgmux';
import { describeMachine, loadAverage } from './machine';
import { initialize, runPgbench, type Target } from './pgbench';
import { benchIni, benchUserlist, startBouncer, type Pooler } from './poolers';
import { cpuTimes, machineBusySeconds } from './procstat';
import { freePorts } from '../spec/support/ports';
import { scraper } from './scrape';
import { spread } from './stats';

const USER = 'app';

interface Sample {
  tps: number;
  cpuUs: number;
  userUs: number;
  /** The machine's busy CPU during the run, in % of one CPU (200 = both busy). */
  busy: number;
}

interface Entry {
  label: string;
  pooler: Pooler;
  /** Its HTTP listener's port when it has one (scraped with --scrape). */
  http: number | null;
  fixed: Sample[];
  open: Sample[];
}

const progress = (text: string): void => void process.stderr.write(`[bench ab ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

async function measure(p: Pooler, t: Target, args: string[], seconds: number): Promise<Sample> {
  const before = cpuTimes(p.pid);
  const busyBefore = machineBusySeconds();
  const started = process.hrtime.bigint();
  const r = await runPgbench(t, args, seconds);
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const busy = (100 * (machineBusySeconds() - busyBefore)) / wall;
  const after = cpuTimes(p.pid);
  const per = (s: number): number => (s * 1e6) / r.transactions;
  return { tps: r.tps, cpuUs: per(after.user + after.sys - before.user - before.sys), userUs: per(after.user - before.user), busy };
}

/** Starts `command` on `e`'s PID; the returned function stops it and prints what it said. */
function attach(command: string, e: Entry): () => Promise<void> {
  const child = spawn('bash', ['-c', command.replaceAll('{pid}', String(e.pooler.pid))], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  return () =>
    new Promise((done) => {
      child.once('exit', () => {
        process.stderr.write(`--- ${e.label} (pid ${e.pooler.pid}): ${command}\n${output}\n`);
        done();
      });
      child.kill('SIGINT');
    });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string', multiple: true, default: [] },
      'node-arg': { type: 'string', multiple: true, default: [] },
      'no-bouncer': { type: 'boolean', default: false },
      clients: { type: 'string', default: '100' },
      mode: { type: 'string', default: 'simple' },
      rate: { type: 'string' },
      seconds: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '5' },
      connect: { type: 'boolean', default: false },
      tpcb: { type: 'boolean', default: false },
      'pool-size': { type: 'string', default: '20' },
      /** A command run alongside each pooler's first unthrottled run, `{pid}` its PID (strace -c, perf stat); SIGINT at its end. */
      attach: { type: 'string' },
      /** Write each pooler's output (e.g. node --trace-gc lines) to DIR/<label>.log at the end. */
      logs: { type: 'string' },
      /** `label:key = value`, a line for that variant's [pgbouncer]; `{port}` becomes a free port. */
      ini: { type: 'string', multiple: true, default: [] },
      /** `label:FILE`, appended to that variant's ini (a [rules] section). */
      'ini-file': { type: 'string', multiple: true, default: [] },
      /** GET /metrics every second during the runs of variants with http_listen_port. */
      scrape: { type: 'boolean', default: false },
    },
  });
  // label=path/to/bin/pgmux[@--node-flag,--node-flag]
  const variants = (values.variant as string[]).map((v) => {
    const eq = v.indexOf('=');
    const [path, flags] = (eq < 0 ? v : v.slice(eq + 1)).split('@');
    return { label: eq < 0 ? v : v.slice(0, eq), bin: resolve(path), nodeArgs: flags === undefined ? [] : flags.split(',') };
  });
  if (variants.length === 0) variants.push({ label: 'pgmux', bin: resolve('bin/pgmux'), nodeArgs: [] });
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const rate = values.rate === undefined ? null : Number(values.rate);
  const withBouncer = values['no-bouncer'] !== true;
  const workload = [...(values.tpcb ? [] : ['-S']), '-M', String(values.mode), '-c', String(clients), '-j', '2', ...(values.connect ? ['-C'] : [])];
  const machine = describeMachine();
  const loadBefore = loadAverage();
  let cluster: Cluster | undefined;
  const entries: Entry[] = [];
  const stop = async (): Promise<void> => {
    for (const e of entries) await e.pooler.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    progress('starting PostgreSQL (scale 10)');
    cluster = await startCluster({ settings: { max_connections: '300', shared_buffers: '256MB', synchronous_commit: 'off' } });
    const password = cluster.password;
    await initialize({ port: cluster.primary.port, user: USER, password, db: 'app' }, 10);
    const extraPorts = (values.ini as string[]).filter((l) => l.includes('{port}')).length;
    const ports = await freePorts(variants.length + 1 + extraPorts);
    let nextExtra = variants.length + 1;
    /** Each variant's own lines and files, and its HTTP port. */
    const own = new Map<string, { text: string; http: number | null }>();
    const ownOf = (label: string): { text: string; http: number | null } => {
      const o = own.get(label) ?? { text: '', http: null };
      own.set(label, o);
      return o;
    };
    for (const line of values.ini as string[]) {
      const colon = line.indexOf(':');
      const o = ownOf(line.slice(0, colon));
      let text = line.slice(colon + 1);
      if (text.includes('{port}')) {
        const port = ports[nextExtra++];
        text = text.replaceAll('{port}', String(port));
        if (/^\s*http_listen_port\s*=/.test(text)) o.http = port;
      }
      o.text = `${text}\n${o.text}`;
    }
    for (const spec of values['ini-file'] as string[]) {
      const colon = spec.indexOf(':');
      const o = ownOf(spec.slice(0, colon));
      o.text += `\n${readFileSync(spec.slice(colon + 1), 'utf8')}`;
    }
    const files = { 'userlist.txt': benchUserlist(USER, password) };
    const maxClientConn = Math.max(200, clients + 100);
    const ini = (port: number): string => benchIni({ port, serverPort: cluster!.primary.port, poolSize: Number(values['pool-size']), maxClientConn });
    if (withBouncer) entries.push({ label: 'pgbouncer', pooler: await startBouncer(ini(ports[0]), files), http: null, fixed: [], open: [] });
    for (let i = 0; i < variants.length; i++) {
      const o = own.get(variants[i].label) ?? { text: '', http: null };
      const p = await startPgmux(ini(ports[i + 1]) + o.text, files, { script: variants[i].bin, nodeArgs: [...(values['node-arg'] as string[]), ...variants[i].nodeArgs], stopWaitMs: 15000 });
      entries.push({ label: variants[i].label, pooler: { name: 'pgmux', port: p.port, pid: p.pid, logs: () => p.logs(), stop: async () => void (await p.stop('SIGTERM')) }, http: o.http, fixed: [], open: [] });
    }
    const target = (e: Entry): Target => ({ port: e.pooler.port, user: USER, password, db: 'app' });
    const run = async (e: Entry, args: string[]): Promise<Sample> => {
      const scraping = values.scrape === true && e.http !== null ? scraper(e.http) : null;
      try {
        return await measure(e.pooler, target(e), args, seconds);
      } finally {
        await scraping?.stop();
      }
    };
    // Fill every pool before the first measured round.
    // Scraped as in the rounds (with --scrape): the first scrapes' JIT work is not the steady state.
    for (const e of entries) {
      const scraping = values.scrape === true && e.http !== null ? scraper(e.http) : null;
      await runPgbench(target(e), [...workload.filter((a) => a !== '-C')], 3);
      await scraping?.stop();
    }
    for (let r = 0; r < rounds; r++) {
      const order = [...entries.slice(r % entries.length), ...entries.slice(0, r % entries.length)];
      if (rate !== null) for (const e of order) e.fixed.push(await run(e, [...workload, '-R', String(rate)]));
      for (const e of order) {
        const attached = r === 0 && values.attach !== undefined ? attach(values.attach, e) : null;
        e.open.push(await run(e, workload));
        if (attached !== null) await attached();
      }
      progress(
        `round ${r + 1}/${rounds}: ` +
          entries
            .map((e) => `${e.label} ${e.open[r].cpuUs.toFixed(1)} µs/txn ${e.open[r].tps.toFixed(0)} tps busy ${e.open[r].busy.toFixed(0)}%` + (rate !== null ? ` (at ${rate}/s: ${e.fixed[r].cpuUs.toFixed(1)} µs)` : ''))
            .join('; '),
      );
    }
    // Ratios to PgBouncer, or without it to the first variant.
    const ref = entries[0];
    const out: string[] = [];
    out.push(`Run of ${machine.date}: ${machine.nproc} CPUs, node ${machine.node}, load average before ${loadBefore}, after ${loadAverage()}.`);
    out.push(`pgbench ${workload.join(' ')}, ${rounds} rounds of ${seconds} s, order rotating; pool_size ${values['pool-size']}, transaction mode, md5.`);
    out.push('');
    const head = ['pooler', 'CPU µs/txn (median, min–max)', 'user µs', 'tps (median)', 'machine busy % (median)'];
    head.push(`tps / ${ref.label} (median, min–max)`, `CPU / ${ref.label} (median, min–max)`);
    if (rate !== null) head.push(`CPU µs/txn at -R ${rate}`);
    out.push(`| ${head.join(' | ')} |`);
    out.push(`|${head.map(() => '---').join('|')}|`);
    for (const e of entries) {
      const cpu = spread(e.open.map((s) => s.cpuUs));
      const row = [e.label, `${cpu.median.toFixed(1)} (${cpu.min.toFixed(1)}–${cpu.max.toFixed(1)})`, spread(e.open.map((s) => s.userUs)).median.toFixed(1), spread(e.open.map((s) => s.tps)).median.toFixed(0), spread(e.open.map((s) => s.busy)).median.toFixed(0)];
      const t = spread(e.open.map((s, i) => s.tps / ref.open[i].tps));
      const c = spread(e.open.map((s, i) => s.cpuUs / ref.open[i].cpuUs));
      row.push(`${t.median.toFixed(3)} (${t.min.toFixed(3)}–${t.max.toFixed(3)})`, `${c.median.toFixed(3)} (${c.min.toFixed(3)}–${c.max.toFixed(3)})`);
      if (rate !== null) {
        const f = spread(e.fixed.map((s) => s.cpuUs));
        row.push(`${f.median.toFixed(1)} (${f.min.toFixed(1)}–${f.max.toFixed(1)})`);
      }
      out.push(`| ${row.join(' | ')} |`);
    }
    process.stdout.write(out.join('\n') + '\n');
    if (values.logs !== undefined) for (const e of entries) writeFileSync(join(values.logs, `${e.label}.log`), e.pooler.logs());
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
