// The refusal texts against the real thing: each condition is provoked on PgBouncer 1.18 (in
// front of a real PostgreSQL) and its ErrorResponse compared with pgmux's refusal. Where
// PgBouncer has no text, the comparison is with PostgreSQL itself.
//
// Severity and message must match exactly. PgBouncer 1.18 sends SQLSTATE 08P01 for all of them;
// pgmux's own SQLSTATE choices are checked in refusals.spec.ts and explained in refusals.ts.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer';
import { freePort } from '../support/ports';
import { decodeErrorFields, type ErrorFields } from '../../lib/protocol/backend';
import * as refusals from '../../lib/protocol/refusals';
import { frontendLimits } from '../../lib/protocol/limits';
import { cstr, frame, i32, str, u8, untyped } from './bytes';
import { RawClient } from '../support/wire';

type Fields = Pick<ErrorFields, 'severity' | 'code' | 'message'>;

const HOST = '127.0.0.1';

function startupBytes(params: Record<string, string>): Buffer {
  const pairs = Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]);
  return untyped(i32(196608), ...pairs, u8(0));
}

function asFields(err: unknown): Fields {
  const e = err as Partial<Fields>;
  if (typeof e.code !== 'string' || typeof e.severity !== 'string' || typeof e.message !== 'string') {
    throw new Error(`not a server error: ${String(err)}`);
  }
  return { severity: e.severity, code: e.code, message: e.message };
}

function isServerError(err: unknown): boolean {
  return typeof (err as { severity?: unknown }).severity === 'string';
}

/** Sends one startup packet (or any bytes) and returns the ErrorResponse that closes the connection. */
async function refusedAfter(port: number, bytes: Buffer | null): Promise<Fields> {
  const w = await RawClient.open(port);
  if (bytes !== null) w.send(bytes);
  return refusalOf(w);
}

/** The ErrorResponse the peer closes `w` with, decoded by lib/protocol. */
async function refusalOf(w: RawClient): Promise<Fields> {
  return refusalFromFrame((await w.refusal()).frame.bytes);
}

/** A raw client logged in through trust, ready for its first query. */
function rawLogin(port: number, user: string, database: string): Promise<RawClient> {
  return RawClient.login(port, user, '', database);
}

/** Logs in with node-postgres and returns the error that refuses it. */
async function pgLoginRefusal(port: number, user: string, password: string, database: string): Promise<Fields> {
  const c = new Client({ host: HOST, port, user, password, database });
  c.on('error', () => undefined);
  try {
    await c.connect();
  } catch (err) {
    return asFields(err);
  }
  await c.end();
  throw new Error(`login of ${user} to ${database} succeeded`);
}

/** The first server error a connected node-postgres client sees, from `action` or asynchronously. */
function firstServerError(c: Client, action: () => Promise<unknown>): Promise<Fields> {
  return new Promise((resolve, reject) => {
    c.on('error', (err) => {
      if (isServerError(err)) resolve(asFields(err));
    });
    action().then(
      () => undefined,
      (err) => (isServerError(err) ? resolve(asFields(err)) : undefined),
    );
    c.on('end', () => reject(new Error('connection ended without a server error')));
  });
}

interface Ctx {
  port: number;
  cluster: Cluster;
}

interface Row {
  /** The refusal under test and its arguments. */
  refusal: keyof typeof refusals;
  args?: unknown[];
  /** Extra [pgbouncer] settings for this row's PgBouncer. */
  settings?: string;
  provoke(ctx: Ctx): Promise<Fields>;
}

const ROWS: Row[] = [
  {
    refusal: 'tooManyConnections',
    settings: 'max_client_conn = 1',
    async provoke({ port }) {
      // The launcher's readiness probe may still hold PgBouncer's only slot for a moment after
      // it closed (PgBouncer notices the close on its next loop): retry the first login until
      // that slot is free, then provoke the refusal with a second client.
      let held: RawClient | undefined;
      for (const deadline = Date.now() + 5000; held === undefined; ) {
        try {
          held = await rawLogin(port, 'app', 'app');
        } catch (err) {
          if (Date.now() > deadline || !/max_client_conn/.test(String(err))) throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      try {
        return await refusedAfter(port, startupBytes({ user: 'app', database: 'app' }));
      } finally {
        held.destroy();
      }
    },
  },
  { refusal: 'authFailed', provoke: ({ port }) => pgLoginRefusal(port, 'app', 'wrong', 'md5db') },
  // An unknown user gets exactly the wrong-password answer, so names cannot be probed.
  { refusal: 'authFailed', provoke: ({ port }) => pgLoginRefusal(port, 'ghost', 'wrong', 'md5db') },
  { refusal: 'trustAuthFailed', provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'ghost', database: 'app' })) },
  { refusal: 'certAuthFailed', provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'app', database: 'certdb' })) },
  { refusal: 'loginRejected', provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'app', database: 'rejectdb' })) },
  {
    refusal: 'emptyPassword',
    async provoke({ port }) {
      const w = await RawClient.open(port);
      w.send(startupBytes({ user: 'app', database: 'md5db' }));
      await w.waitFor('R');
      w.send(frame('p', cstr('')));
      return refusalOf(w);
    },
  },
  {
    refusal: 'invalidSaslMechanism',
    async provoke({ port }) {
      const w = await RawClient.open(port);
      w.send(startupBytes({ user: 'app', database: 'scramdb' }));
      await w.waitFor('R');
      w.send(frame('p', cstr('SCRAM-SHA-1'), i32(3), str('abc')));
      return refusalOf(w);
    },
  },
  {
    refusal: 'startupResent',
    async provoke({ port }) {
      const w = await RawClient.open(port);
      w.send(startupBytes({ user: 'app', database: 'md5db' }));
      await w.waitFor('R');
      w.send(startupBytes({ user: 'app', database: 'md5db' }));
      return refusalOf(w);
    },
  },
  { refusal: 'noUser', provoke: ({ port }) => refusedAfter(port, startupBytes({ database: 'app' })) },
  { refusal: 'noUser', provoke: ({ port }) => refusedAfter(port, startupBytes({ user: '', database: 'app' })) },
  {
    refusal: 'noSuchDatabase',
    args: ['nodb'],
    provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'app', database: 'nodb' })),
  },
  {
    refusal: 'databaseDisabled',
    args: ['app'],
    async provoke({ port }) {
      const admin = await rawLogin(port, 'admin', 'pgbouncer');
      admin.send(frame('Q', cstr('DISABLE app')));
      await admin.waitFor('Z');
      admin.destroy();
      return refusedAfter(port, startupBytes({ user: 'app', database: 'app' }));
    },
  },
  { refusal: 'adminNotAllowed', provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'app', database: 'pgbouncer' })) },
  {
    refusal: 'unsupportedStartupParameter',
    args: ['work_mem'],
    provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'app', database: 'app', work_mem: '1MB' })),
  },
  {
    // 1.18 does not look inside `options`: it refuses the parameter as a whole. pgmux applies
    // -c switches (lib/session/settings) and refuses, with the same words, any other switch.
    refusal: 'unsupportedStartupParameter',
    args: ['options'],
    provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'app', database: 'app', options: '-e' })),
  },
  {
    refusal: 'replicationNotSupported',
    provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'app', database: 'app', replication: 'database' })),
  },
  {
    refusal: 'unsupportedProtocolVersion',
    args: [2, 0],
    provoke: ({ port }) => refusedAfter(port, untyped(i32(2 << 16), Buffer.alloc(288))),
  },
  { refusal: 'passwordBeforeStartup', provoke: ({ port }) => refusedAfter(port, frame('p', cstr('secret'))) },
  {
    refusal: 'partialStartupPacket',
    provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'app', database: 'app' }).subarray(0, 12)),
  },
  { refusal: 'clientLoginTimeout', settings: 'client_login_timeout = 1', provoke: ({ port }) => refusedAfter(port, null) },
  {
    refusal: 'clientLoginTimeoutServerDown',
    settings: 'client_login_timeout = 1\nquery_wait_timeout = 0',
    provoke: ({ port }) => refusedAfter(port, startupBytes({ user: 'app', database: 'down' })),
  },
  {
    refusal: 'pqexecDisallowed',
    settings: 'disable_pqexec = 1',
    async provoke({ port }) {
      const w = await rawLogin(port, 'app', 'app');
      w.send(frame('Q', cstr('SELECT 1')));
      return refusalOf(w);
    },
  },
  {
    refusal: 'queryWaitTimeout',
    settings: 'query_wait_timeout = 1',
    async provoke({ port, cluster }) {
      const holder = new Client({ host: HOST, port, user: 'app', password: cluster.password, database: 'small' });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        const waiter = new Client({ host: HOST, port, user: 'app', password: cluster.password, database: 'small' });
        await waiter.connect();
        return await firstServerError(waiter, () => waiter.query('SELECT 1'));
      } finally {
        await holder.end();
      }
    },
  },
  {
    refusal: 'clientIdleTimeout',
    settings: 'client_idle_timeout = 1',
    async provoke({ port, cluster }) {
      const c = new Client({ host: HOST, port, user: 'app', password: cluster.password, database: 'app' });
      await c.connect();
      return firstServerError(c, async () => undefined);
    },
  },
  {
    refusal: 'idleTransactionTimeout',
    settings: 'idle_transaction_timeout = 1',
    async provoke({ port, cluster }) {
      const c = new Client({ host: HOST, port, user: 'app', password: cluster.password, database: 'app' });
      await c.connect();
      return firstServerError(c, () => c.query('BEGIN'));
    },
  },
  {
    refusal: 'queryTimeout',
    settings: 'query_timeout = 1',
    async provoke({ port, cluster }) {
      const c = new Client({ host: HOST, port, user: 'app', password: cluster.password, database: 'app' });
      await c.connect();
      return firstServerError(c, () => c.query('SELECT pg_sleep(30)'));
    },
  },
  {
    refusal: 'statementModeTransaction',
    async provoke({ port, cluster }) {
      const c = new Client({ host: HOST, port, user: 'app', password: cluster.password, database: 'stmt' });
      await c.connect();
      return firstServerError(c, () => c.query('BEGIN'));
    },
  },
  {
    refusal: 'serverConnLost',
    async provoke({ port, cluster }) {
      const w = await rawLogin(port, 'app', 'app');
      w.send(frame('Q', cstr('BEGIN; SELECT pg_backend_pid()::text')));
      const row = await w.waitFor('D');
      const pid = Number(row.body.subarray(6).toString());
      await w.waitFor('Z');
      await cluster.query(cluster.primary, `SELECT pg_terminate_backend(${pid})`);
      // PgBouncer first forwards the server's own FATAL, then sends its own: compare the last.
      const last = (await w.untilClosed()).frames.filter((f) => f.type === 'E').pop();
      if (last === undefined) throw new Error('no error after the server connection was killed');
      return refusalFromFrame(last.bytes);
    },
  },
  {
    refusal: 'serverLoginFailed',
    async provoke({ port }) {
      return refusedAfter(port, startupBytes({ user: 'app', database: 'badpw' }));
    },
  },
];

function refusalFromFrame(f: Buffer): Fields {
  const e = decodeErrorFields(f, 0, f.length);
  if (e.kind === 'invalid') throw new Error(e.reason);
  return e;
}

function bouncerIni(port: number, serverPort: number, downPort: number, settings: string): string {
  const server = `host=${HOST} port=${serverPort} dbname=app`;
  return `[databases]
app = ${server}
md5db = ${server}
scramdb = ${server}
certdb = ${server}
rejectdb = ${server}
stmt = ${server} pool_mode=statement
small = ${server} pool_size=1
badpw = ${server} user=app password=wrong
down = host=${HOST} port=${downPort} dbname=app

[pgbouncer]
listen_addr = ${HOST}
listen_port = ${port}
unix_socket_dir =
auth_type = hba
auth_hba_file = hba.conf
auth_file = userlist.txt
admin_users = admin
pool_mode = session
${settings}
`;
}

const HBA = `host rejectdb all ${HOST}/32 reject
host certdb all ${HOST}/32 cert
host scramdb all ${HOST}/32 scram-sha-256
host md5db all ${HOST}/32 md5
host all all ${HOST}/32 trust
`;

describe('refusal texts are PgBouncer 1.18 texts', () => {
  let cluster: Cluster;
  let bouncer: PgBouncerProcess | undefined;

  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());
  afterEach(async () => {
    await bouncer?.stop();
    bouncer = undefined;
  });

  const label = (r: Row): string => `${r.refusal}(${(r.args ?? []).map((a) => JSON.stringify(a)).join(', ')})`;

  it.each(ROWS.map((r) => [label(r), r] as const))('%s', async (_name, row) => {
    const port = await freePort();
    const downPort = await freePort(); // nothing listens there: a server that is down
    const userlist = `"app" "${cluster.password}"\n"admin" "${cluster.password}"\n`;
    bouncer = await startPgBouncer(bouncerIni(port, cluster.primary.port, downPort, row.settings ?? ''), {
      'userlist.txt': userlist,
      'hba.conf': HBA,
    });
    const got = await row.provoke({ port, cluster });

    let args = row.args ?? [];
    if (row.refusal === 'serverLoginFailed') {
      // What PostgreSQL itself says to a wrong password: PgBouncer passes on its text.
      args = [await pgLoginRefusal(cluster.primary.port, 'app', 'wrong', 'app')];
    }
    const ours = (refusals[row.refusal] as (...a: unknown[]) => ErrorFields)(...args);
    expect({ severity: got.severity, message: got.message }).toEqual({ severity: ours.severity, message: ours.message });
    expect(got.code).toBe('08P01');
  });
});

describe('refusals with no PgBouncer text use PostgreSQL 15 texts', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());

  it('adminShutdown is what a terminated backend says', async () => {
    const c = new Client({ host: HOST, port: cluster.primary.port, user: 'app', password: cluster.password, database: 'app' });
    await c.connect();
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const got = firstServerError(c, async () => undefined);
    await cluster.query(cluster.primary, `SELECT pg_terminate_backend(${pid})`);
    expect(await got).toEqual({ severity: 'FATAL', code: '57P01', message: refusals.adminShutdown().message });
    expect(refusals.adminShutdown().code).toBe('57P01');
  });

  it('unsupportedProtocolVersion for 4.0 is what PostgreSQL answers to a 4.0 startup packet', async () => {
    const got = await refusedAfter(cluster.primary.port, untyped(i32(4 << 16), cstr('user'), cstr('app'), u8(0)));
    const ours = refusals.unsupportedProtocolVersion(4, 0);
    expect(got).toMatchObject({ severity: ours.severity, code: ours.code, message: ours.message });
  });

  /** PgBouncer says only "unknown pkt"; pgmux says what PostgreSQL says, and which character the type is. */
  it('an unknown message type after login is refused with PostgreSQL\'s text and SQLSTATE', async () => {
    const w = await RawClient.open(cluster.primary.port);
    await w.login(startupBytes({ user: 'app_md5', database: 'app' }), 'app_md5', cluster.password);
    w.send(frame('y'));
    const got = await refusalOf(w);
    const ours = frontendLimits(0x7fffffff).refusal(0x79, 4);
    expect(got).toMatchObject({ severity: 'FATAL', code: '08P01' });
    expect(ours.startsWith(got.message)).toBe(true);
    expect(ours).toBe("invalid frontend message type 121 ('y')");
  });

  it("serverLoginFailed keeps PostgreSQL's SQLSTATE for a wrong password", async () => {
    const server = await pgLoginRefusal(cluster.primary.port, 'app', 'wrong', 'app');
    expect(server.code).toBe('28P01');
    expect(refusals.serverLoginFailed({ ...server, severity: 'FATAL' })).toMatchObject({ code: '28P01', message: server.message });
  });
});
