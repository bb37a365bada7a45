// Owns the before/after view of idle memory (`node dist/bench/idle-ab.js`): several pgmux builds
// (each a bin/pgmux, optionally with node flags: label=path@--flag) in alternating rounds, each
// round a fresh pooler, one client logged in, VmRSS, then N more idle md5 clients, 2 s, VmRSS
// again; (after - before) / N per build and round. No heap snapshots (bench/run.ts --only idle
// has those), so a round takes seconds, and several rounds show the spread of one build.
//
//   node dist/bench/idle-ab.js --variant base=/tmp/base/bin/pgmux --variant new=bin/pgmux --idle 10000 --rounds 3
//
// Not a test: numbers depend on the machine.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../spec/support/cluster';
import { startPgmux } from '../spec/support/pgmux';
import { freePorts } from '../spec/support/ports';
import { closeAll, openIdleClients } from './idle';
import { benchIni, benchUserlist } from './poolers';
import { rssBytes } from './procstat';
import { spread } from './stats';

const USER = 'app';
const progress = (text: string): void => void process.stderr.write(`[bench idle-ab ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 2000));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string', multiple: true, default: [] },
      idle: { type: 'string', default: '10000' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const variants = (values.variant as string[]).map((v) => {
    const eq = v.indexOf('=');
    const [path, flags] = (eq < 0 ? v : v.slice(eq + 1)).split('@');
    return { label: eq < 0 ? v : v.slice(0, eq), bin: resolve(path), nodeArgs: flags === undefined ? [] : flags.split(','), kib: [] as number[] };
  });
  if (variants.length === 0) variants.push({ label: 'pgmux', bin: resolve('bin/pgmux'), nodeArgs: [], kib: [] });
  const count = Number(values.idle);
  const rounds = Number(values.rounds);
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({ settings: { max_connections: '300' } });
    const password = cluster.password;
    for (let r = 0; r < rounds; r++) {
      const order = [...variants.slice(r % variants.length), ...variants.slice(0, r % variants.length)];
      for (const v of order) {
        const [port] = await freePorts(1);
        const ini = benchIni({ port, serverPort: cluster.primary.port, poolSize: 20, maxClientConn: count + 100 });
        const p = await startPgmux(ini, { 'userlist.txt': benchUserlist(USER, password) }, { script: v.bin, nodeArgs: v.nodeArgs });
        const target = { port, user: USER, password, db: 'app' };
        try {
          const first = await openIdleClients(target, 1);
          await settle();
          const before = rssBytes(p.pid);
          const clients = await openIdleClients(target, count);
          await settle();
          const after = rssBytes(p.pid);
          v.kib.push((after - before) / count / 1024);
          progress(`round ${r + 1}: ${v.label} ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB, ${v.kib[r].toFixed(2)} KiB/client`);
          closeAll(clients);
          closeAll(first);
        } finally {
          await p.stop();
        }
      }
    }
    const out = [`| build | RSS KiB per idle client at ${count} (median, min–max, ${rounds} rounds) |`, '|---|---:|'];
    for (const v of variants) {
      const s = spread(v.kib);
      out.push(`| ${v.label} | ${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)}) |`);
    }
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await cluster?.stop().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
