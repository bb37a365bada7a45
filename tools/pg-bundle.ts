// Owns making the npm package's PostgreSQL runnable as it is installed: its shared-library links
// (the package's own postinstall makes them, and npm 11 skips dependencies' install scripts
// unless allowScripts approves them) and a path the server's OS user can reach (a checkout
// under /root is not readable by `postgres` or `nobody`). When either is missing, the server
// runs from a linked copy of the package's native/ tree in a scratch dir of ours.

import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { RunAs } from './osuser';
import type { PgInstallation } from './pgbin';

/** native/pg-symlinks.json: the library links the package's postinstall would create. */
interface LinkEntry {
  source: string;
  target: string;
}

function linkEntries(packageDir: string): LinkEntry[] {
  const file = join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(file)) return [];
  return JSON.parse(readFileSync(file, 'utf8')) as LinkEntry[];
}

/** Whether every library link exists under `root` (entries are relative to the package root). */
function linksPresent(root: string, entries: LinkEntry[]): boolean {
  return entries.every((e) => existsSync(join(root, e.target)));
}

/** Whether `uid`/`gid` may search (x) every directory from `dir` up to /. */
function reachable(dir: string, uid: number, gid: number): boolean {
  for (let d = dir; ; d = dirname(d)) {
    const st = statSync(d);
    const ok = st.uid === uid ? (st.mode & 0o100) !== 0 : st.gid === gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    if (!ok) return false;
    if (dirname(d) === d) return true;
  }
}

/** Why the package cannot run where it is, or undefined when it can. */
export function bundleProblem(inst: PgInstallation, runAs: RunAs): string | undefined {
  if (inst.origin !== 'npm' || inst.packageDir === undefined) return undefined;
  if (!linksPresent(inst.packageDir, linkEntries(inst.packageDir))) {
    return 'its library links are missing (npm skipped its postinstall script)';
  }
  if (runAs.uid !== undefined && runAs.gid !== undefined && !reachable(inst.binDir, runAs.uid, runAs.gid)) {
    return `the OS user the servers run as cannot reach ${inst.binDir}`;
  }
  return undefined;
}

/** Hard links where the file system allows (instant, no space), copies elsewhere. */
function mirror(from: string, to: string): void {
  mkdirSync(to, { mode: 0o755 });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const st = lstatSync(src);
    if (st.isDirectory()) mirror(src, dst);
    else if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else {
      try {
        linkSync(src, dst);
      } catch {
        copyFileSync(src, dst);
      }
    }
  }
}

/**
 * The installation to start servers from: `inst` itself when it can run where it is, else a
 * mirror of the package's native/ tree in `scratch` (which must not exist yet, and whose parent
 * the servers' OS user can reach) with the library links made.
 */
export function runnableServer(inst: PgInstallation, runAs: RunAs, scratch: string): PgInstallation {
  if (bundleProblem(inst, runAs) === undefined || inst.packageDir === undefined) return inst;
  const root = inst.packageDir;
  mkdirSync(scratch, { mode: 0o755 });
  mirror(join(root, 'native'), join(scratch, 'native'));
  for (const { source, target } of linkEntries(root)) {
    const link = join(scratch, target);
    if (!existsSync(link)) symlinkSync(relative(dirname(link), join(scratch, source)), link);
  }
  const binDir = join(scratch, 'native', 'bin');
  return {
    ...inst,
    binDir,
    packageDir: scratch,
    path: (program) => join(binDir, program),
    has: (program) => existsSync(join(binDir, program)),
  };
}
