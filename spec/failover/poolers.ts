// Owns the poolers a failover drill runs through: the ini each gets for a primary + standby
// (pgmux with both hosts as candidate primaries, PgBouncer with the one host it can have),
// and starting them (under strace, which counts their connection attempts) as processes the
// drill can watch and stop by PID.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../support/cluster';
import { startPgBouncer } from '../support/pgbouncer';
import { startPgmux } from '../support/pgmux';
import { isAlive } from '../support/procs';

export type PoolerKind = 'pgmux' | 'pgbouncer';

/**
 * How pgmux is told about the two nodes. 'hosts' is the failover config (issue 12): both
 * hosts in one host list, each a candidate primary, plus failover_timeout. 'replicas' is the
 * read-split config pgmux has had since issue 6 (host = the primary, replicas = the standby);
 * it has no failover, and serves to check the drill against a pgmux that cannot fail over.
 */
export type PgmuxLayout = 'hosts' | 'replicas';

export interface DrillPooler {
  kind: PoolerKind;
  /** What the report calls it, e.g. "pgmux" or "PgBouncer 1.18". */
  label: string;
  port: number;
  pid: number;
  /** The ini it runs, for the report. */
  ini: string;
  /** Its whole log so far (its logfile); before stop(). */
  logs(): string;
  /** The process is still running. */
  running(): boolean;
  /** Times (ms since the epoch) it called connect() to 127.0.0.1:port (it runs under strace); before stop(). */
  dials(port: number): number[];
  /** Stops it by PID; resolves to how it ended, e.g. "exit 0" or "SIGKILL". Safe to call twice. */
  stop(): Promise<string>;
}

export interface DrillIni {
  kind: PoolerKind;
  layout: PgmuxLayout;
  port: number;
  poolSize: number;
  /** pgmux only: seconds new transactions are held while the primary changes. */
  failoverTimeout: number;
  /** pgmux only: `workers` (default 1, one process). */
  workers?: number;
}

/** The same [pgbouncer] section for both poolers: transaction pooling, md5 clients, PgBouncer's other defaults. */
export function drillIni(o: DrillIni, cluster: Cluster): string {
  const p = cluster.primary;
  const s = cluster.replica;
  if (!s) throw new Error('the failover drill needs a cluster with a replica');
  let app: string;
  if (o.kind === 'pgbouncer') app = `host=${p.host} port=${p.port} dbname=app`;
  else if (o.layout === 'hosts') app = `host=${p.host},${s.host} port=${p.port},${s.port} dbname=app`;
  else app = `host=${p.host} port=${p.port} dbname=app replicas=${s.host}:${s.port}`;
  const failover = o.kind === 'pgmux' && o.layout === 'hosts' ? `failover_timeout = ${o.failoverTimeout}\n` : '';
  const workers = o.kind === 'pgmux' && (o.workers ?? 1) > 1 ? `workers = ${o.workers}\n` : '';
  return `[databases]
app = ${app}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${o.port}
unix_socket_dir =
auth_type = md5
auth_file = userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = ${o.poolSize}
logfile = ${LOGFILE}
${failover}${workers}`;
}

/**
 * In the pooler's temp dir. Its stderr (which the launchers keep) is cut to the last 1 MB, and a
 * drill with clients reconnecting several times a second logs more than that.
 */
const LOGFILE = 'pooler.log';

/** The whole log file, read before stop() removes the dir; the captured output if there is none. */
function fullLog(dir: string, captured: () => string): string {
  try {
    return readFileSync(join(dir, LOGFILE), 'utf8');
  } catch {
    return captured();
  }
}

export function drillUserlist(cluster: Cluster): string {
  return ['app', 'postgres'].map((u) => `"${u}" "${cluster.password}"\n`).join('');
}

export async function startDrillPooler(o: DrillIni, cluster: Cluster): Promise<DrillPooler> {
  const ini = drillIni(o, cluster);
  const files = { 'userlist.txt': drillUserlist(cluster) };
  if (o.kind === 'pgbouncer') {
    const b = await startPgBouncer(ini, files, { traceConnects: true });
    let ended: string | undefined;
    void b.waitForExit().then((code) => (ended = `exit ${code}`));
    return {
      kind: 'pgbouncer',
      label: 'PgBouncer 1.18',
      port: b.port,
      pid: b.pid,
      ini,
      logs: () => fullLog(b.dir, () => b.logs()),
      running: () => ended === undefined && isAlive(b.pid),
      dials: (target) => b.dials(target),
      async stop() {
        const before = ended;
        await b.stop();
        return before ?? 'running until stopped';
      },
    };
  }
  const m = await startPgmux(ini, files, { traceConnects: true });
  let ended: string | undefined;
  void m.waitForExit().then((code) => (ended = code === null ? 'killed by a signal' : `exit ${code}`));
  return {
    kind: 'pgmux',
    label: (o.layout === 'hosts' ? 'pgmux' : 'pgmux (replicas=)') + ((o.workers ?? 1) > 1 ? `, workers = ${o.workers}` : ''),
    port: m.port,
    pid: m.pid,
    ini,
    logs: () => fullLog(m.dir, () => m.logs()),
    running: () => ended === undefined && isAlive(m.pid),
    dials: (target) => m.dials(target),
    async stop() {
      const before = ended;
      await m.stop('SIGTERM');
      return before ?? 'running until stopped';
    },
  };
}
