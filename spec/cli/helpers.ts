// Owns what the spec/cli files share: a config builder for one cluster, running bin/pgmux to
// completion, polling a condition with a deadline, and probing whether an address accepts.

import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import type { RunResult } from '../support/child';
import type { Cluster } from '../support/cluster';
import { repoRoot } from '../support/pgmux';
import { trackPid, untrackPid } from '../support/reaper';

/** bin/pgmux in this checkout. */
export const PGMUX_BIN = join(repoRoot(), 'bin', 'pgmux');

/**
 * `node bin/pgmux ...args` to completion, in `cwd`. Every use expects pgmux to exit by itself
 * (a refusal, --version, -d's parent): if it is still running after `timeoutMs` it is killed
 * and the result says so, so a regression fails the spec instead of leaving a pooler behind.
 */
export function runPgmux(args: string[], cwd: string, timeoutMs = 15000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [PGMUX_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout.on('data', (c: Buffer) => out.push(c));
    proc.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      err.push(Buffer.from(`\n[still running after ${timeoutMs} ms: killed]\n`));
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.once('error', (e) => reject(new Error(`cannot run ${PGMUX_BIN}: ${e.message}`)));
    if (proc.pid !== undefined) trackPid(proc.pid, 'SIGKILL');
    proc.once('close', (code) => {
      clearTimeout(timer);
      if (proc.pid !== undefined) untrackPid(proc.pid);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/**
 * A minimal pgmux.ini for `cluster`: database app, user app with its password in userlist.txt
 * (see USERLIST), transaction pooling, no Unix socket unless `extra` sets one. Lines in `extra`
 * are appended to [pgbouncer] and override earlier ones.
 */
export function clusterIni(cluster: Cluster, port: number, extra: string[] = []): string {
  return [
    '[databases]',
    `app = host=127.0.0.1 port=${cluster.primary.port} dbname=app`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = md5',
    'auth_file = userlist.txt',
    'pool_mode = transaction',
    ...extra,
    '',
  ].join('\n');
}

/** The userlist clusterIni() names: app with its plain password. */
export function userlist(cluster: Cluster): Record<string, string> {
  return { 'userlist.txt': `"app" "${cluster.password}"\n` };
}

/** A node-postgres client for user app through the pooler at host:port (TCP or a socket dir). */
export async function appClient(cluster: Cluster, port: number, host = '127.0.0.1'): Promise<Client> {
  const client = new Client({ host, port, user: 'app', password: cluster.password, database: 'app' });
  await client.connect();
  return client;
}

/**
 * Resolves once `cond` holds, polling every 20 ms (there is no event to wait on: another
 * process's state); rejects after `timeoutMs` naming `what`.
 */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a TCP connection to host:port (or a Unix socket path) succeeds; it is closed at once. */
export function accepts(target: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(target);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The PgBouncer log-line prefix: `2026-01-02 03:04:05.678 UTC [pid] LEVEL `. */
export const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[(\d+)\] (LOG|WARNING|ERROR|DEBUG|NOISE) /;
