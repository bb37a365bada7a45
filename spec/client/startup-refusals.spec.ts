// Black-box spec of how startup refusals reach real clients (issue 11, item 6). libpq's default
// sslmode=prefer opens with SSLRequest: a refusal sent as the answer to it reads as "server sent
// an error response during SSL exchange". pgmux answers the SSLRequest first ('N', or 'S' and the
// handshake when client TLS is on) and refuses after the StartupMessage, as PgBouncer 1.18 does
// (client.c: max_client_conn is checked in decide_startup_pool, the console exempt), so psql
// prints the FATAL line itself. Clients over max_client_conn still get their cancel requests
// served, cost nothing past a second, and count toward nothing.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { psql, type RunResult } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { RawClient, msg, rowsOf, type Welcome } from '../support/wire';
import { waitFor } from '../support/wait';
import { makePki, type Pki } from '../tls/support/pki';
import { startMux } from './support/setup';
import { show } from '../auth-hba/support';

let cluster: Cluster;
let pki: Pki;
/** Plain text, room for everyone: the refusals that do not depend on a full house. */
let open: PgmuxProcess;
/** max_client_conn = 2, plain text. */
let full: PgmuxProcess;
/** max_client_conn = 2 with client TLS offered (sslmode=prefer takes it). */
let fullTls: PgmuxProcess;
/** client_tls_sslmode = require. */
let tlsRequired: PgmuxProcess;
/** Clients holding the two slots of `full` and of `fullTls`. */
const holders: Client[] = [];

const ADMIN = { admin_users: 'postgres' };

beforeAll(async () => {
  [cluster, pki] = await Promise.all([startCluster(), makePki()]);
  const tls = { client_tls_key_file: pki.key('server'), client_tls_cert_file: pki.cert('server') };
  [open, full, fullTls, tlsRequired] = await Promise.all([
    startMux(cluster, { settings: ADMIN, databases: [`off = host=127.0.0.1 port=${cluster.primary.port} dbname=app`] }),
    startMux(cluster, { settings: { ...ADMIN, max_client_conn: 2 } }),
    startMux(cluster, { settings: { ...ADMIN, ...tls, max_client_conn: 2, client_tls_sslmode: 'allow' } }),
    startMux(cluster, { settings: { ...ADMIN, ...tls, client_tls_sslmode: 'require' } }),
  ]);
  const disabled = await RawClient.login(open.port, 'postgres', cluster.password, 'pgbouncer');
  await disabled.roundTrip(msg.query('DISABLE off'));
  await disabled.close();
  for (const m of [full, fullTls]) {
    for (let i = 0; i < 2; i++) {
      const c = new Client({ host: '127.0.0.1', port: m.port, user: 'app', password: cluster.password, database: 'app', ssl: false });
      await c.connect();
      holders.push(c);
    }
  }
});

afterAll(async () => {
  await Promise.all(holders.map((c) => c.end().catch(() => undefined)));
  await Promise.all([open, full, fullTls, tlsRequired].map((m) => m?.stop()));
  await cluster?.stop();
  pki?.remove();
});

/** psql -c 'SELECT 1' through `m` with these libpq keywords; the password via PGPASSWORD. */
function viaPsql(m: PgmuxProcess, conninfo: Record<string, string>, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const keywords = { host: '127.0.0.1', port: String(m.port), user: 'app', dbname: 'app', connect_timeout: '10', ...conninfo };
  const dsn = Object.entries(keywords)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return psql(['-X', '-At', '-d', dsn, '-c', 'SELECT 1'], { PGPASSWORD: cluster.password, ...env });
}

interface Refusal {
  what: string;
  mux: () => PgmuxProcess;
  conninfo: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  /** The message psql must print after "FATAL:  ". */
  message: string;
}

const REFUSALS: Refusal[] = [
  { what: 'max_client_conn', mux: () => full, conninfo: {}, message: 'no more connections allowed (max_client_conn)' },
  { what: 'max_client_conn, client TLS offered', mux: () => fullTls, conninfo: {}, message: 'no more connections allowed (max_client_conn)' },
  { what: 'unknown database', mux: () => open, conninfo: { dbname: 'nosuch' }, message: 'no such database: nosuch' },
  { what: 'disabled database', mux: () => open, conninfo: { dbname: 'off' }, message: 'database "off" is disabled' },
  { what: 'wrong password', mux: () => open, conninfo: {}, env: { PGPASSWORD: 'wrong' }, message: 'password authentication failed for user "app"' },
  { what: 'unsupported startup parameter', mux: () => open, conninfo: { options: "'-e'" }, message: 'unsupported startup parameter: options' },
  { what: 'admin console not allowed', mux: () => open, conninfo: { dbname: 'pgbouncer' }, message: 'not allowed' },
];

describe.each(['prefer', 'disable'])('psql with sslmode=%s', (sslmode) => {
  /** Catches: the refusal sent as the answer to SSLRequest ("error response during SSL exchange"). */
  it.each(REFUSALS.map((r) => [r.what, r] as const))('prints the FATAL line of a startup refusal: %s', async (_what, r) => {
    const res = await viaPsql(r.mux(), { ...r.conninfo, sslmode }, r.env);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`FATAL:  ${r.message}`);
    expect(res.stderr).not.toMatch(/SSL exchange|closed the connection unexpectedly/);
  });
});

describe('client_tls_sslmode = require', () => {
  it('psql with sslmode=disable reads "SSL required"; with prefer it logs in over TLS', async () => {
    const plain = await viaPsql(tlsRequired, { sslmode: 'disable' });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('FATAL:  SSL required');
    const prefer = await viaPsql(tlsRequired, { sslmode: 'prefer' });
    expect(prefer.stdout.trim()).toBe('1');
  });
});

describe('over max_client_conn', () => {
  /** Catches: the refusal written before the first packet is read, so the SSLRequest gets an ErrorResponse. */
  it("answers SSLRequest and GSSENCRequest with 'N' first, then refuses the StartupMessage with 53300", async () => {
    const c = await RawClient.open(full.port);
    c.send(msg.gssencRequest());
    expect(await c.readByte()).toBe('N');
    c.send(msg.sslRequest());
    expect(await c.readByte()).toBe('N');
    c.send(msg.startup({ user: 'app', database: 'app' }));
    const refusal = await c.refusal({ sole: true });
    expect(refusal.fields).toMatchObject({ S: 'FATAL', C: '53300', M: 'no more connections allowed (max_client_conn)' });
  });

  /** Catches: a full pooler that can no longer cancel a runaway query (PgBouncer serves cancels whatever the count). */
  it('still serves a cancel request', async () => {
    // The slot of a holder that leaves goes to this client (once pgmux has seen it leave); full again after.
    await holders.shift()!.end();
    let runner: RawClient | undefined;
    let welcome: Welcome | undefined;
    await waitFor('the freed slot to be taken', async () => {
      const c = await RawClient.open(full.port);
      try {
        welcome = await c.login(msg.startup({ user: 'app', database: 'app' }), 'app', cluster.password);
        runner = c;
        return true;
      } catch {
        c.destroy();
        return false;
      }
    });
    runner!.send(msg.query('SELECT pg_sleep(30)'));
    // Full now: this connection is over the limit, and its cancel is served anyway.
    const canceller = await RawClient.open(full.port);
    const started = Date.now();
    canceller.send(msg.cancel(welcome!.pid, welcome!.secret));
    await canceller.waitClosed();
    const reply = await runner!.until('Z', 10000);
    const error = reply.find((f) => f.type === 'E');
    expect(error?.body.toString('latin1')).toContain('57014');
    expect(Date.now() - started).toBeLessThan(5000);
    await runner!.close();
    // Back to two holders for the other tests.
    const again = new Client({ host: '127.0.0.1', port: full.port, user: 'app', password: cluster.password, database: 'app' });
    await again.connect();
    holders.unshift(again);
  });

  /** PgBouncer lets the admin console past max_client_conn, so an operator can look at a full pooler. */
  it('lets an admin into the console', async () => {
    const admin = await RawClient.login(full.port, 'postgres', cluster.password, 'pgbouncer');
    const frames = await admin.roundTrip(msg.query('SHOW VERSION'));
    expect(rowsOf(frames)[0]![0]).toMatch(/PgBouncer/);
    await admin.close();
  });

  /**
   * A flood of connections over the limit costs a second at most each: each is closed with the
   * refusal within about a second although it sends nothing, none shows in SHOW CLIENTS, and the
   * clients holding the slots go on. Catches: turned-away sockets kept until client_login_timeout.
   */
  it('closes a silent flood within about a second each, counting none of them', async () => {
    const before = (await show(full.port, 'CLIENTS', 'postgres', cluster.password)).length;
    const flood = await Promise.all(Array.from({ length: 100 }, () => RawClient.open(full.port)));
    const opened = Date.now();
    const during = (await show(full.port, 'CLIENTS', 'postgres', cluster.password)).length;
    expect(during).toBe(before);
    const refusals = await Promise.all(flood.map((c) => c.refusal({ sole: true, timeoutMs: 5000 })));
    for (const r of refusals) {
      expect(r.fields.C).toBe('53300');
      expect(r.closedAt - opened).toBeLessThan(2500);
    }
    expect((await holders[1]!.query('SELECT 1 AS v')).rows).toEqual([{ v: 1 }]);
  });
});
