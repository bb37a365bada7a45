// Black-box spec of settings that were marked supported while nothing read them, and of refusals
// that nothing sent (issue 11, item 10): each is now done as PgBouncer 1.18 does it, seen by a real
// client through a real pgmux.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { psql } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { RawClient, msg, rowsOf } from '../support/wire';
import { frame } from '../support/bytes';
import { waitFor } from '../support/wait';
import { startMux } from '../client/support/setup';

let cluster: Cluster;
const muxes: PgmuxProcess[] = [];

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await Promise.all(muxes.map((m) => m.stop()));
  await cluster?.stop();
});

async function mux(settings: Record<string, string | number>, databases?: string[]): Promise<PgmuxProcess> {
  const m = await startMux(cluster, { settings: { admin_users: 'postgres', ...settings }, databases });
  muxes.push(m);
  return m;
}

async function connect(m: PgmuxProcess, extra: Partial<{ database: string; application_name: string }> = {}): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port: m.port, user: 'app', password: cluster.password, database: 'app', ...extra });
  await c.connect();
  return c;
}

/** Rows of a console command, as objects. */
async function consoleRows(m: PgmuxProcess, command: string): Promise<Record<string, string | null>[]> {
  const c = await RawClient.login(m.port, 'postgres', cluster.password, 'pgbouncer');
  try {
    const frames = await c.roundTrip(msg.query(command));
    const head = frames.find((f) => f.type === 'T');
    if (head === undefined) return [];
    const names: string[] = [];
    let pos = 2;
    for (let i = head.body.readInt16BE(0); i > 0; i--) {
      const end = head.body.indexOf(0, pos);
      names.push(head.body.toString('utf8', pos, end));
      pos = end + 1 + 18;
    }
    return rowsOf(frames).map((row) => Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])));
  } finally {
    await c.close();
  }
}

describe('application_name_add_host', () => {
  /** Catches: the setting accepted and ignored. PgBouncer's set_appname: "<name> - <host>:<port>". */
  it("appends the client's address and port to application_name at login, 'app' when it sent none", async () => {
    const m = await mux({ application_name_add_host: 1 });
    const named = await connect(m, { application_name: 'billing' });
    const bare = await connect(m);
    try {
      const port = (c: Client): number => (Reflect.get(Reflect.get(c, 'connection') as object, 'stream') as { localPort: number }).localPort;
      const seen = async (c: Client): Promise<string> => (await c.query<{ a: string }>("SELECT current_setting('application_name') AS a")).rows[0]!.a;
      expect(await seen(named)).toBe(`billing - 127.0.0.1:${port(named)}`);
      expect(await seen(bare)).toBe(`app - 127.0.0.1:${port(bare)}`);
      // Only at login: a SET later is the client's own.
      await named.query("SET application_name = 'later'");
      expect(await seen(named)).toBe('later');
    } finally {
      await Promise.all([named.end(), bare.end()]);
    }
  });
});

describe('disable_pqexec', () => {
  /** Catches: simple queries (several statements per packet) let through although the setting forbids them. */
  it('closes a client that sends a simple Query with "PQexec disallowed"; the extended protocol and the console work', async () => {
    const m = await mux({ disable_pqexec: 1 });
    const res = await psql(['-X', '-h', '127.0.0.1', '-p', String(m.port), '-U', 'app', '-d', 'app', '-c', 'SELECT 1; SELECT 2'], { PGPASSWORD: cluster.password });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('FATAL:  PQexec disallowed');
    const c = await connect(m);
    try {
      expect((await c.query({ text: 'SELECT $1::int AS v', values: [7] })).rows).toEqual([{ v: 7 }]);
    } finally {
      await c.end();
    }
    expect((await consoleRows(m, 'SHOW CONFIG')).find((r) => r.key === 'disable_pqexec')?.value).toBe('1');
  });
});

describe('autodb_idle_timeout', () => {
  /** Catches: databases made from '*' kept for ever (PgBouncer forgets them once idle that long). */
  it("forgets a database made from '*' once it has had no client and no server that long, and not before", async () => {
    const port = cluster.primary.port;
    const m = await mux({ autodb_idle_timeout: 1, server_idle_timeout: 0.3 }, [`* = host=127.0.0.1 port=${port}`]);
    const listed = async (): Promise<boolean> => (await consoleRows(m, 'SHOW DATABASES')).some((r) => r.name === 'postgres');
    const c = await connect(m, { database: 'postgres' });
    expect(await listed()).toBe(true);
    // A client connected (idle) keeps it, however long: a server-side sleep is the clock here.
    await c.query('SELECT pg_sleep(1.6)');
    expect(await listed()).toBe(true);
    await c.end();
    await waitFor('the idle auto database to be dropped', async () => !(await listed()), 10000);
    expect((await consoleRows(m, 'SHOW POOLS')).some((r) => r.database === 'postgres')).toBe(false);
    // And it comes back at the next login.
    const again = await connect(m, { database: 'postgres' });
    expect((await again.query('SELECT 1 AS v')).rows).toEqual([{ v: 1 }]);
    await again.end();
  });
});

describe('conffile', () => {
  /** Catches: conffile accepted and ignored; PgBouncer's RELOAD reads the file it names. */
  it('RELOAD reads the file conffile names', async () => {
    const m = await mux({ default_pool_size: 3 });
    const other = join(m.dir, 'other.ini');
    writeFileSync(other, readIniWith(m, 'default_pool_size = 3', 'default_pool_size = 9'));
    const admin = await RawClient.login(m.port, 'postgres', cluster.password, 'pgbouncer');
    try {
      await admin.roundTrip(msg.query(`SET conffile = '${other}'`));
      await admin.roundTrip(msg.query('RELOAD'));
    } finally {
      await admin.close();
    }
    const config = await consoleRows(m, 'SHOW CONFIG');
    expect(config.find((r) => r.key === 'default_pool_size')?.value).toBe('9');
  });
});

/** The running pgmux's ini with one line replaced. */
function readIniWith(m: PgmuxProcess, from: string, to: string): string {
  const text = readFileSync(join(m.dir, 'pgmux.ini'), 'utf8');
  if (!text.includes(from)) throw new Error(`pgmux.ini has no "${from}"`);
  return text.replace(from, to);
}

describe('refusals that nothing sent', () => {
  /** Catches: a client logged in but waiting for a server that is down told only "client_login_timeout". */
  it('client_login_timeout while the pool has never reached its server says "(server down)"', async () => {
    const down = await freePort();
    const m = await mux({ client_login_timeout: 1, server_login_retry: 30 }, [`down = host=127.0.0.1 port=${down} dbname=app`]);
    const c = new Client({ host: '127.0.0.1', port: m.port, user: 'app', password: cluster.password, database: 'down' });
    const err = await c.connect().then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.message).toBe('client_login_timeout (server down)');
    expect(err?.code).toBe('08P01');
  });

  /** PostgreSQL and PgBouncer refuse an empty password before checking it. */
  it('an empty password gets "empty password returned by client" (28P01)', async () => {
    const m = await mux({});
    const c = await RawClient.open(m.port);
    c.send(msg.startup({ user: 'app', database: 'app' }));
    await c.waitFor('R');
    c.send(msg.password(''));
    expect((await c.refusal({ sole: true })).fields).toMatchObject({ S: 'FATAL', C: '28P01', M: 'empty password returned by client' });
  });

  /** PgBouncer's text for a mechanism other than the one offered. */
  it('a SASL mechanism other than SCRAM-SHA-256 gets "client selected an invalid SASL authentication mechanism" (08P01)', async () => {
    const m = await mux({ auth_type: 'scram-sha-256' });
    const c = await RawClient.open(m.port);
    c.send(msg.startup({ user: 'app', database: 'app' }));
    await c.waitFor('R');
    c.send(frame('p', Buffer.from('SCRAM-SHA-1\0'), Buffer.from([0, 0, 0, 3]), Buffer.from('abc')));
    expect((await c.refusal({ sole: true })).fields).toMatchObject({ S: 'FATAL', C: '08P01', M: 'client selected an invalid SASL authentication mechanism' });
  });
});
