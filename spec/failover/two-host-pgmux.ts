// Owns what the two-host failover specs share: a primary with one streaming standby (or more) and
// a table user app may write, and a pgmux in front of all of them (primary first) with transaction
// pooling and a fast lag poll.

import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';
import { consoleRows } from '../support/console';

export interface Pair {
  cluster: Cluster;
  primary: PgNode;
  standby: PgNode;
  /** Standbys beyond the first (PairOptions.standbys), also hosts of database app, after it. */
  more: PgNode[];
}

export interface PairOptions {
  /** Streaming standbys of the primary (1 by default). */
  standbys?: number;
  /** postgresql.conf settings of every node (startCluster's `settings`: TLS, say). */
  settings?: Record<string, string>;
}

/** Starts a primary and its standbys, runs `setupSql` on the primary (a table app may write) and waits until they have it. */
export async function startPair(setupSql: string, options: PairOptions = {}): Promise<Pair> {
  const cluster = await startCluster({ replica: true, settings: options.settings });
  if (cluster.replica === undefined) throw new Error('no replica');
  try {
    const more: PgNode[] = [];
    for (let i = 1; i < (options.standbys ?? 1); i++) more.push(await cluster.addStandby());
    await cluster.query(cluster.primary, setupSql);
    await cluster.waitForReplay();
    for (const s of more) await waitForReplayOn(cluster, s);
    return { cluster, primary: cluster.primary, standby: cluster.replica, more };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** Resolves once `standby` has replayed the primary's current WAL position (waitForReplay is the first replica's). */
async function waitForReplayOn(cluster: Cluster, standby: PgNode): Promise<void> {
  const lsn = String((await cluster.query(cluster.primary, 'SELECT pg_current_wal_lsn()::text AS lsn', 'postgres', 'postgres')).rows[0]?.lsn);
  await waitFor(`port ${standby.port} to replay ${lsn}`, async () => (await cluster.query(standby, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`, 'postgres', 'postgres')).rows[0]?.done === true, 30000);
}

export interface TwoHostOptions {
  /** The client auth_type (scram-sha-256 by default). */
  auth?: 'scram-sha-256' | 'md5';
  /** The auth_file's lines (user app with the cluster's password by default). */
  userlist?: string;
}

/**
 * Starts pgmux with database app on the pair's primary then standbys: `settings` are [pgbouncer]
 * lines added to the common ones (the drill's failover_timeout, query_wait_timeout...), each
 * ending in a newline.
 */
export async function startTwoHosts(pair: Pair, settings: string, options: TwoHostOptions = {}): Promise<PgmuxProcess> {
  const port = await freePort();
  const nodes = [pair.primary, pair.standby, ...pair.more];
  const ini =
    '[databases]\n' +
    `app = host=${nodes.map((n) => n.host).join(',')} port=${nodes.map((n) => n.port).join(',')} dbname=app\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    `auth_type = ${options.auth ?? 'scram-sha-256'}\nauth_file = userlist.txt\nadmin_users = app\n` +
    'pool_mode = transaction\ndefault_pool_size = 4\nreplica_lag_poll_interval = 0.05\n' +
    settings;
  return startPgmux(ini, { 'userlist.txt': options.userlist ?? `"app" "${pair.cluster.password}"\n` });
}

/** SHOW HOSTS rows of database `db`, through pgmux's admin console as user app. */
export async function hostRows(pgmux: PgmuxProcess, password: string, db = 'app'): Promise<Record<string, unknown>[]> {
  return (await consoleRows(pgmux.port, 'app', password, 'SHOW HOSTS')).filter((r) => r.database === db);
}

/** The SHOW HOSTS row of `node`. */
export function hostRow(rows: Record<string, unknown>[], node: PgNode): Record<string, unknown> {
  const row = rows.find((r) => Number(r.port) === node.port);
  if (row === undefined) throw new Error(`no SHOW HOSTS row for port ${node.port}: ${JSON.stringify(rows)}`);
  return row;
}

/** Where a statement ran: in_hot_standby and the server's port. */
export const WHERE = `current_setting('in_hot_standby') AS hs, inet_server_port() AS p`;
