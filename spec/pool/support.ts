// Owns what the pool specs share: a role of its own per test (so pg_stat_activity counts of one
// test never see another's backends), the per-file cluster fixture, an observer connected
// straight to PostgreSQL as a superuser, and polling a condition with a deadline. pgmux itself
// is started by spec/support/front's runPgmux, re-exported here.

import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Client, escapeLiteral, type QueryResult } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import type { Running } from '../support/front';
import { waitFor } from '../support/wait';

export { runPgmux, type PgmuxSetup, type Running } from '../support/front';
export { waitFor } from '../support/wait';

/** Creates LOGIN roles with the cluster's password, members of `app` (so they use app's tables). */
export async function createRoles(cluster: Cluster, names: readonly string[]): Promise<void> {
  const pw = escapeLiteral(cluster.password);
  const sql = names.map((n) => `CREATE ROLE ${n} LOGIN PASSWORD ${pw}; GRANT app TO ${n};`).join('\n');
  await cluster.query(cluster.primary, sql, 'postgres', 'postgres');
}

/** What a pool spec file's tests share; `run` is the test's pgmux, which poolSuite stops after each test. */
export interface PoolSuite {
  readonly cluster: Cluster;
  readonly obs: Observer;
  run: Running | undefined;
}

/**
 * Registers the hooks a pool spec file shares: one cluster for the file with `roles` created and
 * `setupSql` run in db app, an Observer of it, and the test's `run` stopped after each test.
 */
export function poolSuite(roles: readonly string[], setupSql: string): PoolSuite {
  let cluster: Cluster | undefined;
  let obs: Observer | undefined;
  const suite: PoolSuite = {
    get cluster() {
      if (cluster === undefined) throw new Error('poolSuite: no cluster outside the tests');
      return cluster;
    },
    get obs() {
      if (obs === undefined) throw new Error('poolSuite: no observer outside the tests');
      return obs;
    },
    run: undefined,
  };
  beforeAll(async () => {
    cluster = await startCluster();
    await createRoles(cluster, roles);
    await cluster.query(cluster.primary, setupSql, 'app');
    obs = await Observer.open(cluster);
  });
  afterEach(async () => {
    await suite.run?.stop();
    suite.run = undefined;
  });
  afterAll(async () => {
    await obs?.close();
    await cluster?.stop();
  });
  return suite;
}

export interface Backend {
  pid: number;
  state: string | null;
  query: string;
  application_name: string;
}

/** A superuser connection straight to PostgreSQL: what the server sees of pgmux. */
export class Observer {
  private constructor(private readonly client: Client) {}

  static async open(cluster: Cluster): Promise<Observer> {
    const n = cluster.primary;
    const client = new Client({ host: n.host, port: n.port, user: 'postgres', password: cluster.password, database: 'app' });
    await client.connect();
    return new Observer(client);
  }

  /** Client backends logged in as `user` (only pgmux logs in as the per-test roles). */
  async backends(user: string): Promise<Backend[]> {
    const r = await this.client.query<Backend>(
      "SELECT pid, state, query, application_name FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend' ORDER BY pid",
      [user],
    );
    return r.rows;
  }

  async pids(user: string): Promise<number[]> {
    return (await this.backends(user)).map((b) => b.pid);
  }

  async terminate(pid: number): Promise<void> {
    await this.client.query('SELECT pg_terminate_backend($1)', [pid]);
  }

  query(sql: string, params: unknown[] = []): Promise<QueryResult<Record<string, unknown>>> {
    return this.client.query<Record<string, unknown>>(sql, params);
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

/** Resolves after `ms` have passed on the wall clock: for timeouts whose passing is the event. */
export function elapse(ms: number): Promise<void> {
  const until = Date.now() + ms;
  return waitFor(`${ms} ms to pass`, () => Date.now() >= until, ms + 5000).then(() => undefined);
}

/** Settles to the outcome of `p` without throwing: for asserting on an expected failure. */
export async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: Error & { code?: string } }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error: error as Error & { code?: string } };
  }
}

/** Tracks whether a promise has settled yet, without awaiting it. */
export function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  const promise = p.finally(() => {
    done = true;
  });
  promise.catch(() => undefined);
  return { promise, settled: () => done };
}

export async function pidOf(client: Client): Promise<number> {
  const r = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return r.rows[0]!.pid;
}

/** The socket under a node-postgres client (a net.Socket for TCP connections). */
export function socketOf(client: Client): Socket {
  return client.connection.stream as Socket;
}

/**
 * Bytes waiting in the kernel, unread, on pgmux's end of the TCP connection from `client`
 * (rx_queue in /proc/net/tcp), or undefined when no such connection is listed.
 */
function unreadByPgmux(pgmuxPort: number, clientPort: number): number | undefined {
  const hex = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const local = hex(pgmuxPort);
  const remote = hex(clientPort);
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[1] === local && cols[2] === remote) return parseInt(cols[4]!.split(':')[1]!, 16);
  }
  return undefined;
}

/** Bytes `client`'s end of its connection to pgmux has not had acknowledged (tx_queue in /proc/net/tcp). */
function unsentByClient(pgmuxPort: number, clientPort: number): number | undefined {
  const hex = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[1] === hex(clientPort) && cols[2] === hex(pgmuxPort)) return parseInt(cols[4]!.split(':')[0]!, 16);
  }
  return undefined;
}

/**
 * Resolves once everything `client` wrote has reached pgmux's end of the connection, read or not:
 * our socket handed it all to the kernel and pgmux's kernel acknowledged it. For a client pgmux
 * does not read (SUSPEND stops reading its sockets), where waitUntilRead would wait forever.
 */
export function waitUntilDelivered(pgmuxPort: number, client: Client): Promise<true> {
  const socket = socketOf(client);
  return waitFor(`what client port ${socket.localPort} sent to reach pgmux`, () => socket.writableLength === 0 && unsentByClient(pgmuxPort, socket.localPort!) === 0);
}

/**
 * Resolves once everything `client` wrote has been read by pgmux: our socket has handed it all
 * to the kernel and pgmux's end holds no unread bytes. pgmux acts on what it reads in the same
 * tick (a request joins the pool's queue at once), so after this the request is queued.
 */
export function waitUntilRead(pgmuxPort: number, client: Client): Promise<true> {
  const socket = socketOf(client);
  return waitFor(`pgmux to read what client port ${socket.localPort} sent`, () => socket.writableLength === 0 && unreadByPgmux(pgmuxPort, socket.localPort!) === 0);
}
