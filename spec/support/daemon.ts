// Owns starting a server process on a config file for specs and benches (pgmux, PgBouncer): a
// temp dir holding the config and its files as working directory, the process started there,
// and the wait until its port accepts connections. If anything fails, the process is killed
// and the dir removed. How each is stopped stays with its caller.

import { join } from 'node:path';
import { Child } from './child';
import { makeTempDir, removeTempDir, writeFiles } from './osuser';
import { assertPortFree, waitForPort } from './ports';

export interface DaemonStart {
  command: string;
  /** The arguments, given the config file's path. */
  args(configPath: string): string[];
  /** File name of the config in the temp dir (pgmux.ini, pgbouncer.ini). */
  configName: string;
  configText: string;
  /** More files beside the config, e.g. { 'userlist.txt': ... }. */
  files: Record<string, string>;
  /** The listen port to wait for. */
  port: number;
  label: string;
  tempPrefix: string;
  /** The environment, given the temp dir. */
  env(dir: string): NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

/** Resolves once `port` accepts connections; rejects with the process's output if it exits first. */
export async function startDaemon(d: DaemonStart): Promise<{ child: Child; dir: string }> {
  await assertPortFree(d.port);
  const dir = makeTempDir(d.tempPrefix);
  let child: Child | undefined;
  try {
    writeFiles(dir, { ...d.files, [d.configName]: d.configText });
    child = await Child.start(d.command, d.args(join(dir, d.configName)), {
      label: d.label,
      cwd: dir,
      env: d.env(dir),
      uid: d.uid,
      gid: d.gid,
      emergencySignal: 'SIGKILL',
    });
    await waitForPort(d.port, child);
    return { child, dir };
  } catch (err) {
    await child?.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
    removeTempDir(dir);
    throw err;
  }
}
