// Owns the restart-in-place drill (`node dist/bench/restart-in-place.js`): a single PostgreSQL
// (no replica, as in every PgBouncer config) restarted with a fast shutdown while pgbench runs
// through the pooler, PgBouncer 1.18 and pgmux in alternating rounds on the same ini, and what
// pgbench reports for each: transactions, failed ones, clients aborted and why.
//
// Not a test: it asserts nothing. Each round starts its own cluster and stops everything by PID.

import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { pgbench } from '../spec/support/clients';
import { startCluster } from '../spec/support/cluster';
import { freePort } from '../spec/support/ports';
import { benchIni, benchUserlist, startBouncer, startMux, type Pooler, type PoolerName } from './poolers';

const HELP = `node dist/bench/restart-in-place.js [options]
  --rounds N     rounds per pooler, alternating (default 2)
  --seconds N    pgbench -T (default 20)
  --restart-at N seconds into the run when the server restarts (default 8)
  --clients N    pgbench -c (default 10)
  --rate N       pgbench -R, 0 for none (default 0)
  --pool N       default_pool_size (default 10)
  --verbose      pgbench's error and abort lines on stderr
`;

interface Outcome {
  pooler: PoolerName;
  round: number;
  exit: number | null;
  processed: number;
  failed: number;
  aborted: number;
  /** Distinct abort reasons, with how many clients had each. */
  reasons: Map<string, number>;
  restartMs: number;
  /** pgbench's lines that are not its periodic summary: errors, aborts. */
  errors: string[];
}

function num(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m === null ? 0 : Number(m[1]);
}

async function round(pooler: PoolerName, index: number, o: { seconds: number; restartAt: number; clients: number; rate: number; pool: number }): Promise<Outcome> {
  const cluster = await startCluster();
  let p: Pooler | null = null;
  try {
    const port = await freePort();
    const ini = benchIni({ port, serverPort: cluster.primary.port, poolSize: o.pool, maxClientConn: 200 });
    const files = { 'userlist.txt': benchUserlist('app', cluster.password) };
    const env = { PGPASSWORD: cluster.password };
    const init = await pgbench(['-i', '-q', '-s', '1', '-h', '127.0.0.1', '-p', String(cluster.primary.port), '-U', 'app', 'app'], env);
    if (init.code !== 0) throw new Error(`pgbench -i: ${init.stderr}`);
    p = pooler === 'pgmux' ? await startMux(ini, files) : await startBouncer(ini, files);
    const args = ['-n', '-c', String(o.clients), '-j', '2', '-T', String(o.seconds), '-h', '127.0.0.1', '-p', String(port), '-U', 'app'];
    if (o.rate > 0) args.push('-R', String(o.rate));
    const running = pgbench([...args, 'app'], env);
    // The drill's schedule: load first, then the event.
    await delay(o.restartAt * 1000);
    const t0 = Date.now();
    await cluster.restartNode(cluster.primary, 'fast');
    const restartMs = Date.now() - t0;
    const r = await running;
    const out = r.stdout + r.stderr;
    const reasons = new Map<string, number>();
    // pgbench 15: "client 5 script 0 aborted in command 8 query 0: FATAL:  terminating connection ..."
    for (const m of out.matchAll(/client \d+ script \d+ aborted in command (\d+) query \d+: (.*)/g)) {
      const key = `command ${m[1]}: ${m[2].replace(/\s+/g, ' ').slice(0, 120)}`;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
    return {
      pooler,
      round: index,
      exit: r.code,
      processed: num(out, /number of transactions actually processed: (\d+)/),
      failed: num(out, /number of failed transactions: (\d+)/),
      aborted: [...reasons.values()].reduce((a, b) => a + b, 0),
      reasons,
      restartMs,
      errors: out.split('\n').filter((l) => /error|abort|fail|FATAL|lost|closed/i.test(l) && !/number of failed/.test(l)),
    };
  } finally {
    await p?.stop();
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '20' },
      'restart-at': { type: 'string', default: '8' },
      clients: { type: 'string', default: '10' },
      rate: { type: 'string', default: '0' },
      pool: { type: 'string', default: '10' },
      help: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const o = { seconds: Number(values.seconds), restartAt: Number(values['restart-at']), clients: Number(values.clients), rate: Number(values.rate), pool: Number(values.pool) };
  const rounds = Number(values.rounds);
  process.stdout.write(`| pooler | round | pgbench exit | processed | failed | clients aborted | restart took | why aborted |\n|---|---|---|---|---|---|---|---|\n`);
  for (let i = 1; i <= rounds; i++) {
    for (const pooler of ['pgbouncer', 'pgmux'] as const) {
      const r = await round(pooler, i, o);
      const why = [...r.reasons].map(([k, n]) => `${n}x ${k}`).join('; ') || '-';
      process.stdout.write(`| ${r.pooler} | ${r.round} | ${r.exit} | ${r.processed} | ${r.failed} | ${r.aborted} | ${r.restartMs} ms | ${why} |\n`);
      if (values.verbose) for (const l of r.errors) process.stderr.write(`  ${r.pooler} ${r.round}: ${l}\n`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
