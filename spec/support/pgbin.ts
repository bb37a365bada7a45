// Owns finding PostgreSQL's programs (initdb, postgres, pg_basebackup, psql, ...).

import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Debian/Ubuntu keep one tree per major version here; PATH often has none of the server tools. */
const DEBIAN_ROOT = '/usr/lib/postgresql';

/** The message is the exact command that fixes it, so CI logs say what to do. */
export const INSTALL_POSTGRESQL = 'apt-get install -y postgresql';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function debianVersions(): string[] {
  try {
    return readdirSync(DEBIAN_ROOT)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    return [];
  }
}

/**
 * /usr/lib/postgresql/<highest version that has it>/bin/<name>, else <name> on PATH.
 * Throws Error('apt-get install -y postgresql') when neither exists.
 */
export function findPgBin(name: string): string {
  for (const version of debianVersions()) {
    const path = join(DEBIAN_ROOT, version, 'bin', name);
    if (isExecutable(path)) return path;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, name);
    if (isExecutable(path)) return path;
  }
  throw new Error(INSTALL_POSTGRESQL);
}
