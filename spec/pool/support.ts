// Owns what the pool specs share: a role of its own per test (so pg_stat_activity counts of one
// test never see another's backends), the ini pgmux runs with, an observer connected straight
// to PostgreSQL as a superuser, and polling a condition with a deadline.

import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Client, escapeLiteral, type QueryResult } from 'pg';
import type { Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';

/** Creates LOGIN roles with the cluster's password, members of `app` (so they use app's tables). */
export async function createRoles(cluster: Cluster, names: readonly string[]): Promise<void> {
  const pw = escapeLiteral(cluster.password);
  const sql = names.map((n) => `CREATE ROLE ${n} LOGIN PASSWORD ${pw}; GRANT app TO ${n};`).join('\n');
  await cluster.query(cluster.primary, sql, 'postgres', 'postgres');
}

export interface PgmuxSetup {
  /** Extra [databases] lines, e.g. { other: 'dbname=app pool_size=1' }; host and port are added. */
  databases?: Record<string, string>;
  /** [pgbouncer] settings over the defaults below. */
  settings?: Record<string, string | number>;
  /** [users] lines, e.g. { u1: 'max_user_connections=1' }. */
  users?: Record<string, string>;
  /** Roles for auth_file (each with the cluster's password). */
  roles: readonly string[];
  /** Command-line options for bin/pgmux, e.g. ['-v']. */
  args?: string[];
}

export interface Running {
  pgmux: PgmuxProcess;
  port: number;
  /** A node-postgres client of pgmux as `user` (db `app` unless given). The caller ends it. */
  connect(user: string, extra?: Partial<ClientOptions>): Promise<Client>;
  stop(): Promise<void>;
}

type ClientOptions = ConstructorParameters<typeof Client>[0] & object;

/**
 * Starts pgmux in front of the cluster: database `app` (plus `setup.databases`), auth_type
 * trust with an auth_file holding each role's plain password (what pgmux logs in to PostgreSQL
 * with), transaction mode, no unix socket.
 */
export async function runPgmux(cluster: Cluster, setup: PgmuxSetup): Promise<Running> {
  const port = await freePort();
  const server = `host=${cluster.primary.host} port=${cluster.primary.port}`;
  const dbs = { app: 'dbname=app', ...(setup.databases ?? {}) };
  const settings: Record<string, string | number> = {
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: 'userlist.txt',
    pool_mode: 'transaction',
    default_pool_size: 2,
    ...(setup.settings ?? {}),
  };
  const ini =
    '[databases]\n' +
    Object.entries(dbs)
      .map(([name, line]) => `${name} = ${server} ${line}\n`)
      .join('') +
    '\n[users]\n' +
    Object.entries(setup.users ?? {})
      .map(([name, line]) => `${name} = ${line}\n`)
      .join('') +
    '\n[pgbouncer]\n' +
    Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}\n`)
      .join('');
  const userlist = setup.roles.map((r) => `"${r}" "${cluster.password}"\n`).join('');
  const pgmux = await startPgmux(ini, { 'userlist.txt': userlist }, { args: setup.args });
  const clients: Client[] = [];
  return {
    pgmux,
    port,
    async connect(user, extra = {}) {
      const client = new Client({ host: '127.0.0.1', port, user, password: cluster.password, database: 'app', ...extra });
      // A server-side FATAL after connect arrives as an 'error' event; specs read it from the query.
      client.on('error', () => undefined);
      clients.push(client);
      await client.connect();
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await pgmux.stop();
    },
  };
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

/**
 * Re-evaluates `check` (backoff 5 ms .. 50 ms) until it returns something other than
 * undefined/false, and returns that. Throws after `timeoutMs` naming `what`. For conditions
 * with no event to await (a row in pg_stat_activity, time passing).
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
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

/**
 * Resolves once everything `client` wrote has been read by pgmux: our socket has handed it all
 * to the kernel and pgmux's end holds no unread bytes. pgmux acts on what it reads in the same
 * tick (a request joins the pool's queue at once), so after this the request is queued.
 */
export function waitUntilRead(pgmuxPort: number, client: Client): Promise<true> {
  const socket = socketOf(client);
  return waitFor(`pgmux to read what client port ${socket.localPort} sent`, () => socket.writableLength === 0 && unreadByPgmux(pgmuxPort, socket.localPort!) === 0);
}
