// Owns the floor for memory per idle client of any pooler written for node: a bare
// `net.createServer` (same options as pgmux's listener, one shared 'data' listener, the socket
// kept in a Set and nothing else) in a process of its own, measured like the poolers in
// bench/run.ts: RSS with one connection, then with N more idle TCP connections. No protocol, no
// login: whatever a node pooler keeps per client comes on top of this.
//
// Part of `npm run bench -- --only idle`; also runs alone:
//   node dist/bench/idle-floor.js [--idle 1000,10000]

import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { heapGrowth } from './heap';
import { openFilesLimit } from './machine';
import { rssBytes } from './procstat';

export interface FloorResult {
  clients: number;
  baseRss: number;
  idleRss: number;
  /** Live JS heap per connection, by the same heap snapshots as pgmux's (./heap). */
  heapPerClient: number;
}

/** The same settle time as the poolers' idle measurement (bench/run.ts). */
const SETTLE_MS = 2000;

/** The child: a server that keeps its sockets and says how many, with a heap snapshot when asked. */
function serve(): void {
  const sockets = new Set<Socket>();
  const onData = (): void => undefined;
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    socket.on('data', onData);
    sockets.add(socket);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
  });
  // '' asks how many sockets it holds; a file name asks for a heap snapshot in it too.
  process.on('message', (file: string) => {
    if (file !== '') writeHeapSnapshot(file);
    process.send?.({ sockets: sockets.size });
  });
  // Ends with its parent (IPC closed), also if the parent was killed.
  process.on('disconnect', () => process.exit(0));
}

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`idle floor server exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as T);
    });
  });
}

/** Opens `count` TCP connections to the port, at most `parallel` connecting at a time. */
async function openSockets(port: number, count: number, parallel = 100): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      sockets.push(
        await new Promise<Socket>((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port });
          s.once('connect', () => {
            s.off('error', reject);
            // Idle from here on: a later error (the server stopping) is expected.
            s.on('error', () => undefined);
            resolve(s);
          });
          s.once('error', reject);
        }),
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  } catch (err) {
    for (const s of sockets) s.destroy();
    throw err;
  }
  return sockets;
}

/**
 * RSS of a bare node server with 1 connection, then with `count` more; then, in a second server
 * (a snapshot costs memory, which the RSS figures must not see), heap snapshots the same way.
 */
export async function measureFloor(count: number): Promise<FloorResult> {
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, SETTLE_MS));
  const rss = await withServer(async (open, pid) => {
    await open(1);
    await settle();
    const base = rssBytes(pid);
    await open(count);
    await settle();
    return { baseRss: base, idleRss: rssBytes(pid) };
  });
  const dir = mkdtempSync(join(tmpdir(), 'pgmux-bench-floor-'));
  try {
    const heapPerClient = await withServer(async (open, _pid, snapshot) => {
      await open(1);
      const before = await snapshot(join(dir, 'before.heapsnapshot'), 1);
      await open(count);
      const after = await snapshot(join(dir, 'after.heapsnapshot'), count + 1);
      return heapGrowth(before, after, count).perClient;
    });
    return { clients: count, ...rss, heapPerClient };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Open = (n: number) => Promise<void>;
type Snapshot = (file: string, sockets: number) => Promise<string>;

/** Runs `body` against a fresh bare server process, then closes every connection and stops it. */
async function withServer<T>(body: (open: Open, pid: number, snapshot: Snapshot) => Promise<T>): Promise<T> {
  const child = fork(__filename, ['--serve'], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const sockets: Socket[] = [];
  try {
    const { port } = await nextMessage<{ port: number }>(child);
    const open: Open = async (n) => {
      sockets.push(...(await openSockets(port, n)));
    };
    const ask = async (file: string): Promise<number> => {
      const answer = nextMessage<{ sockets: number }>(child);
      child.send(file);
      return (await answer).sockets;
    };
    const snapshot: Snapshot = async (file, want) => {
      // A client's connect can complete before the server has accepted: wait until it has them all.
      const deadline = Date.now() + 30000;
      for (let held = await ask(''); held !== want; held = await ask('')) {
        if (Date.now() > deadline) throw new Error(`idle floor server holds ${held} sockets, expected ${want}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      if ((await ask(file)) !== want) throw new Error(`idle floor server lost sockets before its snapshot`);
      return file;
    };
    return await body(open, child.pid as number, snapshot);
  } finally {
    for (const s of sockets) s.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
}

export function floorMarkdown(results: readonly FloorResult[]): string {
  const f = (x: number, d: number): string => x.toFixed(d);
  const lines = [
    'A bare node `net.createServer` (no pooler: one shared `data` listener, sockets kept in a Set), measured the same way; the floor for any pooler on node.',
    '',
    '| idle connections | RSS MiB (before → with connections) | KiB/connection | live JS heap bytes/connection (heap snapshots, as pgmux\'s below) |',
    '|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.clients} | ${f(r.baseRss / 2 ** 20, 1)} → ${f(r.idleRss / 2 ** 20, 1)} | **${f((r.idleRss - r.baseRss) / r.clients / 1024, 2)}** | ${f(r.heapPerClient, 0)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { idle: { type: 'string', default: '1000,10000' } } });
  const counts = values.idle.split(',').filter((s) => s !== '').map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`--idle: a comma list of positive counts, not ${values.idle}`);
  // Both ends of every connection are descriptors, here and in the server (which inherits the limit).
  const need = Math.max(...counts) + 100;
  if (openFilesLimit() < need) throw new Error(`open files limit is ${openFilesLimit()}, need ${need}: run \`ulimit -n ${need}\` first`);
  const results: FloorResult[] = [];
  for (const n of counts) {
    results.push(await measureFloor(n));
    process.stderr.write(`bare node server with ${n} idle connections measured\n`);
  }
  process.stdout.write(`${floorMarkdown(results)}\n`);
}

if (process.argv[2] === '--serve') serve();
else if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`idle-floor failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
