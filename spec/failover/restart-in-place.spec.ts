// A single-host database (one primary, no replicas: every PgBouncer config) whose PostgreSQL is
// restarted in place (fast shutdown, then start) under idle clients in transaction pooling. As
// with PgBouncer, an idle client holds no server, so its next statement must get a fresh one and
// no error: whether it comes after the restart, while the server is down, or in the very moment
// the pooled connections die (pgmux hands out one that is dying, and the restart is over before
// pgmux's probe can look). A session an operator terminates with pg_terminate_backend ends with
// the same 57P01 as a shutdown, but its statement must not run again, also when the host was
// restarted earlier while pgmux held no connection to it.
//
// Drivers: node-postgres, psql and psycopg 3, each with its default settings.

import { readFileSync } from 'node:fs';
import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { consoleRows } from '../support/console';
import type { PgmuxProcess } from '../support/pgmux';
import { isStopped, processTree } from '../support/procs';
import { waitFor } from '../support/wait';
import { MONITOR_APPLICATION_NAME } from '../../lib/routing/monitor';
import { psqlSession, psycopgSession, type LineSession } from './line-sessions';
import { AppClients, startSingleHost } from './single-host-pgmux';

jest.setTimeout(90000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
const pgClients = new AppClients(() => cluster);
let sessions: LineSession[] = [];
/** Processes of pgmux that freeze() stopped and thaw() must continue, even when a spec fails. */
let frozen: number[] = [];

/** An idle session of one of the three drivers: sends one statement, resolves to its one value. */
interface Idle {
  name: string;
  ask(sql: string): Promise<string>;
}

const pgClient = (): Promise<Client> => pgClients.connect(pgmux.port);

async function pgIdle(name: string): Promise<Idle> {
  const c = await pgClient();
  return { name, ask: async (sql) => String(Object.values((await c.query(sql)).rows[0] ?? {})[0]) };
}

async function lineIdle(name: string, open: typeof psqlSession): Promise<Idle> {
  const s = await open({ port: pgmux.port, user: 'app', password: cluster.password, database: 'app' });
  sessions.push(s);
  return { name, ask: (sql) => s.ask(`${sql};`) };
}

/** Three node-postgres clients, a psql and a psycopg session, each idle after one statement. */
async function idleClients(tag: string): Promise<Idle[]> {
  const all = [await pgIdle(`${tag}-pg1`), await pgIdle(`${tag}-pg2`), await pgIdle(`${tag}-pg3`), await lineIdle(`${tag}-psql`, psqlSession), await lineIdle(`${tag}-psycopg`, psycopgSession)];
  // At once, so the pool opens a server for each: they all sit idle in the pool afterwards.
  await Promise.all(all.map((c) => c.ask('SELECT pg_sleep(0.2)::text')));
  return all;
}

/** Each client's statement: an INSERT of its own name that answers with that name. */
function insertOwnName(c: Idle): Promise<string> {
  return c.ask(`INSERT INTO rip VALUES ('${c.name}') RETURNING who`);
}

/** Sends every client's statement at once; resolves to each one's answer or error text. */
async function everyoneInserts(clients: Idle[]): Promise<string[]> {
  return Promise.all(clients.map((c) => insertOwnName(c).catch((e: Error & { code?: string }) => `error ${e.code ?? ''} ${e.message}`)));
}

async function rowsOf(names: string[]): Promise<Record<string, number>> {
  const r = await cluster.query(cluster.primary, `SELECT who, count(*)::int AS n FROM rip WHERE who = ANY('{${names.join(',')}}') GROUP BY who`);
  const out: Record<string, number> = {};
  for (const row of r.rows as { who: string; n: number }[]) out[row.who] = row.n;
  return out;
}

function once(names: string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, 1]));
}

async function postmasterStart(): Promise<string> {
  const r = await cluster.query(cluster.primary, 'SELECT pg_postmaster_start_time()::text AS t');
  return String(r.rows[0]?.t);
}

/** The pooled connections pgmux holds to the server now (not its probe). */
async function pooledPids(): Promise<number[]> {
  const r = await cluster.query(cluster.primary, `SELECT pid FROM pg_stat_activity WHERE usename = 'app' AND application_name <> '${MONITOR_APPLICATION_NAME}' AND pid <> pg_backend_pid()`);
  return (r.rows as { pid: number }[]).map((row) => row.pid);
}

/**
 * Waits until every server of the pool is idle (none logging in or running pgmux's own query):
 * the first server of a run of the postmaster has read when it started.
 */
async function serversIdle(): Promise<void> {
  await waitFor('every server to be idle', async () => {
    const pools = await consoleRows(pgmux.port, 'app', cluster.password, 'SHOW POOLS');
    return pools.every((p) => p.database !== 'app' || (Number(p.sv_used) === 0 && Number(p.sv_login) === 0 && Number(p.sv_idle) > 0));
  });
}

/** Established connections to 127.0.0.1:`port` whose received bytes the listening process has not read yet (/proc/net/tcp rx_queue). */
function unreadConnections(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === '01' && parseInt((f[4] ?? ':0').split(':')[1], 16) > 0) n++;
  }
  return n;
}

/** SIGSTOP to every process of pgmux; resolves once all are stopped: it reads nothing until thaw(). */
async function freeze(): Promise<void> {
  frozen = processTree(pgmux.pid);
  for (const pid of frozen) process.kill(pid, 'SIGSTOP');
  await waitFor('pgmux to stop', () => frozen.every(isStopped));
}

function thaw(): void {
  for (const pid of frozen) process.kill(pid, 'SIGCONT');
  frozen = [];
}

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'CREATE TABLE rip (who text); GRANT ALL ON rip TO app; CREATE SEQUENCE killed; GRANT ALL ON killed TO app');
}, 90000);

/** A fresh pgmux for each case (what it learned of the server in one case is not the next one's), with a PgBouncer config. */
/**
 * The idle clients' statements wait unread in a frozen pgmux while the primary restarts; once
 * pgmux runs again every one must be answered, and have run exactly once.
 */
async function restartWhileFrozen(tag: string): Promise<void> {
  const clients = await idleClients(tag);
  await serversIdle();
  await freeze();
  const answers = everyoneInserts(clients);
  // Every statement waits in pgmux's sockets before the shutdown's FATALs reach its servers.
  await waitFor('every statement to reach pgmux', () => unreadConnections(pgmux.port) === clients.length);
  await cluster.restartNode(cluster.primary, 'fast');
  thaw();
  expect(await answers).toEqual(clients.map((c) => c.name));
  expect(await rowsOf(clients.map((c) => c.name))).toEqual(once(clients.map((c) => c.name)));
}

async function start(workers = 1): Promise<void> {
  pgmux = await startSingleHost(cluster, `default_pool_size = 10\n${workers > 1 ? `workers = ${workers}\n` : ''}`);
}

afterEach(async () => {
  thaw();
  for (const s of sessions) await s.stop();
  await pgClients.endAll();
  sessions = [];
  await pgmux?.stop();
});

afterAll(async () => {
  await cluster?.stop();
});

describe('a single host restarted in place (pg_ctl restart -m fast)', () => {
  beforeEach(() => start());

  /** The common drill: idle clients' next statements, sent once the restart is over, all answered. */
  it('answers the statements idle clients send right after the restart, each run once', async () => {
    const clients = await idleClients('after');
    const before = await postmasterStart();
    await cluster.restartNode(cluster.primary, 'fast');
    expect(await postmasterStart()).not.toBe(before);
    const answers = await everyoneInserts(clients);
    expect(answers).toEqual(clients.map((c) => c.name));
    expect(await rowsOf(clients.map((c) => c.name))).toEqual(once(clients.map((c) => c.name)));
  });

  /** Statements sent while the server is down wait for it (not failover_timeout), then run once. */
  it('holds the statements idle clients send while the server is down, and answers them once it is back', async () => {
    const clients = await idleClients('during');
    await cluster.stopNode(cluster.primary, 'fast');
    const answers = everyoneInserts(clients);
    await pgmux.waitForLog(/primary 127\.0\.0\.1:\d+ lost/);
    await cluster.startNode(cluster.primary);
    expect(await answers).toEqual(clients.map((c) => c.name));
    expect(await rowsOf(clients.map((c) => c.name))).toEqual(once(clients.map((c) => c.name)));
  });

  /**
   * The moment itself: each statement reaches pgmux just before the shutdown ends its pooled
   * connections, so it goes to one that is dying and comes back with FATAL 57P01; and the
   * restart is over before pgmux looks (pgmux is stopped meanwhile, as a busy or descheduled
   * process can be). Its probe then finds the host up, but on a new postmaster: the statement
   * was cut by the restart, rolled back, and is sent again.
   */
  it('sends again the statements cut by the shutdown when the restart is over before pgmux looks', async () => {
    await restartWhileFrozen('moment');
  });
});

describe('a single host whose session an operator terminates (pg_terminate_backend)', () => {
  beforeEach(() => start());

  /** Starts a statement that takes nextval('killed') and then sleeps; resolves to the error it ends with. */
  async function killedStatement(c: Client): Promise<{ error: Promise<Error & { code?: string }>; pid: number }> {
    const error = c.query("SELECT nextval('killed'), pg_sleep(60)").then(
      () => new Error('the statement completed'),
      (e: Error & { code?: string }) => e,
    );
    const pid = await waitFor('the statement to sleep', async () => {
      const r = await cluster.query(cluster.primary, "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT nextval(''killed'')%' AND wait_event = 'PgSleep'");
      return (r.rows[0] as { pid: number } | undefined)?.pid;
    });
    return { error, pid };
  }

  async function killedValue(): Promise<number> {
    const r = await cluster.query(cluster.primary, 'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS v FROM killed');
    return Number(r.rows[0]?.v);
  }

  async function stillRunning(): Promise<number> {
    const r = await cluster.query(cluster.primary, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT nextval(''killed'')%' AND state = 'active'");
    return Number(r.rows[0]?.n);
  }

  /** The client gets the termination (57P01, PostgreSQL's words), and the statement does not run again: nextval was called once. */
  it('gives the client the 57P01 and does not run the statement again', async () => {
    const client = await pgClient();
    await client.query('SELECT 1');
    const before = await killedValue();
    const { error, pid } = await killedStatement(client);
    await cluster.query(cluster.primary, `SELECT pg_terminate_backend(${pid})`);
    const e = await error;
    expect(e.code).toBe('57P01');
    expect(e.message).toBe('terminating connection due to administrator command');
    expect(await stillRunning()).toBe(0);
    expect(await killedValue()).toBe(before + 1);
  });

  /**
   * The server restarted while pgmux held no connection to it (its servers had been closed):
   * what pgmux knew of the old postmaster must not make a later termination look like a restart.
   */
  it('does not take a termination for a restart after a restart pgmux did not see', async () => {
    const client = await pgClient();
    await client.query('SELECT 1');
    await serversIdle();
    await consoleRows(pgmux.port, 'app', cluster.password, 'RECONNECT app');
    await waitFor('pgmux to close its servers', async () => (await pooledPids()).length === 0);
    await cluster.restartNode(cluster.primary, 'fast');
    const before = await killedValue();
    const { error, pid } = await killedStatement(client);
    await cluster.query(cluster.primary, `SELECT pg_terminate_backend(${pid})`);
    const e = await error;
    expect(e.code).toBe('57P01');
    expect(await stillRunning()).toBe(0);
    expect(await killedValue()).toBe(before + 1);
  });
});

describe('workers = 2: a single host restarted in place', () => {
  /**
   * As above, with two workers: the probe is worker 0's, and a worker that hears it (lib/workers/
   * probe-share) decides on a probe sent after its ask, relayed with the postmaster's start time.
   */
  it('sends again the statements cut by the shutdown when the restart is over before pgmux looks', async () => {
    await start(2);
    await pgmux.waitForLog(/worker 1 up/);
    await restartWhileFrozen('moment2');
  });
});

describe('a server where pg_postmaster_start_time() is not executable by the pool user', () => {
  beforeEach(() => start());

  /** A hardened server (EXECUTE revoked from PUBLIC): pgmux's own read fails once, and the pool serves as before, without a reconnect loop. */
  it('serves clients and asks no more than once', async () => {
    await cluster.query(cluster.primary, 'REVOKE EXECUTE ON FUNCTION pg_catalog.pg_postmaster_start_time() FROM PUBLIC');
    try {
      const client = await pgClient();
      for (let i = 0; i < 3; i++) expect((await client.query(`SELECT ${i} AS v`)).rows).toEqual([{ v: i }]);
      await serversIdle();
      const pids = await pooledPids();
      for (let i = 0; i < 3; i++) await client.query('SELECT 1');
      expect(await pooledPids()).toEqual(pids);
      expect(pgmux.logs().match(/cannot read the server's start time \(permission denied for function pg_postmaster_start_time\)/g)?.length).toBe(1);
    } finally {
      await cluster.query(cluster.primary, 'GRANT EXECUTE ON FUNCTION pg_catalog.pg_postmaster_start_time() TO PUBLIC');
    }
  });
});
