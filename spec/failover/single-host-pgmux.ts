// Owns what the single-host failover specs share: a pgmux in front of one host (the primary, or a
// tap in front of it) with user app's scram login and transaction pooling, and the node-postgres
// clients a spec opens, each ended after it (the two-host specs, ./two-host-pgmux, open theirs here too).

import { Client } from 'pg';
import type { Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';

/**
 * Starts pgmux with database app on one host: `settings` are [pgbouncer] lines added to the
 * common ones (each ending in a newline), `hostPort` the port it dials (the primary's by default).
 */
export async function startSingleHost(cluster: Cluster, settings: string, hostPort = cluster.primary.port): Promise<PgmuxProcess> {
  const port = await freePort();
  const ini =
    '[databases]\n' +
    `app = host=127.0.0.1 port=${hostPort} dbname=app\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = scram-sha-256\nauth_file = userlist.txt\nadmin_users = app\n' +
    `pool_mode = transaction\n${settings}`;
  return startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
}

/** node-postgres clients of user app; a spec's drills make them fail, so errors are read from queries, not raised. */
export class AppClients {
  private open: Client[] = [];

  constructor(private readonly cluster: () => Cluster) {}

  async connect(port: number): Promise<Client> {
    const c = new Client({ host: '127.0.0.1', port, user: 'app', password: this.cluster().password, database: 'app' });
    c.on('error', () => undefined);
    await c.connect();
    this.open.push(c);
    return c;
  }

  async endAll(): Promise<void> {
    const open = this.open;
    this.open = [];
    for (const c of open) await c.end().catch(() => undefined);
  }
}
