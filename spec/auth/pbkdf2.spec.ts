// Spec of where pgmux pays for PBKDF2 (SCRAM's SaltedPassword), on a real PostgreSQL.
//
// In process first: the asynchronous derivation queue (lib/auth/pbkdf2) computes the same keys
// as pbkdf2Sync, one job at a time here and in arrival order, and a cleartext check against a
// SCRAM secret goes through it on every attempt, never through pbkdf2Sync.
//
// Server side: a plain password on the [databases] line, logging in to a scram-sha-256 role,
// derives its keys once per (password, salt, iterations) however many servers a pool opens, and
// again once a RELOAD brings a new password. Counted with ScramClient.derivations, so that pgmux
// runs in this process for these tests (same lib modules as the spec).
//
// Client side: auth_type plain, a userlist SCRAM secret of ITERATIONS iterations (half a second or
// so per check on a 2-CPU machine). The check runs off the event loop, so an already-logged-in
// client's stream of SELECT 1 keeps flowing while wrong passwords are checked. A synchronous
// check stalls every client for a whole check. The bound is relative: the longest gap in the
// stream must stay under half of what one check takes in that same pgmux, measured alone just
// before, so a loaded machine slows both sides alike. pgmux runs as a child process here.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { verifyCleartextScram } from '../../lib/auth/method';
import { Pbkdf2Queue, pbkdf2Queue } from '../../lib/auth/pbkdf2';
import { ScramClient } from '../../lib/auth/scram-client';
import { deriveScramKeys, scramKeysOf } from '../../lib/auth/scram-common';
import { formatScramSecret, scramSecretFromPassword } from '../../lib/auth/secret';
import { loadConfig } from '../../lib/config';
import { log } from '../../lib/log';
import { Pgmux } from '../../lib/pgmux';
import type { Pool } from '../../lib/pool/pool';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { authRequest, msg, RawClient, rowsOf, ServerError } from '../support/wire';
import { userlistLine } from '../client/support/setup';
import { pollUntil, show } from '../auth-hba/support';

/** The client-side secret's iteration count: long enough that one check dwarfs a round trip. */
const ITERATIONS = 2_000_000;
const WRONG_ATTEMPTS = 4;
const FAILED = 'password authentication failed for user "kdf_client"';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * The module object lib/ calls through (`import * as` would give the spec a copy, which a spy
 * on would never see lib's calls).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const crypto = require('node:crypto') as typeof import('node:crypto');

describe('the asynchronous derivation (lib/auth/pbkdf2) and check (verifyCleartextScram)', () => {
  afterEach(() => jest.restoreAllMocks());

  it('derives what pbkdf2Sync derives, SASLprep included, one job at a time in arrival order, skipping a job nobody waits for any more (catches: wrong keys, an unbounded fan-out onto the thread pool, or work for clients that left)', async () => {
    const queue = new Pbkdf2Queue(1);
    const salt = randomBytes(16);
    const order: string[] = [];
    const job = (name: string, password: string, wanted?: () => boolean): Promise<Buffer | null> =>
      queue.saltedPassword(password, salt, 4096, wanted).then((salted) => {
        order.push(name);
        return salted;
      });
    const jobs = [job('first', 'pä\u00a0ss'), job('gone', 'x', () => false), job('third', 'third-pw')];
    expect({ running: queue.running, queued: queue.queued }).toEqual({ running: 1, queued: 2 });
    const [first, gone, third] = await Promise.all(jobs);
    expect(order).toEqual(['first', 'gone', 'third']);
    expect(scramKeysOf(first!)).toEqual(deriveScramKeys('pä ss', salt, 4096));
    expect(gone).toBeNull();
    expect(scramKeysOf(third!)).toEqual(deriveScramKeys('third-pw', salt, 4096));
    expect({ started: queue.started, running: queue.running, queued: queue.queued }).toEqual({ started: 2, running: 0, queued: 0 });
  });

  it('checks a cleartext password against a SCRAM secret without pbkdf2Sync, deriving afresh on every attempt, right or wrong (catches: a blocking check, or cached attempts)', async () => {
    const secret = scramSecretFromPassword('right', randomBytes(16), 4096);
    const sync = jest.spyOn(crypto, 'pbkdf2Sync');
    const before = pbkdf2Queue.started;
    const outcomes = [];
    for (const pw of ['wrong', 'wrong', 'right', 'right']) outcomes.push(await verifyCleartextScram(secret, pw));
    expect(outcomes).toEqual([false, false, true, true]);
    expect(pbkdf2Queue.started - before).toBe(4);
    expect(sync).not.toHaveBeenCalled();
    expect(await verifyCleartextScram(secret, 'right', () => false)).toBeNull();
  });
});

describe('server logins with a plain password derive the SCRAM keys once (ScramClient.derivations)', () => {
  /** One salt for both passwords, so only the password tells the two verifiers apart. */
  const salt = randomBytes(16);
  const passwords = [`kdf-${randomBytes(6).toString('hex')}`, `kdf-${randomBytes(6).toString('hex')}`] as const;
  let dir: string;
  let port: number;
  let mux: Pgmux | undefined;
  const quiet = log.quiet;

  const setVerifier = (password: string): Promise<unknown> =>
    cluster.query(cluster.primary, `ALTER ROLE kdf_server PASSWORD ${quote(formatScramSecret(scramSecretFromPassword(password, salt, 4096)))}`);

  const writeIni = (password: string, minPoolSize: number): void =>
    writeFileSync(
      join(dir, 'pgmux.ini'),
      `[databases]
app = host=127.0.0.1 port=${cluster.primary.port} dbname=app user=kdf_server password=${password} min_pool_size=${minPoolSize} pool_size=20

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
`,
    );

  /** The pool, once `servers` of its servers are logged in and none is still logging in. */
  const loggedIn = (servers: number): Promise<void> =>
    pollUntil(() => {
      const pool = [...(mux as Pgmux).registry.pools.values()][0] as Pool | undefined;
      return pool !== undefined && pool.login.size === 0 && pool.serverCount >= servers;
    }, `${servers} servers logged in`);

  beforeAll(async () => {
    await cluster.query(cluster.primary, 'CREATE ROLE kdf_server LOGIN');
    await setVerifier(passwords[0]);
    dir = mkdtempSync(join(tmpdir(), 'pgmux-kdf-'));
    port = await freePort();
    writeIni(passwords[0], 5);
    log.quiet = true;
  });

  afterAll(async () => {
    if (mux !== undefined) {
      await mux.shutdown('immediate');
      await mux.whenExited();
    }
    log.quiet = quiet;
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens 5 servers with one derivation, and derives once more for the servers a RELOAD with a new password opens (catches: PBKDF2 per server login, or a cache that ignores the password)', async () => {
    const before = ScramClient.derivations;
    mux = new Pgmux(loadConfig(join(dir, 'pgmux.ini')));
    await mux.start();
    // The first client creates the pool; min_pool_size then fills it to 5.
    const client = new Client({ host: '127.0.0.1', port, user: 'kdf_server', password: 'unused', database: 'app' });
    await client.connect();
    try {
      expect((await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u).toBe('kdf_server');
      await loggedIn(5);
      expect(ScramClient.derivations - before).toBe(1);

      // The role's verifier takes the new password (same salt), then RELOAD brings it and a
      // min_pool_size of 10: the five new servers log in with it, deriving once for all five.
      await setVerifier(passwords[1]);
      writeIni(passwords[1], 10);
      expect(mux.reload()).toBeNull();
      await loggedIn(10);
      expect(ScramClient.derivations - before).toBe(2);
      expect((await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1', ['kdf_server'])).rows[0]!.n).toBe('10');
    } finally {
      await client.end();
    }
  });
});

describe('a cleartext password checked against a SCRAM secret (auth_type plain)', () => {
  const password = `right-${randomBytes(6).toString('hex')}`;
  let mux: PgmuxProcess;

  beforeAll(async () => {
    const secret = formatScramSecret(scramSecretFromPassword(password, randomBytes(16), ITERATIONS));
    const port = await freePort();
    mux = await startPgmux(
      `[databases]
app = host=127.0.0.1 port=${cluster.primary.port} dbname=app user=app password=${cluster.password}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = plain
auth_file = userlist.txt
admin_users = admin
pool_mode = transaction
`,
      {
        'userlist.txt': userlistLine('app', cluster.password) + userlistLine('kdf_client', secret) + userlistLine('admin', 'admin-pw'),
      },
      { args: ['-v'] },
    );
  });

  afterAll(async () => {
    await mux?.stop();
  });

  /** Logs in as kdf_client with `pw`: "in as <server user>", or the refusal's "SQLSTATE message". */
  async function attempt(pw: string): Promise<{ outcome: string }> {
    let c: RawClient;
    try {
      c = await RawClient.login(mux.port, 'kdf_client', pw);
    } catch (err) {
      if (!(err instanceof ServerError)) throw err;
      return { outcome: `${err.code} ${err.message}` };
    }
    try {
      return { outcome: `in as ${rowsOf(await c.roundTrip(msg.query('SELECT current_user')))[0]![0]}` };
    } finally {
      c.destroy();
    }
  }

  it(`keeps another client's SELECT 1 stream flowing while ${WRONG_ATTEMPTS} wrong passwords are checked (longest gap under half a check); the wrong ones get 28P01, the right one gets in (catches: pbkdf2Sync on the event loop, or a changed outcome)`, async () => {
    // One check alone, with nothing else queued: how long PBKDF2 takes in this pgmux right now.
    const soloStart = performance.now();
    expect((await attempt(password)).outcome).toBe('in as app');
    const solo = performance.now() - soloStart;

    const streamer = new Client({ host: '127.0.0.1', port: mux.port, user: 'app', password: cluster.password, database: 'app' });
    await streamer.connect();
    const done: number[] = [];
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        await streamer.query('SELECT 1');
        done.push(performance.now());
      }
    })();
    try {
      await pollUntil(() => done.length >= 5, 'the SELECT 1 stream to start');
      const start = performance.now();
      const results = await Promise.all([
        ...Array.from({ length: WRONG_ATTEMPTS }, (_, i) => attempt(`wrong-${i}`)),
        attempt(password),
      ]);
      const end = performance.now();
      streaming = false;
      await stream;

      expect(results.map((r) => r.outcome)).toEqual([...Array<string>(WRONG_ATTEMPTS).fill(`28P01 ${FAILED}`), 'in as app']);
      const marks = [start, ...done.filter((t) => t > start && t < end), end];
      const gaps = marks.slice(1).map((t, i) => t - marks[i]!);
      const longest = Math.max(...gaps);
      // Five checks of `solo` each took place in [start, end]; a blocking one leaves a gap of
      // about `solo` in the stream, an asynchronous one a few milliseconds.
      expect(end - start).toBeGreaterThan(solo);
      expect(longest).toBeLessThan(solo / 2);
      expect(marks.length).toBeGreaterThan(10);
    } finally {
      streaming = false;
      await stream.catch(() => undefined);
      await streamer.end();
    }
  });

  it('drops the outcome of a check whose client disconnected meanwhile: not welcomed, nothing left in SHOW POOLS, later logins fine (catches: a welcome sent to a closed client, or a crash)', async () => {
    const c = await RawClient.open(mux.port);
    c.send(msg.startup({ user: 'kdf_client', database: 'app' }));
    expect(authRequest((await c.next()).body).code).toBe(3);
    c.send(msg.password(password));
    c.destroy();
    await mux.waitForLog(/password check ended after the client left; outcome dropped/, 30000);

    await pollUntil(async () => (await show(mux.port, 'CLIENTS')).length === 1, 'SHOW CLIENTS to list only the console');
    const pool = (await show(mux.port, 'POOLS')).find((r) => r.database === 'app');
    expect({ cl_active: pool?.cl_active, cl_waiting: pool?.cl_waiting }).toEqual({ cl_active: '0', cl_waiting: '0' });
    expect((await attempt(password)).outcome).toBe('in as app');
  });

  it('answers a 300 kB query pipelined behind the password after the welcome, and nothing after a wrong one (catches: bytes read during the check under the 64 kB login limit, out of order, or lost)', async () => {
    const query = msg.query(`SELECT length('${'x'.repeat(300000)}') AS n`);
    const right = await RawClient.open(mux.port);
    try {
      right.send(msg.startup({ user: 'kdf_client', database: 'app' }));
      expect(authRequest((await right.next()).body).code).toBe(3);
      right.send(Buffer.concat([msg.password(password), query]));
      const welcome = await right.until('Z', 30000);
      expect(welcome.filter((f) => f.type === 'R').map((f) => authRequest(f.body).code)).toEqual([0]);
      expect(rowsOf(await right.until('Z'))).toEqual([['300000']]);
    } finally {
      right.destroy();
    }

    const wrong = await RawClient.open(mux.port);
    wrong.send(msg.startup({ user: 'kdf_client', database: 'app' }));
    expect(authRequest((await wrong.next()).body).code).toBe(3);
    wrong.send(Buffer.concat([msg.password('wrong'), query]));
    const refusal = await wrong.refusal({ sole: true, timeoutMs: 30000 });
    expect(refusal.fields).toMatchObject({ C: '28P01', M: FAILED });
    expect(refusal.frames.map((f) => f.type)).toEqual(['E']);
  });
});
