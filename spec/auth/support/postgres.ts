// Owns the throwaway PostgreSQL 15 the auth specs log in to: initdb as OS user postgres, loopback only, stopped by PID.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const BIN = '/usr/lib/postgresql/15/bin';
const run = promisify(execFile);

export interface TempPostgres {
  readonly port: number;
  /** Stops the postmaster by PID (fast shutdown), waits for it to exit, removes the files. */
  stop(): Promise<void>;
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', name])).stdout.trim());
  const gid = Number((await run('id', ['-g', name])).stdout.trim());
  return { uid, gid };
}

/** A port the kernel just handed out on 127.0.0.1 and we released again. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Resolves when the postmaster logs that it accepts connections; rejects if it exits first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (log.includes('database system is ready to accept connections')) {
        child.stderr?.off('data', onData);
        child.off('exit', onExit);
        // Keep draining so a full pipe never blocks the server.
        child.stderr?.resume();
        resolve();
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`postgres exited (${code}) before ready:\n${log}`));
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/**
 * initdb + postgres with `hba` as pg_hba.conf. The superuser `postgres` must be reachable by
 * the caller's own hba line (usually `host all postgres 127.0.0.1/32 trust`).
 */
export async function startPostgres(hba: string): Promise<TempPostgres> {
  const { uid, gid } = await osUser('postgres');
  const dir = mkdtempSync(join(tmpdir(), 'pgmux-auth-'));
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const asPostgres = { uid, gid, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' } };
  try {
    await run(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'], asPostgres);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  writeFileSync(join(data, 'pg_hba.conf'), hba);
  chownSync(join(data, 'pg_hba.conf'), uid, gid);
  const port = await freePort();
  const child = spawn(
    `${BIN}/postgres`,
    ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off'],
    { ...asPostgres, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await ready(child);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGINT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
