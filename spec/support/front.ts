// Owns pgmux in front of a test cluster for black-box specs: database app on the primary, trust
// auth over an auth_file of the given roles, transaction mode, no unix socket, and node-postgres
// clients of it that stop() ends. The pool, admin and prepared-statement specs all start it.

import { Client } from 'pg';
import type { Cluster } from './cluster';
import { startPgmux, type PgmuxProcess } from './pgmux';
import { freePort } from './ports';

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
