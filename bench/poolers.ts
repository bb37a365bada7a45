// Owns the two poolers under test: the one ini both run unchanged, and starting each of them
// (pgmux optionally under `node --cpu-prof`) as a process whose PID the bench can read /proc of.

import { startPgBouncer } from '../spec/support/pgbouncer';
import { startPgmux } from '../spec/support/pgmux';

export type PoolerName = 'pgmux' | 'pgbouncer';

export interface Pooler {
  name: PoolerName;
  port: number;
  /** The pooler process itself (no wrapper), for /proc/<pid>/stat and status. */
  pid: number;
  logs(): string;
  stop(): Promise<void>;
}

export interface IniOptions {
  port: number;
  serverPort: number;
  poolSize: number;
  maxClientConn: number;
}

/**
 * The config both poolers run, unchanged. md5 client auth (PgBouncer's default auth_type;
 * it keeps client-side hashing cheap so connect rounds measure the pooler, not PBKDF2), plain
 * text userlist so each pooler logs in to PostgreSQL with SCRAM itself. Per-connection log
 * lines are off for both: at thousands of connections per second they would measure logging.
 */
export function benchIni(o: IniOptions): string {
  return `[databases]
app = host=127.0.0.1 port=${o.serverPort} dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${o.port}
unix_socket_dir =
auth_type = md5
auth_file = userlist.txt
pool_mode = transaction
default_pool_size = ${o.poolSize}
max_client_conn = ${o.maxClientConn}
log_connections = 0
log_disconnections = 0
`;
}

export function benchUserlist(user: string, password: string): string {
  return `"${user}" "${password}"\n`;
}

export async function startBouncer(ini: string, files: Record<string, string>): Promise<Pooler> {
  const b = await startPgBouncer(ini, files);
  return { name: 'pgbouncer', port: b.port, pid: b.pid, logs: () => b.logs(), stop: () => b.stop() };
}

/**
 * spec/support's startPgmux, with `nodeArgs` before the script (`node --cpu-prof
 * --cpu-prof-dir=D bin/pgmux`). The profile is written when pgmux exits, so stop() gives
 * SIGTERM 15 s (pgmux exits normally) before SIGKILL.
 */
export async function startMux(ini: string, files: Record<string, string>, nodeArgs: string[] = []): Promise<Pooler> {
  const p = await startPgmux(ini, files, { nodeArgs, stopWaitMs: 15000 });
  let stopped = false;
  return {
    name: 'pgmux',
    port: p.port,
    pid: p.pid,
    logs: () => p.logs(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await p.stop('SIGTERM');
    },
  };
}
