// Owns the per-kind view of an idle client's heap for one pgmux build (`node dist/bench/idle-heap.js`):
// a fresh pgmux, one client, a V8 heap snapshot, N more idle md5 clients, another snapshot; what
// the live heap gained per client, by object kind (self sizes; a client's own objects are what
// it retains). bench/run.ts --only idle prints the top 15 of the same; this lists more, for one
// build at a time, so a change to what a client holds can be checked in a minute.
//
//   node dist/bench/idle-heap.js [--bin bin/pgmux] [--idle 10000] [--rows 30]
//
// Not a test: numbers depend on the machine.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { startPgmux } from '../spec/support/pgmux';
import { freePorts } from '../spec/support/ports';
import { heapGrowth, heapMarkdown } from './heap';
import { closeAll, openIdleClients } from './idle';
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
    const snapshot = async (n: number): Promise<string> => {
      process.kill(p.pid, 'SIGUSR2');
      // Written on pgmux's main thread: once it answers a login again, the file is complete.
      const deadline = Date.now() + 120000;
      let files: string[] = [];
      while ((files = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).sort()).length < n) {
        if (Date.now() > deadline) throw new Error(`pgmux wrote no heap snapshot into ${dir}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      closeAll(await openIdleClients(target, 1));
      return join(dir, files[n - 1]);
    };
    const first = await openIdleClients(target, 1);
    try {
      const before = await snapshot(1);
      const clients = await openIdleClients(target, count);
      try {
        const after = await snapshot(2);
        process.stdout.write(`${heapMarkdown(heapGrowth(before, after, count, Number(values.rows)), count)}\n`);
      } finally {
        closeAll(clients);
      }
    } finally {
      closeAll(first);
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
