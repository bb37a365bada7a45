// Owns what the two-host failover specs share: a primary with one streaming standby and a table
// user app may write, and a pgmux in front of both (primary first) with transaction pooling and a
// fast lag poll.

import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';

export interface Pair {
  cluster: Cluster;
  primary: PgNode;
  standby: PgNode;
}

/** Starts a primary and its standby, runs `setupSql` on the primary (a table app may write) and waits until the standby has it. */
export async function startPair(setupSql: string): Promise<Pair> {
  const cluster = await startCluster({ replica: true });
  if (cluster.replica === undefined) throw new Error('no replica');
  await cluster.query(cluster.primary, setupSql);
  await cluster.waitForReplay();
  return { cluster, primary: cluster.primary, standby: cluster.replica };
}

export interface TwoHostOptions {
  /** The client auth_type (scram-sha-256 by default). */
  auth?: 'scram-sha-256' | 'md5';
  /** The auth_file's lines (user app with the cluster's password by default). */
  userlist?: string;
}

/**
 * Starts pgmux with database app on the pair's primary then standby: `settings` are [pgbouncer]
 * lines added to the common ones (the drill's failover_timeout, query_wait_timeout...), each
 * ending in a newline.
 */
export async function startTwoHosts(pair: Pair, settings: string, options: TwoHostOptions = {}): Promise<PgmuxProcess> {
  const port = await freePort();
  const ini =
    '[databases]\n' +
    `app = host=127.0.0.1,127.0.0.1 port=${pair.primary.port},${pair.standby.port} dbname=app\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    `auth_type = ${options.auth ?? 'scram-sha-256'}\nauth_file = userlist.txt\nadmin_users = app\n` +
    'pool_mode = transaction\ndefault_pool_size = 4\nreplica_lag_poll_interval = 0.05\n' +
    settings;
  return startPgmux(ini, { 'userlist.txt': options.userlist ?? `"app" "${pair.cluster.password}"\n` });
}
