// Owns what the spec/workers files share: a config for one cluster with `workers = N`, clients
// and their cancel keys, finding which worker holds a client, and the workers' pids from the log.

import { Client } from 'pg';
import type { Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { RawClient, msg } from '../support/wire';
import { waitFor } from '../support/wait';

export { startCluster, type Cluster } from '../support/cluster';
export { startPgmux, type PgmuxProcess } from '../support/pgmux';
export { freePort } from '../support/ports';
export { waitFor } from '../support/wait';

/** pgmux.ini for `cluster` with `workers`: database app, user app (md5), admin user app, transaction pooling. */
export function workersIni(cluster: Cluster, port: number, workers: number, extra: string[] = [], databases: string[] = []): string {
  return [
    '[databases]',
    `app = host=127.0.0.1 port=${cluster.primary.port} dbname=app`,
    ...databases,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = md5',
    'auth_file = userlist.txt',
    'admin_users = app',
    'pool_mode = transaction',
    `workers = ${workers}`,
    ...extra,
    '',
  ].join('\n');
}

export function userlist(cluster: Cluster): Record<string, string> {
  return { 'userlist.txt': `"app" "${cluster.password}"\n` };
}

export async function appClient(cluster: Cluster, port: number, database = 'app'): Promise<Client> {
  const client = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database });
  await client.connect();
  // A worker killed under it ends it with an error event; the specs read its queries' errors.
  client.on('error', () => undefined);
  return client;
}

/** What node-postgres keeps from BackendKeyData (not in @types/pg). */
export function keyOf(c: Client): { pid: number; secret: number } {
  const k = c as unknown as { processID: number; secretKey: number };
  return { pid: k.processID, secret: k.secretKey };
}

/** The worker that issued a client's key: the key's low byte of its pid (lib/auth/cancel-key). */
export function workerOf(c: Client): number {
  return keyOf(c).pid & 0xff;
}

/** Sends a CancelRequest on a connection of its own; resolves once pgmux hung up. */
export async function sendCancel(port: number, pid: number, secret: number): Promise<void> {
  const conn = await RawClient.open(port);
  conn.send(msg.cancel(pid, secret));
  await conn.waitClosed();
}

/** The pid of each worker index, from the workers' "worker N up" log lines (the latest per index). */
export function workerPids(mux: PgmuxProcess): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of mux.logs().matchAll(/\[(\d+)\] LOG worker (\d+) up:/g)) out.set(Number(m[2]), Number(m[1]));
  return out;
}

/** Waits until all `count` workers logged that they are up. */
export async function allWorkersUp(mux: PgmuxProcess, count: number): Promise<Map<number, number>> {
  return waitFor(`${count} workers up`, () => {
    const pids = workerPids(mux);
    return pids.size === count ? pids : undefined;
  });
}

/** Server connections of user app to database app, seen from PostgreSQL. */
export async function serverBackends(cluster: Cluster): Promise<number> {
  const r = await cluster.query(cluster.primary, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'app' AND usename = 'app'");
  return (r.rows[0] as { n: number }).n;
}

/** The rows of one console command as user app. */
export async function consoleRows(cluster: Cluster, port: number, command: string): Promise<Record<string, unknown>[]> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'pgbouncer' });
  await c.connect();
  try {
    return (await c.query(command)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

/**
 * PostgreSQL signals a cancelled backend twice (signal_child: the process, then its process
 * group), and on a busy machine the second SIGINT can land after the first one's error, while
 * the next statement runs: it would cancel that one too, with or without a pooler. One
 * pg_sleep(0) (its loop checks for interrupts) takes such a leftover before the next round.
 */
export async function absorbLeftoverCancel(client: Client): Promise<void> {
  for (let i = 0; i < 3; i++) {
    try {
      await client.query('SELECT pg_sleep(0)');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '57014') throw err;
    }
  }
}

