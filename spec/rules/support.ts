// Owns what the [rules] specs share: a pgmux config over one cluster with a rules section that a
// spec can rewrite and RELOAD, and connecting real clients to it.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Cluster } from '../support/cluster';
import { consoleRows } from '../support/console';
import type { PgmuxProcess } from '../support/pgmux';

export interface RulesSetup {
  cluster: Cluster;
  port: number;
  /** Extra [pgbouncer] lines. */
  settings?: string;
}

/** The whole ini: `app` (with the replica when the cluster has one), `plain` (primary only), then [rules]. */
export function rulesIni(s: RulesSetup, rules: string): string {
  const server = `host=${s.cluster.primary.host} port=${s.cluster.primary.port} dbname=app`;
  const replica = s.cluster.replica;
  return (
    '[databases]\n' +
    `app = ${server}${replica === undefined ? '' : ` replicas=${replica.host}:${replica.port}`}\n` +
    `plain = ${server}\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${s.port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\nadmin_users = app\n' +
    'pool_mode = transaction\ndefault_pool_size = 4\nmax_prepared_statements = 100\n' +
    'read_your_writes = connection\nread_your_writes_timeout = 0.3\nreplica_lag_poll_interval = 0.05\nmax_replica_lag = 64MB,60s\n' +
    (s.settings ?? '') +
    '[rules]\n' +
    rules
  );
}

export function userlist(cluster: Cluster): Record<string, string> {
  return { 'userlist.txt': `"app" "${cluster.password}"\n` };
}

/** Rewrites the running pgmux's config with `rules` and RELOADs it; resolves to RELOAD's error text, or null. */
export async function reloadRules(pgmux: PgmuxProcess, s: RulesSetup, rules: string): Promise<string | null> {
  writeFileSync(join(pgmux.dir, 'pgmux.ini'), rulesIni(s, rules));
  const c = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: s.cluster.password, database: 'pgbouncer' });
  await c.connect();
  try {
    await c.query('RELOAD');
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end();
  }
}

export function admin(pgmux: PgmuxProcess, s: RulesSetup, sql: string): Promise<Record<string, unknown>[]> {
  return consoleRows(pgmux.port, 'app', s.cluster.password, sql);
}

/** The error a query fails with (its SQLSTATE and message), or null when it succeeds. */
export async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; detail?: string } | null> {
  try {
    await p;
    return null;
  } catch (err) {
    const e = err as { code?: string; message: string; detail?: string };
    return { code: e.code ?? '', message: e.message, detail: e.detail };
  }
}
