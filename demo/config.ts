// Owns what the demo takes from examples/demo.ini and its userlist: where pgmux listens, the two
// servers' ports (the `app` line's host list), the one password, and the HTTP listener if set.
// The ini is the one place these facts live; the demo reads them with pgmux's own loader.

import { join } from 'node:path';
import { loadUserlist } from '../lib/auth/userlist';
import { databaseHosts, effective, loadConfig, type Settings } from '../lib/config';

/** Relative to the repository root, pgmux's working directory (auth_file resolves there). */
export const DEMO_INI = 'examples/demo.ini';
/** The database whose host list names the primary and the replica. */
export const DEMO_DB = 'app';

export interface DemoConfig {
  /** What clients connect to. */
  host: string;
  port: number;
  /** The `app` line's hosts in order: the primary's port first, then the replica's. */
  primaryPort: number;
  replicaPort: number;
  /** Every role's password (the cluster gives all roles one; the userlist must agree). */
  password: string;
  /** http://host:port of pgmux's HTTP listener (status page, metrics), when the ini sets one. */
  httpBase: string | undefined;
  /** Seconds pgmux holds new transactions of `app` while it has no primary. */
  failoverTimeout: number;
}

/**
 * Settings read by name: a build of pgmux without the HTTP listener has no http_listen_port,
 * and then the demo prints no URLs.
 */
function httpBase(settings: Settings, host: string): string | undefined {
  const byName = settings as unknown as Readonly<Record<string, unknown>>;
  const port = byName.http_listen_port;
  if (typeof port !== 'number' || port === 0) return undefined;
  const addr = byName.http_listen_addr;
  return `http://${typeof addr === 'string' && addr !== '' && addr !== '*' ? addr : host}:${port}`;
}

/** Loads the demo's ini from the repository root `root`; throws naming the file and what is wrong. */
export function demoConfig(root: string): DemoConfig {
  const file = join(root, DEMO_INI);
  const config = loadConfig(file);
  const db = config.databases.get(DEMO_DB);
  const hosts = db ? databaseHosts(db) : [];
  if (!db || hosts.length !== 2 || hosts.some((h) => h.host !== '127.0.0.1')) {
    throw new Error(`${file}: the demo needs "${DEMO_DB} = host=127.0.0.1,127.0.0.1 port=<primary>,<replica> ..."`);
  }
  const s = config.settings;
  if (s.auth_file === null || s.auth_file === '') throw new Error(`${file}: the demo needs auth_file`);
  const users = loadUserlist(join(root, s.auth_file));
  const passwords = new Set(users.values());
  const password = users.get(DEMO_DB);
  if (password === undefined || passwords.size !== 1) {
    throw new Error(`${s.auth_file}: the demo gives every role one password; list "${DEMO_DB}" and give all users the same one`);
  }
  const first = s.listen_addr[0] ?? '*';
  const host = first === '*' || first === '' ? '127.0.0.1' : first;
  return {
    host,
    port: s.listen_port,
    primaryPort: hosts[0].port,
    replicaPort: hosts[1].port,
    password,
    httpBase: httpBase(s, host),
    failoverTimeout: effective(s, 'failover_timeout', db, undefined),
  };
}
