// Owns what the fuzzer runs against: a throwaway PostgreSQL cluster and a real pgmux in front of
// it (md5, SCRAM and cleartext logins, transaction/session/statement pools, a pool whose only
// server a bystander holds), the bystander itself, a console connection that reads SHOW CLIENTS
// and SHOW SERVERS, and the pgmux process's open file descriptors from /proc.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { PKT_BUF } from './families';

export const ADMIN_PASSWORD = 'admin-pw';

export interface Target {
  readonly cluster: Cluster;
  readonly mux: PgmuxProcess;
  readonly port: number;
  /** Password of app_md5, app, app_plain (the cluster's). */
  readonly password: string;
  /** pgmux has not exited. */
  alive(): boolean;
  /** Open file descriptors of the pgmux process. */
  fds(): number;
  /** What the open file descriptors are (for an fd-leak report): TCP sockets by local:remote port, other kinds by count. */
  describeFds(): string;
  /** Client and server connections pgmux lists (SHOW CLIENTS, SHOW SERVERS). */
  sockets(): Promise<{ clients: number; servers: number }>;
  /**
   * pgmux's connections to PostgreSQL that SHOW SERVERS does not list, each as PostgreSQL sees
   * it (pg_stat_activity by client port: application_name tells the health probe and the LISTEN
   * listener from a pooled server pgmux lost track of); empty when there are none.
   */
  unlisted(): Promise<string>;
  /**
   * The bystander, inside one open transaction for the whole run on the pool "busy" (whose only
   * server it holds), adds a row and counts its rows: an error or a wrong count means it was harmed.
   */
  checkBystander(): Promise<string | null>;
  stop(): Promise<void>;
}

function ini(cluster: Cluster, port: number): string {
  const server = `host=127.0.0.1 port=${cluster.primary.port} dbname=app`;
  return `[databases]
app = ${server} pool_size=20
app_session = ${server} pool_mode=session pool_size=20
app_statement = ${server} pool_mode=statement pool_size=20
busy = ${server} pool_size=1

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = hba
auth_hba_file = hba.conf
auth_file = userlist.txt
admin_users = admin
pool_mode = transaction
max_client_conn = 3000
pkt_buf = ${PKT_BUF}
client_login_timeout = 20
query_wait_timeout = 0
server_idle_timeout = 30
log_connections = 0
log_disconnections = 0
log_pooler_errors = 0
log_stats = 0
`;
}

const HBA = `host all app_md5,admin 127.0.0.1/32 md5
host all app_plain 127.0.0.1/32 password
host all all 127.0.0.1/32 scram-sha-256
`;

export async function startTarget(): Promise<Target> {
  const cluster = await startCluster();
  try {
    await cluster.query(cluster.primary, 'CREATE TABLE fuzz_sink (x text); CREATE TABLE fuzz_bystander (n int); GRANT ALL ON fuzz_sink, fuzz_bystander TO PUBLIC');
    const port = await freePort();
    const pw = cluster.password;
    const line = (u: string, p: string): string => `"${u}" "${p}"\n`;
    const mux = await startPgmux(ini(cluster, port), {
      'hba.conf': HBA,
      'userlist.txt': line('app_md5', pw) + line('app', pw) + line('app_plain', pw) + line('admin', ADMIN_PASSWORD),
    });
    let exited = false;
    void mux.waitForExit().then(() => (exited = true));
    const console = new Client({ host: '127.0.0.1', port, user: 'admin', password: ADMIN_PASSWORD, database: 'pgbouncer' });
    await console.connect();
    const bystander = new Client({ host: '127.0.0.1', port, user: 'app_md5', password: pw, database: 'busy' });
    await bystander.connect();
    await bystander.query('BEGIN');
    let rows = 0;
    return {
      cluster,
      mux,
      port,
      password: pw,
      alive: () => !exited,
      fds: () => readdirSync(`/proc/${mux.pid}/fd`).length,
      describeFds: () => describeFds(mux.pid, new Map([[port, 'pgmux'], [cluster.primary.port, 'postgres']])),
      async sockets() {
        const clients = (await console.query('SHOW CLIENTS')).rows.length;
        const servers = (await console.query('SHOW SERVERS')).rows.length;
        return { clients, servers };
      },
      async unlisted() {
        const listed = new Set((await console.query('SHOW SERVERS')).rows.map((r: Record<string, unknown>) => Number(r.local_port)));
        const ports = tcpOf(mux.pid)
          .filter((t) => t.remote === cluster.primary.port && !listed.has(t.local))
          .map((t) => t.local);
        if (ports.length === 0) return '';
        const r = await cluster.query(
          cluster.primary,
          `SELECT client_port, pid, application_name, usename, datname, state, backend_start, state_change, query FROM pg_stat_activity WHERE client_port IN (${ports.join(',')})`,
        );
        const seen = new Map(r.rows.map((row) => [Number(row.client_port), row]));
        return ports.map((p) => `port ${p}: ${seen.has(p) ? JSON.stringify(seen.get(p)) : 'not in pg_stat_activity'}`).join('; ');
      },
      async checkBystander() {
        try {
          rows++;
          await bystander.query('INSERT INTO fuzz_bystander VALUES ($1)', [rows]);
          const r = await bystander.query<{ n: string }>('SELECT count(*) AS n FROM fuzz_bystander');
          const n = Number(r.rows[0]!.n);
          return n === rows ? null : `bystander sees ${n} rows in its transaction, inserted ${rows}`;
        } catch (err) {
          return `bystander failed: ${(err as Error).message}`;
        }
      },
      async stop() {
        await bystander.query('ROLLBACK').catch(() => undefined);
        await bystander.end().catch(() => undefined);
        await console.end().catch(() => undefined);
        await mux.stop();
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

interface TcpSocket {
  local: number;
  remote: number;
  /** /proc/net/tcp's st, hex: 01 ESTABLISHED, 06 TIME_WAIT, 08 CLOSE_WAIT... */
  state: string;
}

/** The TCP sockets among `pid`'s open descriptors. */
function tcpOf(pid: number): TcpSocket[] {
  const tcp = tcpSockets();
  const out: TcpSocket[] = [];
  for (const target of fdTargets(pid)) {
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    const t = inode === undefined ? undefined : tcp.get(inode);
    if (t !== undefined) out.push(t);
  }
  return out;
}

/** What each of `pid`'s open descriptors points at (`socket:[inode]`, a path...); one closed meanwhile is left out. */
function fdTargets(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      continue;
    }
  }
  return out;
}

/** TCP socket inodes of the machine -> local port, remote port and state, from /proc/net/tcp{,6}. */
function tcpSockets(): Map<string, TcpSocket> {
  const out = new Map<string, TcpSocket>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (addr: string): number => parseInt(addr.slice(addr.lastIndexOf(':') + 1), 16);
      out.set(f[9]!, { local: port(f[1]!), remote: port(f[2]!), state: f[3]! });
    }
  }
  return out;
}

/**
 * Counts of pgmux's open descriptors by what they are, e.g. "3x E->postgres (state 01), 2x
 * anon_inode:[eventfd]": a port in `names` by its name, any other above 32767 as E.
 */
export function describeFds(pid: number, names: ReadonlyMap<number, string> = new Map()): string {
  const tcp = tcpSockets();
  const kinds = new Map<string, number>();
  for (const target of fdTargets(pid)) {
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    // Ephemeral ports (the kernel's, above 32767) differ per connection: one name for all of them.
    const t = inode === undefined ? undefined : tcp.get(inode);
    const tcpKind = t === undefined ? 'socket (not tcp)' : `${t.local}->${t.remote} (state ${t.state})`.replace(/\d+/g, (p) => names.get(Number(p)) ?? (Number(p) > 32767 && p.length <= 5 ? 'E' : p));
    const kind = inode === undefined ? target.replace(/\d+/g, 'N') : tcpKind;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return [...kinds].map(([k, n]) => `${n}x ${k}`).join(', ');
}
