// Spec of spec/support/cluster.ts: a real primary + streaming replica, real logins, clean stop.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPgBin, startCluster, type Cluster } from '../support/cluster';
import { pgClient } from '../support/clients';
import { isAlive, processTree, processesMentioning } from '../support/procs';

describe('startCluster({ replica: true })', () => {
  let cluster: Cluster;

  // About 2 s on an idle 2-core machine; not asserted, since CI load would make that flaky.
  beforeAll(async () => {
    cluster = await startCluster({ replica: true, settings: { application_name: 'selftest' } });
  });
  afterAll(() => cluster?.stop());

  it('starts a primary and a replica on distinct ports', () => {
    expect(cluster.replica).toBeDefined();
    expect(cluster.primary.port).not.toBe(cluster.replica?.port);
  });

  it('gives each node the role pg_is_in_recovery() reports', async () => {
    const p = await cluster.query(cluster.primary, 'SELECT pg_is_in_recovery() AS r');
    expect(p.rows[0].r).toBe(false);
    expect(cluster.primary.role).toBe('primary');
    const replica = cluster.replica as NonNullable<Cluster['replica']>;
    const r = await cluster.query(replica, 'SELECT pg_is_in_recovery() AS r');
    expect(r.rows[0].r).toBe(true);
    expect(replica.role).toBe('replica');
  });

  it('applies caller settings after its own', async () => {
    const r = await cluster.query(cluster.primary, 'SHOW application_name');
    expect(r.rows[0].application_name).toBe('selftest');
  });

  it('listens on 127.0.0.1 only, with a unix socket in its temp dir', async () => {
    const r = await cluster.query(cluster.primary, "SELECT current_setting('listen_addresses') AS l, current_setting('unix_socket_directories') AS u");
    expect(r.rows[0]).toEqual({ l: '127.0.0.1', u: cluster.dir });
  });

  it.each(['postgres', 'app', 'app_md5', 'app_plain'])('lets %s log in over TCP with the password', async (user) => {
    const client = await pgClient(cluster.primary.port, user, cluster.password, 'app');
    try {
      const r = await client.query('SELECT current_user AS u, current_database() AS d');
      expect(r.rows[0]).toEqual({ u: user, d: 'app' });
    } finally {
      await client.end();
    }
  });

  it('refuses a wrong password with 28P01', async () => {
    await expect(pgClient(cluster.primary.port, 'app', 'wrong', 'app')).rejects.toMatchObject({ code: '28P01' });
  });

  it('stores app_md5 as md5, the others as SCRAM, and routes each to its hba method', async () => {
    const r = await cluster.query(
      cluster.primary,
      "SELECT rolname, left(rolpassword, 3) AS p FROM pg_authid WHERE rolname IN ('postgres','app','app_md5','app_plain') ORDER BY rolname",
    );
    expect(r.rows).toEqual([
      { rolname: 'app', p: 'SCR' },
      { rolname: 'app_md5', p: 'md5' },
      { rolname: 'app_plain', p: 'SCR' },
      { rolname: 'postgres', p: 'SCR' },
    ]);
    const hba = await cluster.query(
      cluster.primary,
      "SELECT user_name[1] AS u, auth_method AS m FROM pg_hba_file_rules WHERE type = 'host' AND 'all' = ANY(database)",
    );
    expect(hba.rows).toEqual([
      { u: 'app_md5', m: 'md5' },
      { u: 'app_plain', m: 'password' },
      { u: 'all', m: 'scram-sha-256' },
    ]);
  });

  it('makes database app owned by app', async () => {
    const r = await cluster.query(cluster.primary, "SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = 'app'");
    expect(r.rows[0].o).toBe('app');
  });

  it('shows a row written on the primary on the replica after waitForReplay()', async () => {
    await cluster.query(cluster.primary, 'CREATE TABLE t (id int PRIMARY KEY, v text)', 'app');
    await cluster.query(cluster.primary, "INSERT INTO t VALUES (1, 'hello')", 'app_md5');
    await cluster.waitForReplay();
    const replica = cluster.replica as NonNullable<Cluster['replica']>;
    const r = await cluster.query(replica, 'SELECT v FROM t WHERE id = 1', 'app_plain');
    expect(r.rows).toEqual([{ v: 'hello' }]);
  });

  it('restarts a replica stopped with immediate shutdown, streaming again', async () => {
    const replica = cluster.replica as NonNullable<Cluster['replica']>;
    const oldPid = replica.pid;
    await cluster.stopNode(replica, 'immediate');
    expect(isAlive(oldPid)).toBe(false);
    await cluster.query(cluster.primary, "INSERT INTO t VALUES (2, 'while down')", 'app');
    await cluster.startNode(replica);
    expect(replica.pid).not.toBe(oldPid);
    expect(replica.role).toBe('replica');
    await cluster.waitForReplay();
    const r = await cluster.query(replica, 'SELECT v FROM t WHERE id = 2', 'app');
    expect(r.rows).toEqual([{ v: 'while down' }]);
  });

  it('restarts a primary after a fast shutdown', async () => {
    await cluster.stopNode(cluster.primary, 'fast');
    await expect(cluster.query(cluster.primary, 'SELECT 1')).rejects.toThrow();
    await cluster.startNode(cluster.primary);
    const r = await cluster.query(cluster.primary, 'SELECT count(*)::int AS n FROM t', 'app');
    expect(r.rows[0].n).toBe(2);
    expect(cluster.logs(cluster.primary)).toMatch(/received fast shutdown request[\s\S]*ready to accept connections/);
  });

  it('stop() leaves no process of the cluster and removes its temp dir', async () => {
    const replica = cluster.replica as NonNullable<Cluster['replica']>;
    // Hold a backend open so there is more than the postmaster's own helpers to clean up.
    const client = await pgClient(cluster.primary.port, 'app', cluster.password);
    const pids = [...processTree(cluster.primary.pid), ...processTree(replica.pid)];
    expect(pids.length).toBeGreaterThan(6); // postmasters, checkpointers, walsender/receiver, ...
    const pidFile = readFileSync(join(cluster.primary.dataDir, 'postmaster.pid'), 'utf8');
    expect(pidFile.split('\n')[0]).toBe(String(cluster.primary.pid));
    client.on('error', () => undefined); // the fast shutdown terminates it
    await cluster.stop();
    await client.end().catch(() => undefined);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(processesMentioning(cluster.dir)).toEqual([]);
    expect(existsSync(cluster.dir)).toBe(false);
    await cluster.stop(); // a second call is harmless
  });
});

describe('startCluster failures', () => {
  it('refuses a fixed port that is taken, naming it', async () => {
    const c = await startCluster();
    try {
      await expect(startCluster({ port: c.primary.port })).rejects.toThrow(`port 127.0.0.1:${c.primary.port} is already in use`);
    } finally {
      await c.stop();
    }
  });

  it('cleans up when the server cannot start, and shows its log', async () => {
    const err = await startCluster({ settings: { shared_buffers: 'not-a-size' } }).then(
      () => new Error('startCluster should have failed'),
      (e: Error) => e,
    );
    expect(err.message).toMatch(/exited with code 1 before log line[\s\S]*invalid value for parameter "shared_buffers"/);
    // The server's own log names its data dir; other specs may run clusters meanwhile.
    const dir = /\/\S*pgmux-pg-[A-Za-z0-9]+/.exec(err.message)?.[0] ?? '';
    expect(dir).not.toBe('');
    expect(processesMentioning(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('findPgBin', () => {
  it('prefers the newest /usr/lib/postgresql/<version>/bin', () => {
    expect(findPgBin('initdb')).toMatch(/^\/usr\/lib\/postgresql\/\d+\/bin\/initdb$/);
  });

  it('throws the exact install command when a program is nowhere', () => {
    expect(() => findPgBin('no-such-pg-program')).toThrow(new Error('apt-get install -y postgresql'));
  });
});
