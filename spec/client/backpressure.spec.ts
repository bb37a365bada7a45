// Black-box spec of memory-bounded forwarding (issue 3, "large results with memory bounded per
// connection"): a client that stops reading while the server streams ~200 MB must make pgmux
// stop reading from the server, so pgmux's RSS stays bounded; the result then arrives whole.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { pollUntil, startMux } from './support/setup';
import { RawClient, errorFields, msg } from '../support/wire';

const ROWS = 200000;
const WIDTH = 1000;
const MB = 1024 * 1024;

let cluster: Cluster;
let mux: PgmuxProcess;

beforeAll(async () => {
  cluster = await startCluster();
  mux = await startMux(cluster);
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
});

/** Resident memory of a process in bytes (VmRSS). */
function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Bytes a process has read with read(2)/recv(2) so far, sockets included (rchar). */
function bytesRead(pid: number): number {
  const m = /^rchar:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  if (!m) throw new Error(`no rchar for pid ${pid}`);
  return Number(m[1]);
}

/**
 * Counts and checks the frames of one simple-query result as they stream in, keeping only the
 * part of a frame that straddles two chunks. DataRows must be (g, 'x' * WIDTH) with g = 1, 2, ...
 */
class ResultChecker {
  rows = 0;
  sum = 0;
  bad = 0;
  bytes = 0;
  tag = '';
  ready = '';
  error: Record<string, string> | null = null;
  private carry: Buffer | null = null;

  feed(chunk: Buffer): void {
    this.bytes += chunk.length;
    let buf = chunk;
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    let pos = 0;
    while (buf.length - pos >= 5) {
      const end = pos + 1 + buf.readInt32BE(pos + 1);
      if (end > buf.length) break;
      this.frame(String.fromCharCode(buf[pos]!), buf.subarray(pos + 5, end));
      pos = end;
    }
    if (pos < buf.length) this.carry = Buffer.from(buf.subarray(pos));
  }

  private frame(type: string, body: Buffer): void {
    switch (type) {
      case 'D': {
        const gLen = body.readInt32BE(2);
        const g = Number(body.toString('latin1', 6, 6 + gLen));
        const tLen = body.readInt32BE(6 + gLen);
        this.rows++;
        this.sum += g;
        if (g !== this.rows || tLen !== WIDTH || body[6 + gLen + 4] !== 0x78 || body[body.length - 1] !== 0x78) this.bad++;
        return;
      }
      case 'C':
        this.tag = body.toString('latin1', 0, body.length - 1);
        return;
      case 'Z':
        this.ready = body.toString('latin1');
        return;
      case 'E':
        this.error = errorFields(body);
        return;
    }
  }
}

describe('a slow reader of a ~200 MB result', () => {
  it("makes pgmux stop reading from the server (RSS growth < 150 MB), then gets every row (catches: no backpressure, pgmux buffering whole results)", async () => {
    const conn = await RawClient.open(mux.port);
    let sampler: NodeJS.Timeout | undefined;
    try {
      await conn.login(msg.startup({ user: 'app', database: 'app' }), 'app', cluster.password);
      // From here on the result is read by the checker, not RawClient (which keeps everything).
      const socket = conn.socket;
      socket.removeAllListeners('data');
      const checker = new ResultChecker();
      socket.pause();
      socket.on('data', (chunk: Buffer) => checker.feed(chunk));

      const baseRss = rss(mux.pid);
      let peakRss = baseRss;
      sampler = setInterval(() => {
        peakRss = Math.max(peakRss, rss(mux.pid));
      }, 10);
      const readBefore = bytesRead(mux.pid);
      socket.write(msg.query(`SELECT g, repeat('x', ${WIDTH}) FROM generate_series(1, ${ROWS}) g /* backpressure */`));

      // Phase 1, the client reads nothing. With backpressure the server soon blocks writing to
      // pgmux (wait_event ClientWrite) and pgmux stops reading; without it, pgmux reads the whole
      // result and the query finishes. Either is an event to wait for; the assertions decide.
      const activity = async (): Promise<{ state: string; wait_event: string | null } | undefined> =>
        (
          await cluster.query(
            cluster.primary,
            "SELECT state, wait_event FROM pg_stat_activity WHERE query LIKE '%/* backpressure */%' AND pid <> pg_backend_pid()",
          )
        ).rows[0];
      let last = -1;
      let steady = 0;
      await pollUntil(
        async () => {
          const server = await activity();
          const now = bytesRead(mux.pid);
          if (server === undefined) return false; // not started yet (a finished one stays listed, idle)
          if (server.state !== 'active') return true;
          steady = server.wait_event === 'ClientWrite' && now === last ? steady + 1 : 0;
          last = now;
          return steady >= 3;
        },
        'the server to block on a paused client (or the query to finish)',
        30000,
      );
      const pausedRead = bytesRead(mux.pid) - readBefore;
      const pausedRss = rss(mux.pid) - baseRss;
      expect(await activity()).toEqual({ state: 'active', wait_event: 'ClientWrite' });
      expect(pausedRead).toBeLessThan(32 * MB);
      expect(pausedRss).toBeLessThan(150 * MB);

      // Phase 2, the client reads slowly: a short pause after every 8 MB it takes in.
      await new Promise<void>((resolve, reject) => {
        let nextPauseAt = 8 * MB;
        socket.on('data', () => {
          if (checker.ready !== '') return resolve();
          if (checker.bytes >= nextPauseAt) {
            nextPauseAt += 8 * MB;
            socket.pause();
            setTimeout(() => socket.resume(), 10);
          }
        });
        socket.once('close', () => reject(new Error(`connection closed after ${checker.rows} rows`)));
        socket.resume();
      });
      clearInterval(sampler);

      expect(checker.error).toBeNull();
      expect({ rows: checker.rows, bad: checker.bad, tag: checker.tag, ready: checker.ready }).toEqual({
        rows: ROWS,
        bad: 0,
        tag: `SELECT ${ROWS}`,
        ready: 'I',
      });
      expect(checker.sum).toBe((ROWS * (ROWS + 1)) / 2);
      expect(checker.bytes).toBeGreaterThan(200 * 1e6);
      expect(peakRss - baseRss).toBeLessThan(150 * MB);
    } finally {
      if (sampler) clearInterval(sampler);
      conn.destroy();
    }
  });
});

/**
 * Checks rows (g, md5(g) repeated `times` times, ...) as they stream in: each row's text must match its own
 * number, so bytes of one read overwritten by a later one cannot pass unnoticed.
 */
class DigestChecker {
  rows = 0;
  bad = 0;
  ready = '';
  private carry: Buffer | null = null;

  constructor(private readonly times: number) {}

  feed(chunk: Buffer): void {
    let buf = this.carry === null ? chunk : Buffer.concat([this.carry, chunk]);
    this.carry = null;
    let pos = 0;
    while (buf.length - pos >= 5) {
      const end = pos + 1 + buf.readInt32BE(pos + 1);
      if (end > buf.length) break;
      const type = buf[pos];
      const body = buf.subarray(pos + 5, end);
      if (type === 0x44) {
        const gLen = body.readInt32BE(2);
        const g = body.toString('latin1', 6, 6 + gLen);
        const tLen = body.readInt32BE(6 + gLen);
        const text = body.toString('latin1', 6 + gLen + 4, 6 + gLen + 4 + tLen);
        this.rows++;
        if (Number(g) !== this.rows || text !== createHash('md5').update(g).digest('hex').repeat(this.times)) this.bad++;
      } else if (type === 0x5a) this.ready = body.toString('latin1');
      pos = end;
    }
    if (pos < buf.length) buf = Buffer.from(buf.subarray(pos));
    else return;
    this.carry = buf;
  }
}

describe('a client that stops reading while the server trickles small chunks', () => {
  it("gets every byte intact (catches: a server read buffer reused while a write to the client still points into it)", async () => {
    // PostgreSQL flushes 8 KiB at a time and sleeps between bursts, so pgmux reads small chunks;
    // once the client's socket is full, a write of one stays queued below the high-water mark
    // while pgmux goes on reading from the server.
    const rows = 20000;
    const conn = await RawClient.open(mux.port);
    try {
      await conn.login(msg.startup({ user: 'app', database: 'app' }), 'app', cluster.password);
      const socket = conn.socket;
      socket.removeAllListeners('data');
      socket.pause();
      const checker = new DigestChecker(32);
      const done = new Promise<void>((resolve, reject) => {
        socket.on('data', (chunk: Buffer) => {
          checker.feed(chunk);
          if (checker.ready !== '' || checker.bad > 0) resolve();
        });
        socket.once('close', () => reject(new Error(`connection closed after ${checker.rows} rows`)));
      });
      socket.write(
        msg.query(
          `SELECT g, repeat(md5(g::text), 32), CASE WHEN g % 8 = 0 THEN pg_sleep(0.0002) END FROM generate_series(1, ${rows}) g /* trickle */`,
        ),
      );
      await pollUntil(
        async () => {
          const r = await cluster.query(
            cluster.primary,
            "SELECT state, wait_event FROM pg_stat_activity WHERE query LIKE '%/* trickle */%' AND pid <> pg_backend_pid()",
          );
          const server = r.rows[0] as { state: string; wait_event: string | null } | undefined;
          return server !== undefined && (server.state !== 'active' || server.wait_event === 'ClientWrite');
        },
        'the server to block on the paused client',
        30000,
      );
      socket.resume();
      await done;
      expect({ rows: checker.rows, bad: checker.bad, ready: checker.ready }).toEqual({ rows, bad: 0, ready: 'I' });
    } finally {
      conn.destroy();
    }
  });
});
