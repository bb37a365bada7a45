// Owns the per-kind view of an idle client's heap for one pgmux build (`node dist/bench/idle-heap.js`):
// a fresh pgmux, one client, a V8 heap snapshot, N more idle md5 clients, another snapshot; what
// the live heap gained per client, by object kind (self sizes; a client's own objects are what
// it retains). bench/run.ts --only idle prints the top 15 of the same; this lists more, for one
// build at a time, so a change to what a client holds can be checked in a minute.
//
//   node dist/bench/idle-heap.js [--bin bin/pgmux] [--idle 10000] [--rows 30]
//
// Not a test: numbers depend on the machine.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { startPgmux } from '../spec/support/pgmux';
import { freePorts } from '../spec/support/ports';
import { idleHeapGrowth } from './heap';
import { benchIni, benchUserlist } from './poolers';

const USER = 'app';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bin: { type: 'string', default: 'bin/pgmux' },
      idle: { type: 'string', default: '10000' },
      rows: { type: 'string', default: '30' },
    },
  });
  const count = Number(values.idle);
  const dir = mkdtempSync(join(tmpdir(), 'pgmux-idle-heap-'));
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({ settings: { max_connections: '300' } });
    const [port] = await freePorts(1);
    const ini = benchIni({ port, serverPort: cluster.primary.port, poolSize: 20, maxClientConn: count + 100 });
    const p = await startPgmux(ini, { 'userlist.txt': benchUserlist(USER, cluster.password) }, { script: resolve(values.bin), nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`] });
    const target = { port, user: USER, password: cluster.password, db: 'app' };
    try {
      process.stdout.write(`${await idleHeapGrowth(p.pid, dir, target, count, Number(values.rows))}\n`);
    } finally {
      await p.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await cluster?.stop().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
