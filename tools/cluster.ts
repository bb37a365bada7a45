// Owns throwaway PostgreSQL clusters for the demo and the specs: a primary and optionally a
// streaming replica, with known roles and passwords, stopped by PID and removed afterwards.
//
// Use from jest:
//   let cluster: Cluster;
//   beforeAll(async () => { cluster = await startCluster({ replica: true }); });
//   afterAll(() => cluster?.stop());
//
// Layout: one temp dir (owned by `postgres`) holding primary/ and replica/ data dirs; it is
// also both servers' unix socket dir, used (with trust) only for setup and replication.
// Everything a spec does goes over TCP 127.0.0.1 with a password, so auth is real.
//
// The servers are the system's PostgreSQL or, on a machine without one, the npm package's
// (tools/pgbin.ts; PGMUX_POSTGRES chooses). That package has no pg_basebackup: there the replica
// is a copy of the primary's data dir taken while the primary is stopped, with standby.signal.

import { randomBytes } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, escapeLiteral, type QueryResult } from 'pg';
import { Child, run } from './child';
import { makeTempDir, removeTempDir, runAsPostgres, serverEnv, writeFiles } from './osuser';
import { runnableServer } from './pg-bundle';
import { pgServer, type PgInstallation } from './pgbin';
import { assertPortFree, freePorts } from './ports';

export { findPgBin } from './pgbin';

export interface PgNode {
  /**
   * Which node this was when made: 'primary' or 'replica' at startCluster(), 'standby-N' for the
   * Nth addStandby() (never changes; `role` does).
   */
  name: 'primary' | 'replica' | `standby-${number}`;
  host: string;
  port: number;
  dataDir: string;
  /** The postmaster's PID; changes when startNode() restarts it. */
  pid: number;
  /** Re-read with pg_is_in_recovery() on every startNode() and set by promote(), so it follows a promotion. */
  role: 'primary' | 'replica';
}

export interface ClusterOptions {
  replica?: boolean;
  /** Fixed ports (the demo's); default: free ones. A fixed port already in use is an error. */
  port?: number;
  replicaPort?: number;
  /** postgresql.conf settings, applied after (so overriding) the defaults below. */
  settings?: Record<string, string>;
  /** Password of every role; default: random. The demo fixes it so its userlist can hold it. */
  password?: string;
  /**
   * Synchronous replication (needs `replica`): the primary acknowledges a commit only once the
   * replica has flushed it, so a promoted replica has every acknowledged write. Set on the
   * primary only: the replica's own postgresql.conf clears synchronous_standby_names, so once
   * promoted it does not wait for a standby that does not exist.
   */
  synchronous?: boolean;
}

export type StopMode = 'fast' | 'immediate';

export interface Cluster {
  /** The node started as primary. After promote(replica) it is still this field: read `role`. */
  primary: PgNode;
  /** The node started as replica (see `primary`). */
  replica?: PgNode;
  /** Password of postgres, app, app_md5 and app_plain. */
  password: string;
  /** The temp dir holding both data dirs and the unix sockets. */
  dir: string;
  /** Where the server programs came from (the system's or the npm package's) and their directory. */
  readonly server: { readonly origin: PgInstallation['origin']; readonly binDir: string };
  /** One statement over TCP as `user` (default postgres) into `db` (default app). */
  query(node: PgNode, sql: string, user?: string, db?: string): Promise<QueryResult>;
  /**
   * Stops the node as `pg_ctl stop -m <mode>` would (SIGINT for fast, SIGQUIT for immediate,
   * to the postmaster's PID) and resolves once the postmaster has exited.
   */
  stopNode(node: PgNode, mode?: StopMode): Promise<void>;
  /**
   * One more asynchronous streaming standby of the primary, made as the replica is (its own port
   * and cluster_name standby-N); resolves once it streams. stop() stops it too.
   */
  addStandby(): Promise<PgNode>;
  /** Starts a stopped node in place (same data dir and port); resolves once it accepts connections. */
  startNode(node: PgNode): Promise<void>;
  /** stopNode(node, mode) then startNode(node). */
  restartNode(node: PgNode, mode?: StopMode): Promise<void>;
  /**
   * `pg_ctl promote -w` on a replica; resolves once it is out of recovery and a commit on it
   * returns (so it does not wait for a synchronous standby). Sets its role to 'primary'.
   */
  promote(node: PgNode): Promise<void>;
  /**
   * Resolves when the replica streams from `upstream` (default the primary; in a synchronous
   * cluster, as its sync standby).
   */
  awaitStreaming(replica: PgNode, upstream?: PgNode): Promise<void>;
  /**
   * The time (ms since the epoch, from the log line's own %m timestamp) of the first line of
   * the node's log at or after `sinceMs` that matches `pattern`; undefined if there is none.
   */
  logTime(node: PgNode, pattern: RegExp, sinceMs: number): number | undefined;
  /**
   * Starts a stopped node as a standby streaming from `upstream` (standby.signal and
   * primary_conninfo): an old primary stopped cleanly rejoins after `upstream` was promoted.
   * Resolves once it streams.
   */
  startAsStandby(node: PgNode, upstream: PgNode): Promise<void>;
  /** Resolves when the replica has replayed the primary's current WAL position. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** The node's server log (stderr) since the cluster started, across restarts. */
  logs(node: PgNode): string;
  /** Stops every node by PID and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY = /database system is ready to accept (read-only )?connections/;
const STREAMING = /started streaming WAL from primary/;
/** The replica's cluster_name, which its walreceiver reports as application_name. */
const REPLICA_NAME = 'replica';
const START_TIMEOUT_MS = 30000;

/** Roles every cluster has, each with the cluster's password, and the hba method each gets. */
export const ROLES = {
  postgres: 'scram-sha-256',
  app: 'scram-sha-256',
  app_md5: 'md5',
  app_plain: 'password',
} as const;

/**
 * First match wins. Roles with their own method get their own line before the catch-all scram
 * line, because hba "md5" also accepts a SCRAM exchange: without its own line app_md5 would
 * never be asked for md5. `local` trust is for postgres only, which setup and pg_basebackup use.
 */
function hbaConf(): string {
  const own = Object.entries(ROLES)
    .filter(([, method]) => method !== 'scram-sha-256')
    .map(([role, method]) => `host    all          ${role.padEnd(10)} ${HOST}/32  ${method}\n`);
  return (
    '# Written by tools/cluster.ts\n' +
    'local   all          postgres                 trust\n' +
    'local   replication  postgres                 trust\n' +
    own.join('') +
    `host    replication  postgres   ${HOST}/32  scram-sha-256\n` +
    `host    all          all        ${HOST}/32  scram-sha-256\n`
  );
}

/**
 * fsync off (these clusters live for one spec) and short timers so failover is quick.
 * synchronous_commit stays on: with it off a commit may sit in WAL buffers past
 * pg_current_wal_lsn(), so waitForReplay() could return before the replica has the commit,
 * and without fsync the flush it costs is only a write().
 */
const BASE_SETTINGS: Record<string, string> = {
  listen_addresses: HOST,
  max_connections: '200',
  shared_buffers: '32MB',
  fsync: 'off',
  full_page_writes: 'off',
  wal_level: 'replica',
  max_wal_senders: '10',
  wal_keep_size: '128MB',
  hot_standby: 'on',
  wal_receiver_status_interval: '1s',
  wal_retrieve_retry_interval: '100ms',
  checkpoint_timeout: '30min',
  max_wal_size: '1GB',
  timezone: 'UTC',
  log_timezone: 'UTC',
  log_line_prefix: '%m [%p] ',
};

function confLines(settings: Record<string, string>): string {
  const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  return Object.entries(settings)
    .map(([k, v]) => `${k} = ${quote(v)}\n`)
    .join('');
}

interface NodeState {
  child?: Child;
  /** Logs of earlier runs of this node. */
  history: string;
}

class RunningCluster implements Cluster {
  primary: PgNode;
  replica?: PgNode;
  private readonly state = new Map<PgNode, NodeState>();
  private stopped = false;

  readonly server: Cluster['server'];

  constructor(
    readonly dir: string,
    readonly password: string,
    primaryPort: number,
    readonly install: PgInstallation,
    private readonly synchronous: boolean,
  ) {
    this.primary = this.addNode(join(dir, 'primary'), primaryPort, 'primary');
    this.server = { origin: install.origin, binDir: install.binDir };
  }

  /** Every standby made (the replica, then addStandby()'s), each from before its first start: stop() and abort() stop them. */
  private readonly standbys: PgNode[] = [];

  addNode(dataDir: string, port: number, role: PgNode['role'], name: PgNode['name'] = role): PgNode {
    const node: PgNode = { name, host: HOST, port, dataDir, pid: -1, role };
    this.state.set(node, { history: '' });
    return node;
  }

  private nodeState(node: PgNode): NodeState {
    const s = this.state.get(node);
    if (!s) throw new Error(`node on port ${node.port} is not part of this cluster`);
    return s;
  }

  /** Starts the postmaster in the foreground and waits for its "ready" log line. */
  async launch(node: PgNode): Promise<void> {
    const s = this.nodeState(node);
    if (s.child && !s.child.hasExited()) throw new Error(`postgres ${node.role} on port ${node.port} is already running`);
    if (s.child) s.history += s.child.logs();
    const child = await Child.start(this.install.path('postgres'), ['-D', node.dataDir], {
      label: `postgres ${node.role} :${node.port}`,
      cwd: this.dir, // ours may not be readable by postgres
      env: serverEnv(this.dir),
      ...runAsPostgres(),
      emergencySignal: 'SIGQUIT',
    });
    s.child = child;
    node.pid = child.pid;
    await child.waitForLog(READY, START_TIMEOUT_MS);
  }

  /** Waits for the replica to stream: its own log says so, then the upstream's view agrees. */
  async awaitStreaming(replica: PgNode, upstream: PgNode = this.primary): Promise<void> {
    const child = this.nodeState(replica).child;
    if (!child) throw new Error('replica is not running');
    await child.waitForLog(STREAMING, START_TIMEOUT_MS);
    // In a synchronous cluster the primary's commits wait until it counts the replica as
    // its sync standby, which can be a moment after streaming starts.
    const want = this.synchronous ? "state = 'streaming' AND sync_state = 'sync'" : "state = 'streaming'";
    await this.poll(
      async () => {
        const r = await this.query(upstream, `SELECT 1 FROM pg_stat_replication WHERE ${want}`, 'postgres', 'postgres');
        return (r.rowCount ?? 0) > 0;
      },
      `pg_stat_replication on the upstream to show the replica ${this.synchronous ? 'as its sync standby' : 'streaming'}`,
      START_TIMEOUT_MS,
    );
  }

  async query(node: PgNode, sql: string, user = 'postgres', db = 'app'): Promise<QueryResult> {
    const client = new Client({ host: node.host, port: node.port, user, password: this.password, database: db });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  }

  async stopNode(node: PgNode, mode: StopMode = 'fast'): Promise<void> {
    const child = this.nodeState(node).child;
    if (!child) return;
    // SIGINT is PostgreSQL's fast shutdown, SIGQUIT its immediate one; SIGKILL is the last
    // resort because it leaves the backends to notice their postmaster is gone.
    const steps =
      mode === 'fast'
        ? [
            { signal: 'SIGINT' as const, waitMs: 15000 },
            { signal: 'SIGQUIT' as const, waitMs: 5000 },
          ]
        : [{ signal: 'SIGQUIT' as const, waitMs: 5000 }];
    await child.stop([...steps, { signal: 'SIGKILL', waitMs: 5000 }]);
  }

  /**
   * A standby cloned from the primary (cloneReplica), with its own port and cluster_name written
   * after the copied postgresql.conf (later lines win), started and streaming.
   */
  async makeStandby(name: PgNode['name'], port: number): Promise<PgNode> {
    const node = this.addNode(join(this.dir, name), port, 'replica', name);
    this.standbys.push(node);
    await cloneReplica(this, node);
    appendFileSync(
      join(node.dataDir, 'postgresql.conf'),
      '\n# --- standby overrides ---\n' +
        // The primary sets synchronous_standby_names only after the first replica's copy
        // (makeSynchronous); cleared here too, so a promoted standby never waits for one not there.
        confLines({ port: String(port), cluster_name: name, synchronous_standby_names: '' }),
    );
    await this.launch(node);
    return node;
  }

  async addStandby(): Promise<PgNode> {
    const [port] = await freePorts(1);
    const node = await this.makeStandby(`standby-${this.standbys.length + 1}`, port);
    await this.awaitStreaming(node);
    return node;
  }

  async startNode(node: PgNode): Promise<void> {
    await this.launch(node);
    const r = await this.query(node, 'SELECT pg_is_in_recovery() AS r', 'postgres', 'postgres');
    node.role = r.rows[0]?.r === true ? 'replica' : 'primary';
  }

  /**
   * standby.signal plus primary_conninfo in postgresql.auto.conf, as pg_basebackup -R writes
   * them: the upstream's unix socket as postgres, which hba trusts for replication.
   */
  writeStandbyConfig(node: PgNode, upstream: PgNode): void {
    writeFiles(node.dataDir, { 'standby.signal': '' });
    // The walreceiver reports the node's cluster_name as its application_name.
    const conninfo = `host='${this.dir.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' port=${upstream.port} user=postgres`;
    appendFileSync(join(node.dataDir, 'postgresql.auto.conf'), confLines({ primary_conninfo: conninfo }));
  }

  async startAsStandby(node: PgNode, upstream: PgNode): Promise<void> {
    if (node === upstream) throw new Error(`startAsStandby: port ${node.port} cannot stream from itself`);
    this.writeStandbyConfig(node, upstream);
    await this.startNode(node);
    await this.awaitStreaming(node, upstream);
  }

  /** Appends synchronous_standby_names to the primary's postgresql.conf and reloads it. */
  async makeSynchronous(): Promise<void> {
    const value = `"${REPLICA_NAME}"`;
    appendFileSync(join(this.primary.dataDir, 'postgresql.conf'), '\n# --- synchronous replication ---\n' + confLines({ synchronous_standby_names: value }));
    await this.query(this.primary, 'SELECT pg_reload_conf()', 'postgres', 'postgres');
    await this.poll(
      async () => (await this.query(this.primary, 'SHOW synchronous_standby_names', 'postgres', 'postgres')).rows[0]?.synchronous_standby_names === value,
      'the primary to load synchronous_standby_names',
      START_TIMEOUT_MS,
    );
  }

  async restartNode(node: PgNode, mode: StopMode = 'fast'): Promise<void> {
    await this.stopNode(node, mode);
    await this.startNode(node);
  }

  async promote(node: PgNode): Promise<void> {
    // -w: pg_ctl returns once the control file says the node is out of recovery.
    await runOrThrow('pg_ctl promote', this.install.path('pg_ctl'), ['promote', '-D', node.dataDir, '-w', '-t', String(START_TIMEOUT_MS / 1000)], this.dir);
    const client = new Client({ host: node.host, port: node.port, user: 'postgres', password: this.password, database: 'postgres' });
    await client.connect();
    try {
      await this.poll(async () => (await client.query('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === false, `port ${node.port} to leave recovery`, START_TIMEOUT_MS);
      // A promoted standby that kept synchronous_standby_names would hang every commit.
      const names = String((await client.query('SHOW synchronous_standby_names')).rows[0]?.synchronous_standby_names);
      if (names !== '') throw new Error(`promoted node on port ${node.port} has synchronous_standby_names = '${names}': its commits would wait for a standby that does not exist`);
      // txid_current() takes a transaction id, so this commit writes WAL: the node takes writes.
      await client.query('SELECT txid_current()');
    } finally {
      await client.end();
    }
    node.role = 'primary';
  }

  logTime(node: PgNode, pattern: RegExp, sinceMs: number): number | undefined {
    for (const line of this.logs(node).split('\n')) {
      if (!pattern.test(line)) continue;
      const at = logLineTime(line);
      if (at !== undefined && at >= sinceMs) return at;
    }
    return undefined;
  }

  async waitForReplay(timeoutMs = 30000): Promise<void> {
    const replica = this.replica;
    if (!replica) throw new Error('waitForReplay: this cluster has no replica (startCluster({ replica: true }))');
    const r = await this.query(this.primary, 'SELECT pg_current_wal_lsn()::text AS lsn', 'postgres', 'postgres');
    const lsn = String(r.rows[0]?.lsn);
    const client = new Client({ host: replica.host, port: replica.port, user: 'postgres', password: this.password, database: 'postgres' });
    await client.connect();
    try {
      await this.poll(
        async () => {
          const q = await client.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [lsn]);
          return q.rows[0]?.done === true;
        },
        `the replica to replay up to ${lsn}`,
        timeoutMs,
      );
    } finally {
      await client.end();
    }
  }

  logs(node: PgNode): string {
    const s = this.nodeState(node);
    return s.history + (s.child?.logs() ?? '');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const errors: unknown[] = [];
    // Standbys first: a fast-stopping primary waits for its walsenders to drain.
    for (const node of [...this.standbys, this.primary]) {
      await this.stopNode(node).catch((e: unknown) => errors.push(e));
    }
    removeTempDir(this.dir);
    if (errors.length > 0) throw errors[0];
  }

  /** Stops everything at once, for a failed start: no clean shutdown needed. */
  async abort(): Promise<void> {
    this.stopped = true;
    for (const node of [...this.standbys, this.primary]) {
      await this.stopNode(node, 'immediate').catch(() => undefined);
    }
    removeTempDir(this.dir);
  }

  /**
   * Re-checks `done` with a backoff from 5 ms to 100 ms. There is no event for "the replica
   * replayed X", so this polls the condition; it never sleeps a fixed time.
   */
  private async poll(done: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 5;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 100);
    }
  }
}

/** The %m timestamp that log_line_prefix puts first ("2024-05-01 12:00:00.123 UTC"), as epoch ms. */
function logLineTime(line: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) UTC /.exec(line);
  return m ? Date.parse(`${m[1]}T${m[2]}Z`) : undefined;
}

/** Runs `command` as the servers' OS user in `home`; throws with its output if it fails. */
async function runOrThrow(what: string, command: string, args: string[], home: string): Promise<void> {
  const r = await run(command, args, { cwd: home, env: serverEnv(home), ...runAsPostgres() });
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${command} ${args.join(' ')}\n${r.stderr}${r.stdout}`);
}

/** Roles and the app database, over the unix socket as postgres (trust). */
async function createRoles(cluster: RunningCluster): Promise<void> {
  const client = new Client({ host: cluster.dir, port: cluster.primary.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    const pw = escapeLiteral(cluster.password);
    await client.query(`ALTER ROLE postgres PASSWORD ${pw}`);
    await client.query(`CREATE ROLE app LOGIN PASSWORD ${pw}`);
    await client.query('CREATE DATABASE app OWNER app');
    // Stored as md5 so that hba "md5" really runs the md5 exchange for this role.
    await client.query("SET password_encryption = 'md5'");
    await client.query(`CREATE ROLE app_md5 LOGIN PASSWORD ${pw}`);
    await client.query('RESET password_encryption');
    await client.query(`CREATE ROLE app_plain LOGIN PASSWORD ${pw}`);
    // Members of app, so all three users can read and write app's tables in specs.
    await client.query('GRANT app TO app_md5, app_plain');
  } finally {
    await client.end();
  }
}

async function choosePorts(opts: ClusterOptions): Promise<[number, number]> {
  if (opts.port !== undefined && opts.port === opts.replicaPort) throw new Error('port and replicaPort must differ');
  if (opts.port !== undefined) await assertPortFree(opts.port);
  if (opts.replica && opts.replicaPort !== undefined) await assertPortFree(opts.replicaPort);
  // Four candidates leave at least two after dropping the fixed ones.
  const free = (await freePorts(4)).filter((p) => p !== opts.port && p !== opts.replicaPort);
  return [opts.port ?? free[0], opts.replicaPort ?? free[1]];
}

/**
 * The replica's data dir from the primary's: pg_basebackup where the installation has it, else
 * a copy taken while the primary is stopped (the npm package ships no pg_basebackup).
 */
async function cloneReplica(cluster: RunningCluster, replica: PgNode): Promise<void> {
  const { primary, dir, install } = cluster;
  if (install.has('pg_basebackup')) {
    // -R writes standby.signal and primary_conninfo (the unix socket, as postgres: trust).
    await runOrThrow('pg_basebackup', install.path('pg_basebackup'), [
      '-D', replica.dataDir, '-h', dir, '-p', String(primary.port), '-U', 'postgres',
      '-R', '-X', 'stream', '-c', 'fast', '--no-sync',
    ], dir);
    return;
  }
  // A clean shutdown leaves a consistent data dir ending in a checkpoint the replica starts from.
  await cluster.stopNode(primary, 'fast');
  // cp as the servers' user, so the copy is theirs; -a keeps the 0700 modes postgres insists on.
  await runOrThrow('copying the data dir', 'cp', ['-a', primary.dataDir, replica.dataDir], dir);
  cluster.writeStandbyConfig(replica, primary);
  await cluster.launch(primary);
}

/**
 * initdb a primary (and clone a replica from it), start them as OS user postgres, and create
 * roles postgres, app, app_md5, app_plain and database app. On any failure the started servers
 * are stopped and the temp dir removed before the error is rethrown.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const found = pgServer(); // fail with the install command before creating anything
  const [primaryPort, replicaPort] = await choosePorts(opts);
  const password = opts.password ?? `pgmux-${randomBytes(12).toString('base64url')}`;
  if (opts.synchronous && !opts.replica) throw new Error('startCluster: synchronous needs replica: true');
  const dir = makeTempDir('pgmux-pg-');
  let cluster: RunningCluster | undefined;
  try {
    cluster = new RunningCluster(dir, password, primaryPort, runnableServer(found, runAsPostgres(), join(dir, 'postgres')), opts.synchronous === true);
    const primary = cluster.primary;
    await runOrThrow('initdb', cluster.install.path('initdb'), [
      '-D', primary.dataDir, '-U', 'postgres', '-E', 'UTF8', '--locale=C',
      '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync', '--no-instructions',
    ], dir);
    writeFileSync(join(primary.dataDir, 'pg_hba.conf'), hbaConf());
    appendFileSync(
      join(primary.dataDir, 'postgresql.conf'),
      '\n# --- tools/cluster.ts ---\n' +
        confLines({ ...BASE_SETTINGS, port: String(primaryPort), unix_socket_directories: dir, cluster_name: 'primary' }) +
        confLines(opts.settings ?? {}),
    );
    await cluster.launch(primary);
    await createRoles(cluster);

    if (opts.replica) {
      const replica = await cluster.makeStandby(REPLICA_NAME, replicaPort);
      cluster.replica = replica;
      // Only now, with the replica copied and streaming: set earlier, every commit of the
      // setup would wait for a standby not yet there, and the replica would copy the setting.
      if (opts.synchronous) await cluster.makeSynchronous();
      await cluster.awaitStreaming(replica);
    }
    return cluster;
  } catch (err) {
    if (cluster) await cluster.abort();
    else removeTempDir(dir);
    throw err;
  }
}
