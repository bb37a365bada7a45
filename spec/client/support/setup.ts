// Owns the pgmux configs of the client specs: an ini in front of a spec cluster, and the
// auth_file lines for its roles.

import type { Cluster } from '../../support/cluster';
import { freePort } from '../../support/ports';
import { startPgmux, type PgmuxProcess } from '../../support/pgmux';

export interface MuxOptions {
  /** [databases] lines after `app = ...` (which always points at the cluster's app db). */
  databases?: string[];
  /** [pgbouncer] keys beyond the defaults below, which they override. */
  settings?: Record<string, string | number>;
  /** [rules] lines, if any (the section comes last). */
  rules?: string[];
  /** auth_file text; default: app, app_md5 and app_plain with the cluster password in clear. */
  userlist?: string;
}

/** userlist.txt line; `"` inside a field is doubled, as PgBouncer reads it. */
export function userlistLine(user: string, secret: string): string {
  const q = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  return `${q(user)} ${q(secret)}\n`;
}

export function defaultUserlist(cluster: Cluster): string {
  return ['app', 'app_md5', 'app_plain', 'postgres'].map((u) => userlistLine(u, cluster.password)).join('');
}

/** The connect string of a [databases] line for the cluster's primary. */
export function serverConn(cluster: Cluster, extra = 'dbname=app'): string {
  return `host=127.0.0.1 port=${cluster.primary.port} ${extra}`;
}

/** Starts pgmux on a free port in front of `cluster` (md5 auth, transaction pooling by default). */
export async function startMux(cluster: Cluster, opts: MuxOptions = {}): Promise<PgmuxProcess> {
  const port = await freePort();
  const settings: Record<string, string | number> = {
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'md5',
    auth_file: 'userlist.txt',
    pool_mode: 'transaction',
    ...opts.settings,
  };
  const ini =
    '[databases]\n' +
    `app = ${serverConn(cluster)}\n` +
    (opts.databases ?? []).map((l) => `${l}\n`).join('') +
    '\n[pgbouncer]\n' +
    Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}\n`)
      .join('') +
    (opts.rules === undefined ? '' : `\n[rules]\n${opts.rules.map((l) => `${l}\n`).join('')}`);
  return startPgmux(ini, { 'userlist.txt': opts.userlist ?? defaultUserlist(cluster) });
}

/** Polls `done` (backing off 5 -> 100 ms) until it holds; there is no event to await. */
export async function pollUntil(done: () => boolean | Promise<boolean>, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}
