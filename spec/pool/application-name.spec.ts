// Black-box spec of application_name for a client that sends none (issue 3, "Session parameters",
// and the [databases] keys `connect_query` and `application_name`), side by side with the real
// PgBouncer 1.18: both run one ini in front of one PostgreSQL, the same sessions go through
// both, and each transcript must equal PgBouncer's and the known values written here (so two
// poolers broken the same way cannot pass by agreeing).
//
// The bug this guards: pgmux welcomed clients with the server parameters of the first login,
// taken before connect_query ran, so a client without an application_name believed it to be ''
// and the sync before its first statement ran `SET application_name = ''`, undoing connect_query.
// PgBouncer waits for connect_query before it builds the welcome, and so does pgmux now.
//
// One deliberate difference (pgmux only, last describe): PgBouncer 1.18 never applies an empty
// client value (varcache_apply skips it), so where the pool's value is '' a client without one
// runs with the application_name the previous client of that server SET. pgmux applies '' too,
// so no client inherits another's (spec/pool/params.spec.ts relies on it as well).

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';

jest.setTimeout(30000);

const FROM_CQ = 'from_connect_query';
const FROM_LINE = 'from_db_line';

let cluster: Cluster;
let bouncer: PgBouncerProcess;
let mux: PgmuxProcess;
const clients: Client[] = [];

/** The one ini both run; only listen_port differs. pool_size=1 puts every client of a database on one server. */
function ini(listenPort: number): string {
  const server = `host=${cluster.primary.host} port=${cluster.primary.port} dbname=app`;
  const cq = `connect_query='SET application_name TO ${FROM_CQ}'`;
  return (
    '[databases]\n' +
    `cq = ${server} pool_size=1 ${cq}\n` +
    `cq2 = ${server} pool_size=2 ${cq}\n` +
    `cq_session = ${server} pool_size=1 pool_mode=session ${cq}\n` +
    `line = ${server} pool_size=1 application_name=${FROM_LINE}\n` +
    `plain = ${server} pool_size=1\n` +
    '\n[pgbouncer]\n' +
    'listen_addr = 127.0.0.1\n' +
    `listen_port = ${listenPort}\n` +
    'unix_socket_dir =\n' +
    'auth_type = trust\n' +
    'auth_file = userlist.txt\n' +
    'pool_mode = transaction\n'
  );
}

beforeAll(async () => {
  cluster = await startCluster();
  const files = { 'userlist.txt': `"app" "${cluster.password}"\n` };
  bouncer = await startPgBouncer(ini(await freePort()), files);
  mux = await startPgmux(ini(await freePort()), files);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await Promise.all([bouncer?.stop(), mux?.stop()]);
  await cluster?.stop();
});

interface Session {
  client: Client;
  /** application_name as the welcome's ParameterStatus told it (undefined: not sent). */
  welcomed: string | undefined;
}

/** A node-postgres client of the pooler on `port`; `app` is its startup application_name (none if undefined). */
async function connect(port: number, db: string, app?: string): Promise<Session> {
  const client = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: db, ...(app === undefined ? {} : { application_name: app }) });
  const session: Session = { client, welcomed: undefined };
  client.connection.on('parameterStatus', (m: { parameterName: string; parameterValue: string }) => {
    if (m.parameterName === 'application_name') session.welcomed = m.parameterValue;
  });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  return session;
}

async function end(s: Session): Promise<void> {
  await s.client.end();
}

/** The server this statement runs on, and its application_name there. */
async function onServer(s: Session): Promise<{ pid: number; app: string }> {
  const r = await s.client.query<{ pid: number; app: string }>("SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app");
  return r.rows[0]!;
}

const app = async (s: Session): Promise<string> => (await onServer(s)).app;

/** Runs `scenario` through PgBouncer, then pgmux: pgmux's transcript must be PgBouncer's, and `expected`. */
async function sideBySide(scenario: (port: number) => Promise<unknown>, expected: unknown): Promise<void> {
  const theirs = await scenario(bouncer.port);
  const ours = await scenario(mux.port);
  expect(theirs).toEqual(expected);
  expect(ours).toEqual(theirs);
}

describe('connect_query sets application_name', () => {
  it('a client without one is welcomed with it and runs with it (catches the welcome taken before connect_query, and the sync sending SET application_name = \'\')', async () => {
    await sideBySide(
      async (port) => {
        const x = await connect(port, 'cq');
        const seen = { welcomed: x.welcomed, first: await app(x), again: await app(x) };
        await end(x);
        return seen;
      },
      { welcomed: FROM_CQ, first: FROM_CQ, again: FROM_CQ },
    );
  });

  it('a client that SETs its own keeps it, the next one without one gets connect_query\'s back on that server, and a startup value wins (catches a SET leaked to the next client or lost by its owner)', async () => {
    await sideBySide(
      async (port) => {
        const a = await connect(port, 'cq');
        await a.client.query("SET application_name = 'client-a'");
        const b = await connect(port, 'cq');
        const s = await connect(port, 'cq', 'startup-s');
        const seen = [
          ['a', await onServer(a)],
          ['b', await onServer(b)],
          ['a', await onServer(a)],
          ['s', await onServer(s)],
          ['b', await onServer(b)],
        ] as const;
        await Promise.all([a, b, s].map(end));
        // pool_size=1: all of it ran on one server.
        expect(new Set(seen.map(([, r]) => r.pid)).size).toBe(1);
        return { welcomed: [b.welcomed, s.welcomed], apps: seen.map(([who, r]) => `${who}: ${r.app}`) };
      },
      { welcomed: [FROM_CQ, 'startup-s'], apps: ['a: client-a', `b: ${FROM_CQ}`, 'a: client-a', 's: startup-s', `b: ${FROM_CQ}`] },
    );
  });

  it('a SET value follows its client to the other server, and a client without one landing after it there gets connect_query\'s (catches per-client tracking broken by the fix)', async () => {
    await sideBySide(
      async (port) => {
        const a = await connect(port, 'cq2');
        const [h1, h2, c] = await Promise.all([connect(port, 'cq2'), connect(port, 'cq2'), connect(port, 'cq2')]);
        await a.client.query("SET application_name = 'client-a'");
        // A holds server P; h1 can only get the other one, Q.
        await a.client.query('BEGIN');
        const onP = await onServer(a);
        await h1.client.query('BEGIN');
        const q = (await onServer(h1)).pid;
        await a.client.query('COMMIT');
        // h2 can only get P; once h1 lets Q go, A's next statement can only land on Q, then c's.
        await h2.client.query('BEGIN');
        const h2pid = (await onServer(h2)).pid;
        await h1.client.query('COMMIT');
        const onQ = await onServer(a);
        const cOnQ = await onServer(c);
        await h2.client.query('COMMIT');
        await Promise.all([a, h1, h2, c].map(end));
        return {
          landed: [onP.pid !== q, h2pid === onP.pid, onQ.pid === q, cOnQ.pid === q],
          apps: [onP.app, onQ.app, cOnQ.app],
        };
      },
      { landed: [true, true, true, true], apps: ['client-a', 'client-a', FROM_CQ] },
    );
  });

  it('in session mode the next client gets it back after server_reset_query reset the server (catches the welcome value not applied on a reset server)', async () => {
    await sideBySide(
      async (port) => {
        const first = await connect(port, 'cq_session');
        const one = await onServer(first);
        await first.client.query("SET application_name = 'client-one'");
        await end(first);
        // pool_size=1: the second client waits for the same server, released and reset.
        const second = await connect(port, 'cq_session');
        const two = await onServer(second);
        await end(second);
        return { sameServer: one.pid === two.pid, apps: [one.app, two.app], welcomed: second.welcomed };
      },
      { sameServer: true, apps: [FROM_CQ, FROM_CQ], welcomed: FROM_CQ },
    );
  });
});

describe('the database line sets application_name', () => {
  it('a client without one runs with it, also after another client SET its own on that server (catches the line\'s value overwritten or another client\'s leaked)', async () => {
    await sideBySide(
      async (port) => {
        const x = await connect(port, 'line');
        const before = await app(x);
        const a = await connect(port, 'line');
        await a.client.query("SET application_name = 'client-a'");
        const seen = { welcomed: x.welcomed, apps: [before, await app(a), await app(x), await app(a)] };
        await Promise.all([x, a].map(end));
        return seen;
      },
      { welcomed: FROM_LINE, apps: [FROM_LINE, 'client-a', FROM_LINE, 'client-a'] },
    );
  });
});

describe('no pool value (pgmux only: PgBouncer 1.18 skips empty values and leaks here)', () => {
  it.each([
    ['sends none', false],
    ["SETs it to ''", true],
  ])('a client that %s does not run with the application_name the previous client of its server SET (catches the PgBouncer leak copied)', async (_how, setEmpty) => {
    const a = await connect(mux.port, 'plain');
    const b = await connect(mux.port, 'plain');
    if (setEmpty) await b.client.query("SET application_name = ''");
    const baseline = await onServer(b);
    await a.client.query("SET application_name = 'client-a'");
    const aOn = await onServer(a);
    const bOn = await onServer(b);
    await Promise.all([a, b].map(end));
    expect(b.welcomed).toBe('');
    expect(aOn).toEqual({ pid: baseline.pid, app: 'client-a' });
    expect(bOn).toEqual({ pid: baseline.pid, app: '' });
  });
});
