// Owns running servers as an unprivileged OS user: uid/gid lookup and temp dirs it may use.
//
// PostgreSQL and PgBouncer refuse to run as root. When we are root, children are spawned with
// the uid/gid of `postgres` (node's spawn does setgid/setuid itself, so the PID we hold is the
// server's own, with no runuser/su wrapper in between) and the dirs they need are chowned to
// it. A machine without PostgreSQL's packages has no `postgres` user; there the demo runs its
// throwaway servers as `nobody`, rather than adding a user to the system. When we are not
// root, children simply run as us and no chown is needed.

import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { trackDir, untrackDir } from './reaper';

export interface RunAs {
  uid?: number;
  gid?: number;
}

let cached: RunAs | undefined;
let cachedName = '';

/** Users to run servers as, first found wins. */
const SERVER_USERS = ['postgres', 'nobody'];

/** uid/gid of `name` from /etc/passwd, or undefined. */
function passwdEntry(name: string): RunAs | undefined {
  // /etc/passwd rather than `id -u postgres`: no child process, and the format is fixed.
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const fields = line?.split(':');
  if (!fields || fields.length < 4) return undefined;
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/**
 * spawn() options that make a child run as `postgres` (or `nobody` where there is no
 * `postgres`); empty when we are not root.
 */
export function runAsPostgres(): RunAs {
  if (cached) return cached;
  if (process.getuid?.() !== 0) {
    cached = {};
    return cached;
  }
  for (const name of SERVER_USERS) {
    cached = passwdEntry(name);
    cachedName = name;
    if (cached) return cached;
  }
  throw new Error(
    `running as root but there is no OS user (${SERVER_USERS.join(', ')}) to run PostgreSQL/PgBouncer as: ` +
      'apt-get install -y postgresql (creates `postgres`)',
  );
}

/** The OS user runAsPostgres() runs servers as, for messages; '' when that is us. */
export function serverUserName(): string {
  runAsPostgres();
  return cached?.uid === undefined ? '' : cachedName;
}

function chownToPostgres(path: string): void {
  const { uid, gid } = runAsPostgres();
  if (uid !== undefined && gid !== undefined) chownSync(path, uid, gid);
}

/**
 * A fresh dir under os.tmpdir() owned by `postgres`, tracked by the reaper until
 * removeTempDir(). The prefix shows in `ls /tmp` which launcher left it, should one leak.
 */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  trackDir(dir);
  chownToPostgres(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  untrackDir(dir);
}

/** Writes name -> text files into dir (sub-paths allowed), owned by `postgres`. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    const parts = relative(dir, dirname(path)).split(sep).filter((p) => p !== '');
    let sub = dir;
    for (const part of parts) {
      sub = join(sub, part);
      mkdirSync(sub, { recursive: true });
      chownToPostgres(sub);
    }
    writeFileSync(path, text, { mode: 0o600 });
    chownToPostgres(path);
  }
}

/**
 * Environment for server-side children: PATH and locale only. Inherited PG* variables
 * (PGHOST, PGPORT, PGPASSWORD, ...) would silently redirect pg_basebackup or change libpq
 * defaults, and root's HOME is not readable by `postgres`.
 */
export function serverEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LC_ALL: 'C', LANG: 'C' };
}
